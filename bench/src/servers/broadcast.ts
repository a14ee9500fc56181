// The second design Dormant replaces: clients hold a stream open and a server loop re-reads
// every connected user every TICK_MS and broadcasts each one to every socket.
import { createServer, type ServerResponse } from 'node:http'
import { announceListening, type BaselineUser, openBaselineDb, toJson, userIdFrom } from './baseline-db.js'

const db = openBaselineDb(process.env.DB_PATH ?? '', Number(process.env.USERS ?? 0))
const load = db.prepare('select * from users where id = ?')
const sockets = new Map<ServerResponse, string>()

const server = createServer((req, res) => {
  const id = userIdFrom(req.headers.cookie)
  const user = req.url === '/stream' && id ? (load.get(id) as BaselineUser | undefined) : undefined
  if (!user) {
    res.writeHead(404).end()
    return
  }
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' })
  res.write(`event: snapshot\ndata: ${toJson(user)}\n\n`)
  sockets.set(res, user.id)
  res.on('close', () => sockets.delete(res))
})
server.keepAliveTimeout = 65_000

setInterval(
  () => {
    for (const id of new Set(sockets.values())) {
      const user = load.get(id) as BaselineUser | undefined
      if (!user) continue
      const frame = `event: user\ndata: ${toJson(user)}\n\n`
      for (const res of sockets.keys()) res.write(frame)
    }
  },
  Number(process.env.TICK_MS ?? 10_000),
)

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => announceListening('broadcast', server.address()))
