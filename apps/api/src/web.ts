import { existsSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { serveStatic } from '@hono/node-server/serve-static'
import { Hono } from 'hono'
import type { AppEnv } from './context.js'

export const DEFAULT_WEB_DIST = fileURLToPath(new URL('../../web/dist', import.meta.url))

/**
 * The built web app: files as they are, and index.html for every other page path so the
 * client router handles /login and /admin. Without a build, `/` says how to make one.
 */
export const webRoutes = (dist: string) => {
  const app = new Hono<AppEnv>()
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
