// `npm start`: the whole system on one machine. Installs dependencies when missing, builds
// the web app and bundles the API and the worker, makes sure a Redis answers at REDIS_URL (starting a local redis-server with
// AOF under ./data/redis when none does), applies migrations, then runs the API and the
// worker, stopping both on Ctrl-C or SIGTERM.
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { Socket } from 'node:net'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const run = (script, args = []) =>
  spawnSync(process.execPath, [`${root}scripts/${script}`, ...args], { stdio: 'inherit' })
if (run('ensure-install.mjs').status !== 0) process.exit(1)
const { buildWeb } = await import('./build-web.mjs')
const { buildApps } = await import('./build-apps.mjs')
buildWeb()
await buildApps()

const node = (entry) => [process.execPath, [`${root}${entry}`]]
const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
const redisPort = Number(redisUrl.port || 6379)
const children = new Set()

const answers = () =>
  new Promise((resolve) => {
    const socket = new Socket()
    const done = (ok) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.connect(redisPort, redisUrl.hostname, () => {
      socket.write('PING\r\n')
      socket.once('data', (data) => done(/PONG|NOAUTH/.test(String(data))))
    })
  })

const isLocal = ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(redisUrl.hostname)
if (!(await answers())) {
  const hasRedis = spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status === 0
  if (!isLocal || !hasRedis) {
    process.stderr.write(
      `Nothing answers at ${redisUrl.href} and ${isLocal ? 'redis-server is not installed' : 'it is not on this machine'}.\n` +
        'Get a Redis 7 with one of:\n  sudo apt-get install -y redis-server\n  brew install redis\n  docker compose up -d redis\n' +
        'or point REDIS_URL at one.\n',
    )
    process.exit(1)
  }
  const dir = `${root}data/redis`
  mkdirSync(dir, { recursive: true })
  process.stderr.write(`Starting redis-server on port ${redisPort} (data in ./data/redis, AOF on)…\n`)
  const redis = spawn(
    'redis-server',
    // hz 100: Redis wakes blocked BullMQ workers on its timer ticks, so timers fire within ~10 ms, not ~100.
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes'].concat([
      '--maxmemory-policy',
      'noeviction',
      '--hz',
      '100',
    ]),
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
  children.add(redis)
  for (let i = 0; i < 100 && !(await answers()); i++) await new Promise((r) => setTimeout(r, 100))
  if (!(await answers())) {
    process.stderr.write('redis-server did not start.\n')
    process.exit(1)
  }
}

// One-off, so it runs from the sources (tsx as a loader, in this one process).
const migrate = spawnSync(process.execPath, ['--import', 'tsx', `${root}packages/db/src/migrate-cli.ts`], {
  cwd: root,
  stdio: 'inherit',
})
if (migrate.status !== 0) process.exit(migrate.status ?? 1)

let stopping = false
const stopAll = (code) => {
  if (stopping) return
  stopping = true
  const apps = [...children].filter((c) => c.spawnargs.includes('redis-server') === false)
  for (const child of apps) child.kill('SIGTERM')
  // Redis goes last, once the API and worker have let go of it.
  Promise.all(apps.map((c) => new Promise((r) => (c.exitCode !== null ? r() : c.once('exit', r))))).then(() => {
    for (const child of children) child.kill('SIGTERM')
    process.exitCode = code
  })
}

for (const app of ['api', 'worker']) {
  const child = spawn(...node(`apps/${app}/dist/index.js`), { cwd: root, stdio: 'inherit' })
  children.add(child)
  child.on('exit', (code, signal) => {
    children.delete(child)
    if (!stopping) {
      process.stderr.write(`${app} exited (${code ?? signal}); stopping everything.\n`)
      stopAll(code || 1)
    }
  })
}
process.on('SIGINT', () => stopAll(0))
process.on('SIGTERM', () => stopAll(0))
