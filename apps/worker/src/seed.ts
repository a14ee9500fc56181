import { type HibernationQueue, hibernationJobId } from '@dormant/core'
import type { Db } from '@dormant/db'

/**
 * Inserts `count` users, each with a scheduled hibernation ending at `endsAt(i)`, in one
 * transaction of plain inserts: fast enough to measure the reconciler at 100,000.
 * For tests and measurements only; the product writes through the data functions.
 */
export const seedScheduledBulk = (db: Db, count: number, endsAt: (i: number) => number, tag = 'bulk') => {
  const now = Date.now()
  const insertUser = db.$client.prepare(
    `insert into users (id, email, name, password_hash, role, status, goal, permissions, version, created_at, updated_at)
     values (?, ?, ?, 'x', 'user', 'hibernating', 0, '[]', 1, ?, ?)`,
  )
  const insertHibernation = db.$client.prepare(
    `insert into hibernations (id, user_id, status, started_at, ends_at) values (?, ?, 'scheduled', ?, ?)`,
  )
  const rows: { id: string; endsAt: number }[] = []
  db.$client.transaction(() => {
    for (let i = 0; i < count; i++) {
      const n = String(i).padStart(8, '0')
      const userId = `usr_${tag}${n}`
      const row = { id: `hib_${tag}${n}`, endsAt: endsAt(i) }
      insertUser.run(userId, `${tag}${n}@example.com`, `${tag}${n}`, now, now)
      insertHibernation.run(row.id, userId, now, row.endsAt)
      rows.push(row)
    }
  })()
  return rows
}

/** Adds the jobs of `rows` the way the API does, 1,000 commands in flight at a time. */
export const addJobsBulk = async (queue: HibernationQueue, rows: { id: string; endsAt: number }[]) => {
  for (let i = 0; i < rows.length; i += 1000) {
    const now = Date.now()
    await queue.addBulk(
      rows.slice(i, i + 1000).map((r) => ({
        name: 'complete' as const,
        data: { h: r.id, d: queue.deployment },
        opts: { jobId: hibernationJobId(r.id), delay: Math.max(0, r.endsAt - now) },
      })),
    )
  }
}
