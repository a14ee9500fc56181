// The polling design Dormant replaces: every client asks GET /check-status every few
// seconds; each request loads the user, activates them if their timer has passed, sets
// goal to 1 when active, saves, and answers the user as JSON (with Express's headers).
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import { announceListening, type BaselineUser, openBaselineDb, toJson, userIdFrom } from './baseline-db.js'

const db = openBaselineDb(process.env.DB_PATH ?? '', Number(process.env.USERS ?? 0))
const load = db.prepare('select * from users where id = ?')
const save = db.prepare(
  'update users set status = @status, goal = @goal, hibernation_ends_at = @hibernation_ends_at, version = @version, updated_at = @updated_at where id = @id',
)

const server = createServer((req, res) => {
  const id = userIdFrom(req.headers.cookie)
  const user = req.url === '/check-status' && id ? (load.get(id) as BaselineUser | undefined) : undefined
  if (!user) {
    res.writeHead(404).end()
    return
  }
  const now = Date.now()
  if (user.status === 'hibernating' && user.hibernation_ends_at !== null && user.hibernation_ends_at <= now) {
    user.status = 'active'
    user.hibernation_ends_at = null
  }
  if (user.status === 'active') user.goal = 1
  user.version += 1
  user.updated_at = now
  save.run(user)
  const body = toJson(user)
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
