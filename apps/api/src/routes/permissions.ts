import { PERMISSIONS } from '@dormant/core'
import { createRoute, z } from '@hono/zod-openapi'
import { requireSession } from '../auth/session.js'
import type { Deps } from '../deps.js'
import { router } from '../router.js'
import { authErrors, json } from '../schemas.js'

const catalogue = createRoute({
  method: 'get',
  path: '/',
  tags: ['permissions'],
  security: [{ session: [] }],
  summary: 'The permission catalogue',
  responses: {
    200: json(z.object({ permissions: z.array(z.object({ name: z.string(), description: z.string() })) }), 'Catalogue'),
    ...authErrors,
  },
})

export const permissionsRoutes = (deps: Deps) =>
  router(requireSession(deps)).openapi(catalogue, (c) =>
    c.json({ permissions: PERMISSIONS.map((p) => ({ ...p })) }, 200),
  )
