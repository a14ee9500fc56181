import type { DormantEvent, TransactionJson } from '@dormant/core'
import type { SqliteDb as Db, Tx } from './client.js'
import { newId } from '../ids.js'
import { insertEvent, readUser, statements } from './statements.js'

export type ActivationContext = {
  /** For effects of your own: drizzle, inside the completion's transaction. */
  tx: Tx
  /** The same connection, for the prepared statements of `statements.ts`. */
  db: Db
  userId: string
  hibernationId: string
  now: number
  /** Effects push the events they write; they are published after commit. */
  events: DormantEvent[]
}

/**
 * What completing a hibernation does, in order, inside one transaction. A team adopting
 * Dormant adds its own database effects here. Effects that leave the database (an email,
 * a webhook) do not belong here: run them as their own idempotent job after commit.
 */
export const ACTIVATION_EFFECTS: ReadonlyArray<(ctx: ActivationContext) => void> = [
  function activateUser(ctx) {
    statements(ctx.db).activateUser.run(ctx.now, ctx.userId)
    const user = readUser(ctx.db, ctx.userId)
    if (!user) throw new Error(`user ${ctx.userId} vanished inside its own transaction`)
    ctx.events.push(insertEvent(ctx.db, ctx.userId, 'user.updated', { user }, ctx.now))
  },
  function recordTransaction(ctx) {
    const transaction: TransactionJson = {
      id: newId('txn'),
      type: 'hibernation.completed',
      details: { hibernationId: ctx.hibernationId },
      createdAt: new Date(ctx.now).toISOString(),
    }
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
  function announceCompletion(ctx) {
    const data = { hibernationId: ctx.hibernationId, completedAt: new Date(ctx.now).toISOString() }
    ctx.events.push(insertEvent(ctx.db, ctx.userId, 'hibernation.completed', data, ctx.now))
  },
]
