import { streamPosition, waitFor } from '@dormant/testing'
import { afterAll, describe, expect, inject, test } from 'vitest'
import { type ApiProcess, committedEvents, dbOf, ids, spawnApi, systemEnv, USER_PASSWORD } from '../faults/support.js'

const running: ApiProcess[] = []
afterAll(async () => {
  await Promise.all(running.map((p) => p.signal('SIGTERM')))
})

const pair = async (extra: Record<string, string> = {}) => {
  const env = await systemEnv(inject('redisUrl'), extra)
  const apis = await Promise.all([spawnApi(env), spawnApi(env)])
  running.push(...apis)
  return { env, a: apis[0], b: apis[1] }
}

describe('two real API processes on one database and Redis', () => {
  test('permissions, streams and logouts travel between them', async () => {
    const { env, a, b } = await pair()
    const user = await a.newUser({ permissions: [] })
    const second = await a.login(user.email, USER_PASSWORD)
    const stream = b.stream(user.cookie)
    const kept = b.stream(second)
    await Promise.all([stream.untilEvents(1, 'snapshot'), kept.untilEvents(1, 'snapshot')])
    const from = streamPosition(stream.events('snapshot')[0]?.id)

    // G5: the next request to the other process is authorised by the new set.
    expect((await b.call('/api/me/transactions', { cookie: user.cookie })).status).toBe(403)
    const put = await a.call(`/api/users/${user.id}/permissions`, {
      method: 'PUT',
      cookie: await a.adminCookie(),
      json: { permissions: ['transactions.read', 'hibernation.self'] },
    })
    expect(put.status).toBe(200)
    expect((await b.call('/api/me/transactions', { cookie: user.cookie })).status).toBe(200)
    expect((await b.call('/api/me/hibernation', { method: 'POST', cookie: user.cookie })).status).toBe(201)

    await stream.untilEvents(2, 'user.updated')
    await waitFor(async () => (await committedEvents(dbOf(env), from)).byUser(user.id).length === 2, {
      what: 'two commits',
    })
    expect(ids(stream)).toEqual((await committedEvents(dbOf(env), from)).byUser(user.id))
    expect(stream.events('user.updated')[0]?.data).toMatchObject({
      user: { permissions: ['hibernation.self', 'transactions.read'] },
    })

    // Logout through A ends that session's stream on B, and only that one.
    expect((await a.call('/api/auth/logout', { method: 'POST', cookie: user.cookie })).status).toBe(204)
    await stream.closedByServer()
    expect((await b.call('/api/me', { cookie: user.cookie })).status).toBe(401)
    expect(kept.ended).toBe(false)
    kept.close()
  })
  test('failed sign-ins count against one limit, whichever process they reach', async () => {
    const { a, b } = await pair({ LOGIN_LIMIT_PER_ACCOUNT: '4' })
    const user = await a.newUser()
    const signIn = (api: typeof a, password: string) =>
      api.call('/api/auth/login', { method: 'POST', json: { email: user.email, password } })
    for (const api of [a, b, a, b]) expect((await signIn(api, 'wrong-password')).status).toBe(401)
    // Two failures each: per-process counters would still let the right password in.
    for (const api of [a, b]) {
      const res = await signIn(api, USER_PASSWORD)
      expect(res.status).toBe(429)
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    }
  })
  test('a burst of guesses split between the processes gets at most the limit of password checks', async () => {
    const { a, b } = await pair({ LOGIN_LIMIT_PER_ACCOUNT: '3' })
    const user = await a.newUser()
    // 60 at once, alternating processes, the last one the right password.
    const statuses = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const password = i === 59 ? USER_PASSWORD : `wrong-password-${i}`
        const api = i % 2 ? b : a
        return (await api.call('/api/auth/login', { method: 'POST', json: { email: user.email, password } })).status
      }),
    )
    const checked = statuses.filter((s) => s === 401 || s === 200).length
    expect(checked).toBeLessThanOrEqual(3)
    expect(statuses.filter((s) => s === 429)).toHaveLength(60 - checked)
  })
  test('a burst at many accounts from one address, split between the processes, gets at most its limit', async () => {
    const { a, b } = await pair({ LOGIN_LIMIT_PER_ADDRESS: '5' })
    const statuses = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const json = { email: `nobody-${i}@example.com`, password: 'wrong-password' }
        return (await (i % 2 ? b : a).call('/api/auth/login', { method: 'POST', json })).status
      }),
    )
    const checked = statuses.filter((s) => s === 401).length
    expect(checked).toBeLessThanOrEqual(5)
    expect(statuses.filter((s) => s === 429)).toHaveLength(60 - checked)
  })
})
