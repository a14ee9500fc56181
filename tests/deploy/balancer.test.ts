import {
  apiClient,
  type Balancer,
  databaseEnv,
  freePort,
  SseRecorder,
  spawnApp,
  startBalancer,
  tempDatabase,
  tempDir,
  uniquePrefix,
  waitFor,
} from '@dormant/testing'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import { buildApps } from '../../scripts/build-apps.mjs'

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

/** deploy/haproxy.cfg in front of two APIs on one database, restarted one after the other. */
describe('the shipped HAProxy config during a rolling restart', () => {
  const apis: ReturnType<typeof spawnApp>[] = []
  const ports: number[] = []
  let env: Record<string, string>
  let balancer: Balancer

  const spawnApi = async (port: number) => {
    const api = spawnApp('api', { ...env, HOST: '127.0.0.1', PORT: String(port), ...DRAIN }, { bundle: true })
    await api.waitForOutput('api listening', 30_000)
    return api
  }

  /** How many times HAProxy has reported this server entering `state`. */
  const reported = (i: number, state: 'UP' | 'DOWN') =>
    balancer.output().split(`api/api-${i + 1} is ${state}`).length - 1

  /** As an operator does it: SIGTERM, the balancer takes it out, a new process, back in. */
  const restart = async (i: number) => {
    const [downs, ups] = [reported(i, 'DOWN'), reported(i, 'UP')]
    expect(await apis[i]?.signal('SIGTERM')).toBe(0)
    await waitFor(() => reported(i, 'DOWN') > downs, { timeoutMs: 10_000, what: `api-${i + 1} taken out` })
    apis[i] = await spawnApi(ports[i] as number)
    await waitFor(() => reported(i, 'UP') > ups, { timeoutMs: 15_000, what: `api-${i + 1} back in` })
  }

  beforeAll(async () => {
    await buildApps()
    env = {
      ...databaseEnv(await tempDatabase()),
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: uniquePrefix('lbroll'),
    }
    ports.push(await freePort(), await freePort())
    for (const port of ports) apis.push(await spawnApi(port))
    balancer = await startBalancer(ports)
  }, 90_000)

  afterAll(async () => {
    await balancer?.stop()
    await Promise.all(apis.map((api) => api.signal('SIGTERM')))
  })

  test('APIs stopped with SIGTERM cost no request an error: the other answers, before and after the health check notices', async () => {
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
    // Enough clients that the balancer holds many reused connections to each API as it stops:
    // with no drain (SHUTDOWN_DRAIN_MS=0) a few closed under a request in every run.
    const clients = Array.from({ length: 32 }, client)
    await waitFor(() => (statuses.get(200) ?? 0) >= 20, { what: 'answers before the restart' })
    await restart(0)
    await restart(1)
    running = false
    await Promise.all(clients)
    console.log(`[measured] answers through a rolling restart: ${JSON.stringify(Object.fromEntries(statuses))}`)
    expect([...statuses.keys()]).toEqual([200])
  }, 120_000)
})
