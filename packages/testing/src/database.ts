import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import pg from 'pg'
import { inject } from 'vitest'
import { tempDir } from './temp.js'

export type TestBackend = 'sqlite' | 'postgres'

/** The backend this run of the suite tests: `DORMANT_TEST_DB=postgres`, or SQLite. */
export const testBackend = (): TestBackend => (process.env.DORMANT_TEST_DB === 'postgres' ? 'postgres' : 'sqlite')

/** The server's maintenance database, where test databases are created and dropped. */
export const postgresAdminUrl = () => process.env.TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres'

const adminQuery = async (sql: string) => {
  const client = new pg.Client({ connectionString: postgresAdminUrl() })
  await client.connect()
  try {
    return await client.query(sql)
  } finally {
    await client.end()
  }
}

/**
 * A fresh, empty database of its own on the backend under test: a SQLite path in a new
 * folder, or a new PostgreSQL database whose name carries this run's id, dropped when the
 * run ends (global setup). Returns its location, which `openDb` and `databaseEnv` take.
 */
export const tempDatabase = async (backend: TestBackend = testBackend()): Promise<string> => {
  if (backend === 'sqlite') return join(tempDir('dormant-db'), 'test.db')
  const name = `${testDatabasePrefix(inject('runId'))}${randomBytes(5).toString('hex')}`
  await adminQuery(`create database ${name}`)
  const url = new URL(postgresAdminUrl())
  url.pathname = `/${name}`
  return url.toString()
}

/** The environment a Dormant process needs to use the database at `location`. */
export const databaseEnv = (location: string): Record<string, string> =>
  /^postgres(ql)?:\/\//.test(location) ? { DATABASE_URL: location } : { DB_PATH: location }

export const testDatabasePrefix = (runId: string) => `dormant_t_${runId}_`

/** Drops every database this run created (global teardown). */
export const dropTestDatabases = async (runId: string) => {
  const { rows } = await adminQuery(
    `select datname from pg_database where datname like '${testDatabasePrefix(runId)}%'`,
  )
  for (const { datname } of rows as { datname: string }[]) {
    await adminQuery(`drop database if exists ${datname} with (force)`)
  }
}

/**
 * Runs one SQL statement straight against a test database, for a test to look at (or set
 * up) rows beneath the data functions. Write it in the SQL both backends share, with `?`
 * placeholders; cast aggregates (`cast(count(*) as integer)`), since PostgreSQL returns
 * bigint counts as text.
 */
export const queryDb = async <T = Record<string, unknown>>(
  location: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> => {
  if (/^postgres(ql)?:\/\//.test(location)) {
    let n = 0
    const text = sql.replace(/\?/g, () => `$${++n}`)
    return (await poolFor(location).query(text, params)).rows as T[]
  }
  const { default: Database } = await import('better-sqlite3')
  const db = new Database(location)
  try {
    db.pragma('busy_timeout = 10000')
    const statement = db.prepare(sql)
    if (statement.reader) return statement.all(...params) as T[]
    statement.run(...params)
    return []
  } finally {
    db.close()
  }
}

const pools = new Map<string, pg.Pool>()

/**
 * A few connections per test database, shared by every `queryDb` on it: a test that looks at
 * a thousand rows at once must not open a thousand connections (the server allows about a
 * hundred). Idle connections do not keep the process alive, and one the server ends (the
 * database dropped) is discarded quietly.
 */
const poolFor = (location: string) => {
  let pool = pools.get(location)
  if (!pool) {
    pool = new pg.Pool({ connectionString: location, max: 4, idleTimeoutMillis: 1000, allowExitOnIdle: true })
    pool.on('error', () => {})
    pools.set(location, pool)
  }
  return pool
}
