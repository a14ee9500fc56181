import {
  type ApiClient,
  type AppProcess,
  apiClient,
  type Balancer,
  databaseEnv,
  freePort,
  spawnApp,
  startBalancer,
  tempDatabase,
  tempDir,
  testBackend,
  uniquePrefix,
  waitFor,
} from '@dormant/testing'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { buildApps } from '../../scripts/build-apps.mjs'
import {
  type Browser,
  buildWeb,
  launchBrowser,
  signIn,
  WEB_DIST,
  waitForPermission,
  waitForText,
} from '../browser/support.js'

const ADMIN = { email: 'admin@example.com', password: 'admin-password-42' }
const USER_PASSWORD = 'user-password-42'

/**
 * Runs in every document: every history row the page puts in its DOM, screen by screen
 * (mutation callbacks run before the next paint, so a row shown twice, even for one frame,
 * is in some screen twice).
 */
const RECORD_ROWS = `(() => {
  const screens = []
  globalThis.dormantScreens = screens
  let last = ''
  new MutationObserver(() => {
    const rows = [...document.querySelectorAll('[data-transaction-id]')].map((el) => el.dataset.transactionId)
    const screen = rows.join()
    if (screen !== last) screens.push(rows)
    last = screen
  }).observe(document, { subtree: true, childList: true })
})()`

const screens = (page: Page): Promise<string[][]> =>
  page.evaluate(() => (globalThis as unknown as { dormantScreens: string[][] }).dormantScreens)

type Api = AppProcess & ApiClient & { port: number; name: string }

/** Every process started, stopped after the run whether or not it got ready. */
const procs: AppProcess[] = []

/**
 * One host's process: the production bundle run from a fresh, empty working directory, so
 * nothing (a relative DB_PATH, a data folder) can be shared through the file system.
 */
const startProcess = (entry: 'api' | 'worker', env: Record<string, string>) => {
  const proc = spawnApp(entry, env, { bundle: true, cwd: tempDir(`dormant-host-${entry}`) })
  procs.push(proc)
  return proc
}

const startApi = async (name: string, env: Record<string, string>): Promise<Api> => {
  const port = await freePort()
  const proc = startProcess('api', { ...env, HOST: '127.0.0.1', PORT: String(port) })
  await proc.waitForOutput('api listening', 30_000)
  const client = apiClient(`http://127.0.0.1:${port}`, { admin: ADMIN, userPassword: USER_PASSWORD })
  return Object.assign(proc, client, { port, name })
}

const startWorker = async (env: Record<string, string>) => {
  const proc = startProcess('worker', env)
  await proc.waitForOutput('"msg":"worker ready"', 30_000)
  return proc
}

/** Open user streams on one API, from its metrics (served to loopback, asked directly). */
const userStreams = async (api: Api) => {
  const text = await (await api.call('/metrics')).text()
  return Number(/^dormant_sse_connections\{scope="user"\} (\d+)$/m.exec(text)?.[1] ?? 0)
}

// Several hosts share one database only on PostgreSQL: a SQLite file lives on one host, so
// on a SQLite run this is skipped (tests/faults/scale-out.test.ts covers one host's processes).
describe.runIf(testBackend() === 'postgres')('two hosts behind HAProxy, one PostgreSQL database', () => {
  let apis: Api[]
  let balancer: Balancer
  let browser: Browser
  let user: { id: string; email: string }

  beforeAll(async () => {
    buildWeb()
    await buildApps()
    const env = {
      ...databaseEnv(await tempDatabase('postgres')),
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: uniquePrefix('lb'),
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      WEB_DIST,
      SSE_HEARTBEAT_MS: '1000',
      RECONCILE_INTERVAL_MS: '1000',
    }
    // The first one migrates the empty database; the rest start on it at once.
    const first = await startApi('api-1', env)
    const [second] = await Promise.all([startApi('api-2', env), startWorker(env), startWorker(env)])
    apis = [first, second]
    // One after the other: when one fails to start, the other is assigned, so afterAll stops it.
    balancer = await startBalancer(apis.map((a) => a.port))
    browser = await launchBrowser()
    await browser.context.addInitScript(RECORD_ROWS)
    const created = await first.newUser({ permissions: ['hibernation.self', 'transactions.read'] })
    user = { id: created.id, email: created.email }
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await balancer?.stop()
    await Promise.all(procs.map((p) => p.signal('SIGTERM')))
  })

  /** Starts a short hibernation as admin through `api`; the workers complete it into a history row. */
  const hibernate = async (api: Api) => {
    const res = await api.call(`/api/users/${user.id}/hibernation`, {
      method: 'POST',
      cookie: await api.adminCookie(),
      json: { durationMs: 1000 },
    })
    expect(res.status).toBe(201)
  }

  /** The user's history as the database holds it (asked through `api`). */
  const history = async (api: Api) => {
    const res = await api.call(`/api/users/${user.id}/transactions`, { cookie: await api.adminCookie() })
    expect(res.status).toBe(200)
    return ((await res.json()) as { transactions: { id: string }[] }).transactions.map((t) => t.id)
  }

  const rowsShown = (page: Page): Promise<string[]> =>
    page.evaluate(`[...document.querySelectorAll('[data-transaction-id]')].map((el) => el.dataset.transactionId)`)

  /** Waits for `count` completions, then for the page to show exactly the database's rows. */
  const showsHistory = async (page: Page, api: Api, count: number) => {
    const rows = await waitFor(
      async () => {
        const ids = await history(api)
        return ids.length === count ? ids : undefined
      },
      { what: `${count} completed hibernations`, timeoutMs: 20_000 },
    )
    await expect.poll(async () => (await rowsShown(page)).sort(), { timeout: 15_000 }).toEqual([...rows].sort())
    return rows
  }

  test('the page follows a kill -9 of its API to the other one, and changes through either API reach it', async () => {
    const page = await browser.context.newPage()
    await signIn(page, balancer.url, user.email, USER_PASSWORD)
    await waitForText(page.getByTestId('connection'), 'live')

    // An admin change through each API, straight to it: both reach the one stream.
    await apis[0]!.grant(user.id, ['hibernation.self', 'transactions.read', 'reports.view'])
    await waitForPermission(page, 'reports.view')
    await apis[1]!.grant(user.id, ['hibernation.self', 'transactions.read', 'reports.view', 'reports.export'])
    await waitForPermission(page, 'reports.export')
    await hibernate(apis[0]!)
    await showsHistory(page, apis[1]!, 1)
    await hibernate(apis[1]!)
    await showsHistory(page, apis[0]!, 2)

    const counts = await Promise.all(apis.map(userStreams))
    expect([...counts].sort()).toEqual([0, 1])
    const holder = apis[counts.indexOf(1)]!
    const other = apis.find((a) => a !== holder)!
    console.log(`[measured] the stream went to ${holder.name} through the balancer`)

    // A change already under way when the holder dies completes while the page reconnects.
    await hibernate(other)
    holder.child.kill('SIGKILL')
    const killedAt = Date.now()
    await holder.exited
    await waitFor(async () => (await userStreams(other)) === 1, {
      what: `the stream on ${other.name}`,
      timeoutMs: 20_000,
    })
    console.log(`[measured] the page streamed from ${other.name} ${Date.now() - killedAt} ms after the kill`)
    await waitForText(page.getByTestId('connection'), 'live')
    await showsHistory(page, other, 3)

    // Later changes, through the survivor.
    await hibernate(other)
    await showsHistory(page, other, 4)
    await other.grant(user.id, ['hibernation.self', 'transactions.read'])
    await expect
      .poll(() => page.getByTestId('user-permissions').getByText('reports.view', { exact: true }).count())
      .toBe(0)

    // Every row painted once: no screen ever held a row twice, and the page never reloaded.
    const painted = await screens(page)
    expect(painted.filter((rows) => new Set(rows).size !== rows.length)).toEqual([])
    expect(
      painted
        .flat()
        .filter((id, i, all) => all.indexOf(id) === i)
        .sort(),
    ).toEqual((await history(other)).sort())
  })
})
