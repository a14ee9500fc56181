import type { DormantEvent, UserJson } from '@dormant/core'
import { and, asc, eq, inArray, sql } from 'drizzle-orm'
import { ACTIVATION_EFFECTS, type PostgresActivationContext } from '../activation.js'
import { newId } from '../ids.js'
import type { CompletionOutcome } from '../sqlite/hibernations.js'
import { bytewise, type PgDb, type Write, write } from './client.js'
import { hibernations, users } from './schema.js'
import { lockUser, touchUser } from './users.js'

type Change = { user: UserJson; events: DormantEvent[] }

const userOf = (event: DormantEvent) => (event as DormantEvent<'user.updated'>).data.user

/**
 * Starts a hibernation that ends at `now + durationMs`. The user's row is locked (FOR UPDATE)
 * before its status is read, so two starts (or a start and a cancel) take turns; the unique
 * index on one scheduled hibernation per user backs it up.
 */
export const startHibernation = (db: PgDb, userId: string, durationMs: number, now = Date.now()) =>
  write(
    db,
    async (
      w,
    ): Promise<
      (Change & { hibernation: { id: string; endsAt: number } }) | { error: 'not_found' | 'already_hibernating' }
    > => {
      const user = await lockUser(w.tx, userId)
      if (!user) return { error: 'not_found' }
      if (user.status === 'hibernating') return { error: 'already_hibernating' }
      const hibernation = { id: newId('hib'), endsAt: now + durationMs }
      await w.tx
        .insert(hibernations)
        .values({ id: hibernation.id, userId, status: 'scheduled', startedAt: now, endsAt: hibernation.endsAt })
      const event = await touchUser(w, userId, now, { status: 'hibernating' })
      return { user: userOf(event), events: [event], hibernation }
    },
  )

/** Wakes the user early: user row locked, then a conditional UPDATE on `status = 'scheduled'`. */
export const cancelHibernation = (db: PgDb, userId: string, now = Date.now()) =>
  write(db, async (w): Promise<(Change & { hibernationId: string }) | { error: 'not_found' | 'not_hibernating' }> => {
    if (!(await lockUser(w.tx, userId))) return { error: 'not_found' }
    const [cancelled] = await w.tx
      .update(hibernations)
      .set({ status: 'cancelled', finishedAt: now })
      .where(and(eq(hibernations.userId, userId), eq(hibernations.status, 'scheduled')))
      .returning({ id: hibernations.id })
    if (!cancelled) return { error: 'not_hibernating' }
    const event = await touchUser(w, userId, now, { status: 'active' })
    return { user: userOf(event), events: [event], hibernationId: cancelled.id }
  })

/**
 * Locks the users of these hibernations, in one order (id, bytewise) whoever asks: two
 * completions, or a completion and a cancel, then never hold one user each while waiting
 * for the other's. Cancel and start lock the user first too.
 */
const lockUsersOf = async (tx: Write['tx'], ids: readonly string[]) => {
  if (ids.length === 0) return
  const owners = tx
    .select({ userId: hibernations.userId })
    .from(hibernations)
    .where(inArray(hibernations.id, [...ids]))
  await tx
    .select({ id: users.id })
    .from(users)
    .where(inArray(users.id, owners))
    .orderBy(bytewise(users.id))
    .for('update')
}

const completeInTx = async (w: Write, hibernationId: string, now: number): Promise<CompletionOutcome> => {
  const [current] = await w.tx
    .select({ status: hibernations.status, endsAt: hibernations.endsAt })
    .from(hibernations)
    .where(eq(hibernations.id, hibernationId))
  if (!current) return { outcome: 'skipped', status: 'missing' }
  if (current.status !== 'scheduled') return { outcome: 'skipped', status: current.status }
  if (current.endsAt > now) return { outcome: 'not_due', endsAt: current.endsAt }
  // The guard: a second run, or a cancel that committed first, matches zero rows.
  const [claimed] = await w.tx
    .update(hibernations)
    .set({ status: 'completed', finishedAt: now })
    .where(and(eq(hibernations.id, hibernationId), eq(hibernations.status, 'scheduled')))
    .returning({ userId: hibernations.userId })
  if (!claimed) return { outcome: 'skipped', status: 'completed' }
  const ctx: PostgresActivationContext = { ...w, userId: claimed.userId, hibernationId, now, events: [] }
  for (const effect of ACTIVATION_EFFECTS) await effect.postgres(ctx)
  return { outcome: 'completed', userId: claimed.userId, events: ctx.events }
}

/** Completes a due hibernation exactly once (the conditional UPDATE in `completeInTx`). */
export const completeHibernation = (db: PgDb, hibernationId: string, now = Date.now()) =>
  write(db, async (w) => {
    await lockUsersOf(w.tx, [hibernationId])
    return completeInTx(w, hibernationId, now)
  })

/** Completes many hibernations in one transaction; outcomes come back in the order of `ids`. */
export const completeHibernations = (db: PgDb, ids: readonly string[], now = Date.now()) =>
  write(db, async (w) => {
    await lockUsersOf(w.tx, ids)
    const outcomes: CompletionOutcome[] = []
    for (const id of ids) outcomes.push(await completeInTx(w, id, now))
    return outcomes
  })

/** One page of scheduled hibernations in id order (bytewise, as on SQLite), for the reconciler. */
export const listScheduledHibernations = (db: PgDb, afterId: string, limit: number) =>
  db
    .select({ id: hibernations.id, endsAt: hibernations.endsAt })
    .from(hibernations)
    .where(and(eq(hibernations.status, 'scheduled'), sql`${bytewise(hibernations.id)} > ${afterId}`))
    .orderBy(asc(bytewise(hibernations.id)))
    .limit(limit)

/** Of the given ids, those whose hibernation is still scheduled. */
export const scheduledAmong = async (db: PgDb, ids: readonly string[]): Promise<Set<string>> =>
  new Set(
    ids.length
      ? (
          await db
            .select({ id: hibernations.id })
            .from(hibernations)
            .where(and(inArray(hibernations.id, [...ids]), eq(hibernations.status, 'scheduled')))
        ).map((r) => r.id)
      : [],
  )
