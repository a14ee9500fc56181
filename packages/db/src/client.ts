import { mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import * as schema from './schema.js'

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database }
/** What a write transaction's callback receives; data functions accept either. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0]

/** Found through the package, so it resolves the same from the sources and from a bundled app. */
const MIGRATIONS = join(dirname(createRequire(import.meta.url).resolve('@dormant/db/package.json')), 'drizzle')

/**
 * Opens (creating it and its folder if needed) and migrates the SQLite database.
 * WAL lets readers run beside the one writer; busy_timeout makes a second process wait
 * for the write lock instead of failing with SQLITE_BUSY.
 */
export const openDb = (path: string): Db => {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const sqlite = new Database(path)
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('busy_timeout = 10000')
  sqlite.pragma('synchronous = NORMAL')
  sqlite.pragma('foreign_keys = ON')
  const db = drizzle(sqlite, { schema }) as Db
  migrateWithLock(db)
  return db
}

/**
 * Two processes starting at once may race to apply the same migration; the loser's
 * transaction fails (busy or "already exists") and, on retry, finds it applied.
 */
const migrateWithLock = (db: Db) => {
  for (let attempt = 1; ; attempt++) {
    try {
      migrate(db, { migrationsFolder: MIGRATIONS })
      return
    } catch (err) {
      if (attempt >= 5) throw err
    }
  }
}

/**
 * Runs `fn` in a write transaction that takes the write lock up front (BEGIN IMMEDIATE):
 * a deferred transaction that reads first and writes later cannot wait for the lock
 * and would fail with SQLITE_BUSY when another process wrote in between.
 */
export const write = <T>(db: Db, fn: (tx: Tx) => T): T => db.transaction(fn, { behavior: 'immediate' })

export const closeDb = (db: Db) => db.$client.close()
