// Builds the web app when its output is missing or older than its sources.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const output = join(root, 'apps/web/dist/index.html')
const sources = ['apps/web/src', 'apps/web/index.html', 'apps/web/vite.config.ts', 'packages/client/src']

const newest = (path) => {
  if (!existsSync(path)) return 0
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))))
}

export const buildWeb = ({ force = false } = {}) => {
  const built = existsSync(output) ? statSync(output).mtimeMs : 0
  if (!force && built > 0 && built >= Math.max(...sources.map((s) => newest(join(root, s))))) return
  process.stderr.write('Building the web app (vite build)…\n')
  const result = spawnSync('npm', ['run', 'build', '-w', '@dormant/web'], { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) buildWeb({ force: process.argv.includes('--force') })
