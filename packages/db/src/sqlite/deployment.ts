import { randomInt } from 'node:crypto'
import { eq } from 'drizzle-orm'
import type { SqliteDb as Db } from './client.js'
import { meta } from './schema.js'

const DEPLOYMENT = 'deployment'

/**
 * This deployment's identity: a random number drawn the first time any process opens the
 * database and kept in it, so every process on one database (and only those) shares it.
 * Insert-or-ignore makes processes starting together agree on the first draw.
 */
export const deploymentId = (db: Db): string => {
  db.insert(meta)
    .values({ key: DEPLOYMENT, value: randomInt(1, 2 ** 48 - 1) })
    .onConflictDoNothing()
    .run()
  const row = db.select({ value: meta.value }).from(meta).where(eq(meta.key, DEPLOYMENT)).get()
  if (!row) throw new Error('deployment identity missing after insert')
  return row.value.toString(36)
}
