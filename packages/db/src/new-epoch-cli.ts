/**
 * `npm run db:new-epoch`: draws a new epoch for SSE ids. Run it after restoring the database
 * from a backup (a SQLite file copied back, a PostgreSQL dump loaded into the same database):
 * ids handed out after the backup was taken may be handed out again for other events, and the
 * new epoch makes every client holding one of them start over from a fresh snapshot.
 * PostgreSQL's epoch also changes by itself on failover, point-in-time recovery and a new
 * cluster (docs/deploy.md).
 */
import { closeDb, newStreamEpoch, openDb, streamEpoch } from './index.js'

const location = process.env.DATABASE_URL || process.env.DB_PATH || './data/dormant.db'
const db = await openDb(location)
const before = await streamEpoch(db)
const after = await newStreamEpoch(db)
await closeDb(db)
process.stderr.write(`Stream epoch ${before} → ${after}: connected clients get a fresh snapshot when they reconnect.\n`)
