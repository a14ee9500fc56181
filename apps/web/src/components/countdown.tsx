import { useEffect, useState } from 'preact/hooks'
import { formatDateTime, formatRemaining } from '../format.js'

/** Ticks locally once a second; the end itself arrives as an event, never by asking. */
export const Countdown = ({ endsAt }: { endsAt: string }) => {
  const end = Date.parse(endsAt)
  const [now, setNow] = useState(Date.now)
  useEffect(() => {
    setNow(Date.now())
    const timer = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(timer)
  }, [end])
  const remaining = end - now
  return (
    <span class="countdown">
      <span data-testid="countdown" class="countdown-value">
        {remaining > 0 ? formatRemaining(remaining) : 'any moment now'}
      </span>
      <span class="muted">
        {' '}
        until <time dateTime={endsAt}>{formatDateTime(endsAt)}</time>
      </span>
    </span>
  )
}
