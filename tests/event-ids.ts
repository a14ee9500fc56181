/**
 * The commit-order position an SSE id names. Servers send `<epoch>:<n>` (the epoch is base 36)
 * and accept a bare `<n>` back; this reads both, so tests compare positions, not strings.
 */
export const eventPosition = (id: string | number | undefined): number => {
  const n = Number(String(id).split(':').at(-1))
  if (id === undefined || !Number.isSafeInteger(n)) throw new Error(`not an event id: ${id}`)
  return n
}

