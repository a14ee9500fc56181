// `npm test`: checks the tools the suite runs for real, builds the web app the browser
// tests load, then runs every vitest project. Extra arguments go to vitest.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { buildWeb } from './build-web.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0

const missing = []
if (!has('redis-server')) missing.push('redis-server (apt-get install -y redis-server, or brew install redis)')
if (!has('/usr/bin/chromium') && !process.env.CHROMIUM_PATH) missing.push('Chromium (apt-get install -y chromium)')
if (missing.length) {
  process.stderr.write(`The tests run against real services; missing:\n  ${missing.join('\n  ')}\n`)
  process.exit(1)
}

buildWeb()
const result = spawnSync('npx', ['vitest', 'run', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
})
process.exit(result.status ?? 1)
