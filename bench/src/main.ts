import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startRedisServer } from '@dormant/testing'
import { type Ctx, REDIS_HZ, setRedisHz } from './context.js'
import { machine } from './machine.js'
import { openFileLimit } from './proc.js'
import { failSteps, note } from './progress.js'
import { table, writeJson } from './report.js'
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
  },
})
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
  `Dormant bench (${sizeName}) on ${facts.cpus} × ${facts.cpuModel}, Node ${facts.node}, ${(facts.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, load ${facts.loadAverage.map((l) => l.toFixed(2)).join(' ')}`,
)

const startedAt = new Date()
note('bundling the servers under test (production JavaScript, no tsx)')
await buildServers()
const redis = await startRedisServer()
await setRedisHz(redis.url, REDIS_HZ)
const ctx: Ctx = { quick, redisUrl: redis.url }
const scenarios: [string, () => Promise<ScenarioResult>][] = [
  ['idle', () => runIdle(ctx, sizes.idle)],
  ['fanout', () => runFanout(ctx, sizes.fanout)],
  ['timers', () => runTimers(ctx, sizes.timers)],
  ['activation', () => runActivation(ctx, sizes.activation)],
  ['scheduling', () => runScheduling(ctx, sizes.scheduling)],
  ['webhooks', () => runWebhooks(ctx, sizes.webhooks)],
  ['requests', () => runRequests(ctx, sizes.requests)],
]
const selected = scenarios.filter(([id]) => !only || only.has(id))

const failures: string[] = []
const attempt = async ([id, run]: [string, () => Promise<ScenarioResult>]) => {
  try {
    const result = await run()
    return quick ? result : { ...result, targets: result.targets.map(judge) }
  } catch (err) {
    failSteps(
      `${scenarios.findIndex(([s]) => s === id) + 1} `,
      err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err),
    )
    failures.push(`${id}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    return undefined
  }
}
const results: ScenarioResult[] = []
try {
  // One scenario at a time: side by side they starve each other (tried: 2× slower, figures meaningless).
  for (const entry of selected) {
    const r = await attempt(entry)
    if (r) results.push(r)
  }
} finally {
  await redis.destroy()
}

note(`\n${table(results)}\n`)
if (quick) note('Quick run: a smoke test at small sizes; targets are not judged.')
const finishedAt = new Date()
const file = writeJson(
  {
    startedAt,
    finishedAt,
    size: sizeName,
    machine: { ...facts, loadAverageAtEnd: machine().loadAverage },
    redisHz: REDIS_HZ,
    results,
    failures,
  },
  startedAt,
  { quick, partial: Boolean(only) },
)
note(`Took ${((finishedAt.getTime() - startedAt.getTime()) / 1000).toFixed(0)} s.`)
note(`Wrote ${file.join(' and ')}`)
if (!only && !quick) {
  const svg = fileURLToPath(new URL('../../docs/bench.svg', import.meta.url))
  writeFileSync(svg, svgChart(results, facts, sizeName))
  note('Wrote docs/bench.svg')
}
for (const f of failures) process.stderr.write(`scenario failed: ${f}\n`)
process.exit(failures.length ? 1 : 0)
