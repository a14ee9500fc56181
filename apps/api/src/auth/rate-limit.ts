/**
 * A fixed-window counter per key, in process memory. Login attempts are rare, so the
 * map stays small; entries expire with their window. Behind several API processes
 * each allows its own budget, which bounds guessing all the same.
 */
export const createRateLimiter = (options: { limit: number; windowMs: number }) => {
  const windows = new Map<string, { count: number; resetAt: number }>()
  const sweep = (now: number) => {
    for (const [key, w] of windows) if (w.resetAt <= now) windows.delete(key)
  }
  return {
    /** Counts one attempt; returns the seconds to wait when over the limit, else 0. */
    hit(key: string, now = Date.now()) {
      if (windows.size > 10_000) sweep(now)
      let w = windows.get(key)
      if (!w || w.resetAt <= now) {
        w = { count: 0, resetAt: now + options.windowMs }
        windows.set(key, w)
      }
      w.count += 1
      return w.count > options.limit ? Math.ceil((w.resetAt - now) / 1000) : 0
    },
    reset(key: string) {
      windows.delete(key)
    },
  }
}

export type RateLimiter = ReturnType<typeof createRateLimiter>
