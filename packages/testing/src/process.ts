import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

export type AppProcess = {
  child: ChildProcess
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string
  /** Resolves when a line of output contains `text` (e.g. a pino msg), or rejects on exit. */
  waitForOutput(text: string | RegExp, timeoutMs?: number): Promise<void>
  /** Sends a signal and resolves with the exit code (or signal name) once it has exited. */
  signal(sig: NodeJS.Signals): Promise<number | string>
  exited: Promise<number | string>
}

/**
 * Runs one of the apps (`apps/api/src/index.ts`, `apps/worker/src/index.ts`) as a real child
 * process with the given environment, so tests can kill it with real signals.
 * tsx runs as a loader inside that one process: its CLI would be a parent that outlives a
 * SIGKILL (leaving the app running as an orphan) and that SIGKILLs an app whose event loop
 * does not acknowledge a relayed SIGTERM within 30 ms.
 *
 * With `bundle`, runs the production bundle (`apps/<entry>/dist/index.js`, made by
 * `scripts/build-apps.mjs`) instead of the sources; `cwd` (bundle only: tsx is found from the
 * working directory) runs it from another folder, as a host that shares no files would.
 */
export const spawnApp = (
  entry: 'api' | 'worker',
  env: Record<string, string>,
  options: { bundle?: boolean; cwd?: string } = {},
): AppProcess => {
  const args = options.bundle
    ? [`${REPO_ROOT}apps/${entry}/dist/index.js`]
    : ['--import', 'tsx', `apps/${entry}/src/index.ts`]
  const child = spawn(process.execPath, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const listeners = new Set<() => void>()
  const onData = (chunk: Buffer) => {
    out += chunk.toString()
    for (const l of listeners) l()
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, sig) => {
      for (const l of listeners) l()
      resolve(code ?? sig ?? 'unknown')
    }),
  )
  const matches = (text: string | RegExp) => (typeof text === 'string' ? out.includes(text) : text.test(out))
  return {
    child,
    output: () => out,
    exited,
    waitForOutput: (text, timeoutMs = 20_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (matches(text)) done(resolve)
          else if (child.exitCode !== null || child.signalCode !== null) {
            done(() => reject(new Error(`${entry} exited before printing ${text}:\n${out}`)))
          }
        }
        const timer = setTimeout(
          () => done(() => reject(new Error(`${entry} did not print ${text} in ${timeoutMs} ms:\n${out}`))),
          timeoutMs,
        )
        const done = (finish: () => void) => {
          clearTimeout(timer)
          listeners.delete(check)
          finish()
        }
        listeners.add(check)
        check()
      }),
    signal: (sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig)
      return exited
    },
  }
}
