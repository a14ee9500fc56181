import type { DormantEvent } from '@dormant/core'

export const RETRY_MS = 2000

export const retryFrame = () => `retry: ${RETRY_MS}\n\n`

export const pingFrame = ': ping\n\n'

/** One SSE event. JSON never contains a raw newline, so `data:` is always one line. */
export const eventFrame = (type: string, data: unknown, id?: number) =>
  `${id === undefined ? '' : `id: ${id}\n`}event: ${type}\ndata: ${JSON.stringify(data)}\n\n`

/** One SSE event whose data is already JSON text (as stored in the events table). */
export const rawFrame = (type: string, json: string, id: number) => `id: ${id}\nevent: ${type}\ndata: ${json}\n\n`

export const frameOf = (event: DormantEvent) => eventFrame(event.type, event.data, event.id)
