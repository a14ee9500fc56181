import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { postgresAdminUrl, queryDb, tempDbPath } from '@dormant/testing'
import type { DbEvent, DbState } from './history.js'
import { startProxy } from './proxy.js'

export type DbKind = 'sqlite' | 'postgres'

/** One provisioned database: the env the processes need, and a read-only look at the end. */
export type ProvisionedDb = {
  describe: string
  env: Record<string, string>
  /** Copies events committed since the last call: the API prunes old ones during the run. */
  archive(): Promise<void>
  /** Everything at the end; events include the archived ones since pruned. */
  read(): Promise<DbState>
  /** A restart of the database server as every Dormant process sees it; absent where none makes sense. */
  restart?(pauseMs: number): Promise<void>
  cleanup(): Promise<void>
}

export class BackendUnavailable extends Error {}

/**
 * The campaign's only backend-specific module: a fresh database per run, the env that points
 * every process at it, and the same four facts read back through `queryDb` on either backend.
 */
export const provisionDb = async (kind: DbKind): Promise<ProvisionedDb> =>
  kind === 'postgres' ? provisionPostgres() : provisionSqlite()

const provisionSqlite = async (): Promise<ProvisionedDb> => {
  const path = tempDbPath()
  // Before the first API has created it there is nothing to read, and opening would create it.
  const reader = createReader(path, () => existsSync(path))
  return { describe: `SQLite ${path}`, env: { DB_PATH: path }, ...reader, cleanup: async () => {} }
}

/** How the checker's own connections name themselves, so a restart leaves them alone. */
const CHECKER_APP = 'dormant-chaos-checker'

/**
 * A new database on the server at `TEST_POSTGRES_URL` (or the local one), dropped at the end.
 * The processes reach it through one TCP proxy, so a "restart" hits them all and no one else:
 * the shared cluster itself is never restarted (other runs and tests use it).
 */
const provisionPostgres = async (): Promise<ProvisionedDb> => {
  const admin = new URL(postgresAdminUrl())
  const name = `dormant_chaos_${process.pid}_${randomBytes(4).toString('hex')}`
  try {
    await queryDb(admin.toString(), `create database ${name}`)
  } catch (err) {
    throw new BackendUnavailable(`no PostgreSQL at ${admin.host}: ${String(err)}`)
  }
  const direct = new URL(admin)
  direct.pathname = `/${name}`
  const proxy = await startProxy(Number(admin.port || 5432), admin.hostname)
  const viaProxy = new URL(direct)
  viaProxy.host = `127.0.0.1:${proxy.port}`
  const checker = new URL(direct)
  checker.searchParams.set('application_name', CHECKER_APP)
  const reader = createReader(checker.toString(), () => true)
  return {
    describe: `PostgreSQL database ${name} on ${admin.host} (through a proxy on ${proxy.port})`,
    env: { DATABASE_URL: viaProxy.toString() },
    ...reader,
    /**
     * What a PostgreSQL restart does to the processes: the server ends every session of the
     * run's database (`pg_terminate_backend`, so each sees the real "terminating connection
     * due to administrator command"), and the proxy then cuts whatever reconnected in between
     * and refuses new connections for `pauseMs`, as a server still starting up would.
     */
    restart: async (pauseMs) => {
      await queryDb(
        admin.toString(),
        'select pg_terminate_backend(pid) from pg_stat_activity where datname = ? and application_name <> ? and pid <> pg_backend_pid()',
        [name, CHECKER_APP],
      )
      proxy.partition('refuse')
      await new Promise((resolve) => setTimeout(resolve, pauseMs))
      proxy.heal()
    },
    cleanup: async () => {
      await proxy.close()
      await queryDb(admin.toString(), `drop database if exists ${name} with (force)`)
    },
  }
}

/** Events archived as they are committed (pruning removes them later) and the end state, from `location`. */
const createReader = (location: string, ready: () => boolean) => {
  const archived = new Map<number, DbEvent>()
  // One archive at a time: a slow read must not race the next tick's.
  let archiving = Promise.resolve()
  const archive = () => {
    const next = archiving.then(async () => {
      if (!ready()) return
      for (const e of await readEvents(location, Math.max(0, ...archived.keys()))) archived.set(e.id, e)
    })
    archiving = next.catch(() => {})
    return next
  }
  return {
    archive,
    read: async (): Promise<DbState> => {
      await archive()
      return { ...(await readState(location)), events: [...archived.values()].sort((a, b) => a.id - b.id) }
    },
  }
}

// PostgreSQL hands bigint columns back as text: every number read here goes through Number.

const readEvents = async (location: string, after: number): Promise<DbEvent[]> =>
  (
    await queryDb<Omit<DbEvent, 'data'> & { data: string }>(
      location,
      'select id, user_id as "userId", type, data, created_at as "createdAt" from events where id > ? order by id',
      [after],
    )
  ).map((e) => ({ ...e, id: Number(e.id), createdAt: Number(e.createdAt), data: JSON.parse(e.data) as unknown }))

const readState = async (location: string): Promise<Omit<DbState, 'events'>> => {
  const [hibernations, rows, versions] = await Promise.all([
    queryDb<DbState['hibernations'][number]>(
      location,
      'select id, user_id as "userId", status, ends_at as "endsAt", finished_at as "finishedAt" from hibernations',
    ),
    queryDb<{ id: string; n: number }>(
      location,
      'select hibernation_id as id, cast(count(*) as integer) as n from transactions where hibernation_id is not null group by hibernation_id',
    ),
    queryDb<{ id: string; version: number }>(location, 'select id, version from users'),
  ])
  return {
    hibernations: hibernations.map((h) => ({
      ...h,
      endsAt: Number(h.endsAt),
      finishedAt: h.finishedAt === null ? null : Number(h.finishedAt),
    })),
    historyRows: new Map(rows.map((r) => [r.id, r.n])),
    versions: new Map(versions.map((u) => [u.id, Number(u.version)])),
  }
}
