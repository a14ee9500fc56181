/**
 * Runs `pass` now and then `intervalMs` after each pass ends: one pass at a time, never
 * overlapping, however long a pass takes. `pass` handles its own errors. `stop()` waits for
 * the pass under way.
 */
export const runPeriodically = (pass: () => Promise<void>, intervalMs: number) => {
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  let running: Promise<void> = Promise.resolve()
  const tick = () => {
    running = pass().finally(() => {
      if (!stopped) timer = setTimeout(tick, intervalMs)
    })
  }
  tick()
  return {
    /** The first pass, for callers that want to wait for it. */
    firstPass: running,
    stop: async () => {
      stopped = true
      clearTimeout(timer)
      await running
    },
  }
}
