import type { DormantEvent, TransactionJson } from '@dormant/core'
import { eq, sql } from 'drizzle-orm'
import { newId } from './ids.js'
import type { PgTx, Write } from './postgres/client.js'
import * as pgSchema from './postgres/schema.js'
import { getUser } from './postgres/users.js'
import type { SqliteDb, Tx as SqliteTx } from './sqlite/client.js'
import { insertEvent, readUser, statements } from './sqlite/statements.js'

/** What every effect knows about the completion it is part of. */
type Completion = {
  userId: string
  hibernationId: string
  now: number
  /** Effects push the events they record; they are published after commit. */
  events: DormantEvent[]
}

/** SQLite half: synchronous, inside the completion's write transaction. */
export type SqliteActivationContext = Completion & {
  /** drizzle, inside the transaction. */
  tx: SqliteTx
  /** The same connection, for the prepared statements of `sqlite/statements.ts`. */
  db: SqliteDb
}

/** PostgreSQL half: async, inside the completion's transaction. */
export type PostgresActivationContext = Completion & {
  /** drizzle, inside the transaction. Write rows with it; never wait on anything outside the database. */
  tx: PgTx
  /**
   * Records an event, inserted with the transaction's others as its last statement (the
   * append lock is held from then to COMMIT). Its id is filled in then: push the returned
   * event to `events`, but do not read its id inside the effect.
   */
  record: Write['record']
}

/** One database effect of completing a hibernation, for each backend. */
export type ActivationEffect = {
  name: string
  sqlite(ctx: SqliteActivationContext): void
  postgres(ctx: PostgresActivationContext): Promise<void>
}

/**
 * What completing a hibernation does, in order, inside one transaction, on either backend.
 * A team adopting Dormant adds its own database effects here, with both halves. Effects that
 * leave the database (an email, a webhook) do not belong here: run them as their own
 * idempotent job after commit.
 */
export const ACTIVATION_EFFECTS: ReadonlyArray<ActivationEffect> = [
  {
    name: 'activateUser',
    sqlite(ctx) {
      statements(ctx.db).activateUser.run(ctx.now, ctx.userId)
      const user = readUser(ctx.db, ctx.userId)
      if (!user) throw new Error(`user ${ctx.userId} vanished inside its own transaction`)
      ctx.events.push(insertEvent(ctx.db, ctx.userId, 'user.updated', { user }, ctx.now))
    },
    async postgres(ctx) {
      const { users } = pgSchema
      await ctx.tx
        .update(users)
        .set({ status: 'active', goal: 1, version: sql`${users.version} + 1`, updatedAt: ctx.now })
        .where(eq(users.id, ctx.userId))
      const user = await getUser(ctx.tx, ctx.userId)
      if (!user) throw new Error(`user ${ctx.userId} vanished inside its own transaction`)
      ctx.events.push(ctx.record(ctx.userId, 'user.updated', { user }, ctx.now))
    },
  },
  {
    name: 'recordTransaction',
    sqlite(ctx) {
      const transaction = completionTransaction(ctx)
      statements(ctx.db).insertTransaction.run(
        transaction.id,
        ctx.userId,
        transaction.type,
        JSON.stringify(transaction.details),
        ctx.hibernationId,
        ctx.now,
      )
      ctx.events.push(insertEvent(ctx.db, ctx.userId, 'transaction.created', { transaction }, ctx.now))
    },
    async postgres(ctx) {
      const transaction = completionTransaction(ctx)
      await ctx.tx.insert(pgSchema.transactions).values({
        id: transaction.id,
        userId: ctx.userId,
        type: transaction.type,
        details: transaction.details,
        hibernationId: ctx.hibernationId,
        createdAt: ctx.now,
      })
      ctx.events.push(ctx.record(ctx.userId, 'transaction.created', { transaction }, ctx.now))
    },
  },
  {
    name: 'announceCompletion',
    sqlite(ctx) {
      ctx.events.push(insertEvent(ctx.db, ctx.userId, 'hibernation.completed', announcement(ctx), ctx.now))
    },
    async postgres(ctx) {
      ctx.events.push(ctx.record(ctx.userId, 'hibernation.completed', announcement(ctx), ctx.now))
    },
  },
]

const completionTransaction = (ctx: Completion): TransactionJson => ({
  id: newId('txn'),
  type: 'hibernation.completed',
  details: { hibernationId: ctx.hibernationId },
  createdAt: new Date(ctx.now).toISOString(),
})

const announcement = (ctx: Completion) => ({
  hibernationId: ctx.hibernationId,
  completedAt: new Date(ctx.now).toISOString(),
})
