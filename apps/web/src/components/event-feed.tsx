import { parseEventId, type StreamFrame } from '@dormant/client'

const summary = (frame: StreamFrame) => {
  switch (frame.type) {
    case 'user.updated': {
      const { user } = frame.data
      return `${user.email} · ${user.status} · v${user.version} · ${user.permissions.join(', ') || 'no permissions'}`
    }
    case 'transaction.created':
      return `${frame.data.transaction.type} (${frame.data.transaction.id})`
    case 'hibernation.completed':
      return `hibernation ${frame.data.hibernationId} completed`
    default:
      return ''
  }
}

/** Every event on the admin stream, newest first. */
export const EventFeed = ({ feed }: { feed: readonly StreamFrame[] }) => (
  <section class="card" aria-labelledby="feed-heading">
    <h2 id="feed-heading">Live events</h2>
    {feed.length === 0 && <p class="muted">Waiting for changes…</p>}
    <div role="log" aria-label="Live events">
      <ol class="feed" data-testid="event-feed">
        {feed.map((frame) => (
          <li key={frame.id}>
            <span class="feed-id">#{(frame.id && parseEventId(frame.id)?.position) ?? frame.id}</span>{' '}
            <code>{frame.type}</code>
            <span class="feed-summary">{summary(frame)}</span>
          </li>
        ))}
      </ol>
    </div>
  </section>
)
