import { connectRedis } from '@dormant/core'
import type { Backend } from './database.js'

export type Ctx = {
  quick: boolean
  redisUrl: string
  /** Every database the scenario opens, and every process it starts, uses this backend. */
  backend: Backend
}

/** CPU time is read in clock ticks: figures below one tick are noise, ratios use at least one. */
export const TICK_S = 0.01

export const ratio = (a: number, b: number) => Math.max(a, TICK_S) / Math.max(b, TICK_S)

/**
 * Redis wakes blocked clients (BullMQ's wait for the next delayed job) only on its event-loop
 * ticks, `hz` per second: at the default 10 a timer fires up to 100 ms late (measured: sparse
 * p50 57 ms, p99 117 ms; at 100: 16 ms and 57 ms on a loaded machine). Dormant recommends 100.
 */
export const REDIS_HZ = 100

export const setRedisHz = async (url: string, hz: number) => {
  const redis = connectRedis(url)
  await redis.config('SET', 'hz', String(hz))
  await redis.quit()
}
