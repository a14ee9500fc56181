import { type HibernationQueue, hibernationJobId } from '@dormant/core'
import { queryDb } from '@dormant/testing'

/** Rows per insert statement: 500 × 5 parameters stays far under both backends' limits. */
const CHUNK = 500

/** One insert of many rows, `(?, ?, …), (?, ?, …)`: the SQL both backends share. */
const insertRows = (location: string, head: string, row: string, values: unknown[][]) =>
  queryDb(location, `${head} values ${values.map(() => row).join(', ')}`, values.flat())

/**
 * Inserts `count` users, each with a scheduled hibernation ending at `endsAt(i)`, with plain
 * multi-row inserts into the database at `location` (either backend): fast enough to measure
 * the reconciler at 100,000. For tests and measurements only; the product writes through the
 * data functions.
 */
export const seedScheduledBulk = async (
  location: string,
  count: number,
  endsAt: (i: number) => number,
  tag = 'bulk',
) => {
  const now = Date.now()
  const rows = Array.from({ length: count }, (_, i) => {
    const n = String(i).padStart(8, '0')
    return { id: `hib_${tag}${n}`, userId: `usr_${tag}${n}`, name: `${tag}${n}`, endsAt: endsAt(i) }
  })
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK)
    await insertRows(
      location,
      'insert into users (id, email, name, password_hash, role, status, goal, permissions, version, created_at, updated_at)',
      `(?, ?, ?, 'x', 'user', 'hibernating', 0, '[]', 1, ?, ?)`,
      chunk.map((r) => [r.userId, `${r.name}@example.com`, r.name, now, now]),
    )
    await insertRows(
      location,
      'insert into hibernations (id, user_id, status, started_at, ends_at)',
      `(?, ?, 'scheduled', ?, ?)`,
      chunk.map((r) => [r.id, r.userId, now, r.endsAt]),
    )
  }
  return rows.map((r) => ({ id: r.id, endsAt: r.endsAt }))
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
