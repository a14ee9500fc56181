// `npm test`: checks the services the suite runs against for real, builds the web app the
// browser tests load, then runs every vitest project on both backends, SQLite then PostgreSQL
// (each test makes its own database on the server at TEST_POSTGRES_URL), each line of output
// prefixed with its backend.
//
//   npm test                      both backends
//   npm test -- --db sqlite       one backend (sqlite | postgres)
//   npm test -- tests/faults      extra arguments go to vitest
import { spawn, spawnSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { buildWeb } from './build-web.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
const adminUrl = process.env.TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres'

const args = process.argv.slice(2)
const dbFlag = args.indexOf('--db')
const backends = dbFlag === -1 ? ['sqlite', 'postgres'] : [args[dbFlag + 1]]
if (dbFlag !== -1) args.splice(dbFlag, 2)
if (!backends.every((b) => b === 'sqlite' || b === 'postgres')) {
  process.stderr.write('--db takes sqlite or postgres\n')
  process.exit(2)
}

const reachable = async (url) => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('select 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

const missing = []
if (!has('redis-server')) missing.push('redis-server (apt-get install -y redis-server, or brew install redis)')
if (!has('/usr/bin/chromium') && !process.env.CHROMIUM_PATH) missing.push('Chromium (apt-get install -y chromium)')
if (backends.includes('postgres') && !(await reachable(adminUrl))) {
  missing.push(
    `PostgreSQL at ${adminUrl.replace(/\/\/[^@]*@/, '//')} (apt-get install -y postgresql, then ` +
      'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start; or set TEST_POSTGRES_URL; ' +
      'or run one backend: npm test -- --db sqlite)',
  )
}
if (missing.length) {
  process.stderr.write(`The tests run against real services; missing:\n  ${missing.join('\n  ')}\n`)
  process.exit(1)
}

buildWeb()

const run = (backend) =>
  new Promise((resolve) => {
    const child = spawn('npx', ['vitest', 'run', ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DORMANT_TEST_DB: backend, NO_COLOR: '1' },
    })
    const prefix = backends.length > 1 ? `[${backend}] ` : ''
    for (const [stream, out] of [
      [child.stdout, process.stdout],
      [child.stderr, process.stderr],
    ]) {
      createInterface({ input: stream }).on('line', (line) => out.write(`${prefix}${line}\n`))
    }
    child.on('close', (code) => resolve({ backend, code: code ?? 1 }))
  })

// One backend after the other: the suite measures real processes against real time, and two
// passes side by side on a small machine make its timing assertions race each other.
const results = []
for (const backend of backends) results.push(await run(backend))
for (const { backend, code } of results) process.stdout.write(`${backend}: ${code === 0 ? 'passed' : 'FAILED'}\n`)
process.exit(results.every((r) => r.code === 0) ? 0 : 1)
