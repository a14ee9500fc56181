import { SseRecorder } from '@dormant/testing'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { buildApps } from '../../scripts/build-apps.mjs'
import { type ApiProcess, spawnApi, spawnWorker, systemEnv } from '../faults/support.js'

const running: { signal(sig: NodeJS.Signals): Promise<number | string> }[] = []
afterAll(async () => {
  await Promise.all(running.map((p) => p.signal('SIGTERM')))
})

beforeAll(() => buildApps(), 60_000)

describe('the production bundles (what npm start and the Docker image run)', () => {
  test('the API and the worker run from apps/*/dist: a hibernation completes on the stream', async () => {
    const env = await systemEnv(inject('redisUrl'))
    const api: ApiProcess = await spawnApi(env, { bundle: true })
    running.push(api)
    const worker = await spawnWorker(env, { bundle: true })
    running.push(worker)

    expect(await (await api.call('/healthz')).json()).toEqual({ ok: true, redis: 'up', db: 'up' })
    expect((await api.call('/api/docs/assets/swagger-ui.css')).status).toBe(200)
    const user = await api.newUser()
    const stream = new SseRecorder(`${api.url}/api/events`, { cookie: user.cookie })
    await stream.untilEvents(1, 'snapshot')
    const res = await api.call(`/api/users/${user.id}/hibernation`, {
      method: 'POST',
      cookie: await api.adminCookie(),
      json: { durationMs: 1000 },
    })
    expect(res.status).toBe(201)
    await stream.untilEvents(1, 'hibernation.completed')
    stream.close()

    expect(await api.signal('SIGTERM')).toBe(0)
    expect(await worker.signal('SIGTERM')).toBe(0)
  })
})
