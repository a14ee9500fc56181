import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort } from './ports.js'
import { REPO_ROOT } from './process.js'
import { tempDir } from './temp.js'
import { waitFor } from './wait.js'

/**
 * `deploy/haproxy.cfg` with only its addresses changed: it listens on `port` on loopback
 * and balances over the given API ports. Every other setting is the deployment's own. Each
 * shipped `server api-1<suffix> <address> <options>` line (the checked one, the unchecked
 * fallback) becomes one such line per API port, in its place; the other APIs' lines go.
 */
export const balancerConfig = (port: number, apiPorts: number[]) => {
  const shipped = readFileSync(join(REPO_ROOT, 'deploy/haproxy.cfg'), 'utf8')
  const lines = shipped.split('\n')
  const isServer = (line: string) => /^\s*server\s/.test(line)
  const template = /^\s*server\s+api-1(\S*)\s+\S+(.*)$/
  const binds = lines.filter((l) => /^\s*bind\s/.test(l)).length
  const servers = lines.filter(isServer)
  if (binds !== 1 || !servers.some((l) => template.test(l)) || !servers.every((l) => /^\s*server\s+api-\d/.test(l))) {
    throw new Error('deploy/haproxy.cfg: expected one bind line and server lines named api-<n>')
  }
  const swap = (line: string) => {
    if (/^\s*bind\s/.test(line)) return [`  bind 127.0.0.1:${port}`]
    if (!isServer(line)) return [line]
    const [, suffix, options] = template.exec(line) ?? []
    return suffix === undefined ? [] : apiPorts.map((p, i) => `  server api-${i + 1}${suffix} 127.0.0.1:${p}${options}`)
  }
  return lines.flatMap(swap).join('\n')
}

export type Balancer = { url: string; output(): string; stop(): Promise<void> }

/** Debian's HAProxy in the foreground with the shipped config, on a free loopback port. */
export const startBalancer = async (apiPorts: number[]): Promise<Balancer> => {
  const port = await freePort()
  const dir = tempDir('dormant-haproxy')
  const config = join(dir, 'haproxy.cfg')
  writeFileSync(config, balancerConfig(port, apiPorts))
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const onData = (chunk: Buffer) => {
    out += chunk.toString()
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = `http://127.0.0.1:${port}`
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`haproxy exited:\n${out}`)
      return (await fetch(`${url}/healthz`).catch(() => undefined))?.status === 200
    },
    { what: `haproxy on ${port} to answer /healthz`, timeoutMs: 15_000 },
  )
  return {
    url,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
