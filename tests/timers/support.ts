import { scheduleHibernationJobs } from '@dormant/core'
import { closeDb, createUser, type Db, openDb, startHibernation } from '@dormant/db'
import { type AppProcess, databaseEnv, queryDb, spawnApp, uniquePrefix, waitFor } from '@dormant/testing'
import { inject } from 'vitest'
import { startTestApi } from '../../apps/api/src/testing.js'

export type Hibernation = { id: string; userId: string; endsAt: number; cookie: string }

/**
 * One system under test: an in-process API, worker child processes started on demand, and the
 * test's own connection to the shared database (on the backend under test) for counting rows.
 */
export const startTimerSystem = async (options: { redisUrl?: string; workerEnv?: Record<string, string> } = {}) => {
  const api = await startTestApi(options.redisUrl ? { REDIS_URL: options.redisUrl } : {})
  const location = api.database
  const { REDIS_URL, REDIS_PREFIX } = api.deps.config
  const db = await openDb(location)
  const workers: AppProcess[] = []
  const workerEnv = {
    ...databaseEnv(location),
    REDIS_URL,
    REDIS_PREFIX,
    RECONCILE_INTERVAL_MS: '60000',
    JOB_LOCK_MS: '2000',
    ...options.workerEnv,
  }

  const startWorker = async (env: Record<string, string> = {}) => {
    const worker = spawnApp('worker', { ...workerEnv, ...env })
    workers.push(worker)
    await worker.waitForOutput('worker ready')
    return worker
  }

  /**
   * Users each starting a hibernation of `durationMs` through the admin API, in order. Users
   * are written straight to the DB (no password hashing, no login) unless a stream needs a cookie.
   */
  const hibernate = async (count: number, durationMs: number, options: { login?: boolean } = {}) => {
    const admin = await api.adminCookie()
    const users = options.login
      ? await Promise.all(Array.from({ length: count }, () => api.newUser()))
      : await Promise.all(Array.from({ length: count }, async () => ({ id: await plainUser(db), cookie: '' })))
    const out: Hibernation[] = []
    for (const user of users) {
      const res = await api.call(`/api/users/${user.id}/hibernation`, {
        method: 'POST',
        cookie: admin,
        json: { durationMs },
      })
      if (res.status !== 201) throw new Error(`start failed: ${res.status} ${await res.text()}`)
      const body = (await res.json()) as { user: { hibernation: { id: string; endsAt: string } } }
      const { id, endsAt } = body.user.hibernation
      out.push({ id, userId: user.id, endsAt: Date.parse(endsAt), cookie: user.cookie })
    }
    return out
  }

  /** As the API's start does (commit, then enqueue), without HTTP: for many hibernations quickly. */
  const hibernateDirect = async (count: number, endsAt: (i: number) => number): Promise<Hibernation[]> => {
    const out: Hibernation[] = []
    for (let i = 0; i < count; i++) {
      const userId = await plainUser(db)
      const now = Date.now()
      const started = await startHibernation(db, userId, endsAt(i) - now, now)
      if ('error' in started) throw new Error(started.error)
      out.push({ id: started.hibernation.id, userId, endsAt: started.hibernation.endsAt, cookie: '' })
    }
    await scheduleHibernationJobs(api.deps.queue, out)
    return out
  }

  return {
    api,
    db,
    location,
    workers,
    startWorker,
    hibernate,
    hibernateDirect,
    counts: (h: { id: string }) => countsOf(location, h.id),
    /** `countsOf` for every hibernation, keyed by id: for many at once. */
    countsAll: () => countsOfAll(location),
    /** Those of `hs` whose completion is committed. */
    completedAmong: async <H extends { id: string }>(hs: H[]) => {
      const status = await statuses(location)
      return hs.filter((h) => status.get(h.id) === 'completed')
    },
    /** Resolves when none of `hs` is still scheduled. */
    settled: (hs: { id: string }[], timeoutMs = 20_000) =>
      waitFor(
        async () => {
          const status = await statuses(location)
          return hs.every((h) => status.get(h.id) !== 'scheduled')
        },
        { timeoutMs, what: 'hibernations settled' },
      ),
    stop: async () => {
      await Promise.all(workers.map((w) => w.signal('SIGKILL')))
      await api.stop()
      await closeDb(db)
    },
  }
}

export type TimerSystem = Awaited<ReturnType<typeof startTimerSystem>>

/**
 * What one hibernation left behind: its status, history rows, completion events, the user.
 * Events are matched on their JSON text (as written, without spaces), which both backends
 * store as is, instead of on a JSON function each spells differently.
 */
export const countsOf = async (location: string, hibernationId: string) => {
  const [row] = await queryDb<{
    status: string
    userStatus: string
    goal: number
    transactions: number
    completedEvents: number
  }>(
    location,
    `select h.status, u.status as "userStatus", u.goal,
       (select cast(count(*) as integer) from transactions t where t.hibernation_id = h.id) as transactions,
       (select cast(count(*) as integer) from events e where e.type = 'hibernation.completed'
          and e.data like ?) as "completedEvents"
     from hibernations h join users u on u.id = h.user_id where h.id = ?`,
    [`%"hibernationId":"${hibernationId}"%`, hibernationId],
  )
  if (!row) throw new Error(`no hibernation ${hibernationId}`)
  return row
}

type Counts = Awaited<ReturnType<typeof countsOf>>

/** Every hibernation's status, by id: one statement, however many there are. */
const statuses = async (location: string) =>
  new Map(
    (await queryDb<{ id: string; status: string }>(location, 'select id, status from hibernations')).map((r) => [
      r.id,
      r.status,
    ]),
  )

/**
 * `countsOf` for every hibernation, keyed by id, in two statements: checking thousands of
 * hibernations one query each would scan the events table once per hibernation.
 */
export const countsOfAll = async (location: string): Promise<Map<string, Counts>> => {
  const rows = await queryDb<Omit<Counts, 'completedEvents'> & { id: string }>(
    location,
    `select h.id, h.status, u.status as "userStatus", u.goal,
       (select cast(count(*) as integer) from transactions t where t.hibernation_id = h.id) as transactions
     from hibernations h join users u on u.id = h.user_id`,
  )
  const completed = new Map<string, number>()
  const events = await queryDb<{ data: string }>(
    location,
    `select data from events where type = 'hibernation.completed'`,
  )
  for (const { data } of events) {
    const { hibernationId } = JSON.parse(data) as { hibernationId: string }
    completed.set(hibernationId, (completed.get(hibernationId) ?? 0) + 1)
  }
  return new Map(rows.map(({ id, ...row }) => [id, { ...row, completedEvents: completed.get(id) ?? 0 }]))
}

export const COMPLETED_ONCE = {
  status: 'completed',
  userStatus: 'active',
  goal: 1,
  transactions: 1,
  completedEvents: 1,
}

/** Waits for wall-clock time to pass `at`: the condition some timer tests are about. */
export const untilPast = (at: number) =>
  waitFor(() => Date.now() > at, { timeoutMs: Math.max(1000, at - Date.now() + 1000), what: `time past ${at}` })

export const redisUrl = () => inject('redisUrl')

export const percentiles = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
  return { n: sorted.length, min: sorted[0], p50: at(0.5), p95: at(0.95), max: sorted.at(-1) }
}

/** A user who never signs in. */
const plainUser = async (db: Db) => {
  const created = await createUser(db, {
    email: `${uniquePrefix('u')}@example.com`,
    passwordHash: 'none',
    permissions: [],
  })
  if ('error' in created) throw new Error(created.error)
  return created.user.id
}
