// The polling design's work (see polling-express.ts) on bare node:http: the cheapest polling
// can be, for a conservative ratio. It answers with the same headers Express would.
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import { announceListening, checkStatus, openBaselineDb, userIdFrom } from './baseline-db.js'

const check = checkStatus(openBaselineDb(process.env.DB_PATH ?? '', Number(process.env.USERS ?? 0)))

const server = createServer((req, res) => {
  const body = req.url === '/check-status' ? check(userIdFrom(req.headers.cookie)) : undefined
  if (body === undefined) {
    res.writeHead(404).end()
    return
  }
  res.writeHead(200, {
    'X-Powered-By': 'Express',
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ETag: `W/"${Buffer.byteLength(body).toString(16)}-${createHash('sha1').update(body).digest('base64').slice(0, 27)}"`,
  })
  res.end(body)
})
// Longer than the polling period, so clients keep their connections (kinder than Node's 5 s default).
server.keepAliveTimeout = 65_000
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => announceListening('polling', server.address()))
