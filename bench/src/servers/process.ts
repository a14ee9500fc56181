import { spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type AppProcess, freePort, REPO_ROOT, spawnApp, tempDir, waitFor } from '@dormant/testing'
import { buildApps, bundle } from '../../../scripts/build-apps.mjs'
import { serverPid } from '../proc.js'

const COUNT_QUERIES = new URL('../count-queries.mjs', import.meta.url).href
const SERVERS = fileURLToPath(new URL('../../dist/servers', import.meta.url))

/**
 * Every server under test runs as plain JavaScript, the way production runs: the API and
 * worker bundles, and the bench's own servers bundled the same way. (A tsx loader thread
 * alone costs an idle process about 0.3 CPU-s per minute, a large share of the idle figures.)
 */
export const buildServers = async () => {
  await buildApps()
  for (const name of ['floor', 'polling', 'polling-express', 'broadcast', 'request-floor']) {
    await bundle(fileURLToPath(new URL(`./${name}.ts`, import.meta.url)), join(SERVERS, `${name}.js`))
  }
}

/** A server under test, running as its own process so we can read its CPU and RSS. */
export type Sut = {
  name: string
  port: number
  /** The process running the server code (below any tsx wrapper). */
  pid: number
  /** Database statements the server has executed so far (SQLite or PostgreSQL). */
  queries(): Promise<number>
  output(): string
  stop(): Promise<void>
}

const queryCounter = () => {
  const file = join(tempDir('dormant-bench-q'), 'count')
  return {
    env: { NODE_OPTIONS: `--import ${COUNT_QUERIES}`, BENCH_QUERY_COUNT_FILE: file },
    read: async (pid: number) => {
      const path = `${file}.${pid}`
      // A busy server (the broadcast loop) answers late; the count is read after CPU and bytes.
      rmSync(path, { force: true })
      process.kill(pid, 'SIGUSR2')
      await waitFor(() => existsSync(path) && readFileSync(path, 'utf8'), { what: 'query count', timeoutMs: 60_000 })
      return Number(readFileSync(path, 'utf8'))
    },
  }
}

const wrap = async (
  name: string,
  app: AppProcess,
  ready: string | RegExp,
  port: number,
  read: (pid: number) => Promise<number>,
): Promise<Sut> => {
  await app.waitForOutput(ready, 60_000)
  const pid = serverPid(app.child.pid ?? 0)
  return {
    name,
    port,
    pid,
    queries: () => read(pid),
    output: app.output,
    stop: async () => {
      await app.signal('SIGTERM')
    },
  }
}

/**
 * The real API (apps/api) as a child process. With `countQueries`, a preload counts its database
 * statements (the wrapper is cheap, but only the idle scenario needs it).
 */
export const startApi = async (env: Record<string, string>, options: { countQueries?: boolean } = {}): Promise<Sut> => {
  const port = await freePort()
  const counter = queryCounter()
  const fullEnv = { ...env, ...(options.countQueries ? counter.env : {}), PORT: String(port), HOST: '127.0.0.1' }
  const app = PROFILE_DIR
    ? spawnProfiled('apps/api/dist/index.js', fullEnv)
    : spawnApp('api', fullEnv, { bundle: true })
  return wrap('dormant', app, 'api listening', port, counter.read)
}

/** One of the bench's own servers (bench/src/servers/<name>.ts). */
export const startBenchServer = async (
  name: 'floor' | 'polling' | 'polling-express' | 'broadcast' | 'request-floor',
  env: Record<string, string>,
) => {
  const port = await freePort()
  const counter = queryCounter()
  const child = spawn(process.execPath, [join(SERVERS, `${name}.js`)], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...counter.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return wrap(name, asAppProcess(child), `${name} listening`, port, counter.read)
}

/** The worker (apps/worker) as a child process. */
export const startWorker = (env: Record<string, string>) =>
  PROFILE_DIR ? spawnProfiled('apps/worker/dist/index.js', env) : spawnApp('worker', env, { bundle: true })

/** With BENCH_CPU_PROF=<dir>, the API and worker run under `node --cpu-prof` (not allowed in NODE_OPTIONS). */
const PROFILE_DIR = process.env.BENCH_CPU_PROF

const spawnProfiled = (entry: string, env: Record<string, string>) =>
  asAppProcess(
    spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, entry], {
      cwd: REPO_ROOT,
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  )

const asAppProcess = (child: ReturnType<typeof spawn>): AppProcess => {
  let out = ''
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString()
  })
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, sig) => resolve(code ?? sig ?? '')),
  )
  return {
    child,
    output: () => out,
    exited,
    waitForOutput: async (text, timeoutMs = 20_000) => {
      await waitFor(
        () => {
          if (child.exitCode !== null) throw new Error(`exited before ready:\n${out}`)
          return typeof text === 'string' ? out.includes(text) : text.test(out)
        },
        { timeoutMs, what: String(text) },
      )
    },
    signal: (sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig)
      return exited
    },
  }
}
