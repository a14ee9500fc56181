import { createHash, randomBytes } from 'node:crypto'
import { DEFAULT_PERMISSIONS } from '@dormant/core'
import { closeDb, createSession, createUser, newId, openDb } from '@dormant/db'
import { openRaw } from './database.js'
import { USER_COLUMNS, userRow } from './fixtures.js'

export type SeededUser = { id: string; token: string; cookie: string }

const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url')

/** Rows per transaction: progress to report, and bounded statements on either backend. */
const BATCH = 2000

/**
 * Creates users and signed-in sessions in the database at `location` (migrating it first),
 * before the API starts: rows in bulk, as createUser and createSession would write them. The
 * cookie value is the raw token; the DB keeps its hash (as apps/api/src/auth/tokens.ts does).
 */
export const seedUsers = async (
  location: string,
  count: number,
  onProgress?: (done: number) => void,
): Promise<SeededUser[]> => {
  await closeDb(await openDb(location))
  const raw = await openRaw(location)
  const users: SeededUser[] = []
  try {
    for (let from = 0; from < count; from += BATCH) {
      const now = Date.now()
      const batch = Array.from({ length: Math.min(BATCH, count - from) }, (_, k) => {
        const token = randomBytes(32).toString('base64url')
        return { id: newId('usr'), token, cookie: `dormant_session=${token}`, i: from + k }
      })
      await raw.insert(
        'users',
        USER_COLUMNS,
        batch.map((u) => userRow(u.id, `bench${u.i}@example.com`, `bench${u.i}`, DEFAULT_PERMISSIONS, now)),
      )
      await raw.insert(
        'sessions',
        ['id', 'user_id', 'token_hash', 'created_at', 'expires_at'],
        batch.map((u) => [newId('ses'), u.id, hashToken(u.token), now, now + 24 * 3600 * 1000]),
      )
      users.push(...batch.map(({ id, token, cookie }) => ({ id, token, cookie })))
      onProgress?.(users.length)
    }
  } finally {
    await raw.close()
  }
  return users
}

/** An admin user with a session for `token`; returns the Cookie header value. */
export const seedAdmin = async (location: string, email: string, token: string) => {
  const db = await openDb(location)
  try {
    const admin = await createUser(db, { email, passwordHash: 'x', role: 'admin', permissions: DEFAULT_PERMISSIONS })
    if ('error' in admin) throw new Error(`seeding the admin: ${admin.error}`)
    await createSession(db, { userId: admin.user.id, tokenHash: hashToken(token), ttlMs: 24 * 3600_000 })
    return `dormant_session=${token}`
  } finally {
    await closeDb(db)
  }
}
