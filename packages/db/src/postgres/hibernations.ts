import type { DormantEvent, UserJson } from '@dormant/core'
import { and, asc, eq, inArray, lte, sql } from 'drizzle-orm'
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

/**
 * Completes due hibernations in the caller's transaction, set-based: one conditional UPDATE
 * claims every one of them still scheduled and due (the guard: a second run, or a cancel that
 * committed first, matches zero rows), then each effect runs once for the whole batch. A
 * round trip to the server costs more than the statement itself, so a batch of 50 takes about
 * as many statements as a batch of one. Outcomes come back in the order of `ids`.
 */
const completeInTx = async (w: Write, ids: readonly string[], now: number): Promise<CompletionOutcome[]> => {
  if (ids.length === 0) return []
  const unique = [...new Set(ids)]
  const claimed = await w.tx
    .update(hibernations)
    .set({ status: 'completed', finishedAt: now })
    .where(and(inArray(hibernations.id, unique), eq(hibernations.status, 'scheduled'), lte(hibernations.endsAt, now)))
    .returning({ id: hibernations.id, userId: hibernations.userId })
  // Effects record their events into each completion's list first; they are then appended
  // completion by completion in the order of `ids`, so each completion's events have
  // consecutive ids and the outcomes' events rise in id order, as on SQLite.
  const later: Write['record'] = (userId, type, data, at) =>
    ({ id: 0, userId, type, data, createdAt: at }) as DormantEvent
  const contexts = new Map<string, PostgresActivationContext>(
    claimed.map((c) => [c.id, { ...w, record: later, userId: c.userId, hibernationId: c.id, now, events: [] }]),
  )
  for (const effect of ACTIVATION_EFFECTS) if (contexts.size > 0) await effect.postgres([...contexts.values()])
  for (const id of unique) {
    const ctx = contexts.get(id)
    if (ctx) ctx.events = ctx.events.map((e) => w.record(e.userId, e.type, e.data as never, e.createdAt))
  }
  const others = unique.filter((id) => !contexts.has(id))
  const states = new Map(
    others.length === 0
      ? []
      : (
          await w.tx
            .select({ id: hibernations.id, status: hibernations.status, endsAt: hibernations.endsAt })
            .from(hibernations)
            .where(inArray(hibernations.id, others))
        ).map((r) => [r.id, r]),
  )
  const reported = new Set<string>()
  return ids.map((id): CompletionOutcome => {
    const ctx = contexts.get(id)
    if (ctx && !reported.has(id)) {
      reported.add(id)
      return { outcome: 'completed', userId: ctx.userId, events: ctx.events }
    }
    if (ctx) return { outcome: 'skipped', status: 'completed' }
    const state = states.get(id)
    if (!state) return { outcome: 'skipped', status: 'missing' }
    if (state.status !== 'scheduled') return { outcome: 'skipped', status: state.status }
    return { outcome: 'not_due', endsAt: state.endsAt }
  })
}

/** Completes a due hibernation exactly once (the conditional UPDATE in `completeInTx`). */
export const completeHibernation = (db: PgDb, hibernationId: string, now = Date.now()) =>
  write(db, async (w) => {
    await lockUsersOf(w.tx, [hibernationId])
    return (await completeInTx(w, [hibernationId], now))[0] as CompletionOutcome
  })

/** Completes many hibernations in one transaction; outcomes come back in the order of `ids`. */
export const completeHibernations = (db: PgDb, ids: readonly string[], now = Date.now()) =>
  write(db, async (w) => {
    await lockUsersOf(w.tx, ids)
    return completeInTx(w, ids, now)
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
