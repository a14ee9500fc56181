/** `npm run db:migrate`: creates the database if needed and applies pending migrations. */
import { closeDb, isPostgresUrl, openDb } from './index.js'

const location = process.env.DATABASE_URL || process.env.DB_PATH || './data/dormant.db'
await closeDb(await openDb(location))
process.stderr.write(`Database ready at ${isPostgresUrl(location) ? new URL(location).host : location}\n`)
