import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  type AppProcess,
  type Balancer,
  freePort,
  type RedisServer,
  spawnApp,
  startBalancer,
  startRedisServer,
} from '@dormant/testing'
import type { Rng } from './prng.js'
import { startProxy, type TcpProxy } from './proxy.js'

/** One API or worker, with the proxy it reaches Redis through; restarted in place after a fault. */
export type Member = {
  name: string
  kind: 'api' | 'worker'
  /** APIs keep their port across restarts, so clients find them again. */
  port: number
  proxy: TcpProxy
  proc: AppProcess | undefined
  maxRss: number
  /** Milliseconds from each (re)spawn to ready. */
  readyMs: number[]
  /** Milliseconds from each SIGTERM to exit (G7: a graceful stop, not the 15 s SIGKILL). */
  termMs: number[]
}

export type Topology = {
  redis: RedisServer
  apis: Member[]
  workers: Member[]
  members: Member[]
  start(member: Member): Promise<void>
  stop(member: Member, signal: 'SIGKILL' | 'SIGTERM'): Promise<void>
  /** HAProxy from deploy/haproxy.cfg in front of the APIs, when it is installed. */
  balancer: Balancer | undefined
  /**
   * Where a client sends a request or opens a stream: the balancer when there is one (as in
   * a deployment), otherwise an API drawn from `r`. The draw is made either way, so a seed
   * draws the same sequence with or without the balancer.
   */
  entry(r: Rng): { via: string; url: string }
  shutdown(): Promise<void>
}

const READY = { api: 'api listening', worker: 'worker ready' } as const

/** The shortest settings the apps accept that still leave room: faults matter within minutes. */
export const SETTINGS = {
  SSE_HEARTBEAT_MS: 1000,
  SSE_MAX_LIFETIME_MS: 20_000,
  RECONCILE_INTERVAL_MS: 1000,
  JOB_LOCK_MS: 2000,
  HIBERNATION_DURATION_MS: 3000,
}

/** Redis with AOF on a free port, and every process behind its own proxy to it. */
export const startTopology = async (opts: {
  apis: number
  workers: number
  env: Record<string, string>
  logDir: string
  balancer: boolean
}): Promise<Topology> => {
  const redis = await startRedisServer({ appendonly: true })
  const member = async (kind: 'api' | 'worker', i: number): Promise<Member> => ({
    name: `${kind}${i}`,
    kind,
    port: kind === 'api' ? await freePort() : 0,
    proxy: await startProxy(redis.port),
    proc: undefined,
    maxRss: 0,
    readyMs: [],
    termMs: [],
  })
  const apis = await Promise.all(Array.from({ length: opts.apis }, (_, i) => member('api', i)))
  const workers = await Promise.all(Array.from({ length: opts.workers }, (_, i) => member('worker', i)))
  const members = [...apis, ...workers]
  let spawns = 0

  const saveLog = (m: Member) => {
    if (m.proc) writeFileSync(join(opts.logDir, `${m.name}-${++spawns}.log`), m.proc.output())
  }

  const start = async (m: Member) => {
    const began = Date.now()
    const env: Record<string, string> = { ...opts.env, REDIS_URL: m.proxy.url }
    if (m.kind === 'api') Object.assign(env, { HOST: '127.0.0.1', PORT: String(m.port) })
    m.proc = spawnApp(m.kind, env, { bundle: true })
    await m.proc.waitForOutput(READY[m.kind], 60_000)
    m.readyMs.push(Date.now() - began)
  }

  const stop = async (m: Member, signal: 'SIGKILL' | 'SIGTERM') => {
    const proc = m.proc
    if (!proc) return
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), 15_000)
    const began = Date.now()
    await proc.signal(signal)
    clearTimeout(timer)
    if (signal === 'SIGTERM') m.termMs.push(Date.now() - began)
    saveLog(m)
    m.proc = undefined
  }

  // RSS of every live process, sampled once a second from /proc.
  const sampler = setInterval(() => {
    for (const m of members) {
      const pid = m.proc?.child.pid
      if (!pid) continue
      try {
        const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
        m.maxRss = Math.max(m.maxRss, kb * 1024)
      } catch {
        // exited between the check and the read
      }
    }
  }, 1000)

  // A process that did not come up must not outlive the run: nothing else knows of them yet.
  const abandon = async (err: unknown): Promise<never> => {
    clearInterval(sampler)
    for (const m of members) m.proc?.child.kill('SIGKILL')
    await Promise.all(members.map((m) => m.proxy.close()))
    await redis.destroy()
    throw err
  }
  await Promise.all(members.map(start)).catch(abandon)
  const balancer = opts.balancer ? await startBalancer(apis.map((m) => m.port)).catch(abandon) : undefined
  return {
    redis,
    apis,
    workers,
    members,
    start,
    stop,
    balancer,
    entry: (r) => {
      const api = r.pick(apis)
      return balancer ? { via: 'balancer', url: balancer.url } : { via: api.name, url: `http://127.0.0.1:${api.port}` }
    },
    shutdown: async () => {
      clearInterval(sampler)
      await Promise.all(members.map((m) => stop(m, 'SIGTERM')))
      if (balancer) {
        writeFileSync(join(opts.logDir, 'haproxy.log'), balancer.output())
        await balancer.stop()
      }
      await Promise.all(members.map((m) => m.proxy.close()))
      await redis.destroy()
    },
  }
}
