/** Wall-clock milliseconds with sub-millisecond resolution, comparable across threads. */
export const now = () => performance.timeOrigin + performance.now()

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** The value at quantile q (0..1) of an ascending-sorted array. */
export const quantile = (sorted: ArrayLike<number>, q: number) =>
  sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN) : Number.NaN

export const sortedNumbers = (values: Iterable<number>) => Float64Array.from(values).sort()
