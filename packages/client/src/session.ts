/**
 * Who the browser's session belongs to, told to every tab. The session cookie is shared by
 * all tabs of a browser profile, so a sign-in, a logout or a 401 in one tab changes the
 * identity of all of them; each tab must then drop everything it holds for the previous user.
 */
export type SessionSignal = { kind: 'user'; userId: string } | { kind: 'signed-out' }

export const SESSION_CHANNEL = 'dormant session'

let sender: BroadcastChannel | null = null
/** The user this tab last announced or heard of (null: signed out or not known yet). */
let current: string | null = null
const userOf = (signal: SessionSignal) => (signal.kind === 'user' ? signal.userId : null)

/**
 * Tells every tab (this one included: each listener has its own channel object, and a
 * channel hears every other object of the same name) who the session now belongs to.
 */
export const announceSession = (signal: SessionSignal) => {
  current = userOf(signal)
  if (typeof BroadcastChannel !== 'function') return
  sender ??= new BroadcastChannel(SESSION_CHANNEL)
  sender.postMessage(signal)
}

/**
 * Calls `listener` for every announcement from any tab, with the user this watcher knew of
 * before it (starting from what this tab knew when the watch began); returns the
 * unsubscribe function.
 */
export const watchSession = (listener: (signal: SessionSignal, previous: string | null) => void): (() => void) => {
  if (typeof BroadcastChannel !== 'function') return () => {}
  let known = current
  const channel = new BroadcastChannel(SESSION_CHANNEL)
  channel.onmessage = ({ data }: MessageEvent<SessionSignal>) => {
    const previous = known
    known = userOf(data)
    current = known
    listener(data, previous)
  }
  return () => channel.close()
}
