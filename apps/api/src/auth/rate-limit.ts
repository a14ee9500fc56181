/**
 * Failed-attempt counters per key in fixed windows, in process memory. Only failures
 * count, so people who type their password right are never slowed down. Behind several
 * API processes each keeps its own counts, which still bounds guessing.
 */
export const createRateLimiter = (options: { limit: number; windowMs: number }) => {
  const windows = new Map<string, { count: number; resetAt: number }>()
  const current = (key: string, now: number) => {
    const w = windows.get(key)
    if (w && w.resetAt <= now) {
      windows.delete(key)
      return undefined
    }
    return w
  }
  return {
    /** Seconds until `key` may try again, or 0 when it may now. */
    retryAfter(key: string, now = Date.now()) {
      const w = current(key, now)
      return w && w.count >= options.limit ? Math.max(1, Math.ceil((w.resetAt - now) / 1000)) : 0
    },
    fail(key: string, now = Date.now()) {
      if (windows.size > 100_000) for (const [k, w] of windows) if (w.resetAt <= now) windows.delete(k)
      const w = current(key, now)
      if (w) w.count += 1
      else windows.set(key, { count: 1, resetAt: now + options.windowMs })
    },
    reset(key: string) {
      windows.delete(key)
    },
  }
}

export type RateLimiter = ReturnType<typeof createRateLimiter>
