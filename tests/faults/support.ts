import { type EventType, INTERNAL_EVENT_TYPES } from '@dormant/core'
import { closeDb, createUser, openDb, startHibernation } from '@dormant/db'
import {
  type ApiClient,
  type AppProcess,
  apiClient,
  databaseEnv,
  freePort,
  queryDb,
  type SseRecorder,
  spawnApp,
  streamPosition,
  tempDatabase,
  uniquePrefix,
} from '@dormant/testing'

export const ADMIN = { email: 'admin@example.com', password: 'admin-password-42' }
export const USER_PASSWORD = 'user-password-42'

export type SystemEnv = Record<string, string> & { REDIS_URL: string; REDIS_PREFIX: string }

/**
 * The settings every process of one system under test shares: one fresh database on the
 * backend under test, one prefix.
 */
export const systemEnv = async (redisUrl: string, extra: Record<string, string> = {}): Promise<SystemEnv> => ({
  REDIS_URL: redisUrl,
  REDIS_PREFIX: uniquePrefix('sys'),
  ...databaseEnv(await tempDatabase()),
  ADMIN_EMAIL: ADMIN.email,
  ADMIN_PASSWORD: ADMIN.password,
  LOGIN_LIMIT_PER_ADDRESS: '100000',
  ...extra,
})

/** Where the processes started with `env` keep their data: what `openDb` and `queryDb` take. */
export const dbOf = (env: Record<string, string | undefined>): string => {
  const location = env.DATABASE_URL ?? env.DB_PATH
  if (!location) throw new Error('no database in this env')
  return location
}

export type Client = ApiClient

/** A client for one API base URL, signed in with this suite's admin and user passwords. */
export const client = (url: string): Client => apiClient(url, { admin: ADMIN, userPassword: USER_PASSWORD })

export type ApiProcess = AppProcess & Client & { port: number }

/** Spawns `apps/api` as a real process on a free port and waits until it listens. */
export const spawnApi = async (
  env: Record<string, string>,
  options: { bundle?: boolean } = {},
): Promise<ApiProcess> => {
  const port = await freePort()
  const proc = spawnApp('api', { HOST: '127.0.0.1', PORT: String(port), ...env }, options)
  await proc.waitForOutput('api listening', 30_000)
  return Object.assign(proc, client(`http://127.0.0.1:${port}`), { port })
}

export const spawnWorker = async (env: Record<string, string>, options: { bundle?: boolean } = {}) => {
  const proc = spawnApp('worker', env, options)
  // The exact message: a looser pattern also matched "worker error".
  await proc.waitForOutput('"msg":"worker ready"', 30_000)
  return proc
}

/** Ids of the change events of a recording, in arrival order (snapshots excluded: their id is the position). */
export const ids = (rec: SseRecorder) =>
  rec
    .events()
    .filter((f) => f.id !== undefined && f.event !== 'snapshot')
    .map((f) => streamPosition(f.id))

/** A line in the test run's output, so measured outcomes appear in the run. */
export const report = (line: string) => console.log(`[measured] ${line}`)

/**
 * The events table as the source of truth for what streams carry: ids per user (in id
 * order) after `afterId`. Internal events (a logout's `session.revoked`) never reach a
 * stream, so they are left out.
 */
export const committedEvents = async (location: string, afterId = 0) => {
  const rows = (
    await queryDb<{ id: number; userId: string; type: EventType }>(
      location,
      'select id, user_id as "userId", type from events where id > ? order by id',
      [afterId],
    )
  )
    // PostgreSQL hands bigint ids back as text.
    .map((row) => ({ ...row, id: Number(row.id) }))
    .filter((row) => !INTERNAL_EVENT_TYPES.has(row.type))
  const byUser = new Map<string, number[]>()
  for (const row of rows) byUser.set(row.userId, [...(byUser.get(row.userId) ?? []), row.id])
  return { all: rows.map((r) => r.id), rows, byUser: (userId: string) => byUser.get(userId) ?? [] }
}

/** Asserts a recording holds exactly `expected` change events, in order, none twice. */
export const sameIds = (got: number[], expected: number[]) => {
  const dupes = got.length - new Set(got).size
  const missing = expected.filter((id) => !got.includes(id)).length
  const extra = got.filter((id) => !expected.includes(id)).length
  return { ok: dupes === 0 && missing === 0 && extra === 0 && got.join() === expected.join(), dupes, missing, extra }
}

/**
 * `spawnApp` runs tsx, which runs the app in a child node process: a SIGKILL must reach that
 * one (its pid is in every pino line), or it would live on as an orphan.
 */
export const killHard = async (proc: AppProcess) => {
  const pid = Number(/"pid":(\d+)/.exec(proc.output())?.[1])
  if (!pid) throw new Error('no pid in the output yet')
  process.kill(pid, 'SIGKILL')
  return proc.exited
}

/** Users created straight in the DB (no password hashing), each with a hibernation. */
export const seedHibernations = async (location: string, count: number, durationMs: (i: number) => number) => {
  const db = await openDb(location)
  try {
    const userIds: string[] = []
    for (let i = 0; i < count; i++) {
      const created = await createUser(db, {
        email: `seed${i}-${uniquePrefix('s')}@example.com`,
        passwordHash: 'unusable',
        permissions: ['hibernation.self', 'transactions.read'],
      })
      if ('error' in created) throw new Error('seed user exists')
      const started = await startHibernation(db, created.user.id, durationMs(i))
      if ('error' in started) throw new Error(started.error)
      userIds.push(created.user.id)
    }
    return userIds
  } finally {
    await closeDb(db)
  }
}

/** The number a `select cast(count(*) as integer) as n …` returns. */
export const countOf = async (location: string, sql: string, params: unknown[] = []) => {
  const [row] = await queryDb<{ n: number }>(location, sql, params)
  if (!row) throw new Error(`no count from ${sql}`)
  return row.n
}

/** What completions did: rows per user in history and events, and what is still scheduled. */
export const completions = async (location: string) => {
  const perUser = (table: string) =>
    queryDb<{ userId: string; n: number }>(
      location,
      `select user_id as "userId", cast(count(*) as integer) as n from ${table} where type = 'hibernation.completed' group by user_id`,
    )
  const [history, events, scheduled] = await Promise.all([
    perUser('transactions'),
    perUser('events'),
    countOf(location, "select cast(count(*) as integer) as n from hibernations where status = 'scheduled'"),
  ])
  return {
    history: new Map(history.map((r) => [r.userId, r.n])),
    events: new Map(events.map((r) => [r.userId, r.n])),
    done: history.reduce((sum, r) => sum + r.n, 0),
    scheduled,
  }
}
