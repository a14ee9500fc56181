import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { databaseEnv, freePort, REPO_ROOT, tempDatabase, tempDir, uniquePrefix, waitFor } from '@dormant/testing'
import { expect, test } from 'vitest'
import { redisUrl } from './support.js'

const ADMIN = { email: 'admin@example.com', password: 'admin-password-42' }
const TSX_LOADER = `${REPO_ROOT}node_modules/tsx/dist/loader.mjs`

test('Bull Board serves its page and every asset when the API runs from another working directory', async () => {
  expect(existsSync(TSX_LOADER)).toBe(true)
  const port = await freePort()
  const cwd = tempDir('elsewhere')
  const child = spawn(
    process.execPath,
    ['--import', pathToFileURL(TSX_LOADER).href, `${REPO_ROOT}apps/api/src/index.ts`],
    {
      cwd,
      env: {
        ...process.env,
        PORT: String(port),
        ...databaseEnv(await tempDatabase()),
        REDIS_URL: redisUrl(),
        REDIS_PREFIX: uniquePrefix(),
        ADMIN_EMAIL: ADMIN.email,
        ADMIN_PASSWORD: ADMIN.password,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  try {
    await waitFor(() => output.includes('api listening') || child.exitCode !== null, { timeoutMs: 30_000, what: 'api' })
    expect(output).toContain('api listening')
    const base = `http://127.0.0.1:${port}`
    const login = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    })
    expect(login.status).toBe(200)
    const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!

    const page = await fetch(`${base}/admin/queues`, { headers: { cookie, accept: 'text/html' } })
    expect(page.status).toBe(200)
    const html = await page.text()
    const assets = [...html.matchAll(/(?:src|href)="([^"]*static\/[^"]+)"/g)].map(
      (m) => new URL(m[1]!, `${base}/admin/queues/`),
    )
    expect(assets.filter((a) => a.pathname.endsWith('.js')).length).toBeGreaterThan(0)
    for (const asset of assets) {
      const res = await fetch(asset, { headers: { cookie } })
      expect(res.status, asset.pathname).toBe(200)
      if (asset.pathname.endsWith('.js')) expect(res.headers.get('content-type')).toMatch(/javascript/)
      await res.arrayBuffer()
    }
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)))
  }
})
