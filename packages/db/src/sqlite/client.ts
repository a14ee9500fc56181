import { mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import * as schema from './schema.js'

export type SqliteDb = BetterSQLite3Database<typeof schema> & { $client: Database.Database }
/** What a write transaction's callback receives; data functions accept either. */
export type Tx = Parameters<Parameters<SqliteDb['transaction']>[0]>[0]

const BUSY_TIMEOUT_MS = 10_000

/** Found through the package, so it resolves the same from the sources and from a bundled app. */
const MIGRATIONS = join(
  dirname(createRequire(import.meta.url).resolve('@dormant/db/package.json')),
  'drizzle',
  'sqlite',
)

/**
 * Opens (creating it and its folder if needed) and migrates the SQLite database.
 * WAL lets readers run beside the one writer; busy_timeout makes a second process wait
 * for a lock instead of failing with SQLITE_BUSY.
 */
export const openSqlite = (path: string): SqliteDb => {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const sqlite = new Database(path)
  sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
  retryWhileRacing(() => sqlite.pragma('journal_mode = WAL'))
  // FULL: a commit is on disk before it returns. Under NORMAL an OS crash or power cut can
  // undo commits that clients were already sent, and their ids would be handed out again
  // for different events. Costs one fsync per commit (see docs/architecture.md).
  sqlite.pragma('synchronous = FULL')
  sqlite.pragma('foreign_keys = ON')
  const db = drizzle(sqlite, { schema }) as SqliteDb
  retryWhileRacing(() => migrate(db, { migrationsFolder: MIGRATIONS }))
  return db
}

/**
 * Processes starting at once on one new database race twice, and busy_timeout covers
 * neither: switching the file to WAL, where SQLite answers SQLITE_BUSY at once rather than
 * let two readers both wait to become the writer, and applying the same migration, where
 * the loser fails (busy or "already exists"). Each is retried after a short pause; the
 * retry finds the file in WAL and the migration applied.
 */
const retryWhileRacing = (step: () => unknown) => {
  for (let attempt = 1; ; attempt++) {
    try {
      step()
      return
    } catch (err) {
      if (attempt >= 10) throw err
      Atomics.wait(PAUSE, 0, 0, 10 * attempt)
    }
  }
}
const PAUSE = new Int32Array(new SharedArrayBuffer(4))

/**
 * Runs `fn` in a write transaction that takes the write lock up front (BEGIN IMMEDIATE):
 * a deferred transaction that reads first and writes later cannot wait for the lock
 * and would fail with SQLITE_BUSY when another process wrote in between.
 *
 * Waiting for that lock is ours, not SQLite's: its busy handler sleeps 1, 2, 5, 10 … up to
 * 100 ms between tries, so a writer can sleep long past the moment the lock came free, and
 * its whole process (an API, a worker) with it. Here BEGIN runs with busy_timeout 0 and is
 * retried after sleeps of a fraction of a millisecond, up to the same 10 s; once the lock is
 * held the normal timeout is back for the rest (docs/performance.md has the measurements).
 */
export const write = <T>(db: SqliteDb, fn: (tx: Tx) => T): T => {
  const timeout = busyTimeout(db.$client)
  const deadline = performance.now() + BUSY_TIMEOUT_MS
  for (let attempt = 1; ; attempt++) {
    let began = false
    timeout.none.get()
    try {
      return db.transaction(
        (tx) => {
          began = true
          timeout.normal.get()
          return fn(tx)
        },
        { behavior: 'immediate' },
      )
    } catch (err) {
      if (began || !isBusy(err) || performance.now() > deadline) throw err
      Atomics.wait(PAUSE, 0, 0, Math.min(2, 0.05 * attempt) * (0.5 + Math.random()))
    } finally {
      if (!began) timeout.normal.get()
    }
  }
}

const isBusy = (err: unknown) =>
  typeof err === 'object' && err !== null && String((err as { code?: unknown }).code).startsWith('SQLITE_BUSY')

const timeouts = new WeakMap<Database.Database, { none: Database.Statement; normal: Database.Statement }>()

const busyTimeout = (client: Database.Database) => {
  let t = timeouts.get(client)
  if (!t) {
    t = {
      none: client.prepare('pragma busy_timeout = 0'),
      normal: client.prepare(`pragma busy_timeout = ${BUSY_TIMEOUT_MS}`),
    }
    timeouts.set(client, t)
  }
  return t
}

export const closeSqlite = (db: SqliteDb) => db.$client.close()
