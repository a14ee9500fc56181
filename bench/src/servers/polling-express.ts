// The polling design Dormant replaces, as it was written: an Express app whose clients ask
// GET /check-status every few seconds. Same work per request as polling.ts (load the user,
// activate them if their timer has passed, set goal to 1 when active, save, answer JSON).
import express from 'express'
import { announceListening, type BaselineUser, openBaselineDb, toJson, userIdFrom } from './baseline-db.js'

const db = openBaselineDb(process.env.DB_PATH ?? '', Number(process.env.USERS ?? 0))
const load = db.prepare('select * from users where id = ?')
const save = db.prepare(
  'update users set status = @status, goal = @goal, hibernation_ends_at = @hibernation_ends_at, version = @version, updated_at = @updated_at where id = @id',
)

const app = express()
app.get('/check-status', (req, res) => {
  const id = userIdFrom(req.headers.cookie)
  const user = id ? (load.get(id) as BaselineUser | undefined) : undefined
  if (!user) {
    res.status(404).end()
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
  // Express's own send: content type, ETag and length computed per response, as the original did.
  res.type('json').send(toJson(user))
})
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () =>
  announceListening('polling-express', server.address()),
)
// As in polling.ts: keep-alive longer than the polling period.
server.keepAliveTimeout = 65_000
