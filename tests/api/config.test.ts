import { databaseEnv, spawnApp, tempDatabase, uniquePrefix } from '@dormant/testing'
import { describe, expect, inject, test } from 'vitest'

const base = async () => ({
  REDIS_URL: inject('redisUrl'),
  REDIS_PREFIX: uniquePrefix(),
  ...databaseEnv(await tempDatabase()),
})

describe.concurrent('configuration', () => {
  test.each([
    [{ PORT: 'abc' }, ['PORT']],
    [
      { SSE_HEARTBEAT_MS: '10', REDIS_URL: 'not a url', LOG_LEVEL: 'loud' },
      ['SSE_HEARTBEAT_MS', 'REDIS_URL', 'LOG_LEVEL'],
    ],
    [{ ADMIN_EMAIL: 'admin@example.com' }, ['ADMIN_EMAIL and ADMIN_PASSWORD must be set together']],
  ])('a bad value (%o) stops the API with exit code 1 and a message naming it', async (env, names) => {
    const api = spawnApp('api', { ...(await base()), ...env })
    expect(await api.exited).toBe(1)
    expect(api.output()).toContain('Invalid configuration')
    for (const name of names) expect(api.output()).toContain(name)
    expect(api.output()).not.toContain('api listening')
  })
})
