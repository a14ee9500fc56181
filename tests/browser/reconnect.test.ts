import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { closeDb, completeHibernation, type Db, openDb, setPermissions, startHibernation } from '@dormant/db'
import {
  type AppProcess,
  databaseEnv,
  freePort,
  portAnswers,
  REPO_ROOT,
  spawnApp,
  tempDatabase,
  uniquePrefix,
  waitFor,
} from '@dormant/testing'
import type { Request, Response } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import {
  type Browser,
  buildWeb,
  isStreamId,
  launchBrowser,
  markDocument,
  sameDocument,
  signIn,
  WEB_DIST,
  waitForPermission,
  waitForText,
} from './support.js'

const ADMIN = { email: 'admin@example.com', password: 'admin-password' }

const loginCookie = async (base: string, email: string, password: string) => {
  const res = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  })
  expect(res.status).toBe(200)
  return res.headers.getSetCookie()[0]!.split(';')[0]!
}

/** Stream requests the browser makes, with the position each one resumes from. */
const recordStreams = (browser: Browser) => {
  const requests: Request[] = []
  const failures: number[] = []
  const isStream = (url: string) => new URL(url).pathname === '/api/events'
  const onRequest = (r: Request) => {
    if (isStream(r.url())) requests.push(r)
  }
  const onResponse = (r: Response) => {
    if (isStream(r.url()) && r.status() >= 500) failures.push(r.status())
  }
  browser.context.on('request', onRequest)
  browser.context.on('response', onResponse)
  return {
    requests,
    /** 5xx answers to stream requests (a proxy in front of a stopped API). */
    failures,
    stop: () => {
      browser.context.off('request', onRequest)
      browser.context.off('response', onResponse)
    },
    resumedFrom: async (r: Request) =>
      (await r.allHeaders())['last-event-id'] ?? new URL(r.url()).searchParams.get('lastEventId'),
  }
}

describe('the page across API restarts', () => {
  let env: Record<string, string>
  let location: string
  let api: AppProcess
  let vite: ChildProcess
  let apiBase: string
  let viteBase: string
  let browser: Browser
  const user = { id: '', email: `${uniquePrefix('restart')}@example.com`, password: 'user-password' }

  const startApi = async () => {
    api = spawnApp('api', env)
    await api.waitForOutput('api listening')
  }
  /** While no API runs, changes go straight to the DB (as the worker's would): only the outbox knows them. */
  const whileDown = async (change: (db: Db) => Promise<unknown>) => {
    const db = await openDb(location)
    try {
      await change(db)
    } finally {
      await closeDb(db)
    }
  }

  beforeAll(async () => {
    buildWeb()
    const [apiPort, vitePort] = [await freePort(), await freePort()]
    apiBase = `http://127.0.0.1:${apiPort}`
    viteBase = `http://127.0.0.1:${vitePort}`
    location = await tempDatabase()
    env = {
      PORT: String(apiPort),
      ...databaseEnv(location),
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: uniquePrefix(),
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      WEB_DIST,
    }
    // `vite preview` serves the build behind the same proxy settings as the dev server
    // (preview.proxy defaults to server.proxy) and starts far faster.
    vite = spawn(
      join(REPO_ROOT, 'node_modules/.bin/vite'),
      ['preview', '--port', String(vitePort), '--strictPort', '--host', '127.0.0.1'],
      { cwd: join(REPO_ROOT, 'apps/web'), env: { ...process.env, DORMANT_API_URL: apiBase }, stdio: 'ignore' },
    )
    ;[, browser] = await Promise.all([
      startApi(),
      launchBrowser(),
      waitFor(() => portAnswers(vitePort), { what: 'vite preview', timeoutMs: 20_000 }),
    ])
    const res = await fetch(`${apiBase}/api/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: await loginCookie(apiBase, ADMIN.email, ADMIN.password) },
      body: JSON.stringify({ email: user.email, password: user.password }),
    })
    expect(res.status).toBe(201)
    user.id = ((await res.json()) as { user: { id: string } }).user.id
  })
  afterAll(async () => {
    await browser?.close()
    await api?.signal('SIGTERM')
    vite?.kill('SIGTERM')
  })

  test('the indicator goes reconnecting then live, and what happened while the API was down appears', async () => {
    const page = await browser.context.newPage()
    await signIn(page, apiBase, user.email, user.password)
    await waitForText(page.getByTestId('connection'), 'live')
    await waitForText(page.getByTestId('user-status'), 'active')
    await page.getByText('Nothing yet.').waitFor()
    await markDocument(page)

    expect(await api.signal('SIGTERM')).toBe(0)
    await waitForText(page.getByTestId('connection'), 'reconnecting')
    await whileDown(async (db) => {
      const started = await startHibernation(db, user.id, 1000)
      if ('error' in started) throw new Error(started.error)
      expect((await completeHibernation(db, started.hibernation.id, Date.now() + 2000)).outcome).toBe('completed')
    })

    const streams = recordStreams(browser)
    await startApi()
    await waitForText(page.getByTestId('connection'), 'live', 20_000)
    streams.stop()

    // The history row exists only as a replayed event: the page fetched history once, before.
    const rows = page.getByTestId('transactions').locator('li')
    await rows.first().waitFor()
    expect(await rows.count()).toBe(1)
    expect(await rows.first().textContent()).toContain('Hibernation completed')
    await waitForText(page.getByTestId('user-goal'), '1')
    expect(await sameDocument(page)).toBe('same')
    expect(isStreamId(await streams.resumedFrom(streams.requests.at(-1)!))).toBe(true)
    await page.close()
  })

  test("behind Vite's proxy a stopped API answers 5xx; the client backs off, recreates the stream and resumes", async () => {
    const page = await browser.context.newPage()
    await signIn(page, viteBase, ADMIN.email, ADMIN.password)
    await page.goto(`${viteBase}/`)
    await waitForText(page.getByTestId('connection'), 'live')
    await markDocument(page)
    const me = await fetch(`${apiBase}/api/me`, {
      headers: { cookie: await loginCookie(apiBase, ADMIN.email, ADMIN.password) },
    })
    const adminId = ((await me.json()) as { user: { id: string } }).user.id

    const streams = recordStreams(browser)
    try {
      expect(await api.signal('SIGTERM')).toBe(0)
      await waitForText(page.getByTestId('connection'), 'reconnecting')
      await whileDown((db) => setPermissions(db, adminId, ['billing.manage']))
      // Keep the API down until the browser's own retry has met the proxy's 5xx (after which
      // EventSource gives up for good); starting it sooner would let that retry succeed.
      await waitFor(() => streams.failures.length > 0, { timeoutMs: 20_000, what: 'a 5xx from the proxy' })
      await startApi()
      await waitForText(page.getByTestId('connection'), 'live', 40_000)
      await waitForPermission(page, 'billing.manage')
      // The browser gave up on the 5xx for good; only our code opens a stream with ?lastEventId.
      expect(streams.requests.some((r) => isStreamId(new URL(r.url()).searchParams.get('lastEventId')))).toBe(true)

      // Live frames flow through the proxy again, unbuffered.
      const put = await fetch(`${viteBase}/api/users/${adminId}/permissions`, {
        method: 'PUT',
        headers: {
          'content-type': 'application/json',
          cookie: await loginCookie(viteBase, ADMIN.email, ADMIN.password),
        },
        body: JSON.stringify({ permissions: ['reports.export'] }),
      })
      expect(put.status).toBe(200)
      await waitForPermission(page, 'reports.export')
      expect(await sameDocument(page)).toBe('same')
    } finally {
      streams.stop()
    }
  })
})
