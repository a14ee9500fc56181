import type { DormantEvent, TransactionJson } from '@dormant/core'
import { getTableColumns, inArray, sql } from 'drizzle-orm'
import { newId } from './ids.js'
import type { PgTx, Write } from './postgres/client.js'
import * as pgSchema from './postgres/schema.js'
import { scheduledHibernation } from './postgres/users.js'
import type { SqliteDb, Tx as SqliteTx } from './sqlite/client.js'
import { insertEvent, readUser, statements } from './sqlite/statements.js'
import { toUserJson } from './sqlite/users.js'

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

/** PostgreSQL half: async, inside the completions' transaction (one context per completion). */
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

/**
 * One database effect of completing a hibernation, for each backend. SQLite's half runs once
 * per completion (its statements cost microseconds); PostgreSQL's runs once per transaction
 * with every completion in it (the worker completes timers in batches, and each statement is
 * a round trip to the server): write it set-based, one statement for the batch.
 */
export type ActivationEffect = {
  name: string
  sqlite(ctx: SqliteActivationContext): void
  postgres(batch: PostgresActivationContext[]): Promise<void>
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
    async postgres(batch) {
      const { users } = pgSchema
      const rows = await batch[0]!.tx
        .update(users)
        .set({ status: 'active', goal: 1, version: sql`${users.version} + 1`, updatedAt: batch[0]!.now })
        .where(
          inArray(
            users.id,
            batch.map((ctx) => ctx.userId),
          ),
        )
        .returning({ ...getTableColumns(users), hibernation: scheduledHibernation })
      const updated = new Map(rows.map(({ hibernation, ...user }) => [user.id, toUserJson(user, hibernation)]))
      for (const ctx of batch) {
        const user = updated.get(ctx.userId)
        if (!user) throw new Error(`user ${ctx.userId} vanished inside its own transaction`)
        ctx.events.push(ctx.record(ctx.userId, 'user.updated', { user }, ctx.now))
      }
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
    async postgres(batch) {
      const transactions = batch.map(completionTransaction)
      await batch[0]!.tx.insert(pgSchema.transactions).values(
        batch.map((ctx, i) => ({
          id: transactions[i]!.id,
          userId: ctx.userId,
          type: transactions[i]!.type,
          details: transactions[i]!.details,
          hibernationId: ctx.hibernationId,
          createdAt: ctx.now,
        })),
      )
      batch.forEach((ctx, i) => {
        const transaction = transactions[i] as TransactionJson
        ctx.events.push(ctx.record(ctx.userId, 'transaction.created', { transaction }, ctx.now))
      })
    },
  },
  {
    name: 'announceCompletion',
    sqlite(ctx) {
      ctx.events.push(insertEvent(ctx.db, ctx.userId, 'hibernation.completed', announcement(ctx), ctx.now))
    },
    async postgres(batch) {
      for (const ctx of batch)
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
