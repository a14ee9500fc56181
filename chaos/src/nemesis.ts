import { Redis } from 'ioredis'
import type { ProvisionedDb } from './db.js'
import type { Rng } from './prng.js'
import type { PartitionMode } from './proxy.js'
import type { Member, Topology } from './topology.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export type FaultLog = { kind: string; target: string; at: number; recoveredMs: number }

/** A fault with every random parameter already drawn, so concurrent faults replay alike. */
type Plan = { kind: string; target: string; run(): Promise<void> }

/** Of faults run together, this share is a pair on two different targets. */
const PAIRED = 0.3

/**
 * Faults healed before the next ones start, sometimes two at once on different targets (a
 * partition during a kill is where single-fault tests never look): a process killed (-9) or
 * stopped (SIGTERM) and restarted after a pause, Redis restarted or flushed, one process cut
 * off from Redis for a while, and on PostgreSQL the database restarted (as its processes see
 * it: see `restart` in db.ts). The workload's stalled clients are the remaining fault.
 */
export const createNemesis = (topo: Topology, rng: Rng, db: Pick<ProvisionedDb, 'restart'>) => {
  const r = rng.fork('nemesis')
  const faults: FaultLog[] = []
  let stopping = false
  let loop: Promise<void> | undefined

  const restart = (kind: string, members: Member[], signal: 'SIGKILL' | 'SIGTERM') => (): Plan => {
    const m = r.pick(members)
    const pause = r.int(300, 4000)
    return {
      kind,
      target: m.name,
      run: async () => {
        await topo.stop(m, signal)
        await sleep(pause)
        await topo.start(m)
      },
    }
  }

  const kinds: [number, () => Plan][] = [
    [3, restart('kill -9 api', topo.apis, 'SIGKILL')],
    [2, restart('sigterm api', topo.apis, 'SIGTERM')],
    [2, restart('kill -9 worker', topo.workers, 'SIGKILL')],
    [2, restart('sigterm worker', topo.workers, 'SIGTERM')],
    [
      1.5,
      () => {
        const crash = r.chance(0.5)
        const pause = r.int(300, 3000)
        return {
          kind: 'redis restart',
          target: 'redis',
          run: async () => {
            await (crash ? topo.redis.kill() : topo.redis.stop())
            await sleep(pause)
            await topo.redis.start()
          },
        }
      },
    ],
    [
      1,
      () => ({
        kind: 'redis flushall',
        target: 'redis',
        run: async () => {
          const redis = new Redis(topo.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
          try {
            await redis.connect()
            await redis.flushall()
          } finally {
            redis.disconnect()
          }
        },
      }),
    ],
    [
      2.5,
      () => {
        const m = r.pick(topo.members)
        const mode: PartitionMode = r.chance(0.5) ? 'refuse' : 'blackhole'
        const duration = r.int(1500, 8000)
        return {
          kind: `partition (${mode})`,
          target: m.name,
          run: async () => {
            m.proxy.partition(mode)
            await sleep(duration)
            m.proxy.heal()
          },
        }
      },
    ],
  ]
  // Only where the backend has one, so SQLite runs draw the same faults for the same seed as before.
  const restartDb = db.restart
  if (restartDb) {
    kinds.push([
      1.5,
      () => {
        const pause = r.int(300, 4000)
        return { kind: 'postgres restart', target: 'postgres', run: () => restartDb(pause) }
      },
    ])
  }

  const execute = async (plan: Plan) => {
    const at = Date.now()
    try {
      await plan.run()
      faults.push({ kind: plan.kind, target: plan.target, at, recoveredMs: Date.now() - at })
    } catch (err) {
      process.stdout.write(`[chaos] ${plan.kind} on ${plan.target} did not recover: ${String(err).slice(0, 500)}\n`)
      faults.push({ kind: `${plan.kind} (not recovered)`, target: plan.target, at, recoveredMs: Date.now() - at })
    }
  }

  return {
    faults,
    start: () => {
      loop = (async () => {
        while (!stopping) {
          await sleep(r.int(1000, 5000))
          if (stopping) break
          const first = r.weighted(kinds)()
          const paired = r.chance(PAIRED)
          const second = r.weighted(kinds)()
          // Two faults on one target would race each other's restart: run the first alone then.
          await Promise.all([first, ...(paired && second.target !== first.target ? [second] : [])].map(execute))
        }
      })()
    },
    /** Lets the faults in progress heal, then stops. */
    stop: async () => {
      stopping = true
      await loop
      // A fault that failed half-way may have left a process down.
      for (const m of topo.members) if (!m.proc) await topo.start(m)
    },
  }
}
