import type { Agent } from 'node:http'
import { uniquePrefix } from '@dormant/testing'
import { SseClient } from '../clients/sse-client.js'
import { quantile, sortedNumbers } from '../clock.js'
import type { Ctx } from '../context.js'
import { benchDatabase, databaseEnv } from '../database.js'
import { callJson, keepAliveAgent, pool } from '../fixtures.js'
import { cpuSeconds } from '../proc.js'
import { type Step, step } from '../progress.js'
import { fmt, type ScenarioResult, target } from '../result.js'
import { type SeededUser, seedAdmin, seedUsers } from '../seed.js'
import { type Sut, startApi, startBenchServer } from '../servers/process.js'
import { SETS, underLoad } from './requests-load.js'
import { WRITERS, writeThroughput } from './requests-writes.js'

const LANES_NOTE = {
  sqlite: 'one file, better-sqlite3',
  postgres: 'pg, 24 connections in all, as many as the PUT lanes',
} as const

export type RequestsSize = {
  users: number
  /** Requests per endpoint per round; each round measures the API, then the floor. */
  requests: { me: number; list: number; put: number; hibernation: number }
  rounds: number
  concurrency: number
  changes: number
  loadPerSecond: number
  writes: { seconds: number; due: number }
}

type Call = { method: string; path: string; cookie: string; body?: unknown; status: number }
type Measured = { cpuMs: number; rps: number; failed: number }

/** `count` requests at `concurrency`; the server's CPU (from /proc) per request and the rate. */
const measure = async (sut: Sut, agent: Agent, count: number, concurrency: number, call: (i: number) => Call) => {
  let failed = 0
  const cpu0 = cpuSeconds(sut.pid)
  const t0 = performance.now()
  await pool(count, concurrency, async (i) => {
    const c = call(i)
    const res = await callJson(agent, sut.port, c.method, c.path, { cookie: c.cookie, body: c.body })
    if (res.status !== c.status) failed += 1
  })
  const seconds = (performance.now() - t0) / 1000
  return { cpuMs: ((cpuSeconds(sut.pid) - cpu0) * 1000) / count, rps: count / seconds, failed }
}

const median = (values: number[]) => quantile(sortedNumbers(values), 0.5)

/** Seeds users with sessions and one admin session, shared by the API and the floor. */
const seed = async (location: string, count: number, s: Step) => {
  const users = await seedUsers(location, count, (k) => s.update(`seeded ${k} users`))
  return { users, admin: await seedAdmin(location, 'bench-admin@example.com', 'bench-admin-token') }
}

const endpoints = (users: SeededUser[], admin: string, size: RequestsSize) => {
  const user = (i: number) => users[i % users.length] as SeededUser
  const k = Math.min(size.requests.hibernation, users.length)
  return [
    {
      id: 'me',
      label: 'GET /api/me',
      count: size.requests.me,
      call: (i: number): Call => ({ method: 'GET', path: '/api/me', cookie: user(i).cookie, status: 200 }),
    },
    {
      id: 'list',
      label: 'GET /api/users?limit=50',
      count: size.requests.list,
      call: (): Call => ({ method: 'GET', path: '/api/users?limit=50', cookie: admin, status: 200 }),
    },
    {
      id: 'put',
      label: 'PUT /api/users/:id/permissions',
      count: size.requests.put,
      call: (i: number): Call => ({
        method: 'PUT',
        path: `/api/users/${user(i).id}/permissions`,
        cookie: admin,
        body: { permissions: SETS[i % 2] },
        status: 200,
      }),
    },
    {
      id: 'post',
      label: 'POST /api/users/:id/hibernation',
      count: k,
      call: (i: number): Call => ({
        method: 'POST',
        path: `/api/users/${user(i).id}/hibernation`,
        cookie: admin,
        body: { durationMs: 3600_000 },
        status: 201,
      }),
    },
    {
      id: 'delete',
      label: 'DELETE /api/users/:id/hibernation',
      count: k,
      call: (i: number): Call => ({
        method: 'DELETE',
        path: `/api/users/${user(i).id}/hibernation`,
        cookie: admin,
        status: 200,
      }),
    },
  ]
}

/**
 * Scenario 6: the ordinary request path. CPU per request and requests/s of the API and of
 * the floor (Hono + better-sqlite3, one prepared statement or transaction) measured in turn,
 * round after round, so drift on a shared machine hits both; then change → stream latency,
 * quiet and under load; then write throughput of several APIs and workers on one database.
 */
export const runRequests = async (ctx: Ctx, size: RequestsSize): Promise<ScenarioResult> => {
  const s = step(`6 requests: ${size.rounds} rounds, API and floor in turn`)
  const location = await benchDatabase(ctx.backend)
  const prefix = uniquePrefix('bench')
  const { users, admin } = await seed(location, size.users, s)
  const env = { ...databaseEnv(location), REDIS_URL: ctx.redisUrl, REDIS_PREFIX: prefix }
  const api = await startApi(env)
  const floor = await startBenchServer('request-floor', databaseEnv(location))
  const agent = keepAliveAgent(size.concurrency)
  const list = endpoints(users, admin, size)
  const samples = new Map<string, { api: Measured[]; floor: Measured[] }>(
    list.map((e) => [e.id, { api: [], floor: [] }]),
  )
  const latency: Awaited<ReturnType<typeof underLoad>>[] = []
  try {
    for (let round = 1; round <= size.rounds; round++) {
      // Each server runs every endpoint before the other starts: POST then DELETE leaves users as they were.
      for (const [name, sut] of [
        ['api', api],
        ['floor', floor],
      ] as const) {
        for (const e of list) {
          s.update(`round ${round}: ${e.label} on ${name}`)
          samples.get(e.id)?.[name].push(await measure(sut, agent, e.count, size.concurrency, e.call))
        }
      }
    }
    const streamUsers = users.slice(0, 20)
    const streams: SseClient[] = []
    const waiters = new Map<number, (at: number) => void>()
    for (const [i, u] of streamUsers.entries()) {
      const c = new SseClient(i, (client, ev) => {
        if (ev.type === 'user.updated') waiters.get(client.index)?.(ev.at)
      })
      await c.open(api.port, '/api/events', u.cookie)
      streams.push(c)
    }
    const others = users.slice(streamUsers.length)
    for (const loaded of [false, true]) {
      s.update(loaded ? `change → stream under ${size.loadPerSecond} requests/s` : 'change → stream, quiet')
      latency.push(
        await underLoad({
          api,
          floor,
          agent,
          admin,
          streamUsers,
          others,
          waiters,
          size,
          loaded,
          changes: size.changes,
        }),
      )
    }
    for (const c of streams) c.close()
    agent.destroy()
    await Promise.all([api.stop(), floor.stop()])
    s.update(`${WRITERS[ctx.backend].apis} APIs + ${WRITERS[ctx.backend].workers} workers writing one database`)
    const writes = await writeThroughput(ctx, size.writes, s)
    const med = (id: string, name: 'api' | 'floor', f: (m: Measured) => number) =>
      median(samples.get(id)?.[name].map(f) ?? [])
    const rows = list.flatMap((e) =>
      (['api', 'floor'] as const).map((name) => ({
        label: `${name === 'api' ? 'dormant' : 'floor'}  ${e.label}`,
        values: {
          'CPU/request': `${fmt(
            med(e.id, name, (m) => m.cpuMs),
            3,
          )} ms`,
          'requests/s': fmt(
            med(e.id, name, (m) => m.rps),
            0,
          ),
          failed: String(samples.get(e.id)?.[name].reduce((a, m) => a + m.failed, 0)),
        },
      })),
    )
    const cpuRatio = (id: string) => med(id, 'api', (m) => m.cpuMs) / med(id, 'floor', (m) => m.cpuMs)
    const [quiet, loaded] = latency
    s.done(
      `GET /api/me ${fmt(cpuRatio('me'))}× floor, PUT ${fmt(cpuRatio('put'))}× floor, quiet p50 ${fmt(quiet?.p50 ?? Number.NaN)} ms, ${fmt(writes.changesPerSecond, 0)} changes/s`,
    )
    return {
      id: 'requests',
      title: `6. Requests: API and floor in turn (${size.rounds} rounds, concurrency ${size.concurrency}); change → stream; ${writes.processes} writing`,
      rows: [
        ...rows,
        ...latency.map((l) => ({
          label: `change → stream${l.loaded ? `, ${fmt(l.achievedPerSecond, 0)} req/s` : ', quiet'}`,
          values: {
            p50: `${fmt(l.p50)} ms`,
            p99: `${fmt(l.p99)} ms`,
            'floor PUT p50/p99': `${fmt(l.floorP50)} / ${fmt(l.floorP99)} ms`,
            received: `${l.received}/${l.changes}`,
          },
        })),
        {
          label: `${writes.processes}, one database`,
          values: {
            'changes/s': fmt(writes.changesPerSecond, 0),
            'PUTs/s': fmt(writes.putsPerSecond, 0),
            'activations/s': fmt(writes.activationsPerSecond, 0),
            'floor changes/s': fmt(writes.floorChangesPerSecond, 0),
          },
        },
      ],
      targets: [
        target('GET /api/me CPU/request ÷ floor', cpuRatio('me'), '<=', 2, '×'),
        target('PUT permissions CPU/request ÷ floor', cpuRatio('put'), '<=', 3, '×'),
        target('change → stream, quiet, p50', quiet?.p50 ?? Number.NaN, '<=', 3, ' ms'),
        target('change → stream, quiet, p99', quiet?.p99 ?? Number.NaN, '<=', 15, ' ms'),
        target(`change → stream under ${size.loadPerSecond} req/s, p99`, loaded?.p99 ?? Number.NaN, '<=', 25, ' ms'),
        target(`${writes.processes}: changes committed/s`, writes.changesPerSecond, '>=', writes.target, '/s'),
      ],
      data: { size, samples: Object.fromEntries(samples), latency, writes },
      notes: [
        'CPU per request: the server process’s utime+stime over the requests of one round, divided by their count; the median of the rounds. The API and the floor are measured in turn on the same database.',
        'The floor (bench/src/servers/request-floor.ts) is Hono on @hono/node-server with better-sqlite3 (synchronous=FULL), or on PostgreSQL with one pg pool (the events table’s append trigger fires for its inserts as for the API’s): the session lookup by the cookie’s sha256, the same user JSON, and for writes the same transaction (update, read back, outbox row). It validates, logs, measures and publishes nothing; the API also publishes each change to Redis and, for hibernations, adds or removes the BullMQ job.',
        'Change → stream: an admin PUT of permissions sent at t, the user.updated frame read by the user’s stream socket at t′; one change at a time. The floor column is the floor’s PUT round trip under the same conditions: no stream can hear of a change before it commits.',
        `Writes: changes are users’ version bumps (sum of users.version) per second over the window, PUTs through ${writes.processes.replace(' + ', ' plus activations by ')} on one database. The floor: ${writes.floorProcesses} processes committing the same PUT transaction in a loop (${LANES_NOTE[ctx.backend]}).`,
      ],
    }
  } finally {
    agent.destroy()
    await Promise.all([api.stop(), floor.stop()])
  }
}
