import { join } from 'node:path'
import { waitFor } from '@dormant/testing'
import type { Page, Request } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ADMIN, startTestApi, type TestApi } from '../../apps/api/src/testing.js'
import {
  type Browser,
  buildWeb,
  isStreamId,
  launchBrowser,
  markDocument,
  SCREENSHOTS,
  sameDocument,
  signIn,
  WEB_DIST,
  waitForPermission,
  waitForText,
} from './support.js'

const isStream = (request: Request) => new URL(request.url()).pathname === '/api/events'

describe('the user page, live', () => {
  let api: TestApi
  let userBrowser: Browser
  let adminBrowser: Browser
  let user: { id: string; email: string }
  let page: Page

  beforeAll(async () => {
    buildWeb()
    ;[api, userBrowser, adminBrowser] = await Promise.all([
      startTestApi({ WEB_DIST, SSE_HEARTBEAT_MS: '1000' }),
      launchBrowser(),
      launchBrowser(),
    ])
    user = await api.newUser()
    // Neighbours, so the admin table in the screenshot looks like a table.
    await api.newUser({ permissions: ['reports.view', 'reports.export'] })
    await api.newUser({ permissions: [] })
  })
  afterAll(async () => {
    await Promise.all([userBrowser?.close(), adminBrowser?.close()])
    await api?.stop()
  })

  test('an anonymous visitor is sent to /login, and signing in shows the status page', async () => {
    page = await userBrowser.context.newPage()
    await page.goto(`${api.url}/`)
    await page.waitForURL(`${api.url}/login`)
    await signIn(page, api.url, user.email, 'user-password')
    expect(new URL(page.url()).pathname).toBe('/')
  })

  test('the user page shows the status `active` and the connection `live`', async () => {
    await waitForText(page.getByTestId('user-status'), 'active')
    await waitForText(page.getByTestId('connection'), 'live')
    await waitForPermission(page, 'hibernation.self')
    expect(await page.getByTestId('user-permissions').locator('li').allTextContents()).toEqual([
      'hibernation.self',
      'transactions.read',
    ])
  })

  test('a non-admin opening /admin is sent back to /', async () => {
    const other = await userBrowser.context.newPage()
    await other.goto(`${api.url}/admin`)
    await other.waitForURL(`${api.url}/`)
    await other.close()
  })

  test("an admin's permission change in the panel reaches the user's open page without a reload", async () => {
    await markDocument(page)
    const admin = await adminBrowser.context.newPage()
    await signIn(admin, api.url, ADMIN.email, ADMIN.password)
    expect(new URL(admin.url()).pathname).toBe('/admin')
    await waitForText(admin.getByTestId('connection'), 'live')

    await admin.getByLabel('Search users').fill(user.email)
    await admin.getByRole('button', { name: 'Search' }).click()
    await admin.getByRole('button', { name: `Manage ${user.email}` }).click()
    const editor = admin.getByTestId('user-editor')
    await editor.getByLabel('reports.view').check()
    await editor.getByLabel('transactions.read').uncheck()
    await editor.getByRole('button', { name: 'Save permissions' }).click()

    await waitForPermission(page, 'reports.view')
    await page
      .getByTestId('user-permissions')
      .getByText('transactions.read', { exact: true })
      .waitFor({ state: 'detached' })
    expect(await page.getByTestId('user-permissions').locator('li').allTextContents()).toEqual([
      'hibernation.self',
      'reports.view',
    ])
    expect(await sameDocument(page)).toBe('same')

    // The admin's table and feed follow the same change from the admin stream.
    await admin
      .locator(`tr[data-user-id="${user.id}"]`)
      .getByText('hibernation.self, reports.view', { exact: true })
      .waitFor()
    await admin.getByTestId('event-feed').getByText('user.updated').first().waitFor()
    await admin.getByLabel('Search users').fill('')
    await admin.getByRole('button', { name: 'Search' }).click()
    await admin.getByTestId('users-table').locator('tbody tr').nth(3).waitFor()
    await admin.screenshot({ path: join(SCREENSHOTS, 'admin.png'), fullPage: true })

    // Give back the history permission through the panel: the page updates again, live.
    await editor.getByLabel('transactions.read').check()
    await editor.getByRole('button', { name: 'Save permissions' }).click()
    await waitForPermission(page, 'transactions.read')
    await admin.close()
  })

  test('a hibernation started by an admin shows a live countdown on the user page', async () => {
    const res = await api.call(`/api/users/${user.id}/hibernation`, {
      method: 'POST',
      cookie: await api.adminCookie(),
      json: { durationMs: 2 * 86_400_000 },
    })
    expect(res.status).toBe(201)
    await waitForText(page.getByTestId('user-status'), 'hibernating')
    const countdown = page.getByTestId('countdown')
    await countdown.filter({ hasText: /^1d 23:59:\d\d$/ }).waitFor()
    const first = await countdown.textContent()
    // The countdown ticks on its own, once a second.
    await countdown.filter({ hasNotText: first ?? '' }).waitFor({ timeout: 3000 })
    await page.getByRole('button', { name: 'Cancel hibernation' }).click()
    await waitForText(page.getByTestId('user-status'), 'active')
    await countdown.waitFor({ state: 'detached' })
  })

  test('two tabs share one stream, both update, and the second takes over when the first closes', async () => {
    const requests: string[] = []
    const onRequest = (r: Request) => {
      if (isStream(r)) requests.push(r.url())
    }
    userBrowser.context.on('request', onRequest)
    try {
      const second = await userBrowser.context.newPage()
      await second.goto(`${api.url}/`)
      await waitForText(second.getByTestId('user-status'), 'active')
      await waitForText(second.getByTestId('connection'), 'live')

      const put = await api.call(`/api/users/${user.id}/permissions`, {
        method: 'PUT',
        cookie: await api.adminCookie(),
        json: { permissions: ['hibernation.self', 'transactions.read', 'billing.manage'] },
      })
      expect(put.status).toBe(200)
      await Promise.all([waitForPermission(page, 'billing.manage'), waitForPermission(second, 'billing.manage')])
      expect(requests).toEqual([])

      // The leader goes; the follower opens the stream after the last event it has applied.
      await page.close()
      await waitForText(second.getByTestId('connection'), 'live')
      await expect.poll(() => requests.length).toBe(1)
      expect(new URL(requests[0] ?? '').pathname).toBe('/api/events')
      expect(isStreamId(new URL(requests[0] ?? '').searchParams.get('lastEventId'))).toBe(true)
      const again = await api.call(`/api/users/${user.id}/permissions`, {
        method: 'PUT',
        cookie: await api.adminCookie(),
        json: { permissions: ['hibernation.self', 'transactions.read', 'reports.export'] },
      })
      expect(again.status).toBe(200)
      await waitForPermission(second, 'reports.export')
      expect(requests).toHaveLength(1)
      page = second
    } finally {
      userBrowser.context.off('request', onRequest)
    }
  })

  test('an idle page makes no requests for 10 s (the open stream carries everything)', async () => {
    const history = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/me/transactions')
    await page.reload()
    await waitForText(page.getByTestId('connection'), 'live')
    expect((await history).status()).toBe(200)
    const requests: string[] = []
    const record = (r: Request) => requests.push(`${r.method()} ${r.url()}`)
    userBrowser.context.on('request', record)
    // The measurement window itself, not a wait for readiness: heartbeats arrive every second.
    await new Promise((resolve) => setTimeout(resolve, 10_000))
    userBrowser.context.off('request', record)
    expect(requests).toEqual([])
    // Still live at the end, and still updating.
    await waitForText(page.getByTestId('connection'), 'live')
    await api.call(`/api/users/${user.id}/permissions`, {
      method: 'PUT',
      cookie: await api.adminCookie(),
      json: { permissions: ['reports.view'] },
    })
    await waitForPermission(page, 'reports.view')
  })

  test('logging out in one tab sends every tab of the browser to /login', async () => {
    const other = await userBrowser.context.newPage()
    await other.goto(`${api.url}/`)
    await waitForText(other.getByTestId('connection'), 'live')
    await other.getByRole('button', { name: 'Log out' }).click()
    await Promise.all([other.waitForURL(`${api.url}/login`), page.waitForURL(`${api.url}/login`)])
  })
  test('every page ran under its Content-Security-Policy without a violation, and the policy refuses injected script', async () => {
    expect(userBrowser.cspViolations).toEqual([])
    expect(adminBrowser.cspViolations).toEqual([])
    const probe = await userBrowser.context.newPage()
    await probe.goto(`${api.url}/login`)
    // An allowed inline script runs during append, so the flag is set (or not) before the return.
    const injectedRan = await probe.evaluate(`(() => {
      const script = document.createElement('script')
      script.textContent = 'globalThis.injectedRan = true'
      document.head.append(script)
      return globalThis.injectedRan === true
    })()`)
    expect(injectedRan).toBe(false)
    await waitFor(() => userBrowser.cspViolations.length > 0, { what: 'the violation report' })
    expect(userBrowser.cspViolations).toEqual(['script-src-elem blocked inline on /login'])
  })
})
