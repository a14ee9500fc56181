import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { closeDb, openDb, setPermissions } from '@dormant/db'
import {
  type AppProcess,
  freePort,
  portAnswers,
  REPO_ROOT,
  spawnApp,
  tempDbPath,
  uniquePrefix,
  waitFor,
} from '@dormant/testing'
import type { Page, Request } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import {
  type Browser,
  launchBrowser,
  markDocument,
  sameDocument,
  signIn,
  waitForPermission,
  waitForText,
} from './support.js'

const ADMIN = { email: 'admin@example.com', password: 'admin-password' }

const loginCookie = async (base: string) => {
  const res = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  })
  expect(res.status).toBe(200)
  return res.headers.getSetCookie()[0]!.split(';')[0]!
}

/**
 * Through Vite's dev proxy a stopped API answers 5xx, so the browser's EventSource gives up
 * for good: this is the client's own backoff-and-recreate path, resuming with ?lastEventId.
 */
describe('the Vite dev server in front of the API', () => {
  let env: Record<string, string>
  let api: AppProcess
  let vite: ChildProcess
  let base: string
  let browser: Browser
  let page: Page
  let adminId: string
  let cookie: string

  const startApi = async () => {
    api = spawnApp('api', env)
    await api.waitForOutput('api listening')
  }

  beforeAll(async () => {
    const [apiPort, vitePort] = [await freePort(), await freePort()]
    env = {
      PORT: String(apiPort),
      DB_PATH: tempDbPath(),
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: uniquePrefix(),
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    }
    vite = spawn(
      join(REPO_ROOT, 'node_modules/.bin/vite'),
      ['--port', String(vitePort), '--strictPort', '--host', '127.0.0.1'],
      {
        cwd: join(REPO_ROOT, 'apps/web'),
        env: { ...process.env, DORMANT_API_URL: `http://127.0.0.1:${apiPort}` },
        stdio: 'ignore',
      },
    )
    base = `http://127.0.0.1:${vitePort}`
    ;[, browser] = await Promise.all([
      startApi(),
      launchBrowser(),
      waitFor(() => portAnswers(vitePort), { what: 'vite dev server', timeoutMs: 20_000 }),
    ])
    cookie = await loginCookie(base)
    const me = await fetch(`${base}/api/me`, { headers: { cookie } })
    adminId = ((await me.json()) as { user: { id: string } }).user.id
    page = await browser.context.newPage()
    await signIn(page, base, ADMIN.email, ADMIN.password)
    await page.goto(`${base}/`)
  })
  afterAll(async () => {
    await browser?.close()
    await api?.signal('SIGTERM')
    vite?.kill('SIGTERM')
  })

  test('streams pass through the proxy; a stopped API is retried with backoff and resumed', async () => {
    await waitForText(page.getByTestId('connection'), 'live')
    await waitForText(page.getByTestId('user-status'), 'active')
    await markDocument(page)
    const streams: string[] = []
    const onRequest = (r: Request) => {
      if (new URL(r.url()).pathname === '/api/events') streams.push(r.url())
    }
    browser.context.on('request', onRequest)
    try {
      expect(await api.signal('SIGTERM')).toBe(0)
      await waitForText(page.getByTestId('connection'), 'reconnecting')
      const db = openDb(env.DB_PATH!)
      setPermissions(db, adminId, ['billing.manage'])
      closeDb(db)

      await startApi()
      await waitForText(page.getByTestId('connection'), 'live', 40_000)
      await waitForPermission(page, 'billing.manage')
      // The browser gave up on the 5xx; our code opened a new EventSource after the last id.
      expect(streams.some((url) => /[?&]lastEventId=\d+$/.test(url))).toBe(true)

      // And live frames flow through the proxy again.
      const put = await fetch(`${base}/api/users/${adminId}/permissions`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', cookie: await loginCookie(base) },
        body: JSON.stringify({ permissions: ['reports.export'] }),
      })
      expect(put.status).toBe(200)
      await waitForPermission(page, 'reports.export')
      expect(await sameDocument(page)).toBe('same')
    } finally {
      browser.context.off('request', onRequest)
    }
  })
})
