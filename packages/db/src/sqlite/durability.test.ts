import { tempDbPath, testBackend } from '@dormant/testing'
import { describe, expect, test } from 'vitest'
import { closeSqlite, openSqlite } from './client.js'

/** SQLite's numbering: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA. */
const FULL = 2

describe.runIf(testBackend() === 'sqlite')('SQLite durability', () => {
  test('every connection commits durably: WAL with synchronous = FULL, on a new file and on reopening it', () => {
    const path = tempDbPath()
    // The pragma is per connection, not stored in the file: each opening must set it again.
    for (let i = 0; i < 2; i++) {
      const db = openSqlite(path)
      try {
        expect(db.$client.pragma('synchronous', { simple: true })).toBe(FULL)
        expect(db.$client.pragma('journal_mode', { simple: true })).toBe('wal')
      } finally {
        closeSqlite(db)
      }
    }
  })
})
