import { Redis } from 'ioredis'
import type { Rng } from './prng.js'
import type { PartitionMode } from './proxy.js'
import type { Member, Topology } from './topology.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export type FaultLog = { kind: string; target: string; at: number; recoveredMs: number }

/**
 * One fault at a time, each healed before the next: a process killed (-9) or stopped
 * (SIGTERM) and restarted after a pause, Redis restarted or flushed, one process cut off
 * from Redis for a while. The workload's stalled clients are the remaining fault.
 */
export const createNemesis = (topo: Topology, rng: Rng) => {
  const r = rng.fork('nemesis')
  const faults: FaultLog[] = []
  let stopping = false
  let loop: Promise<void> | undefined

  const restartAfterPause = async (m: Member, signal: 'SIGKILL' | 'SIGTERM') => {
    await topo.stop(m, signal)
    await sleep(r.int(300, 4000))
    await topo.start(m)
  }

  const kinds: [string, number, () => Promise<string>][] = [
    ['kill -9 api', 3, async () => pickDo(topo.apis, (m) => restartAfterPause(m, 'SIGKILL'))],
    ['sigterm api', 2, async () => pickDo(topo.apis, (m) => restartAfterPause(m, 'SIGTERM'))],
    ['kill -9 worker', 2, async () => pickDo(topo.workers, (m) => restartAfterPause(m, 'SIGKILL'))],
    ['sigterm worker', 2, async () => pickDo(topo.workers, (m) => restartAfterPause(m, 'SIGTERM'))],
    [
      'redis restart',
      1.5,
      async () => {
        if (r.chance(0.5)) await topo.redis.kill()
        else await topo.redis.stop()
        await sleep(r.int(300, 3000))
        await topo.redis.start()
        return 'redis'
      },
    ],
    [
      'redis flushall',
      1,
      async () => {
        const redis = new Redis(topo.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
        await redis.connect()
        await redis.flushall()
        redis.disconnect()
        return 'redis'
      },
    ],
    [
      'partition',
      2.5,
      async () =>
        pickDo(topo.members, async (m) => {
          const mode: PartitionMode = r.chance(0.5) ? 'refuse' : 'blackhole'
          m.proxy.partition(mode)
          await sleep(r.int(1500, 8000))
          m.proxy.heal()
        }),
    ],
  ]
  const pickDo = async (members: Member[], fault: (m: Member) => Promise<void>) => {
    const m = r.pick(members)
    await fault(m)
    return m.name
  }

  return {
    faults,
    start: () => {
      loop = (async () => {
        while (!stopping) {
          await sleep(r.int(1000, 5000))
          if (stopping) break
          const [kind, , run] = r.weighted(kinds.map((k) => [k[1], k] as const))
          const at = Date.now()
          try {
            const target = await run()
            faults.push({ kind, target, at, recoveredMs: Date.now() - at })
          } catch (err) {
            process.stdout.write(`[chaos] ${kind} did not recover: ${String(err).slice(0, 500)}\n`)
            faults.push({ kind: `${kind} (not recovered)`, target: '?', at, recoveredMs: Date.now() - at })
          }
        }
      })()
    },
    /** Lets the fault in progress heal, then stops. */
    stop: async () => {
      stopping = true
      await loop
      // A fault that failed half-way may have left a process down.
      for (const m of topo.members) if (!m.proc) await topo.start(m)
    },
  }
}
