/**
 * Who the browser's session belongs to, told to every tab. The session cookie is shared by
 * all tabs of a browser profile, so a sign-in, a logout or a 401 in one tab changes the
 * identity of all of them; each tab must then drop everything it holds for the previous user.
 */
export type SessionSignal =
  | { kind: 'user'; userId: string }
  | { kind: 'signed-out' }
  /** A sign-in is under way: the cookie may change hands any moment, so drop and wait. */
  | { kind: 'changing' }
  /** That sign-in failed: the session is what it was (ask `/api/me`). */
  | { kind: 'unchanged' }

export const SESSION_CHANNEL = 'dormant session'

/** How long a tab waits for the outcome of another tab's sign-in before asking itself. */
export const SESSION_CHANGE_HOLD_MS = 10_000

/** This tab, so a watcher can tell its own announcements from other tabs'. */
const TAB = Math.random().toString(36).slice(2)

type Message = SessionSignal & { from: string }

let sender: BroadcastChannel | null = null
/** The user this tab last announced or heard of (null: signed out or not known yet). */
let current: string | null = null
const userAfter = (signal: SessionSignal, before: string | null) =>
  signal.kind === 'user' ? signal.userId : signal.kind === 'signed-out' ? null : before

/**
 * Tells every tab (this one included: each listener has its own channel object, and a
 * channel hears every other object of the same name) who the session now belongs to.
 */
export const announceSession = (signal: SessionSignal) => {
  current = userAfter(signal, current)
  if (typeof BroadcastChannel !== 'function') return
  sender ??= new BroadcastChannel(SESSION_CHANNEL)
  sender.postMessage({ ...signal, from: TAB } satisfies Message)
}

/**
 * Calls `listener` for every announcement from any tab, with the user this watcher knew of
 * before it (starting from what this tab knew when the watch began) and whether this tab
 * made it; returns the unsubscribe function.
 */
export const watchSession = (
  listener: (signal: SessionSignal, previous: string | null, fromThisTab: boolean) => void,
): (() => void) => {
  if (typeof BroadcastChannel !== 'function') return () => {}
  let known = current
  const channel = new BroadcastChannel(SESSION_CHANNEL)
  channel.onmessage = ({ data }: MessageEvent<Message>) => {
    const { from, ...signal } = data
    const previous = known
    known = userAfter(signal, known)
    current = known
    listener(signal, previous, from === TAB)
  }
  return () => channel.close()
}
