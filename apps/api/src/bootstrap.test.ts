import { databaseEnv, queryDb, tempDatabase, uniquePrefix } from '@dormant/testing'
import { describe, expect, test } from 'vitest'
import { ADMIN, startTestApi } from './testing.js'

describe('the bootstrap admin', () => {
  test('API processes starting together on one empty database all start, and make one admin', async () => {
    const env = { ...databaseEnv(await tempDatabase()), REDIS_PREFIX: uniquePrefix() }
    // Each passes the "no such user yet" check before any has written: the database decides.
    const apis = await Promise.all([startTestApi(env), startTestApi(env), startTestApi(env)])
    try {
      const admins = await queryDb<{ n: number }>(
        apis[0]!.database,
        'select cast(count(*) as integer) as n from users where email = ?',
        [ADMIN.email],
      )
      expect(admins).toEqual([{ n: 1 }])
      for (const api of apis)
        expect((await api.call('/api/auth/login', { method: 'POST', json: ADMIN })).status).toBe(200)
    } finally {
      await Promise.all(apis.map((api) => api.stop()))
    }
  })
})
