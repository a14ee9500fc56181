import { tempDbPath, uniquePrefix } from '@dormant/testing'
import { PollClient } from '../clients/poll-client.js'
import { openClients, SseClient } from '../clients/sse-client.js'
import { sleep } from '../clock.js'
import { type Ctx, ratio } from '../context.js'
import { benchDatabase, databaseEnv } from '../database.js'
import { cpuSeconds } from '../proc.js'
import { step } from '../progress.js'
import { bytesFmt, fmt, type ScenarioResult, target } from '../result.js'
import { seedUsers } from '../seed.js'
import { type Sut, startApi, startBenchServer } from '../servers/process.js'

const POLL_PERIOD_MS = 5000
const BROADCAST_TICK_MS = 10_000
/** The API's default `EVENTS_CHECK_MS`. */
const EVENTS_CHECK_MS = 2000

type Counts = { cpu: number; queries: number; bytes: number }
type System = { sut: Sut; bytes: () => number }

/** CPU and bytes of every system at one instant, then the query counts (which need a signal round trip). */
const readAll = async (systems: Record<string, System>): Promise<Record<string, Counts>> => {
  const now = Object.fromEntries(
    Object.entries(systems).map(([k, v]) => [k, { cpu: cpuSeconds(v.sut.pid), bytes: v.bytes() }]),
  )
  const queries = await Promise.all(Object.entries(systems).map(async ([k, v]) => [k, await v.sut.queries()] as const))
  return Object.fromEntries(queries.map(([k, q]) => [k, { ...(now[k] as { cpu: number; bytes: number }), queries: q }]))
}

type PerMin = { cpuSecondsPerMin: number; queriesPerMin: number; bytesPerMin: number }

/** Each system's CPU, DB queries and bytes per minute over a window of `seconds`. */
const measure = async (systems: Record<string, System>, seconds: number, progress: (secondsLeft: number) => void) => {
  const before = await readAll(systems)
  const started = performance.now()
  for (let left = seconds; left > 0; left--) {
    progress(left)
    await sleep(1000)
  }
  const after = await readAll(systems)
  const minutes = (performance.now() - started) / 60_000
  const delta = (k: string, field: keyof Counts) => ((after[k]?.[field] ?? 0) - (before[k]?.[field] ?? 0)) / minutes
  const perMin: Record<string, PerMin> = Object.fromEntries(
    Object.keys(systems).map((k) => [
      k,
      { cpuSecondsPerMin: delta(k, 'cpu'), queriesPerMin: delta(k, 'queries'), bytesPerMin: delta(k, 'bytes') },
    ]),
  )
  return { minutes, perMin }
}

/**
 * Scenario 1: the same number of signed-in users, nothing changing: Dormant, the floor and
 * the polling design (Express, and bare node:http) at once over one window, then the
 * broadcast loop over a window of its own.
 */
export const runIdle = async (ctx: Ctx, size: { users: number; seconds: number }): Promise<ScenarioResult> => {
  const n = size.users
  const s = step(`1 idle: ${n} users × ${size.seconds} s`)
  s.update('seeding users and sessions')
  const location = await benchDatabase(ctx.backend)
  const users = await seedUsers(location, n)
  s.update('starting servers')
  const suts = await Promise.all([
    startApi(
      { ...databaseEnv(location), REDIS_URL: ctx.redisUrl, REDIS_PREFIX: uniquePrefix('bench') },
      { countQueries: true },
    ),
    startBenchServer('floor', { HEARTBEAT_MS: '15000' }),
    startBenchServer('polling', { DB_PATH: tempDbPath(), USERS: String(n) }),
    startBenchServer('polling-express', { DB_PATH: tempDbPath(), USERS: String(n) }),
    startBenchServer('broadcast', { DB_PATH: tempDbPath(), USERS: String(n), TICK_MS: String(BROADCAST_TICK_MS) }),
  ])
  const [dormant, floor, polling, pollingExpress, broadcast] = suts
  const all: SseClient[] = []
  const pollers: PollClient[] = []
  try {
    const sse = async (sut: Sut, path: string, cookie: (i: number) => string) => {
      const clients = await openClients(n, async (i) => {
        const c = new SseClient(i, () => {})
        await c.open(sut.port, path, cookie(i))
        return c
      })
      all.push(...clients)
      return () => clients.reduce((sum, c) => sum + c.bytes, 0)
    }
    s.update('opening streams')
    const dormantBytes = await sse(dormant, '/api/events', (i) => users[i]?.cookie ?? '')
    const floorBytes = await sse(floor, '/events', (i) => `uid=u${i}`)
    const poll = (sut: Sut) => {
      const mine: PollClient[] = []
      for (let i = 0; i < n; i++) {
        const p = new PollClient(sut.port, `GET /check-status HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: uid=u${i}\r\n\r\n`)
        p.start(POLL_PERIOD_MS, (i * POLL_PERIOD_MS) / n)
        mine.push(p)
      }
      pollers.push(...mine)
      return () => mine.reduce((sum, p) => sum + p.bytes, 0)
    }
    const pollingBytes = poll(polling)
    const pollingExpressBytes = poll(pollingExpress)
    s.update('warming up (every poller polls once)')
    await sleep(POLL_PERIOD_MS + 500)

    const systems: Record<string, System> = {
      dormant: { sut: dormant, bytes: dormantBytes },
      floor: { sut: floor, bytes: floorBytes },
      polling: { sut: polling, bytes: pollingBytes },
      'polling (Express)': { sut: pollingExpress, bytes: pollingExpressBytes },
    }
    const { minutes, perMin } = await measure(systems, size.seconds, (left) =>
      s.update(`measuring Dormant, floor and polling, ${left} s left`),
    )

    // The broadcast loop saturates a core on its own; in the same window it would slow
    // every other server, so it gets a window of its own after theirs.
    for (const p of pollers) p.stop()
    s.update('opening broadcast streams')
    const broadcastBytes = await sse(broadcast, '/stream', (i) => `uid=u${i}`)
    // Its loop ticks on its own clock from start; a moment to settle keeps the streams'
    // opening out of the window, which then holds seconds ÷ 10 ticks either way.
    await sleep(1000)
    const alone = await measure({ broadcast: { sut: broadcast, bytes: broadcastBytes } }, size.seconds, (left) =>
      s.update(`measuring the broadcast loop, ${left} s left`),
    )
    Object.assign(perMin, alone.perMin)
    const d = perMin.dormant!
    const p = perMin.polling!
    const e = perMin['polling (Express)']!
    const f = perMin.floor!
    const ratios = {
      cpuExpressPollingOverDormant: ratio(e.cpuSecondsPerMin, d.cpuSecondsPerMin),
      cpuPollingOverDormant: ratio(p.cpuSecondsPerMin, d.cpuSecondsPerMin),
      bytesPollingOverDormant: p.bytesPerMin / Math.max(d.bytesPerMin, 1),
      cpuDormantOverFloor: ratio(d.cpuSecondsPerMin, f.cpuSecondsPerMin),
    }
    const pollErrors = pollers.reduce((sum, c) => sum + c.errors, 0)
    s.done(
      `Dormant ${fmt(d.cpuSecondsPerMin, 3)} CPU-s/min, polling ${fmt(e.cpuSecondsPerMin)} with Express (${fmt(ratios.cpuExpressPollingOverDormant, 0)}×), ${fmt(p.cpuSecondsPerMin)} bare (${fmt(ratios.cpuPollingOverDormant, 0)}×)`,
    )
    return {
      id: 'idle',
      title: `1. Idle cost: ${n} signed-in users, ${size.seconds} s window`,
      rows: Object.entries(perMin).map(([label, v]) => ({
        label,
        values: {
          'CPU s/min': fmt(v.cpuSecondsPerMin, 3),
          'DB queries/min': fmt(v.queriesPerMin, 0),
          'sent/min': bytesFmt(v.bytesPerMin),
        },
      })),
      targets: [
        target('CPU: polling (Express) ÷ Dormant', ratios.cpuExpressPollingOverDormant, '>=', 20, '×'),
        target('bytes: polling ÷ Dormant', ratios.bytesPollingOverDormant, '>=', 100, '×'),
        // One look at the events table's position per EVENTS_CHECK_MS (2 s) per process,
        // however many streams: what lets a lost publish or a revocation reach streams.
        target(
          'Dormant DB queries while idle (≤ 1 position check / 2 s)',
          d.queriesPerMin * minutes,
          '<=',
          Math.ceil((minutes * 60_000) / EVENTS_CHECK_MS) + 1,
        ),
        target('idle CPU: Dormant ÷ floor', ratios.cpuDormantOverFloor, '<=', 1.5, '×'),
      ],
      data: { users: n, windowSeconds: minutes * 60, perMin, ratios, pollErrors },
      notes: [
        'DB queries are counted inside each server process (a preload wraps better-sqlite3 statement execution and pg’s Client#query); bytes are counted at the clients (HTTP headers and chunk framing included).',
        'Dormant, the floor and both polling servers run at the same time over the same window; the broadcast loop, which saturates a core by itself, is measured in a window of its own right after. CPU is read from /proc (10 ms ticks); ratios use at least one tick.',
        'The polling and broadcast designs keep their own SQLite files on either backend: they are the designs Dormant replaces, not Dormant on another database.',
        'Two polling baselines run: "polling (Express)" is the design as it was written (Express, its per-response ETag); "polling" is the same work on bare node:http, the cheapest polling can be, for a conservative ratio. The CPU target is judged against the Express one; both ratios are in the JSON.',
      ],
    }
  } finally {
    for (const p of pollers) p.stop()
    for (const c of all) c.close()
    await Promise.all(suts.map((x) => x.stop()))
  }
}
