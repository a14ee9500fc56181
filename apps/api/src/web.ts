import { existsSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { serveStatic } from '@hono/node-server/serve-static'
import { Hono } from 'hono'
import type { AppEnv } from './context.js'

export const DEFAULT_WEB_DIST = fileURLToPath(new URL('../../web/dist', import.meta.url))

/**
 * The web app loads only its own bundled script and stylesheet and talks only to this
 * origin (fetch and EventSource), so its pages allow nothing else: an injected script or
 * an exfiltrating request is refused by the browser. Bull Board and the API docs page
 * keep their own pages' rules (both need inline script).
 */
export const WEB_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

/**
 * The built web app: files as they are, and index.html for every other page path so the
 * client router handles /login and /admin. Without a build, `/` says how to make one.
 */
export const webRoutes = (dist: string) => {
  const app = new Hono<AppEnv>().use('*', async (c, next) => {
    await next()
    c.header('Content-Security-Policy', WEB_CSP)
  })
  const index = join(dist, 'index.html')
  if (!existsSync(index)) {
    return app.get('*', (c) => c.text('The web app is not built: run `npm run build -w @dormant/web`.', 404))
  }
  const html = readFileSync(index, 'utf8')
  // serveStatic resolves `root` against the working directory, wherever the API was started.
  const root = relative(process.cwd(), dist) || '.'
  return app
    .use(
      '/assets/*',
      serveStatic({ root, onFound: (_path, c) => c.header('Cache-Control', 'public, max-age=31536000, immutable') }),
    )
    .use('*', serveStatic({ root }))
    .get('*', (c) => c.html(html))
}
