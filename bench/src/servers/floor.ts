// The floor: a bare node:http server holding SSE responses and writing the same frames the
// API writes (snapshot, heartbeats on a wheel, events from the same Redis channel), with no
// framework, no auth and no DB. Dormant's figures are reported as ratios to this.
import { createServer, type ServerResponse } from 'node:http'
import { Redis } from 'ioredis'

const PORT = Number(process.env.PORT ?? 0)
const HEARTBEAT_MS = Number(process.env.HEARTBEAT_MS ?? 15_000)
const CHANNEL = process.env.CHANNEL ?? ''
const SLOTS = 100

const byUser = new Map<string, Set<ServerResponse>>()
const wheel: Set<ServerResponse>[] = Array.from({ length: SLOTS }, () => new Set())
let nextSlot = 0
let tick = 0

const snapshotOf = (userId: string) =>
  JSON.stringify({
    user: {
      id: userId,
      email: `${userId}@example.com`,
      name: userId,
      role: 'user',
      status: 'active',
      goal: 0,
      permissions: ['hibernation.self', 'transactions.read'],
      hibernation: null,
      version: 1,
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
    },
  })

const server = createServer((req, res) => {
  const userId = /(?:^|;\s*)uid=([^;]+)/.exec(req.headers.cookie ?? '')?.[1]
  if (req.url !== '/events' || !userId) {
    res.writeHead(404).end()
    return
  }
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
  })
  res.flushHeaders()
  res.socket?.setNoDelay(true)
  res.write(`retry: 2000\n\nevent: snapshot\ndata: ${snapshotOf(userId)}\n\n`)
  const set = byUser.get(userId) ?? new Set<ServerResponse>()
  byUser.set(userId, set)
  set.add(res)
  const slot = wheel[nextSlot++ % SLOTS]
  slot?.add(res)
  res.on('close', () => {
    set.delete(res)
    slot?.delete(res)
  })
})
server.keepAliveTimeout = 65_000

setInterval(
  () => {
    for (const res of wheel[tick++ % SLOTS] ?? []) res.write(': ping\n\n')
  },
  Math.max(1, Math.floor(HEARTBEAT_MS / SLOTS)),
)

if (CHANNEL) {
  const sub = new Redis(process.env.REDIS_URL ?? '')
  sub.on('message', (_channel: string, raw: string) => {
    const message = JSON.parse(raw) as {
      kind: string
      events?: { id: number; userId: string; type: string; data: unknown }[]
    }
    for (const event of message.events ?? []) {
      const targets = byUser.get(event.userId)
      if (!targets) continue
      const frame = `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`
      for (const res of targets) res.write(frame)
    }
  })
  await sub.subscribe(CHANNEL)
}

server.listen(PORT, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`floor listening ${typeof address === 'object' && address ? address.port : PORT}\n`)
})
