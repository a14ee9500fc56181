import type { DormantEvent, TransactionJson } from '@dormant/core'
import type { Tx } from './client.js'
import { appendEvent } from './events.js'
import { newId } from './ids.js'
import { transactions } from './schema.js'
import { touchUser } from './users.js'

export type ActivationContext = {
  tx: Tx
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
    ctx.events.push(touchUser(ctx.tx, ctx.userId, ctx.now, { status: 'active', goal: 1 }))
  },
  function recordTransaction(ctx) {
    const transaction: TransactionJson = {
      id: newId('txn'),
      type: 'hibernation.completed',
      details: { hibernationId: ctx.hibernationId },
      createdAt: new Date(ctx.now).toISOString(),
    }
    ctx.tx
      .insert(transactions)
      .values({
        id: transaction.id,
        userId: ctx.userId,
        type: transaction.type,
        details: transaction.details,
        hibernationId: ctx.hibernationId,
        createdAt: ctx.now,
      })
      .run()
    ctx.events.push(appendEvent(ctx.tx, ctx.userId, 'transaction.created', { transaction }, ctx.now))
  },
  function announceCompletion(ctx) {
    const data = { hibernationId: ctx.hibernationId, completedAt: new Date(ctx.now).toISOString() }
    ctx.events.push(appendEvent(ctx.tx, ctx.userId, 'hibernation.completed', data, ctx.now))
  },
]
