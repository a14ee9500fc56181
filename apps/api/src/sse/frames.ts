import type { DormantEvent } from '@dormant/core'

export const RETRY_MS = 2000

export const retryFrame = () => `retry: ${RETRY_MS}\n\n`

export const pingFrame = ': ping\n\n'

/** An SSE id: the event's position, prefixed by the epoch of the database's ids. */
export const streamId = (epoch: string, position: number) => `${epoch}:${position}`

/** One SSE event. JSON never contains a raw newline, so `data:` is always one line. */
export const eventFrame = (type: string, data: unknown, id?: string) =>
  `${id === undefined ? '' : `id: ${id}\n`}event: ${type}\ndata: ${JSON.stringify(data)}\n\n`

/** One SSE event whose data is already JSON text (as stored in the events table). */
export const rawFrame = (type: string, json: string, id: string) => `id: ${id}\nevent: ${type}\ndata: ${json}\n\n`

export const frameOf = (event: DormantEvent, epoch: string) =>
  eventFrame(event.type, event.data, streamId(epoch, event.id))
