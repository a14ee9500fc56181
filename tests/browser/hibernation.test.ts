import { join } from 'node:path'
import { type AppProcess, databaseEnv, spawnApp } from '@dormant/testing'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startTestApi, type TestApi } from '../../apps/api/src/testing.js'
import {
  type Browser,
  buildWeb,
  launchBrowser,
  markDocument,
  SCREENSHOTS,
  sameDocument,
  signIn,
  WEB_DIST,
  waitForText,
} from './support.js'

describe('a hibernation completing while the page is open', () => {
  let api: TestApi
  let worker: AppProcess
  let browser: Browser
  let page: Page
  let user: { id: string; email: string }

  beforeAll(async () => {
    buildWeb()
    // The worker starts as soon as the API's database exists, while the browser launches.
    const startApi = startTestApi({ WEB_DIST, HIBERNATION_DURATION_MS: '3000' })
    const startWorker = startApi.then((started) => {
      const { REDIS_URL, REDIS_PREFIX } = started.deps.config
      return spawnApp('worker', {
        ...databaseEnv(started.database),
        REDIS_URL,
        REDIS_PREFIX,
        RECONCILE_INTERVAL_MS: '60000',
      })
    })
    ;[api, worker, browser] = await Promise.all([startApi, startWorker, launchBrowser()])
    await worker.waitForOutput('worker ready')
    user = await api.newUser()
    page = await browser.context.newPage()
    await signIn(page, api.url, user.email, 'user-password')
  })
  afterAll(async () => {
    await browser?.close()
    await worker?.signal('SIGTERM')
    await api?.stop()
  })

  test('status, countdown and history update live when the worker completes it', async ({ onTestFailed }) => {
    onTestFailed(() => {
      process.stderr.write(`worker output:\n${worker.output()}\n`)
    })
    await waitForText(page.getByTestId('user-status'), 'active')
    await waitForText(page.getByTestId('connection'), 'live')
    await page.getByText('Nothing yet.').waitFor()
    await markDocument(page)

    await page.getByRole('button', { name: 'Start hibernation' }).click()
    await waitForText(page.getByTestId('user-status'), 'hibernating')
    await page
      .getByTestId('countdown')
      .filter({ hasText: /^00:00:0[0-3]$/ })
      .waitFor()
    expect(await page.getByTestId('user-goal').textContent()).toBe('0')

    // Completed by the worker process: nothing on the page asks for it.
    await waitForText(page.getByTestId('user-status'), 'active', 20_000)
    await waitForText(page.getByTestId('user-goal'), '1')
    await page.getByTestId('countdown').waitFor({ state: 'detached' })
    const rows = page.getByTestId('transactions').locator('li')
    await rows.first().waitFor()
    expect(await rows.count()).toBe(1)
    expect(await rows.first().textContent()).toContain('Hibernation completed')
    expect(await sameDocument(page)).toBe('same')
  })

  test('a long hibernation shows its countdown beside the history (screenshot for the README)', async () => {
    const res = await api.call(`/api/users/${user.id}/hibernation`, {
      method: 'POST',
      cookie: await api.adminCookie(),
      json: { durationMs: 3 * 86_400_000 },
    })
    expect(res.status).toBe(201)
    await waitForText(page.getByTestId('user-status'), 'hibernating')
    await page
      .getByTestId('countdown')
      .filter({ hasText: /^2d 23:59:\d\d$/ })
      .waitFor()
    expect(await page.getByTestId('transactions').locator('li').count()).toBe(1)
    await page.screenshot({ path: join(SCREENSHOTS, 'user.png'), fullPage: true })
  })
})
