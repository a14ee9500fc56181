import type { ConnectionState } from '@dormant/client'

/** `live` once the stream is open; everything else reads as `reconnecting`. */
export const ConnectionBadge = ({ state }: { state: ConnectionState }) => {
  const label = state === 'live' ? 'live' : 'reconnecting'
  return (
    <p class={`connection connection-${label}`} role="status">
      <span class="dot" aria-hidden="true" />
      <span class="visually-hidden">Connection: </span>
      <span data-testid="connection">{label}</span>
    </p>
  )
}
