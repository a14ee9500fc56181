import { DEFAULT_PERMISSIONS } from '@dormant/core'
import { createUser, getUser, listTransactions, listUsers, setPermissions } from '@dormant/db'
import { createRoute, z } from '@hono/zod-openapi'
import { hashPassword } from '../auth/passwords.js'
import { requireAdmin } from '../auth/session.js'
import { announce, type Deps } from '../deps.js'
import { AppError } from '../errors.js'
import { cancelFor, startFor } from '../hibernation.js'
import { router } from '../router.js'
import {
  authErrors,
  errors,
  json,
  jsonBody,
  PermissionName,
  UserIdParam,
  UserResponse,
  UserSchema,
} from '../schemas.js'
import { TransactionsResponse } from './me.js'

const MAX_DURATION_MS = 31_536_000_000

const ListQuery = z.object({
  query: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(400).optional(),
})

const CreateUserBody = z
  .strictObject({
    email: z.email().max(320),
    password: z.string().min(8).max(1024),
    name: z.string().max(200).optional(),
    role: z.enum(['user', 'admin']).optional(),
    permissions: z.array(PermissionName).max(100).optional(),
  })
  .openapi('CreateUserRequest')

const PermissionsBody = z.strictObject({ permissions: z.array(PermissionName).max(100) }).openapi('PermissionsRequest')

const HibernationBody = z
  .strictObject({ durationMs: z.number().int().min(1000).max(MAX_DURATION_MS).optional() })
  .openapi('StartHibernationRequest')

const security = [{ session: [] }]
const tags = ['users (admin)']

const list = createRoute({
  method: 'get',
  path: '/',
  tags,
  security,
  summary: 'Search users by email or name, a page at a time',
  request: { query: ListQuery },
  responses: {
    200: json(z.object({ users: z.array(UserSchema), nextCursor: z.string().nullable() }), 'A page of users'),
    400: errors[400],
    ...authErrors,
  },
})

const create = createRoute({
  method: 'post',
  path: '/',
  tags,
  security,
  summary: 'Create a user',
  request: { body: jsonBody(CreateUserBody) },
  responses: { 201: json(UserResponse, 'Created'), 400: errors[400], ...authErrors, 409: errors[409] },
})

const get = createRoute({
  method: 'get',
  path: '/{id}',
  tags,
  security,
  summary: 'One user',
  request: { params: UserIdParam },
  responses: { 200: json(UserResponse, 'The user'), ...authErrors, 404: errors[404] },
})

const putPermissions = createRoute({
  method: 'put',
  path: '/{id}/permissions',
  tags,
  security,
  summary: "Replace a user's permissions; in force for their next request",
  request: { params: UserIdParam, body: jsonBody(PermissionsBody) },
  responses: { 200: json(UserResponse, 'Updated'), 400: errors[400], ...authErrors, 404: errors[404] },
})

const startHibernation = createRoute({
  method: 'post',
  path: '/{id}/hibernation',
  tags,
  security,
  summary: 'Start a hibernation for a user',
  request: {
    params: UserIdParam,
    body: { required: false, content: { 'application/json': { schema: HibernationBody } } },
  },
  responses: {
    201: json(UserResponse, 'Hibernating'),
    400: errors[400],
    ...authErrors,
    404: errors[404],
    409: errors[409],
  },
})

const cancelHibernation = createRoute({
  method: 'delete',
  path: '/{id}/hibernation',
  tags,
  security,
  summary: 'Wake a user early',
  request: { params: UserIdParam },
  responses: { 200: json(UserResponse, 'Active again'), ...authErrors, 404: errors[404], 409: errors[409] },
})

const transactions = createRoute({
  method: 'get',
  path: '/{id}/transactions',
  tags,
  security,
  summary: "A user's transaction history, newest first",
  request: { params: UserIdParam },
  responses: { 200: json(TransactionsResponse, 'History'), ...authErrors, 404: errors[404] },
})

const mustExist = async (deps: Deps, id: string) => {
  const user = await getUser(deps.db, id)
  if (!user) throw new AppError('not_found', 'no such user')
  return user
}

export const usersRoutes = (deps: Deps) =>
  router(requireAdmin(deps))
    .openapi(list, async (c) => c.json(await listUsers(deps.db, c.req.valid('query')), 200))
    .openapi(create, async (c) => {
      const body = c.req.valid('json')
      const result = await createUser(deps.db, {
        email: body.email,
        passwordHash: await hashPassword(body.password),
        name: body.name,
        role: body.role,
        permissions: body.permissions ?? DEFAULT_PERMISSIONS,
      })
      if ('error' in result) throw new AppError('conflict', 'a user with that email exists')
      announce(deps, result.events)
      return c.json({ user: result.user }, 201)
    })
    .openapi(get, async (c) => c.json({ user: await mustExist(deps, c.req.valid('param').id) }, 200))
    .openapi(putPermissions, async (c) => {
      const result = await setPermissions(deps.db, c.req.valid('param').id, c.req.valid('json').permissions)
      if (!result) throw new AppError('not_found', 'no such user')
      announce(deps, result.events)
      return c.json({ user: result.user }, 200)
    })
    .openapi(startHibernation, async (c) => {
      const { id } = c.req.valid('param')
      return c.json({ user: await startFor(deps, id, c.req.valid('json').durationMs) }, 201)
    })
    .openapi(cancelHibernation, async (c) => c.json({ user: await cancelFor(deps, c.req.valid('param').id) }, 200))
    .openapi(transactions, async (c) => {
      const { id } = c.req.valid('param')
      await mustExist(deps, id)
      return c.json({ transactions: await listTransactions(deps.db, id) }, 200)
    })
