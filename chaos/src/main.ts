import { spawnSync } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { tempDir, waitFor } from '@dormant/testing'
import { check, REVOCATION_SLACK_MS } from './checker.js'
import { BackendUnavailable, type DbKind, type ProvisionedDb, provisionDb } from './db.js'
import type { History } from './history.js'
import { createNemesis } from './nemesis.js'
import { createRng } from './prng.js'
import { coverage, streamRecovery, summary } from './report.js'
import { recheck, saveRun } from './saved.js'
import { SETTINGS, startTopology } from './topology.js'
import { ADMIN, createWorkload } from './workload.js'

/** Documented in docs/reliability.md: no API or worker may exceed this RSS during a run. */
export const RSS_BOUND_BYTES = 300 * 1048576
const FINAL_DEADLINE_MS = 10_000
const EVENTS_RETENTION_MS = 20_000
const DRAIN_TIMEOUT_MS = 30_000

const say = (line: string) => process.stdout.write(`[chaos] ${line}\n`)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    seed: { type: 'string' },
    db: { type: 'string', default: 'sqlite' },
    check: { type: 'string' },
    direct: { type: 'boolean', default: false },
  },
})
if (values.check) {
  const { seed, violations } = recheck(values.check)
  for (const v of violations) say(`VIOLATION ${v.kind}: ${v.detail}`)
  say(`${violations.length} violations in the saved run of seed ${seed}`)
  process.exit(violations.length ? 1 : 0)
}
const seconds = Number(values.seconds)
const seed = values.seed === undefined ? randomInt(2 ** 31) : Number(values.seed)
const kind = values.db as DbKind
if (!Number.isInteger(seed) || !(seconds > 0) || !['sqlite', 'postgres'].includes(kind)) {
  process.stderr.write(
    'usage: npm run chaos -- [--seconds N] [--seed S] [--db sqlite|postgres] [--direct] | --check <history.json>\n',
  )
  process.exit(2)
}
// Clients go through deploy/haproxy.cfg, as in a deployment, wherever HAProxy is installed.
const balanced = !values.direct && spawnSync('sh', ['-c', 'command -v haproxy'], { stdio: 'ignore' }).status === 0
const replay = `npm run chaos -- --seconds ${seconds} --seed ${seed} --db ${kind}${balanced ? '' : ' --direct'}`
say(`seed ${seed} (replay: ${replay})`)

let db: ProvisionedDb
try {
  db = await provisionDb(kind)
} catch (err) {
  if (!(err instanceof BackendUnavailable)) throw err
  process.stderr.write(`[chaos] --db ${kind}: ${err.message}\n`)
  process.exit(2)
}

const rng = createRng(seed)
const buildApps = new URL('../../scripts/build-apps.mjs', import.meta.url).href
await ((await import(buildApps)) as { buildApps(): Promise<void> }).buildApps()
const logDir = tempDir('dormant-chaos')
const env: Record<string, string> = {
  ...db.env,
  ...Object.fromEntries(Object.entries(SETTINGS).map(([k, v]) => [k, String(v)])),
  REDIS_PREFIX: `chaos-${seed}`,
  ADMIN_EMAIL: ADMIN.email,
  ADMIN_PASSWORD: ADMIN.password,
  LOGIN_LIMIT_PER_ADDRESS: '1000000',
  LOGIN_LIMIT_PER_ACCOUNT: '1000000',
  // Short retention: reconnects from old ids meet pruned events and must get a reset snapshot.
  EVENTS_RETENTION_MS: String(EVENTS_RETENTION_MS),
  LOG_LEVEL: 'info',
  // Behind the balancer, as docker-compose.yml runs them: a SIGTERM'd API drains (its /healthz
  // answers 503) until HAProxy has taken it out, and sign-ins are counted per client address.
  ...(balanced ? { SHUTDOWN_DRAIN_MS: '6000', TRUST_PROXY_HOPS: '1' } : {}),
}
const apis = rng.int(2, 3)
const topo = await startTopology({ apis, workers: 2, env, logDir, balancer: balanced }).catch(async (err) => {
  await db.cleanup()
  throw err
})
const front = topo.balancer
  ? `clients through HAProxy on ${topo.balancer.url}`
  : `clients straight to the APIs${values.direct ? '' : ' (no haproxy installed)'}`
say(`${apis} APIs, 2 workers, Redis (AOF) on ${topo.redis.port}, ${db.describe}, ${front}; logs in ${logDir}`)
// Whatever ends this process (an error included), no API, worker or Redis outlives it.
process.once('exit', () => {
  for (const m of topo.members) m.proc?.child.kill('SIGKILL')
  void topo.redis.kill()
})
process.once('SIGINT', () => {
  say('interrupted: stopping the processes')
  void topo
    .shutdown()
    .then(() => db.cleanup())
    .finally(() => process.exit(130))
})

const workload = createWorkload(topo, rng, { users: rng.int(5, 8) })
const nemesis = createNemesis(topo, rng, db)
const started = Date.now()
await workload.start()
nemesis.start()
const opsTotal = () => [...workload.record.ops.values()].reduce((a, b) => a + b, 0)
const archiver = setInterval(() => {
  db.archive().catch((err) => say(`archiving events failed (retried in 1 s): ${String(err).slice(0, 300)}`))
}, 1000)
const progress = setInterval(() => {
  const s = Math.round((Date.now() - started) / 1000)
  const last = nemesis.faults.at(-1)
  say(
    `${s}s ops ${opsTotal()} faults ${nemesis.faults.length}${last ? ` (last: ${last.kind} ${last.target})` : ''} ` +
      `streams open ${workload.openStreams()} frames ${workload.frames()}`,
  )
}, 10_000)

await sleep(seconds * 1000)
say('faults stop; operations stop')
await nemesis.stop()
await workload.stopOperations()
clearInterval(progress)

// Every hibernation still scheduled falls due within 5 s: wait for the workers to run them.
const scheduled = async () => (await db.read()).hibernations.filter((h) => h.status === 'scheduled').length
await waitFor(async () => (await scheduled()) === 0, {
  timeoutMs: DRAIN_TIMEOUT_MS,
  intervalMs: 200,
  what: 'timers',
}).catch(async () => say(`${await scheduled()} hibernations still scheduled after ${DRAIN_TIMEOUT_MS} ms`))
const quiescedAt = Date.now()
const finalVersions = (await db.read()).versions
await waitFor(
  () =>
    workload.record.actors.every(
      (a) => (workload.versionsSeen().get(a.userId) ?? 0) >= (finalVersions.get(a.userId) ?? 0),
    ),
  { timeoutMs: FINAL_DEADLINE_MS, intervalMs: 50, what: 'final state on every stream' },
).catch(() => say('some streams did not reach the final state'))
// Revoked streams are judged against their bound: do not close one ourselves before it.
const lastRevocation = Math.max(0, ...workload.record.revocations.map((r) => r.returnedAt))
await sleep(Math.max(0, lastRevocation + 2 * SETTINGS.SSE_HEARTBEAT_MS + REVOCATION_SLACK_MS + 100 - Date.now()))
workload.closeAll()
await topo.shutdown()
clearInterval(archiver)

const history: History = {
  heartbeatMs: SETTINGS.SSE_HEARTBEAT_MS,
  connections: workload.record.connections,
  cancels: workload.record.cancels,
  revocations: workload.record.revocations,
  neverReadTransactions: workload.record.neverReadTransactions,
  rss: topo.members.map((m) => ({ process: m.name, maxBytes: m.maxRss })),
  rssBoundBytes: RSS_BOUND_BYTES,
  quiescedAt,
  finalClients: workload.record.actors,
  finalDeadlineMs: FINAL_DEADLINE_MS,
}
const finalState = await db.read()
const violations = check(history, finalState)
saveRun(join(logDir, 'history.json'), { seed, faults: nemesis.faults, history, db: finalState, violations })
process.stdout.write(
  `\n${summary({
    ops: workload.record.ops,
    faults: nemesis.faults,
    members: topo.members,
    violations,
    coverage: coverage(history),
    recovery: streamRecovery(history, nemesis.faults),
  })}\n\n`,
)
const shown = new Map<string, number>()
for (const v of violations) {
  const n = (shown.get(v.kind) ?? 0) + 1
  shown.set(v.kind, n)
  if (n <= 10) say(`VIOLATION ${v.kind}: ${v.detail}`)
}
await db.cleanup()
say(`${violations.length} violations in ${Math.round((Date.now() - started) / 1000)} s; history in ${logDir}`)
say(`seed ${seed}; replay: ${replay}`)
process.exit(violations.length ? 1 : 0)
