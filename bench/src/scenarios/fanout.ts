import { Worker } from 'node:worker_threads'
import { uniquePrefix } from '@dormant/testing'
import { openClients, SseClient } from '../clients/sse-client.js'
import { quantile, sleep, sortedNumbers } from '../clock.js'
import type { Ctx } from '../context.js'
import { benchDatabase, databaseEnv } from '../database.js'
import { cpuSeconds, rssBytes, sampler } from '../proc.js'
import { type Step, step } from '../progress.js'
import { bytesFmt, fmt, type ScenarioResult, target } from '../result.js'
import { type SeededUser, seedUsers } from '../seed.js'
import { type Sut, startApi, startBenchServer } from '../servers/process.js'
import type { WriterBatch, WriterInput } from '../writer.js'

export const CONNECTIONS_PER_USER = 2

type Size = { connections: number; perSecond: number; seconds: number; idleSeconds: number; settleMs: number }

type Measured = {
  rssBeforeBytes: number
  rssAfterConnectBytes: number
  rssPerConnectionBytes: number
  idleCpuPercent: number
  loadCpuPercent: number
  events: number
  deliveriesExpected: number
  deliveriesReceived: number
  missed: number
  latencyMs: { p50: number; p99: number; max: number }
  rssDuringLoad: number[]
  rssGrowthPercent: number
  connectSeconds: number
}

const runWriter = (input: WriterInput, onBatch: (b: WriterBatch) => void) =>
  new Promise<void>((resolve, reject) => {
    const worker = new Worker(new URL('../writer-entry.mjs', import.meta.url), { workerData: input })
    worker.on('message', (m: WriterBatch | { done: true }) => ('done' in m ? resolve() : onBatch(m)))
    worker.on('error', reject)
    worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}`))))
  })

const measure = async (
  s: Step,
  sut: Sut,
  open: (i: number, client: SseClient) => Promise<void>,
  users: SeededUser[],
  writer: Omit<WriterInput, 'userIds'>,
  size: Size,
): Promise<Measured> => {
  const n = size.connections
  await sleep(size.settleMs)
  const rssBefore = rssBytes(sut.pid)
  const commitAt = new Map<number, number>()
  const expected = new Int32Array(users.length)
  const received = new Int32Array(n)
  const receiptIds: number[] = []
  const receiptAt: number[] = []
  const onEvent = (client: SseClient, ev: { id: number; type: string; at: number }) => {
    if (ev.type !== 'user.updated' || !ev.id) return
    received[client.index] = (received[client.index] ?? 0) + 1
    receiptIds.push(ev.id)
    receiptAt.push(ev.at)
  }
  const t0 = performance.now()
  const clients = await openClients(
    n,
    async (i) => {
      const c = new SseClient(i, onEvent)
      await open(i, c)
      return c
    },
    100,
    (k) => s.update(`${sut.name}: ${k}/${n} streams open`),
  )
  const connectSeconds = (performance.now() - t0) / 1000
  try {
    s.update(`${sut.name}: ${n} streams open, settling`)
    await sleep(size.settleMs * 2)
    const rssAfter = rssBytes(sut.pid)
    s.update(`${sut.name}: idle ${size.idleSeconds} s`)
    const idle0 = cpuSeconds(sut.pid)
    const idleT = performance.now()
    await sleep(size.idleSeconds * 1000)
    const idleCpuPercent = ((cpuSeconds(sut.pid) - idle0) / ((performance.now() - idleT) / 1000)) * 100

    s.update(`${sut.name}: ${size.perSecond} deliveries/s for ${size.seconds} s`)
    const rss = sampler(sut.pid, 1000)
    const load0 = cpuSeconds(sut.pid)
    const loadT = performance.now()
    let events = 0
    await runWriter({ ...writer, userIds: users.map((u) => u.id) }, (batch) => {
      for (let i = 0; i < batch.commits.length; i += 3) {
        const [id, user, at] = [batch.commits[i] ?? 0, batch.commits[i + 1] ?? 0, batch.commits[i + 2] ?? 0]
        commitAt.set(id, at)
        expected[user] = (expected[user] ?? 0) + 1
        events += 1
      }
    })
    const loadCpuPercent = ((cpuSeconds(sut.pid) - load0) / ((performance.now() - loadT) / 1000)) * 100
    const samples = rss.stop()
    const want = () => clients.reduce((sum, c) => sum + (expected[Math.floor(c.index / CONNECTIONS_PER_USER)] ?? 0), 0)
    const drainUntil = performance.now() + 5000
    while (receiptIds.length < want() && performance.now() < drainUntil) await sleep(50)

    let missed = 0
    for (const c of clients) {
      const owed = expected[Math.floor(c.index / CONNECTIONS_PER_USER)] ?? 0
      missed += Math.max(0, owed - (received[c.index] ?? 0))
    }
    const latencies = sortedNumbers(
      receiptIds.map((id, i) => (receiptAt[i] ?? 0) - (commitAt.get(id) ?? Number.NaN)).filter(Number.isFinite),
    )
    const series = samples.map((x) => x.rssBytes)
    const quarter = series[Math.floor(series.length / 4)] ?? 0
    return {
      rssBeforeBytes: rssBefore,
      rssAfterConnectBytes: rssAfter,
      rssPerConnectionBytes: (rssAfter - rssBefore) / n,
      idleCpuPercent,
      loadCpuPercent,
      events,
      deliveriesExpected: want(),
      deliveriesReceived: receiptIds.length,
      missed,
      latencyMs: {
        p50: quantile(latencies, 0.5),
        p99: quantile(latencies, 0.99),
        max: latencies.at(-1) ?? Number.NaN,
      },
      rssDuringLoad: series,
      rssGrowthPercent: quarter ? (((series.at(-1) ?? 0) - quarter) / quarter) * 100 : 0,
      connectSeconds,
    }
  } finally {
    for (const c of clients) c.close()
  }
}

/**
 * Scenario 2: N authenticated streams on one API process, idle and then under a steady
 * stream of changes committed and published by another process; the floor gets the same.
 */
export const runFanout = async (ctx: Ctx, size: Size): Promise<ScenarioResult> => {
  const n = size.connections
  const s = step(`2 fan-out: ${n} streams, ${size.perSecond} deliveries/s`)
  s.update('seeding users and sessions')
  const location = await benchDatabase(ctx.backend)
  const users = await seedUsers(location, Math.ceil(n / CONNECTIONS_PER_USER), (k) => s.update(`seeded ${k} users`))
  const userOf = (i: number) => users[Math.floor(i / CONNECTIONS_PER_USER)] as SeededUser
  const changesPerSecond = size.perSecond / CONNECTIONS_PER_USER
  const results: Record<string, Measured> = {}

  const apiPrefix = uniquePrefix('bench')
  const api = await startApi({ ...databaseEnv(location), REDIS_URL: ctx.redisUrl, REDIS_PREFIX: apiPrefix })
  try {
    results.dormant = await measure(
      s,
      api,
      (i, c) => c.open(api.port, '/api/events', userOf(i).cookie),
      users,
      { location, redisUrl: ctx.redisUrl, prefix: apiPrefix, perSecond: changesPerSecond, seconds: size.seconds },
      size,
    )
  } finally {
    await api.stop()
  }
  const floorPrefix = uniquePrefix('floor')
  const floor = await startBenchServer('floor', { REDIS_URL: ctx.redisUrl, CHANNEL: `${floorPrefix}:events` })
  try {
    results.floor = await measure(
      s,
      floor,
      (i, c) => c.open(floor.port, '/events', `uid=${userOf(i).id}`),
      users,
      { location, redisUrl: ctx.redisUrl, prefix: floorPrefix, perSecond: changesPerSecond, seconds: size.seconds },
      size,
    )
  } finally {
    await floor.stop()
  }
  const d = results.dormant as Measured
  const f = results.floor as Measured
  const perConnRatio = d.rssPerConnectionBytes / Math.max(f.rssPerConnectionBytes, 1)
  s.done(
    `Dormant ${bytesFmt(d.rssPerConnectionBytes)}/conn, p50 ${fmt(d.latencyMs.p50)} ms, p99 ${fmt(d.latencyMs.p99)} ms, missed ${d.missed}`,
  )
  const row = (m: Measured) => ({
    'RSS/conn': bytesFmt(m.rssPerConnectionBytes),
    'idle CPU': `${fmt(m.idleCpuPercent, 1)} %`,
    'load CPU': `${fmt(m.loadCpuPercent, 1)} %`,
    p50: `${fmt(m.latencyMs.p50)} ms`,
    p99: `${fmt(m.latencyMs.p99)} ms`,
    max: `${fmt(m.latencyMs.max)} ms`,
    delivered: `${m.deliveriesReceived}/${m.deliveriesExpected}`,
    'RSS growth': `${fmt(m.rssGrowthPercent, 1)} %`,
  })
  return {
    id: 'fanout',
    title: `2. Fan-out: ${n} streams on one API (${CONNECTIONS_PER_USER} per user), ${size.perSecond} deliveries/s for ${size.seconds} s`,
    rows: [
      { label: 'dormant', values: row(d) },
      { label: 'floor', values: row(f) },
    ],
    targets: [
      target('RSS per connection: Dormant ÷ floor', perConnRatio, '<=', 1.5, '×'),
      target('delivery latency p50', d.latencyMs.p50, '<=', 2, ' ms'),
      target('delivery latency p99', d.latencyMs.p99, '<=', 25, ' ms'),
      target('missed deliveries', d.missed, '<=', 0),
      target('RSS growth during load (from 1/4 of the run)', d.rssGrowthPercent, '<=', 5, ' %'),
    ],
    data: {
      connections: n,
      users: users.length,
      changesPerSecond,
      ...results,
      ratios: { rssPerConnection: perConnRatio },
    },
    notes: [
      'The writer commits up to 16 changes at once (one at a time caps PostgreSQL at 1 ÷ commit latency).',
      'Latency is from the commit returning in the writer thread to the frame being read by the client socket, both in the bench process (same clock).',
      'CPU is % of one core for the server process only; the load generator runs on the same machine.',
    ],
  }
}
