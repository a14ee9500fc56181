import { existsSync } from 'node:fs'
import { tempDbPath } from '@dormant/testing'
import Database from 'better-sqlite3'
import type { DbEvent, DbState } from './history.js'

export type DbKind = 'sqlite' | 'postgres'

/** One provisioned database: the env the processes need, and a read-only look at the end. */
export type ProvisionedDb = {
  describe: string
  env: Record<string, string>
  /** Copies events committed since the last call: the API prunes old ones during the run. */
  archive(): void
  /** Everything at the end; events include the archived ones since pruned. */
  read(): DbState
  cleanup(): Promise<void>
}

export class BackendUnavailable extends Error {}

/**
 * The campaign's only backend-specific module. PostgreSQL (issue 9) plugs in here: create a
 * database, return `DATABASE_URL`, read the same four facts back.
 */
export const provisionDb = async (kind: DbKind): Promise<ProvisionedDb> => {
  if (kind === 'postgres') {
    throw new BackendUnavailable('the PostgreSQL backend is not available yet (issue 9); run with --db sqlite for now')
  }
  const path = tempDbPath()
  const archived = new Map<number, DbEvent>()
  const archive = () => {
    if (!existsSync(path)) return
    const db = new Database(path, { readonly: true, fileMustExist: true })
    try {
      const after = Math.max(0, ...archived.keys())
      for (const e of readEvents(db, after)) archived.set(e.id, e)
    } finally {
      db.close()
    }
  }
  return {
    describe: `SQLite ${path}`,
    env: { DB_PATH: path },
    archive,
    read: () => {
      archive()
      const state = readSqlite(path)
      return { ...state, events: [...archived.values()].sort((a, b) => a.id - b.id) }
    },
    cleanup: async () => {},
  }
}

const readEvents = (db: Database.Database, after: number): DbEvent[] =>
  (
    db
      .prepare('select id, user_id as userId, type, data, created_at as createdAt from events where id > ? order by id')
      .all(after) as (Omit<DbEvent, 'data'> & { data: string })[]
  ).map((e) => ({ ...e, data: JSON.parse(e.data) as unknown }))

const readSqlite = (path: string): DbState => {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    const hibernations = db
      .prepare('select id, user_id as userId, status, ends_at as endsAt, finished_at as finishedAt from hibernations')
      .all() as DbState['hibernations']
    const rows = db
      .prepare(
        'select hibernation_id as id, count(*) as n from transactions where hibernation_id is not null group by hibernation_id',
      )
      .all() as { id: string; n: number }[]
    const versions = db.prepare('select id, version from users').all() as { id: string; version: number }[]
    return {
      events: readEvents(db, 0),
      hibernations,
      historyRows: new Map(rows.map((r) => [r.id, r.n])),
      versions: new Map(versions.map((u) => [u.id, u.version])),
    }
  } finally {
    db.close()
  }
}
