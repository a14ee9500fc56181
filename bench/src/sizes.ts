/** Full sizes follow the performance issue; quick sizes make a CI smoke test under a minute. */
export const SIZES = {
  full: {
    idle: { users: 1000, seconds: 60 },
    fanout: { connections: 10_000, perSecond: 2000, seconds: 30, idleSeconds: 15, settleMs: 1000 },
    timers: { sparse: 200, sparseSpreadMs: 20_000, burst: 10_000 },
    activation: { count: 20_000 },
    scheduling: { count: 100_000, concurrency: 32, apiSeconds: 90 },
    webhooks: { count: 10_000 },
    requests: {
      users: 1000,
      requests: { me: 4000, list: 500, put: 2000, hibernation: 1000 },
      rounds: 3,
      concurrency: 16,
      changes: 300,
      loadPerSecond: 2000,
      writes: { seconds: 10, due: 20_000 },
    },
  },
  quick: {
    idle: { users: 100, seconds: 5 },
    fanout: { connections: 500, perSecond: 200, seconds: 3, idleSeconds: 2, settleMs: 500 },
    timers: { sparse: 20, sparseSpreadMs: 3000, burst: 500 },
    activation: { count: 1000 },
    scheduling: { count: 2000, concurrency: 32, apiSeconds: 5 },
    webhooks: { count: 500 },
    requests: {
      users: 200,
      requests: { me: 300, list: 30, put: 100, hibernation: 50 },
      rounds: 1,
      concurrency: 16,
      changes: 20,
      loadPerSecond: 500,
      writes: { seconds: 2, due: 1000 },
    },
  },
} as const

export type SizeName = keyof typeof SIZES
export type Sizes = (typeof SIZES)[SizeName]
