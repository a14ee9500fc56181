import { Redis, type RedisOptions } from 'ioredis'

/**
 * BullMQ needs `maxRetriesPerRequest: null` on connections it blocks on; we use the same
 * options everywhere so a Redis outage delays commands instead of failing them.
 */
export const connectRedis = (url: string, options: RedisOptions = {}) =>
  new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false, ...options })

/** Redis settings that production needs; returns a warning per setting that is unsafe. */
export const redisSafetyWarnings = async (redis: Redis): Promise<string[]> => {
  const warnings: string[] = []
  const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string]
  if (policy !== 'noeviction') {
    warnings.push(`maxmemory-policy is "${policy}": Redis may evict timer jobs; set it to noeviction`)
  }
  const [, aof] = (await redis.config('GET', 'appendonly')) as [string, string]
  const [, save] = (await redis.config('GET', 'save')) as [string, string]
  if (aof !== 'yes' && !save) {
    warnings.push(
      'Redis persistence is off (no AOF, no RDB snapshots): a restart loses the queue until the reconciler rebuilds it',
    )
  }
  return warnings
}
