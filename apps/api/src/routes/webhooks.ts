import {
  checkWebhookUrl,
  enqueueDeliveries,
  newWebhookSecret,
  publishWebhookDelivery,
  RefusedDestinationError,
  WEBHOOK_EVENT_TYPES,
} from '@dormant/core'
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  deliveryJson,
  getWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  redeliver,
  rotateWebhookSecret,
} from '@dormant/db'
import { createRoute, z } from '@hono/zod-openapi'
import { requireAdmin } from '../auth/session.js'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'
import { router } from '../router.js'
import { authErrors, errors, json, jsonBody } from '../schemas.js'
import { registerWebhookMetrics } from '../webhook-metrics.js'

/** The old secret keeps signing beside the new one this long, so receivers can switch without a gap. */
const ROTATION_OVERLAP_MS = 24 * 3600_000

const EndpointSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    createdAt: z.string(),
    disabledReason: z.string().optional(),
  })
  .openapi('WebhookEndpoint')

const DeliverySchema = z
  .object({
    id: z.string().openapi({ description: 'Also the `webhook-id` header: the receiver’s idempotency key' }),
    endpointId: z.string(),
    eventId: z.number(),
    eventType: z.string(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number(),
    lastStatus: z.number().nullable(),
    lastAttemptAt: z.string().nullable(),
    latencyMs: z.number().nullable(),
    lastError: z.string().nullable(),
    nextAttemptAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('WebhookDelivery')

const CreateBody = z
  .strictObject({
    url: z.string().min(1).max(2000),
    events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1).max(WEBHOOK_EVENT_TYPES.length),
  })
  .openapi('CreateWebhookRequest')

const EmptyBody = z.strictObject({})

const param = (name: string) =>
  z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name, in: 'path' } })
const EndpointParam = z.object({ id: param('id') })
const DeliveryParam = z.object({ id: param('id'), deliveryId: param('deliveryId') })

const DeliveriesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z
    .string()
    .regex(/^\d{1,15}$/, 'a cursor from a previous page')
    .optional(),
})

const security = [{ session: [] }]
const tags = ['webhooks (admin)']
const optionalEmpty = { required: false, content: { 'application/json': { schema: EmptyBody } } }

const list = createRoute({
  method: 'get',
  path: '/',
  tags,
  security,
  summary: 'Webhook endpoints',
  responses: { 200: json(z.object({ endpoints: z.array(EndpointSchema) }), 'Endpoints'), ...authErrors },
})

const create = createRoute({
  method: 'post',
  path: '/',
  tags,
  security,
  summary: 'Add an endpoint; its signing secret is in this response only',
  request: { body: jsonBody(CreateBody) },
  responses: {
    201: json(z.object({ endpoint: EndpointSchema, secret: z.string() }), 'Created'),
    400: errors[400],
    ...authErrors,
  },
})

const remove = createRoute({
  method: 'delete',
  path: '/{id}',
  tags,
  security,
  summary: 'Delete an endpoint and its delivery log',
  request: { params: EndpointParam },
  responses: { 204: { description: 'Deleted' }, ...authErrors, 404: errors[404] },
})

const rotate = createRoute({
  method: 'post',
  path: '/{id}/secret',
  tags,
  security,
  summary: 'Rotate the signing secret; the old one keeps signing beside it for 24 h',
  request: { params: EndpointParam, body: optionalEmpty },
  responses: {
    200: json(z.object({ secret: z.string() }), 'The new secret'),
    400: errors[400],
    ...authErrors,
    404: errors[404],
  },
})

const deliveries = createRoute({
  method: 'get',
  path: '/{id}/deliveries',
  tags,
  security,
  summary: "An endpoint's delivery log, newest event first",
  request: { params: EndpointParam, query: DeliveriesQuery },
  responses: {
    200: json(z.object({ deliveries: z.array(DeliverySchema), nextCursor: z.string().nullable() }), 'A page'),
    400: errors[400],
    ...authErrors,
    404: errors[404],
  },
})

const retry = createRoute({
  method: 'post',
  path: '/{id}/deliveries/{deliveryId}/retry',
  tags,
  security,
  summary: 'Deliver again, with the same webhook-id (re-enables a disabled endpoint)',
  request: { params: DeliveryParam, body: optionalEmpty },
  responses: { 202: { description: 'Queued' }, 400: errors[400], ...authErrors, 404: errors[404] },
})

export const webhooksRoutes = (deps: Deps) => {
  registerWebhookMetrics(deps.metrics.registry, deps.db)
  const mustExist = async (id: string) => {
    if (!(await getWebhookEndpoint(deps.db, id))) throw new AppError('not_found', 'no such webhook endpoint')
  }
  return router(requireAdmin(deps))
    .openapi(list, async (c) => c.json({ endpoints: await listWebhookEndpoints(deps.db) }, 200))
    .openapi(create, async (c) => {
      const body = c.req.valid('json')
      try {
        await checkWebhookUrl(body.url, { allowPrivate: deps.config.WEBHOOK_ALLOW_PRIVATE })
      } catch (err) {
        if (!(err instanceof RefusedDestinationError)) throw err
        throw new AppError('validation_failed', `url: ${err.message}`, [{ path: ['url'], message: err.message }])
      }
      const secret = newWebhookSecret()
      const endpoint = await createWebhookEndpoint(deps.db, {
        url: body.url,
        events: [...new Set(body.events)],
        secret,
      })
      return c.json({ endpoint, secret }, 201)
    })
    .openapi(remove, async (c) => {
      if (!(await deleteWebhookEndpoint(deps.db, c.req.valid('param').id)))
        throw new AppError('not_found', 'no such webhook endpoint')
      return c.body(null, 204)
    })
    .openapi(rotate, async (c) => {
      const secret = newWebhookSecret()
      if (!(await rotateWebhookSecret(deps.db, c.req.valid('param').id, secret, ROTATION_OVERLAP_MS)))
        throw new AppError('not_found', 'no such webhook endpoint')
      return c.json({ secret }, 200)
    })
    .openapi(deliveries, async (c) => {
      const { id } = c.req.valid('param')
      await mustExist(id)
      const { limit, cursor } = c.req.valid('query')
      return c.json(
        await listWebhookDeliveries(deps.db, id, limit, cursor === undefined ? undefined : Number(cursor)),
        200,
      )
    })
    .openapi(retry, async (c) => {
      const { id, deliveryId } = c.req.valid('param')
      const row = await redeliver(deps.db, id, deliveryId)
      if (!row) throw new AppError('not_found', 'no such delivery')
      // The row is pending now: if this enqueue fails, the worker's reconciler creates the job.
      await enqueueDeliveries(deps.webhookQueue, [
        { id: row.id, redeliveries: row.redeliveries, nextAttemptAt: 0 },
      ]).catch((err) => deps.log.warn({ err, deliveryId }, 'could not queue the redelivery; the reconciler will'))
      void publishWebhookDelivery(deps.redis, deps.config.REDIS_PREFIX, deps.queue.deployment, deliveryJson(row)).catch(
        () => {},
      )
      return c.body(null, 202)
    })
}
