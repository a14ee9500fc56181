// Makes `npm start` and `npm test` work as the first command after cloning: when the
// dependencies are missing (or the lock file changed since they were installed), install
// exactly what package-lock.json says.
import { spawnSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const marker = `${root}node_modules/.package-lock.json`
const lock = `${root}package-lock.json`

const stale = !existsSync(marker) || statSync(lock).mtimeMs > statSync(marker).mtimeMs + 1000
if (stale) {
  process.stderr.write('Installing dependencies from package-lock.json (npm ci)…\n')
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) process.exit(result.status ?? 1)
}
