import { closeDb, openDb } from '@dormant/db'
import { queryDb } from '@dormant/testing'
import pg from 'pg'
import { expect, test } from 'vitest'
import { provisionDb } from './db.js'

test("a PostgreSQL restart ends the run's sessions, refuses new ones for the pause, then lets them in; the checker's reads carry on", async () => {
  const db = await provisionDb('postgres')
  try {
    const url = db.env.DATABASE_URL
    if (!url) throw new Error('no DATABASE_URL')
    // Migrated, as the first API would have by the time the nemesis starts.
    await closeDb(await openDb(url))
    const session = new pg.Client({ connectionString: url })
    await session.connect()
    const ended = new Promise<Error>((resolve) => session.on('error', resolve))

    const restarting = db.restart?.(1500)
    expect(String(await ended)).toMatch(/terminating connection|Connection terminated/)
    await expect(queryDb(url, 'select 1 as one')).rejects.toThrow()
    await db.archive()
    await restarting

    expect(await queryDb(url, 'select 1 as one')).toEqual([{ one: 1 }])
    await session.end().catch(() => {})
  } finally {
    await db.cleanup()
  }
}, 30_000)
