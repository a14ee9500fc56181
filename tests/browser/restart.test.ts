import { closeDb, completeHibernation, openDb, startHibernation } from '@dormant/db'
import { type AppProcess, freePort, spawnApp, tempDbPath, uniquePrefix } from '@dormant/testing'
import type { Page, Request } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import {
  type Browser,
  buildWeb,
  launchBrowser,
  markDocument,
  sameDocument,
  signIn,
  WEB_DIST,
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

describe('the page across an API restart', () => {
  let env: Record<string, string>
  let api: AppProcess
  let base: string
  let browser: Browser
  let page: Page
  const user = { id: '', email: `${uniquePrefix('restart')}@example.com`, password: 'user-password' }

  const startApi = async () => {
    api = spawnApp('api', env)
    await api.waitForOutput('api listening')
  }

  beforeAll(async () => {
    buildWeb()
    const port = await freePort()
    base = `http://127.0.0.1:${port}`
    env = {
      PORT: String(port),
      DB_PATH: tempDbPath(),
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: uniquePrefix(),
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      WEB_DIST,
    }
    ;[, browser] = await Promise.all([startApi(), launchBrowser()])
    const admin = await loginCookie(base, ADMIN.email, ADMIN.password)
    const res = await fetch(`${base}/api/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: admin },
      body: JSON.stringify({ email: user.email, password: user.password }),
    })
    expect(res.status).toBe(201)
    user.id = ((await res.json()) as { user: { id: string } }).user.id
    page = await browser.context.newPage()
    await signIn(page, base, user.email, user.password)
  })
  afterAll(async () => {
    await browser?.close()
    await api?.signal('SIGTERM')
  })

  test('the indicator goes reconnecting then live, and what changed while the API was down appears', async () => {
    await waitForText(page.getByTestId('connection'), 'live')
    await waitForText(page.getByTestId('user-status'), 'active')
    await page.getByText('Nothing yet.').waitFor()
    await markDocument(page)

    expect(await api.signal('SIGTERM')).toBe(0)
    await waitForText(page.getByTestId('connection'), 'reconnecting')

    // A change committed while no API runs (as the worker would): only the outbox knows it.
    const db = openDb(env.DB_PATH!)
    const started = startHibernation(db, user.id, 1000)
    if ('error' in started) throw new Error(started.error)
    const completed = completeHibernation(db, started.hibernation.id, Date.now() + 2000)
    expect(completed.outcome).toBe('completed')
    closeDb(db)

    const streams: Request[] = []
    const onRequest = (r: Request) => {
      if (new URL(r.url()).pathname === '/api/events') streams.push(r)
    }
    browser.context.on('request', onRequest)
    await startApi()
    await waitForText(page.getByTestId('connection'), 'live', 20_000)
    browser.context.off('request', onRequest)

    const rows = page.getByTestId('transactions').locator('li')
    await rows.first().waitFor()
    expect(await rows.count()).toBe(1)
    expect(await rows.first().textContent()).toContain('Hibernation completed')
    await waitForText(page.getByTestId('user-goal'), '1')
    await waitForText(page.getByTestId('user-status'), 'active')
    expect(await sameDocument(page)).toBe('same')
    // It resumed after the last event it had seen, not from scratch.
    const resumed = streams.at(-1)!
    const lastEventId =
      (await resumed.allHeaders())['last-event-id'] ?? new URL(resumed.url()).searchParams.get('lastEventId')
    expect(lastEventId).toMatch(/^\d+$/)
  })
})
