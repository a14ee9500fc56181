// The polling design Dormant replaces, as it was written: an Express app whose clients ask
// GET /check-status every few seconds. Same work per request as polling.ts (load the user,
// activate them if their timer has passed, set goal to 1 when active, save, answer JSON).
import express from 'express'
import { announceListening, checkStatus, openBaselineDb, userIdFrom } from './baseline-db.js'

const check = checkStatus(openBaselineDb(process.env.DB_PATH ?? '', Number(process.env.USERS ?? 0)))

const app = express()
app.get('/check-status', (req, res) => {
  const body = check(userIdFrom(req.headers.cookie))
  if (body === undefined) {
    res.status(404).end()
    return
  }
  // Express's own send: content type, ETag and length computed per response, as the original did.
  res.type('json').send(body)
})
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () =>
  announceListening('polling-express', server.address()),
)
// As in polling.ts: keep-alive longer than the polling period.
server.keepAliveTimeout = 65_000
