import { listTransactions } from '@dormant/db'
import { createRoute, z } from '@hono/zod-openapi'
import { assertPermission, requireSession } from '../auth/session.js'
import type { Deps } from '../deps.js'
import { cancelFor, startFor } from '../hibernation.js'
import { router } from '../router.js'
import { authErrors, errors, json, TransactionSchema, UserResponse } from '../schemas.js'

export const TransactionsResponse = z.object({ transactions: z.array(TransactionSchema) })

const security = [{ session: [] }]

const me = createRoute({
  method: 'get',
  path: '/',
  tags: ['me'],
  summary: 'The signed-in user',
  security,
  responses: { 200: json(UserResponse, 'The user'), ...authErrors },
})

const startOwn = createRoute({
  method: 'post',
  path: '/hibernation',
  tags: ['me'],
  summary: 'Start your own hibernation (HIBERNATION_DURATION_MS long)',
  security,
  responses: { 201: json(UserResponse, 'Hibernating'), ...authErrors, 409: errors[409] },
})

const cancelOwn = createRoute({
  method: 'delete',
  path: '/hibernation',
  tags: ['me'],
  summary: 'Wake early',
  security,
  responses: { 200: json(UserResponse, 'Active again'), ...authErrors, 409: errors[409] },
})

const transactions = createRoute({
  method: 'get',
  path: '/transactions',
  tags: ['me'],
  summary: 'Your transaction history, newest first',
  security,
  responses: { 200: json(TransactionsResponse, 'History'), ...authErrors },
})

export const meRoutes = (deps: Deps) =>
  router(requireSession(deps))
    .openapi(me, (c) => c.json({ user: c.var.session.user }, 200))
    .openapi(startOwn, async (c) => {
      assertPermission(c.var.session, 'hibernation.self')
      return c.json({ user: await startFor(deps, c.var.session.user.id) }, 201)
    })
    .openapi(cancelOwn, async (c) => {
      assertPermission(c.var.session, 'hibernation.self')
      return c.json({ user: await cancelFor(deps, c.var.session.user.id) }, 200)
    })
    .openapi(transactions, async (c) => {
      assertPermission(c.var.session, 'transactions.read')
      return c.json({ transactions: await listTransactions(deps.db, c.var.session.user.id) }, 200)
    })
