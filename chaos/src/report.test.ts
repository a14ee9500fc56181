import { expect, test } from 'vitest'
import type { Connection, History } from './history.js'
import { streamRecovery } from './report.js'

const conn = (c: Partial<Connection> & Pick<Connection, 'id' | 'openedAt'>): Connection => ({
  client: 'user0',
  userId: 'u',
  cookie: 'k',
  via: 'balancer',
  status: 200,
  frames: [],
  stalled: false,
  ...c,
})

test('a stream the server ended counts until the first frame of that client’s next served stream', () => {
  const frame = (at: number) => ({ event: 'snapshot', data: {}, at })
  const history = {
    connections: [
      conn({ id: 1, openedAt: 0, frames: [frame(10)], closedAt: 1000, closedBy: 'server' }),
      // refused while the API was down: not served, so the gap runs on
      conn({ id: 2, openedAt: 1200, status: 502 }),
      conn({ id: 3, openedAt: 1500, frames: [frame(1700)], closedAt: 5000, closedBy: 'server' }),
      conn({ id: 4, openedAt: 5200, frames: [frame(5300)], closedAt: 9000, closedBy: 'client' }),
      // replaced by a reconnect before the server ended it: no time without a stream
      conn({ id: 6, client: 'user2', openedAt: 0, frames: [frame(5)], closedAt: 1000, closedBy: 'server' }),
      conn({ id: 7, client: 'user2', openedAt: 950, frames: [frame(960)] }),
      // another client's stream ended by a fault, never followed by one of its own
      conn({ id: 5, client: 'user1', openedAt: 0, frames: [frame(5)], closedAt: 1000, closedBy: 'server' }),
    ],
  } as unknown as History
  const faults = [{ kind: 'kill -9 api', target: 'api0', at: 900, recoveredMs: 500 }]
  expect(streamRecovery(history, faults)).toEqual([
    ['(no fault)', '1 streams: min 300 / median 300 / max 300 ms'],
    ['kill -9 api', '1 streams: min 700 / median 700 / max 700 ms'],
  ])
})
