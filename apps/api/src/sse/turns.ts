const waiting: (() => void)[] = []
let pumping = false

/**
 * Long reads take turns, one page per turn of the event loop, so other requests and streams
 * wait for one page, not one page of every replay and catch-up in progress (12 replays of
 * 12,000 events kept /healthz waiting about half a second when each ran in one piece).
 */
export const nextTurn = () =>
  new Promise<void>((resolve) => {
    waiting.push(resolve)
    if (!pumping) {
      pumping = true
      setImmediate(pump)
    }
  })

const pump = () => {
  const next = waiting.shift()
  if (!next) {
    pumping = false
    return
  }
  next()
  setImmediate(pump)
}
