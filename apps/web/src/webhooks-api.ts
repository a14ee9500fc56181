import type { WebhookDeliveryJson } from '@dormant/client'

/** The admin webhook endpoints (DESIGN.md); plain fetch, beside the shared client. */
export type WebhookEndpoint = {
  id: string
  url: string
  events: string[]
  enabled: boolean
  createdAt: string
  disabledReason?: string
}

/** As the API and the admin stream send it. */
export type WebhookDelivery = WebhookDeliveryJson

export const WEBHOOK_EVENT_TYPES = ['hibernation.completed', 'user.updated', 'transaction.created'] as const

const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) {
    const error = (await res.json().catch(() => null)) as { error?: { message?: string } } | null
    throw new Error(error?.error?.message ?? `HTTP ${res.status}`)
  }
  return (res.status === 204 || res.status === 202 ? undefined : await res.json()) as T
}

const id = encodeURIComponent

export const webhooksApi = {
  list: async () => (await call<{ endpoints: WebhookEndpoint[] }>('GET', '/api/webhooks')).endpoints,
  create: (url: string, events: string[]) =>
    call<{ endpoint: WebhookEndpoint; secret: string }>('POST', '/api/webhooks', { url, events }),
  remove: (endpointId: string) => call<void>('DELETE', `/api/webhooks/${id(endpointId)}`),
  rotate: (endpointId: string) => call<{ secret: string }>('POST', `/api/webhooks/${id(endpointId)}/secret`),
  deliveries: async (endpointId: string) =>
    (await call<{ deliveries: WebhookDelivery[] }>('GET', `/api/webhooks/${id(endpointId)}/deliveries?limit=50`))
      .deliveries,
  retry: (endpointId: string, deliveryId: string) =>
    call<void>('POST', `/api/webhooks/${id(endpointId)}/deliveries/${id(deliveryId)}/retry`),
}
