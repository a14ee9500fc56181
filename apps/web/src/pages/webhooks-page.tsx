import { isApiError, type UserJson } from '@dormant/client'
import { useEffect, useState } from 'preact/hooks'
import { api } from '../api.js'
import { Layout } from '../components/layout.js'
import { navigate } from '../router.js'
import { WEBHOOK_EVENT_TYPES, type WebhookDelivery, type WebhookEndpoint, webhooksApi } from '../webhooks-api.js'

const time = (iso: string | null) => (iso ? new Date(iso).toLocaleTimeString() : '—')

/** Endpoints, their one-time secrets, and a live delivery log with a Redeliver button. */
export const WebhooksPage = () => {
  const [endpoints, setEndpoints] = useState<WebhookEndpoint[] | null>(null)
  const [selected, setSelected] = useState<string | null>(null)
  const [deliveries, setDeliveries] = useState<WebhookDelivery[]>([])
  const [secret, setSecret] = useState<{ endpointId: string; secret: string } | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [url, setUrl] = useState('')
  const [events, setEvents] = useState<string[]>(['hibernation.completed'])

  const [me, setMe] = useState<UserJson | null>(null)
  const reload = () => webhooksApi.list().then(setEndpoints, (err: Error) => setError(err.message))
  useEffect(() => {
    api.me().then(
      (user) => {
        if (user.role !== 'admin') return navigate('/', { replace: true })
        setMe(user)
        void reload()
      },
      (err) => (isApiError(err, 'unauthorized') ? navigate('/login', { replace: true }) : setError(String(err))),
    )
  }, [])
  useEffect(() => {
    if (!selected) return
    webhooksApi.deliveries(selected).then(setDeliveries, (err: Error) => setError(err.message))
  }, [selected])

  // Live: delivery changes arrive on the admin stream as `webhook.delivery`.
  useEffect(() => {
    if (!me) return
    const source = new EventSource('/api/admin/events')
    source.addEventListener('webhook.delivery', (e) => {
      const delivery = JSON.parse((e as MessageEvent<string>).data) as WebhookDelivery
      if (delivery.status === 'failed') void reload()
      setDeliveries((current) => {
        if (delivery.endpointId !== selected) return current
        const rest = current.filter((d) => d.id !== delivery.id)
        return [delivery, ...rest].sort((a, b) => b.eventId - a.eventId)
      })
    })
    return () => source.close()
  }, [selected, me])

  const act = async (fn: () => Promise<unknown>) => {
    setError(null)
    try {
      await fn()
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err))
    }
  }

  const add = (e: Event) => {
    e.preventDefault()
    void act(async () => {
      const created = await webhooksApi.create(url, events)
      setSecret({ endpointId: created.endpoint.id, secret: created.secret })
      setUrl('')
      setSelected(created.endpoint.id)
      await reload()
    })
  }

  return (
    <Layout user={me}>
      <div class="page-head">
        <h1 tabIndex={-1}>Webhooks</h1>
        <a href="/admin">Back to admin</a>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {secret && (
        <p class="card" data-testid="webhook-secret" role="status">
          Signing secret for {secret.endpointId} — copy it now, it is not shown again: <code>{secret.secret}</code>
        </p>
      )}
      <div class="grid">
        <section class="card" aria-labelledby="add-webhook">
          <h2 id="add-webhook">Add an endpoint</h2>
          <form class="stack" onSubmit={add}>
            <label>
              URL
              <input type="url" required name="url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
            </label>
            <fieldset>
              <legend>Events</legend>
              {WEBHOOK_EVENT_TYPES.map((type) => (
                <label key={type} class="check">
                  <input
                    type="checkbox"
                    checked={events.includes(type)}
                    onChange={(e) =>
                      setEvents((cur) => (e.currentTarget.checked ? [...cur, type] : cur.filter((t) => t !== type)))
                    }
                  />
                  {type}
                </label>
              ))}
            </fieldset>
            <button type="submit">Add endpoint</button>
          </form>
        </section>
        <section class="card" aria-labelledby="webhook-endpoints">
          <h2 id="webhook-endpoints">Endpoints</h2>
          {endpoints === null ? (
            <p class="muted">Loading…</p>
          ) : endpoints.length === 0 ? (
            <p class="muted">No endpoints yet.</p>
          ) : (
            <ul data-testid="webhook-endpoints" class="stack">
              {endpoints.map((ep) => (
                <li key={ep.id}>
                  <button type="button" class="button-quiet" onClick={() => setSelected(ep.id)}>
                    {ep.url}
                  </button>{' '}
                  <span class="muted">{ep.events.join(', ')}</span>{' '}
                  {ep.enabled ? (
                    <span class="badge">enabled</span>
                  ) : (
                    <span class="badge" title={ep.disabledReason}>
                      disabled: {ep.disabledReason}
                    </span>
                  )}{' '}
                  <button
                    type="button"
                    onClick={() =>
                      act(async () =>
                        setSecret({ endpointId: ep.id, secret: (await webhooksApi.rotate(ep.id)).secret }),
                      )
                    }
                  >
                    Rotate secret
                  </button>{' '}
                  <button
                    type="button"
                    onClick={() =>
                      act(async () => {
                        await webhooksApi.remove(ep.id)
                        if (selected === ep.id) setSelected(null)
                        await reload()
                      })
                    }
                  >
                    Delete
                  </button>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
      {selected && (
        <section class="card" aria-labelledby="delivery-log">
          <h2 id="delivery-log">Delivery log</h2>
          <div class="table-scroll">
            <table data-testid="webhook-deliveries">
              <thead>
                <tr>
                  <th>Event</th>
                  <th>Status</th>
                  <th>Attempts</th>
                  <th>Last response</th>
                  <th>Last attempt</th>
                  <th>Latency</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {deliveries.map((d) => (
                  <tr key={d.id} data-delivery-id={d.id}>
                    <td>
                      {d.eventType} #{d.eventId}
                    </td>
                    <td data-testid="delivery-status">{d.status}</td>
                    <td>{d.attempts}</td>
                    <td title={d.lastError ?? ''}>{d.lastStatus ?? d.lastError ?? '—'}</td>
                    <td>{time(d.lastAttemptAt)}</td>
                    <td>{d.latencyMs === null ? '—' : `${d.latencyMs} ms`}</td>
                    <td>
                      <button type="button" onClick={() => act(() => webhooksApi.retry(selected, d.id))}>
                        Redeliver
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </Layout>
  )
}
