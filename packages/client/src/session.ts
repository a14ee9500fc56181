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

/**
 * Web Lock held, shared, by every tab while it shows a user's data, and taken exclusively by a
 * sign-in: its request leaves only once no tab shows anything of the user the cookie belonged to.
 */
export const SESSION_VIEW_LOCK = 'dormant session view'

/** How long a sign-in waits for the other tabs to let go of the view; a frozen tab must not block it. */
export const SESSION_VIEW_WAIT_MS = 2_000

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

/** Web Locks, missing outside secure contexts: there the view is not ordered, only announced. */
const webLocks = () => (typeof navigator === 'object' ? navigator.locks : undefined)

/**
 * Holds the shared view lock for a page about to show a user's data, and calls `onHeld` once
 * it may (at once where the browser has no Web Locks). Call the returned function once that
 * data is off the screen: it lets a waiting sign-in go ahead (or drops a request not yet held).
 */
export const holdSessionView = (onHeld: () => void): (() => void) => {
  const locks = webLocks()
  if (!locks) {
    onHeld()
    return () => {}
  }
  const waiting = new AbortController()
  let released = false
  let release = () => {}
  locks
    .request(SESSION_VIEW_LOCK, { mode: 'shared', signal: waiting.signal }, () => {
      // Granted just as this tab let go: nothing to show any more.
      if (released) return
      onHeld()
      return new Promise<void>((resolve) => {
        release = resolve
      })
    })
    .catch(() => {
      // Let go while still waiting in the queue.
    })
  return () => {
    released = true
    waiting.abort()
    release()
  }
}

/**
 * Runs `change` (a sign-in, which may hand the cookie to someone else) once no other tab shows
 * a user's data: announces "changing", on which every tab hides its page and lets go of the
 * view, then holds the view lock exclusively, so tabs opened meanwhile show nothing either,
 * until `change` has announced its outcome. After `SESSION_VIEW_WAIT_MS` (or without Web
 * Locks) `change` runs anyway: the other tabs then drop what they show as they hear of it.
 */
export const changeSession = async <T>(change: () => Promise<T>): Promise<T> => {
  announceSession({ kind: 'changing' })
  const locks = webLocks()
  if (!locks) return change()
  let granted = false
  try {
    return await locks.request(
      SESSION_VIEW_LOCK,
      { mode: 'exclusive', signal: AbortSignal.timeout(SESSION_VIEW_WAIT_MS) },
      () => {
        granted = true
        return change()
      },
    )
  } catch (err) {
    if (granted) throw err
    return change()
  }
}
