import {
  apiClient,
  databaseEnv,
  freePort,
  SseRecorder,
  spawnApp,
  tempDatabase,
  tempDir,
  uniquePrefix,
  waitFor,
} from '@dormant/testing'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { buildApps } from '../../scripts/build-apps.mjs'
import { type Balancer, startBalancer } from './balancer.js'

const ADMIN = { email: 'admin@example.com', password: 'admin-password-42' }

/** deploy/haproxy.cfg in front of one API, on the backend under test. */
describe('the shipped HAProxy config in front of an API', () => {
  let api: ReturnType<typeof spawnApp>
  let direct: ReturnType<typeof apiClient>
  let balancer: Balancer
  let through: ReturnType<typeof apiClient>

  beforeAll(async () => {
    await buildApps()
    const port = await freePort()
    api = spawnApp(
      'api',
      {
        ...databaseEnv(await tempDatabase()),
        REDIS_URL: inject('redisUrl'),
        REDIS_PREFIX: uniquePrefix('lbcfg'),
        ADMIN_EMAIL: ADMIN.email,
        ADMIN_PASSWORD: ADMIN.password,
        HOST: '127.0.0.1',
        PORT: String(port),
        SSE_HEARTBEAT_MS: '200',
      },
      { bundle: true, cwd: tempDir('dormant-host-api') },
    )
    await api.waitForOutput('api listening', 30_000)
    direct = apiClient(`http://127.0.0.1:${port}`, { admin: ADMIN, userPassword: 'user-password-42' })
    balancer = await startBalancer([port])
    through = apiClient(balancer.url, { admin: ADMIN, userPassword: 'user-password-42' })
  }, 90_000)

  afterAll(async () => {
    await balancer?.stop()
    await api?.signal('SIGTERM')
  })

  test('a stream passes frame by frame, uncompressed, though the client accepts gzip', async () => {
    const user = await direct.newUser()
    const stream = new SseRecorder(`${balancer.url}/api/events`, {
      cookie: user.cookie,
      headers: { 'Accept-Encoding': 'gzip, deflate, br' },
    })
    await stream.untilEvents(1, 'snapshot')
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(stream.headers.get('content-encoding')).toBeNull()
    // Heartbeats every 200 ms: a proxy that held output back would deliver them in bursts.
    const pings = () => stream.frames.filter((f) => f.comment !== undefined).length
    const before = pings()
    await stream.until(() => pings() >= before + 5, 5_000, 'five heartbeats')
    // A change made directly on the API reaches the stream through the balancer.
    await direct.grant(user.id, ['hibernation.self', 'reports.view'])
    await stream.untilEvents(1, 'user.updated')
    stream.close()
  })

  test("a browser's sign-in through it passes the same-origin check (Host reaches the API unchanged)", async () => {
    const res = await through.call('/api/auth/login', {
      method: 'POST',
      headers: { origin: balancer.url },
      json: ADMIN,
    })
    expect(res.status).toBe(200)
  })

  test('metrics are not served through it, though the API serves them to its own host', async () => {
    expect((await direct.call('/metrics')).status).toBe(200)
    expect((await through.call('/metrics')).status).toBe(404)
  })
})

/** The drain docker-compose.yml sets for APIs behind deploy/haproxy.cfg (docs/deploy.md). */
const DRAIN = { SHUTDOWN_DRAIN_MS: '6000' }

/** deploy/haproxy.cfg in front of two APIs on one database, one of them restarted. */
describe('the shipped HAProxy config during a rolling restart', () => {
  const apis: ReturnType<typeof spawnApp>[] = []
  let balancer: Balancer

  beforeAll(async () => {
    await buildApps()
    const env = {
      ...databaseEnv(await tempDatabase()),
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: uniquePrefix('lbroll'),
    }
    const ports = [await freePort(), await freePort()]
    for (const port of ports) {
      const api = spawnApp('api', { ...env, HOST: '127.0.0.1', PORT: String(port), ...DRAIN }, { bundle: true })
      apis.push(api)
      await api.waitForOutput('api listening', 30_000)
    }
    balancer = await startBalancer(ports)
  }, 90_000)

  afterAll(async () => {
    await balancer?.stop()
    await Promise.all(apis.map((api) => api.signal('SIGTERM')))
  })

  test('an API stopped with SIGTERM costs no request an error: the other answers, before and after the health check notices', async () => {
    const statuses = new Map<number, number>()
    let running = true
    /**
     * One client sending requests back to back, on fresh connections and reused ones alike. An
     * ordinary page, not /healthz: a stopping API reports itself unhealthy there on purpose.
     */
    const client = async () => {
      while (running) {
        const status = await fetch(`${balancer.url}/api/docs`).then(
          (res) => res.status,
          () => 0,
        )
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
      }
    }
    // Enough clients that the balancer holds many reused connections to the API as it stops:
    // with no drain (SHUTDOWN_DRAIN_MS=0) one of them closed under a request in every run.
    const clients = Array.from({ length: 32 }, client)
    await waitFor(() => (statuses.get(200) ?? 0) >= 20, { what: 'answers before the restart' })
    expect(await apis[0]!.signal('SIGTERM')).toBe(0)
    // It drained first (two failed checks 2 s apart took it out meanwhile) and has exited;
    // go on past that, on the other API alone.
    const stoppedAt = Date.now()
    await waitFor(() => Date.now() - stoppedAt > 5_000, { timeoutMs: 10_000, intervalMs: 100, what: '5 s' })
    running = false
    await Promise.all(clients)
    console.log(`[measured] answers through a rolling restart: ${JSON.stringify(Object.fromEntries(statuses))}`)
    expect([...statuses.keys()]).toEqual([200])
  })
})
