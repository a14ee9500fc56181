import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import { waitFor } from '@dormant/testing'
import { afterAll, expect, test } from 'vitest'
import type { Connection } from './history.js'
import { openStream } from './sse.js'

let respond: (res: ServerResponse, headers: Record<string, string | undefined>) => void = () => {}
const server = createServer((req, res) =>
  respond(res, { cookie: req.headers.cookie, last: String(req.headers['last-event-id']) }),
)
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const address = server.address()
const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/api/events`
afterAll(() => new Promise((resolve) => server.close(resolve)))

const connection = (extra: Partial<Connection> = {}): Connection => ({
  id: 1,
  client: 'c',
  userId: 'u',
  cookie: 's=1',
  via: 'api0',
  openedAt: Date.now(),
  status: 0,
  frames: [],
  stalled: false,
  ...extra,
})

test('records every event frame (split across writes), skips comments and retry, sees the server close', async () => {
  let seen: Record<string, string | undefined> = {}
  respond = (res, headers) => {
    seen = headers
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(
      'retry: 2000\n\nid: 5\nevent: snapshot\ndata: {"user":{"id":"u","version":3}}\n\n: ping\n\nid: 6\nevent: user.up',
    )
    setTimeout(() => res.end('dated\ndata: {"user":\ndata: {"id":"u"}}\n\n'), 20)
  }
  const conn = connection({ lastEventId: '4' })
  const handle = openStream(url, conn)
  expect(await handle.opened).toBe(200)
  await handle.ended
  expect(seen).toEqual({ cookie: 's=1', last: '4' })
  expect(conn.frames.map(({ at, ...f }) => f)).toEqual([
    { id: '5', event: 'snapshot', data: { user: { id: 'u', version: 3 } } },
    { id: '6', event: 'user.updated', data: { user: { id: 'u' } } },
  ])
  expect(conn.closedBy).toBe('server')
})

test('a refused stream records its status and no frame; a client close is told apart', async () => {
  respond = (res) => res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{}}')
  const refused = connection()
  const a = openStream(url, refused)
  expect(await a.opened).toBe(401)
  await a.ended
  expect(refused.frames).toEqual([])

  respond = (res) => res.writeHead(200).write('id: 1\nevent: snapshot\ndata: {}\n\n')
  const open = connection()
  const b = openStream(url, open)
  await waitFor(() => open.frames.length === 1, { what: 'snapshot' })
  b.close()
  await b.ended
  expect(open.closedBy).toBe('client')
})
