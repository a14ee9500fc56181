import { tempDir, waitFor } from '@dormant/testing'
import { describe, expect } from 'vitest'
import { type TestApi, test } from '../testing.js'

const PAGE = '/admin/queues'
const QUEUES_API = '/admin/queues/api/queues'
const PAUSE = '/admin/queues/api/queues/hibernations/pause'
const RESUME = '/admin/queues/api/queues/hibernations/resume'

const origin = (api: TestApi) => new URL(api.url).origin

describe('Bull Board at /admin/queues', () => {
  test('without a session: a browser is sent to /login, API calls get 401', async ({ api }) => {
    const page = await api.call(PAGE, { headers: { accept: 'text/html' }, redirect: 'manual' })
    expect(page.status).toBe(302)
    expect(page.headers.get('location')).toBe('/login?next=%2Fadmin%2Fqueues')
    const deep = await api.call(`${PAGE}/queue/hibernations`, { headers: { accept: 'text/html' }, redirect: 'manual' })
    expect(deep.status).toBe(302)

    const data = await api.call(QUEUES_API)
    expect(data.status).toBe(401)
    expect(await data.json()).toEqual({ error: { code: 'unauthorized', message: 'sign in first' } })
    const write = await api.call(PAUSE, { method: 'PUT', headers: { origin: origin(api) } })
    expect(write.status).toBe(401)
    const asset = await api.call(`${PAGE}/static/favicon-32x32.png`)
    expect(asset.status).toBe(401)
  })

  test('a signed-in user who is not an admin gets 403', async ({ api }) => {
    const user = await api.newUser()
    for (const path of [PAGE, QUEUES_API]) {
      const res = await api.call(path, { cookie: user.cookie, headers: { accept: 'text/html' }, redirect: 'manual' })
      expect(res.status).toBe(403)
    }
    const write = await api.call(PAUSE, { method: 'PUT', cookie: user.cookie, headers: { origin: origin(api) } })
    expect(write.status).toBe(403)
    expect(await api.deps.queue.isPaused()).toBe(false)
  })

  test('an admin gets the page, its assets and the queue with a scheduled job', async ({ api }) => {
    const cookie = await api.adminCookie()
    const user = await api.newUser()
    const started = await api.call(`/api/users/${user.id}/hibernation`, {
      method: 'POST',
      cookie,
      json: { durationMs: 3_600_000 },
    })
    const { user: sleeping } = (await started.json()) as { user: { hibernation: { id: string } } }

    const page = await api.call(PAGE, { cookie, headers: { accept: 'text/html' } })
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toContain('Dormant timers')
    const assets = [...html.matchAll(/(?:src|href)="([^"]*static\/[^"]+)"/g)].map((m) => m[1]!)
    expect(assets.filter((a) => a.endsWith('.js')).length).toBeGreaterThan(0)
    for (const asset of assets) {
      const res = await api.call(new URL(asset, `${api.url}${PAGE}/`).pathname, { cookie })
      expect(res.status, asset).toBe(200)
    }

    await waitFor(async () => (await api.deps.queue.getJobState(sleeping.hibernation.id)) === 'delayed', {
      what: 'the job',
    })
    const res = await api.call(`${QUEUES_API}?activeQueue=hibernations&status=delayed`, { cookie })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { queues: { name: string; jobs: { id: string; data: unknown }[] }[] }
    const queue = body.queues.find((q) => q.name === 'hibernations')
    expect(queue?.jobs.map((j) => [j.id, j.data])).toEqual([
      [sleeping.hibernation.id, { h: sleeping.hibernation.id, d: api.deps.queue.deployment }],
    ])
    expect(body.queues.map((q) => q.name).sort()).toEqual(['hibernations', 'webhooks'])
  })

  test('write actions need a same-origin request (CSRF)', async ({ api }) => {
    const cookie = await api.adminCookie()
    const refused: Record<string, string>[] = [
      {},
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { origin: origin(api), 'sec-fetch-site': 'cross-site' },
    ]
    for (const headers of refused) {
      const res = await api.call(PAUSE, { method: 'PUT', cookie, headers })
      expect(res.status, JSON.stringify(headers)).toBe(403)
    }
    const form = await api.call(PAUSE, {
      method: 'PUT',
      cookie,
      headers: { origin: origin(api), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1',
    })
    expect(form.status).toBe(415)
    expect(await api.deps.queue.isPaused()).toBe(false)

    const sameOrigin = { origin: origin(api), 'sec-fetch-site': 'same-origin' }
    const paused = await api.call(PAUSE, { method: 'PUT', cookie, headers: sameOrigin })
    expect(paused.status).toBeLessThan(300)
    expect(await api.deps.queue.isPaused()).toBe(true)
    const resumed = await api.call(RESUME, { method: 'PUT', cookie, headers: { origin: origin(api) } })
    expect(resumed.status).toBeLessThan(300)
    expect(await api.deps.queue.isPaused()).toBe(false)
  })

  test('assets do not depend on the working directory, even one changed after start', async ({ api }) => {
    const cookie = await api.adminCookie()
    const cwd = process.cwd()
    process.chdir(tempDir('elsewhere'))
    try {
      const res = await api.call(`${PAGE}/static/favicon-32x32.png`, { cookie })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('image/png')
    } finally {
      process.chdir(cwd)
    }
  })
})
