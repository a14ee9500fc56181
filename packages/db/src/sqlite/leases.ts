import { eq } from 'drizzle-orm'
import type { SqliteDb as Db } from './client.js'
import { write } from './client.js'
import { meta } from './schema.js'

/**
 * Takes the lease `key` until `until` when it is free, expired, or still the one this
 * holder took (`held`, the expiry it last wrote); returns whether it is now held. One write
 * transaction, so two processes can never both take it.
 */
export const takeLease = (db: Db, key: string, held: number, until: number, now = Date.now()) =>
  write(db, (tx) => {
    const current = tx.select({ value: meta.value }).from(meta).where(eq(meta.key, key)).get()?.value
    if (current !== undefined && current > now && current !== held) return false
    tx.insert(meta)
      .values({ key, value: until })
      .onConflictDoUpdate({ target: meta.key, set: { value: until } })
      .run()
    return true
  })
