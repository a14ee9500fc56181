import {
  type AppProcess,
  apiClient,
  type Balancer,
  databaseEnv,
  freePort,
  spawnApp,
  startBalancer,
  startTcpProxy,
  type TcpProxy,
  tempDatabase,
  testBackend,
  uniquePrefix,
  waitFor,
} from '@dormant/testing'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { buildApps } from '../../scripts/build-apps.mjs'

const ADMIN = { email: 'admin@example.com', password: 'admin-password-42' }

/**
 * How long clients may wait, once their APIs can serve again after a database outage, for the
 * balancer to send them there: it sends them at once (it fails open), and even its checks
 * alone put an API back in within 1 s (docs/deploy.md). Checks 2 s apart took 2 to 4 s.
 */
const SERVED_AFTER_OUTAGE_MS = 1500

/**
 * The same for an API restarted while the other served: the checks alone, within 1 s plus
 * their own round trips; below the 2 s that two checks 2 s apart (rise 2) took at the least.
 */
const SERVED_AFTER_RESTART_MS = 1800

/** The drain docker-compose.yml sets for APIs behind deploy/haproxy.cfg. */
const DRAIN = { SHUTDOWN_DRAIN_MS: '6000' }

/** Two APIs on one database behind deploy/haproxy.cfg, each restartable on its port. */
const twoApis = (env: () => Record<string, string>) => {
  const ports: number[] = []
  const apis: AppProcess[] = []
  let balancer: Balancer

  const start = async (i: number) => {
    const api = spawnApp('api', { ...env(), HOST: '127.0.0.1', PORT: String(ports[i]) }, { bundle: true })
    apis[i] = api
    await api.waitForOutput('api listening', 30_000)
    return api
  }

  return {
    ports,
    apis,
    start,
    balancer: () => balancer,
    /** How many times HAProxy has reported this server entering `state`. */
    reported: (i: number, state: 'UP' | 'DOWN') => balancer.output().split(`api/api-${i + 1} is ${state}`).length - 1,
    /** Requests this server answered with `status`, as HAProxy logged them (its checked line). */
    answered: (i: number, status: number) =>
      balancer
        .output()
        .split('\n')
        .filter((l) => l.includes(` api/api-${i + 1} `) && l.includes(` ${status} `)).length,
    async setUp() {
      await buildApps()
      ports.push(await freePort(), await freePort())
      // The first one migrates the empty database.
      await start(0)
      await start(1)
      balancer = await startBalancer(ports)
    },
    async tearDown() {
      await balancer?.stop()
      await Promise.all(apis.map((api) => api.signal('SIGTERM')))
    },
  }
}

// The database is cut for every API by a proxy between them and PostgreSQL; a SQLite file
// cannot be taken away from its host's processes that way.
describe.runIf(testBackend() === 'postgres')('the shipped HAProxy config after a database outage', () => {
  let proxy: TcpProxy
  const setup = twoApis(() => env)
  let env: Record<string, string>

  beforeAll(async () => {
    const location = new URL(await tempDatabase('postgres'))
    proxy = await startTcpProxy({ host: location.hostname, port: Number(location.port || 5432) }, 'postgres')
    location.host = `127.0.0.1:${proxy.port}`
    env = {
      ...databaseEnv(location.toString()),
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: uniquePrefix('lbdb'),
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    }
    await setup.setUp()
  }, 90_000)

  afterAll(async () => {
    await setup.tearDown()
    await proxy?.close()
  })

  test('clients are served again as soon as the database is back, though every API was out', async () => {
    const balancer = setup.balancer()
    const through = apiClient(balancer.url, { admin: ADMIN, userPassword: 'user-password-42' })
    const user = await through.newUser()
    const me = () => through.call('/api/me', { cookie: user.cookie }).then((res) => res.status)
    expect(await me()).toBe(200)

    // PostgreSQL down, as while it restarts: sessions reset, new connections refused.
    const downs = [setup.reported(0, 'DOWN'), setup.reported(1, 'DOWN')]
    proxy.partition('refuse')
    const cutAt = Date.now()
    await waitFor(() => setup.reported(0, 'DOWN') > downs[0]! && setup.reported(1, 'DOWN') > downs[1]!, {
      what: 'both APIs taken out',
      timeoutMs: 15_000,
    })
    console.log(`[measured] both APIs taken out ${Date.now() - cutAt} ms after the database went down`)
    expect(await me()).toBe(503)

    proxy.heal()
    const backAt = Date.now()
    const direct = setup.ports.map((port) =>
      waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200, {
        what: `api on ${port} to see its database again`,
      }).then(() => Date.now() - backAt),
    )
    await waitFor(async () => (await me()) === 200, {
      what: 'a request served through the balancer',
      timeoutMs: 15_000,
    })
    const served = Date.now() - backAt
    console.log(
      `[measured] after the database came back: the APIs' /healthz up in ${(await Promise.all(direct)).join(' and ')} ms, a request through the balancer served in ${served} ms`,
    )
    expect(served).toBeLessThan(SERVED_AFTER_OUTAGE_MS)
  })
})

describe('the shipped HAProxy config when an API is killed', () => {
  const setup = twoApis(() => env)
  let env: Record<string, string>

  beforeAll(async () => {
    env = {
      ...databaseEnv(await tempDatabase()),
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: uniquePrefix('lbkill'),
      ...DRAIN,
    }
    await setup.setUp()
  }, 90_000)

  afterAll(() => setup.tearDown())

  /** A client sending requests back to back until `running()` is false. */
  const client = async (running: () => boolean) => {
    while (running()) {
      const res = await fetch(`${setup.balancer().url}/api/docs`).catch(() => undefined)
      await res?.arrayBuffer()
    }
  }

  test('a restarted API is sent requests within a second or so of listening again', async () => {
    let running = true
    // Two, so that leastconn spreads them over the APIs that are in.
    const clients = [client(() => running), client(() => running)]
    try {
      await waitFor(() => setup.answered(0, 200) > 0 && setup.answered(1, 200) > 0, { what: 'both APIs serving' })
      const downs = setup.reported(0, 'DOWN')
      setup.apis[0]!.child.kill('SIGKILL')
      await setup.apis[0]!.exited
      await waitFor(() => setup.reported(0, 'DOWN') > downs, { what: 'api-1 taken out', timeoutMs: 15_000 })

      await setup.start(0)
      const listeningAt = Date.now()
      const before = setup.answered(0, 200)
      await waitFor(() => setup.answered(0, 200) > before, { what: 'a request served by api-1', timeoutMs: 15_000 })
      const served = Date.now() - listeningAt
      console.log(`[measured] the restarted API served a request through the balancer ${served} ms after listening`)
      expect(served).toBeLessThan(SERVED_AFTER_RESTART_MS)
    } finally {
      running = false
      await Promise.all(clients)
    }
  })

  test('while it is down and the other API drains, the draining one serves', async () => {
    const balancer = setup.balancer()
    const downs = [setup.reported(0, 'DOWN'), setup.reported(1, 'DOWN')]
    setup.apis[0]!.child.kill('SIGKILL')
    await setup.apis[0]!.exited
    await waitFor(() => setup.reported(0, 'DOWN') > downs[0]!, { what: 'api-1 taken out', timeoutMs: 15_000 })
    const stopped = setup.apis[1]!.signal('SIGTERM')
    await waitFor(() => setup.reported(1, 'DOWN') > downs[1]!, { what: 'api-2 taken out', timeoutMs: 15_000 })
    // Still within api-2's drain (taken out within 2.5 s of its 6).
    const res = await fetch(`${balancer.url}/api/docs`)
    console.log(`[measured] with both APIs out, api-2 draining: ${res.status}`)
    expect(res.status).toBe(200)
    expect(await stopped).toBe(0)
  })
})
