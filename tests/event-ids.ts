/**
 * The commit-order position an SSE id names. Servers send `<epoch>:<n>` (the epoch is base 36)
 * and accept a bare `<n>` back; this reads both, so tests compare positions, not strings.
 */
export const eventPosition = (id: string | number | undefined): number => {
  const n = Number(String(id).split(':').at(-1))
  if (id === undefined || !Number.isSafeInteger(n)) throw new Error(`not an event id: ${id}`)
  return n
}

/** A whole SSE id as sent: `<epoch>:<n>` or a bare `<n>`. */
export const EVENT_ID = /^(?:[0-9a-z]+:)?\d+$/

/** The id a stream request resumes from, in its query (`?lastEventId=`), decoded. */
export const queryEventId = (url: string) => new URL(url).searchParams.get('lastEventId')
