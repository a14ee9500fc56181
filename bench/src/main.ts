import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startRedisServer } from '@dormant/testing'
import { type Ctx, REDIS_HZ, setRedisHz } from './context.js'
import { BACKENDS, type Backend, dropBenchDatabases } from './database.js'
import { machine } from './machine.js'
import { openFileLimit } from './proc.js'
import { failSteps, note } from './progress.js'
import { sideBySide, table, writeJson } from './report.js'
import { judge, type ScenarioResult } from './result.js'
import { runActivation } from './scenarios/activation.js'
import { runFanout } from './scenarios/fanout.js'
import { runIdle } from './scenarios/idle.js'
import { runRequests } from './scenarios/requests.js'
import { runScheduling } from './scenarios/scheduling.js'
import { runTimers } from './scenarios/timers.js'
import { runWebhooks } from './scenarios/webhooks.js'
import { buildServers } from './servers/process.js'
import { SIZES, type SizeName } from './sizes.js'
import { svgChart } from './svg.js'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    db: { type: 'string', default: 'sqlite' },
  },
})
const db = values.db ?? 'sqlite'
if (db !== 'both' && !BACKENDS.includes(db as Backend)) {
  process.stderr.write(`--db takes sqlite, postgres or both, not ${db}\n`)
  process.exit(1)
}
// Each scenario hands its processes their database; one inherited from this shell would win over it.
delete process.env.DATABASE_URL
delete process.env.DB_PATH
/** Both: each scenario on SQLite then on PostgreSQL, so drift on a shared machine hits both. */
const backends: Backend[] = db === 'both' ? [...BACKENDS] : [db as Backend]
const quick = values.quick ?? false
const sizeName: SizeName = quick ? 'quick' : 'full'
const sizes = SIZES[sizeName]
const only = values.only ? new Set(values.only.split(',')) : undefined

const needed = sizes.fanout.connections + 500
const limit = openFileLimit()
if (limit < needed) {
  process.stderr.write(
    `The open-file limit (ulimit -n) is ${limit}; this run holds about ${needed} sockets in one process. Raise it or use --quick.\n`,
  )
  process.exit(1)
}

const facts = machine()
note(
  `Dormant bench (${sizeName}, ${backends.join(' and ')}) on ${facts.cpus} × ${facts.cpuModel}, Node ${facts.node}, ${(facts.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, load ${facts.loadAverage.map((l) => l.toFixed(2)).join(' ')}`,
)

const startedAt = new Date()
note('bundling the servers under test (production JavaScript, no tsx)')
await buildServers()
const redis = await startRedisServer()
await setRedisHz(redis.url, REDIS_HZ)
const scenarios: [string, (ctx: Ctx) => Promise<ScenarioResult>][] = [
  ['idle', (ctx) => runIdle(ctx, sizes.idle)],
  ['fanout', (ctx) => runFanout(ctx, sizes.fanout)],
  ['timers', (ctx) => runTimers(ctx, sizes.timers)],
  ['activation', (ctx) => runActivation(ctx, sizes.activation)],
  ['scheduling', (ctx) => runScheduling(ctx, sizes.scheduling)],
  ['webhooks', (ctx) => runWebhooks(ctx, sizes.webhooks)],
  ['requests', (ctx) => runRequests(ctx, sizes.requests)],
]
const selected = scenarios.filter(([id]) => !only || only.has(id))

const failures: string[] = []
const attempt = async ([id, run]: [string, (ctx: Ctx) => Promise<ScenarioResult>], backend: Backend) => {
  try {
    const result = { ...(await run({ quick, redisUrl: redis.url, backend })), backend }
    return quick ? result : { ...result, targets: result.targets.map(judge) }
  } catch (err) {
    failSteps(
      `${scenarios.findIndex(([s]) => s === id) + 1} `,
      err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err),
    )
    failures.push(`${id} (${backend}): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    return undefined
  }
}
const results: ScenarioResult[] = []
try {
  // One scenario at a time: side by side they starve each other (tried: 2× slower, figures meaningless).
  for (const entry of selected) {
    for (const backend of backends) {
      const r = await attempt(entry, backend)
      if (r) results.push(r)
    }
  }
} finally {
  await redis.destroy()
  if (backends.includes('postgres')) await dropBenchDatabases()
}

note(`\n${table(sideBySide(results))}\n`)
if (quick) note('Quick run: a smoke test at small sizes; targets are not judged.')
const finishedAt = new Date()
const file = writeJson(
  {
    startedAt,
    finishedAt,
    size: sizeName,
    backends,
    machine: { ...facts, loadAverageAtEnd: machine().loadAverage },
    redisHz: REDIS_HZ,
    results,
    failures,
  },
  startedAt,
  { quick, partial: Boolean(only), backends },
)
note(`Took ${((finishedAt.getTime() - startedAt.getTime()) / 1000).toFixed(0)} s.`)
note(`Wrote ${file.join(' and ')}`)
// The chart in the docs is the default deployment's: one host, SQLite.
if (!only && !quick && db === 'sqlite') {
  const svg = fileURLToPath(new URL('../../docs/bench.svg', import.meta.url))
  writeFileSync(svg, svgChart(results, facts, sizeName))
  note('Wrote docs/bench.svg')
}
for (const f of failures) process.stderr.write(`scenario failed: ${f}\n`)
process.exit(failures.length ? 1 : 0)
