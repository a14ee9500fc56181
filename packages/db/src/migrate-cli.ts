/** `npm run db:migrate`: creates the database file if needed and applies pending migrations. */
import { closeDb, openDb } from './client.js'

const path = process.env.DB_PATH || './data/dormant.db'
closeDb(openDb(path))
process.stderr.write(`Database ready at ${path}\n`)
