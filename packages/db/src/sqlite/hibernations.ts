import type { DormantEvent, UserJson } from '@dormant/core'
import { and, asc, eq, gt, inArray } from 'drizzle-orm'
import { ACTIVATION_EFFECTS, type SqliteActivationContext } from '../activation.js'
import { newId } from '../ids.js'
import type { SqliteDb as Db, Tx } from './client.js'
import { write } from './client.js'
import { hibernations } from './schema.js'
import { statements, touchUserWith } from './statements.js'

type Change = { user: UserJson; events: DormantEvent[] }

const userOf = (events: DormantEvent[]) => {
  const updated = events.findLast((e) => e.type === 'user.updated') as DormantEvent<'user.updated'> | undefined
  if (!updated) throw new Error('a change to a user must record user.updated')
  return updated.data.user
}

/** Starts a hibernation that ends at `now + durationMs`. The commit is the promise. */
export const startHibernation = (
  db: Db,
  userId: string,
  durationMs: number,
  now = Date.now(),
): (Change & { hibernation: { id: string; endsAt: number } }) | { error: 'not_found' | 'already_hibernating' } =>
  write(db, () => {
    const sql = statements(db)
    const user = sql.userStatus.get(userId)
    if (!user) return { error: 'not_found' as const }
    if (user.status === 'hibernating') return { error: 'already_hibernating' as const }
    const hibernation = { id: newId('hib'), endsAt: now + durationMs }
    sql.insertHibernation.run(hibernation.id, userId, now, hibernation.endsAt)
    const events = [touchUserWith(db, userId, now, { status: 'hibernating' })]
    return { user: userOf(events), events, hibernation }
  })

/** Wakes the user early. The hibernation's job may still fire; it will find nothing to do. */
export const cancelHibernation = (
  db: Db,
  userId: string,
  now = Date.now(),
): (Change & { hibernationId: string }) | { error: 'not_found' | 'not_hibernating' } =>
  write(db, () => {
    const sql = statements(db)
    if (!sql.userStatus.get(userId)) return { error: 'not_found' as const }
    const cancelled = sql.cancelHibernation.get(now, userId)
    if (!cancelled) return { error: 'not_hibernating' as const }
    const events = [touchUserWith(db, userId, now, { status: 'active' })]
    return { user: userOf(events), events, hibernationId: cancelled.id }
  })

export type CompletionOutcome =
  | { outcome: 'completed'; userId: string; events: DormantEvent[] }
  | { outcome: 'not_due'; endsAt: number }
  | { outcome: 'skipped'; status: 'completed' | 'cancelled' | 'missing' }

const completeInTx = (db: Db, tx: Tx, hibernationId: string, now: number): CompletionOutcome => {
  const sql = statements(db)
  const current = sql.hibernationState.get(hibernationId)
  if (!current) return { outcome: 'skipped', status: 'missing' }
  if (current.status !== 'scheduled') return { outcome: 'skipped', status: current.status }
  if (current.endsAt > now) return { outcome: 'not_due', endsAt: current.endsAt }
  const claimed = sql.claimHibernation.get(now, hibernationId)
  if (!claimed) return { outcome: 'skipped', status: 'completed' }
  const ctx: SqliteActivationContext = { tx, db, userId: claimed.userId, hibernationId, now, events: [] }
  for (const effect of ACTIVATION_EFFECTS) effect.sqlite(ctx)
  return { outcome: 'completed', userId: claimed.userId, events: ctx.events }
}

/**
 * Completes a due hibernation exactly once. The conditional update on `status = 'scheduled'`
 * is the guard: a second run, or a cancel that committed first, matches zero rows.
 */
export const completeHibernation = (db: Db, hibernationId: string, now = Date.now()): CompletionOutcome =>
  write(db, (tx) => completeInTx(db, tx, hibernationId, now))

/**
 * Completes many hibernations in one transaction (a group commit): each is guarded exactly
 * as in `completeHibernation`, and the outcomes come back in the order of `ids`.
 */
export const completeHibernations = (db: Db, ids: readonly string[], now = Date.now()): CompletionOutcome[] =>
  write(db, (tx) => ids.map((id) => completeInTx(db, tx, id, now)))

/** One page of scheduled hibernations in id order, for the reconciler. */
export const listScheduledHibernations = (db: Db, afterId: string, limit: number) =>
  db
    .select({ id: hibernations.id, endsAt: hibernations.endsAt })
    .from(hibernations)
    .where(and(eq(hibernations.status, 'scheduled'), gt(hibernations.id, afterId)))
    .orderBy(asc(hibernations.id))
    .limit(limit)
    .all()

/** Of the given ids, those whose hibernation is still scheduled. */
export const scheduledAmong = (db: Db, ids: readonly string[]): Set<string> =>
  new Set(
    ids.length
      ? db
          .select({ id: hibernations.id })
          .from(hibernations)
          .where(and(inArray(hibernations.id, [...ids]), eq(hibernations.status, 'scheduled')))
          .all()
          .map((r) => r.id)
      : [],
  )
