import { INTERNAL_EVENT_TYPES } from '@dormant/core'
import { type Db, readEventsJson } from '@dormant/db'
import type { SseConnection } from './connection.js'
import { rawFrame, streamId } from './frames.js'
import { nextTurn } from './turns.js'

/** Events per page: a page costs the event loop a few milliseconds. */
const PAGE = 100

/**
 * Writes the events in (after, upTo] to the stream page by page, one page per turn, then
 * lets out the live events it held meanwhile (or reads on through them, when there were
 * too many to hold). A client that does not read holds its replay (not our memory) until
 * it reads or its lifetime ends the stream.
 */
export const replay = async (
  db: Db,
  conn: SseConnection,
  range: { after: number; upTo: number; epoch: string; userId?: string },
) => {
  let { after, upTo } = range
  for (;;) {
    if (after >= upTo) {
      // Live events the stream dropped rather than hold (see SseConnection.send) are read here.
      if (conn.replayTo <= upTo) break
      upTo = conn.replayTo
    }
    await nextTurn()
    if (conn.congested) await conn.drained()
    if (conn.closed) return
    const page = await readEventsJson(db, after, { userId: range.userId, upTo, limit: PAGE })
    let frames = ''
    for (const event of page) {
      if (INTERNAL_EVENT_TYPES.has(event.type)) continue
      if (event.type === 'transaction.created' && !conn.readsTransactions) continue
      frames += rawFrame(event.type, event.data, streamId(range.epoch, event.id))
    }
    const last = page.at(-1)?.id
    if (last !== undefined) conn.replay(last, frames)
    after = page.length < PAGE ? upTo : (last ?? upTo)
  }
  conn.goLive()
}
