import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, portAnswers } from './ports.js'
import { waitFor } from './wait.js'

export type RedisServer = {
  url: string
  port: number
  dir: string
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>
  /** Graceful stop (SHUTDOWN semantics via SIGTERM: AOF is fsynced). */
  stop(): Promise<void>
  /** Starts again on the same port and data folder. */
  start(): Promise<void>
  /** Stops and deletes the data folder. */
  destroy(): Promise<void>
}

/**
 * A private redis-server on a free loopback port with its own data folder. Tests never
 * touch a shared Redis; fault tests kill and restart their own.
 */
export const startRedisServer = async (options: { appendonly?: boolean; port?: number } = {}): Promise<RedisServer> => {
  const port = options.port ?? (await freePort())
  const dir = mkdtempSync(join(tmpdir(), 'dormant-redis-'))
  let child: ChildProcess | undefined

  const exited = (proc: ChildProcess) =>
    new Promise<void>((resolve) =>
      proc.exitCode !== null || proc.signalCode !== null ? resolve() : proc.once('exit', () => resolve()),
    )

  const start = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no']
    args.push('--appendonly', options.appendonly ? 'yes' : 'no', '--appendfsync', 'always')
    args.push('--maxmemory-policy', 'noeviction', '--hz', '100', '--loglevel', 'warning')
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] })
    child = proc
    await waitFor(async () => proc.exitCode === null && (await portAnswers(port)), { what: `redis-server on ${port}` })
  }
  const signal = async (sig: NodeJS.Signals) => {
    const proc = child
    if (!proc || proc.exitCode !== null) return
    proc.kill(sig)
    await exited(proc)
  }

  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    kill: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
    start,
    destroy: async () => {
      await signal('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
