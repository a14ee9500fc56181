import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { serveStatic } from '@hono/node-server/serve-static'
import { Hono } from 'hono'
import type { AppEnv } from '../context.js'

/** Swagger UI from the installed package, so the docs page works without internet access. */
const ASSETS = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Dormant API</title>
    <link rel="stylesheet" href="/api/docs/assets/swagger-ui.css" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/api/docs/assets/swagger-ui-bundle.js"></script>
    <script>SwaggerUIBundle({ url: '/api/openapi.json', dom_id: '#swagger-ui' })</script>
  </body>
</html>
`

export const docsRoutes = () =>
  new Hono<AppEnv>()
    .get('/api/docs', (c) => c.html(PAGE))
    .use(
      '/api/docs/assets/*',
      serveStatic({ root: ASSETS, rewriteRequestPath: (path) => path.replace('/api/docs/assets', '') }),
    )
