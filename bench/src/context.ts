export type Ctx = {
  quick: boolean
  redisUrl: string
}

/** CPU time is read in clock ticks: figures below one tick are noise, ratios use at least one. */
export const TICK_S = 0.01

export const ratio = (a: number, b: number) => Math.max(a, TICK_S) / Math.max(b, TICK_S)
