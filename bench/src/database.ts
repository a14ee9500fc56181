import { randomBytes } from 'node:crypto'
import { tempDbPath } from '@dormant/testing'
import Database from 'better-sqlite3'
import pg from 'pg'

export type Backend = 'sqlite' | 'postgres'

export const BACKENDS: readonly Backend[] = ['sqlite', 'postgres']

/** The PostgreSQL server's maintenance database, where bench databases are created and dropped. */
export const postgresAdminUrl = () => process.env.BENCH_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres'

const isPostgres = (location: string) => /^postgres(ql)?:\/\//.test(location)

const adminQuery = async (sql: string) => {
  const client = new pg.Client({ connectionString: postgresAdminUrl() })
  await client.connect()
  try {
    return await client.query(sql)
  } finally {
    await client.end()
  }
}

/** Every database name this run creates starts with it, so the end of the run can drop them all. */
const RUN_PREFIX = `dormant_bench_${Date.now().toString(36)}_`

/**
 * A fresh, empty database for one scenario: a SQLite path in a new folder, or a new
 * database on the PostgreSQL server (dropped by `dropBenchDatabases`). Returns its location,
 * which `openDb`, `openRaw` and `databaseEnv` take.
 */
export const benchDatabase = async (backend: Backend): Promise<string> => {
  if (backend === 'sqlite') return tempDbPath()
  const name = `${RUN_PREFIX}${randomBytes(4).toString('hex')}`
  await adminQuery(`create database ${name}`)
  const url = new URL(postgresAdminUrl())
  url.pathname = `/${name}`
  return url.toString()
}

/** Drops the PostgreSQL databases this run created (SQLite files live in temp folders). */
export const dropBenchDatabases = async () => {
  const { rows } = await adminQuery(`select datname from pg_database where datname like '${RUN_PREFIX}%'`)
  for (const { datname } of rows as { datname: string }[]) {
    await adminQuery(`drop database if exists ${datname} with (force)`)
  }
}

/** The environment a Dormant process (or a bench server) needs to use the database at `location`. */
export const databaseEnv = (location: string): Record<string, string> =>
  isPostgres(location) ? { DATABASE_URL: location } : { DB_PATH: location }

/**
 * Raw SQL beneath the data functions, for fixtures and for counting rows while a scenario
 * runs, on one connection kept open. Statements use `?` placeholders and the SQL both
 * backends share; cast aggregates (`cast(count(*) as integer)`: PostgreSQL returns bigint as text).
 */
export type Raw = {
  all<T>(sql: string, params?: unknown[]): Promise<T[]>
  /** Inserts rows into `table` in one transaction (one statement on PostgreSQL). */
  insert(table: string, columns: string[], rows: unknown[][]): Promise<void>
  close(): Promise<void>
}

const numbered = (sql: string) => {
  let n = 0
  return sql.replace(/\?/g, () => `$${++n}`)
}

/**
 * Rows go to PostgreSQL as one array per column, unnested into one insert: one parameter
 * per column rather than one per value, so any number of rows fits in one statement (a
 * statement takes at most 65,535 parameters).
 */
const openPostgresRaw = async (url: string): Promise<Raw> => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const columnTypes = async (table: string) =>
    new Map(
      (
        await client.query<{ column_name: string; udt_name: string }>(
          'select column_name, udt_name from information_schema.columns where table_name = $1',
          [table],
        )
      ).rows.map((r) => [r.column_name, r.udt_name]),
    )
  return {
    all: async <T>(sql: string, params: unknown[] = []) => (await client.query(numbered(sql), params)).rows as T[],
    insert: async (table, columns, rows) => {
      const types = await columnTypes(table)
      const arrays = columns.map((_, c) => rows.map((row) => row[c]))
      const unnest = columns.map((column, c) => `$${c + 1}::${types.get(column) ?? 'text'}[]`)
      await client.query(
        `insert into ${table} (${columns.join(', ')}) select * from unnest(${unnest.join(', ')})`,
        arrays,
      )
    },
    close: () => client.end(),
  }
}

const openSqliteRaw = (path: string): Raw => {
  const db = new Database(path)
  db.pragma('busy_timeout = 10000')
  return {
    all: async <T>(sql: string, params: unknown[] = []) => {
      const statement = db.prepare(sql)
      if (statement.reader) return statement.all(...params) as T[]
      statement.run(...params)
      return []
    },
    insert: async (table, columns, rows) => {
      const statement = db.prepare(
        `insert into ${table} (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')})`,
      )
      db.transaction(() => {
        for (const row of rows) statement.run(...row)
      })()
    },
    close: async () => {
      db.close()
    },
  }
}

/** Opens a raw connection to an already migrated database (open it with `openDb` first). */
export const openRaw = (location: string): Promise<Raw> =>
  isPostgres(location) ? openPostgresRaw(location) : Promise.resolve(openSqliteRaw(location))

/** One integer from a `select cast(… as integer) as n` statement. */
export const count = async (raw: Raw, sql: string) => Number((await raw.all<{ n: number }>(sql))[0]?.n ?? 0)
