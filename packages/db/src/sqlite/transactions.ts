import type { TransactionJson } from '@dormant/core'
import { desc, eq } from 'drizzle-orm'
import type { SqliteDb as Db } from './client.js'
import { transactions } from './schema.js'

/** A user's history, newest first. */
export const listTransactions = (db: Db, userId: string, limit = 100): TransactionJson[] =>
  db
    .select()
    .from(transactions)
    .where(eq(transactions.userId, userId))
    .orderBy(desc(transactions.createdAt), desc(transactions.id))
    .limit(limit)
    .all()
    .map((t) => ({ id: t.id, type: t.type, details: t.details, createdAt: new Date(t.createdAt).toISOString() }))
