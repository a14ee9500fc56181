import { databaseEnv, spawnApp, startReceiver } from '@dormant/testing'
import { expect, test } from 'vitest'
import { startTestApi } from '../../apps/api/src/testing.js'
import { buildWeb, launchBrowser, signIn, WEB_DIST, waitForText } from './support.js'

test('the walk: add an endpoint in the panel, hibernate a user for 5 s, a verified delivery at the receiver and in the log', async () => {
  buildWeb()
  // The worker starts as soon as the API's database exists, while the browser launches.
  const startApi = startTestApi({ WEB_DIST, WEBHOOK_ALLOW_PRIVATE: 'true' })
  const startWorker = startApi.then((api) => {
    const { REDIS_URL, REDIS_PREFIX } = api.deps.config
    return spawnApp('worker', { ...databaseEnv(api.database), REDIS_URL, REDIS_PREFIX, WEBHOOK_ALLOW_PRIVATE: 'true' })
  })
  const [api, worker, browser, receiver] = await Promise.all([
    startApi,
    startWorker,
    launchBrowser(),
    startReceiver([]),
  ])
  try {
    await worker.waitForOutput('worker ready')
    const page = await browser.context.newPage()
    await signIn(page, api.url, 'admin@example.com', 'admin-password')
    await page.getByRole('link', { name: 'Webhooks' }).click()
    await page.waitForURL((url) => url.pathname === '/admin/webhooks')
    await page.getByLabel('URL').fill(receiver.url)
    await page.getByRole('button', { name: 'Add endpoint' }).click()
    const shown = (await page.getByTestId('webhook-secret').locator('code').textContent()) ?? ''
    expect(shown).toMatch(/^whsec_/)
    receiver.state.secrets.push(shown)
    await page.getByTestId('webhook-endpoints').getByText(receiver.url).waitFor()

    const user = await api.newUser()
    const started = await api.call(`/api/users/${user.id}/hibernation`, {
      method: 'POST',
      cookie: await api.adminCookie(),
      json: { durationMs: 5000 },
    })
    expect(started.status).toBe(201)

    // Live in the log (no reload), and verified with the secret the panel showed once.
    await waitForText(page.getByTestId('delivery-status').first(), 'delivered', 30_000)
    expect(receiver.state.received).toHaveLength(1)
    expect(receiver.state.received[0]?.body).toMatchObject({ type: 'hibernation.completed' })
    const row = page.getByTestId('webhook-deliveries').locator('tbody tr').first()
    expect(await row.textContent()).toContain('200')
    expect(browser.cspViolations).toEqual([])
  } finally {
    await browser.close()
    await worker.signal('SIGTERM')
    await receiver.stop()
    await api.stop()
  }
})
