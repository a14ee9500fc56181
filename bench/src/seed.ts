import { createHash, randomBytes } from 'node:crypto'
import { DEFAULT_PERMISSIONS } from '@dormant/core'
import { closeDb, createSession, createUser, openDb } from '@dormant/db'

export type SeededUser = { id: string; token: string; cookie: string }

const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url')

/**
 * Creates users and signed-in sessions straight in the SQLite file, with the product's data
 * functions, before the API starts. The cookie value is the raw token; the DB keeps its hash
 * (as apps/api/src/auth/tokens.ts does).
 */
export const seedUsers = (dbPath: string, count: number, onProgress?: (done: number) => void): SeededUser[] => {
  const db = openDb(dbPath)
  const users: SeededUser[] = []
  try {
    for (let i = 0; i < count; i++) {
      const created = createUser(db, {
        email: `bench${i}@example.com`,
        passwordHash: 'not-a-real-hash',
        permissions: DEFAULT_PERMISSIONS,
      })
      if ('error' in created) throw new Error(`seeding user ${i}: ${created.error}`)
      const token = randomBytes(32).toString('base64url')
      createSession(db, { userId: created.user.id, tokenHash: hashToken(token), ttlMs: 24 * 3600 * 1000 })
      users.push({ id: created.user.id, token, cookie: `dormant_session=${token}` })
      if (onProgress && i % 500 === 499) onProgress(i + 1)
    }
  } finally {
    closeDb(db)
  }
  return users
}
