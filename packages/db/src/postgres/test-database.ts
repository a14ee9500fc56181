import { postgresAdminUrl, tempDatabase } from '@dormant/testing'
import pg from 'pg'
import { afterAll } from 'vitest'

/**
 * A new empty PostgreSQL database for these PostgreSQL-only tests, whatever backend the run
 * tests (global teardown drops test databases only on PostgreSQL runs), dropped after the file.
 */
export const postgresDatabase = async () => {
  const url = await tempDatabase('postgres')
  afterAll(async () => {
    const admin = new pg.Client({ connectionString: postgresAdminUrl() })
    await admin.connect()
    try {
      await admin.query(`drop database if exists "${new URL(url).pathname.slice(1)}" with (force)`)
    } finally {
      await admin.end()
    }
  })
  return url
}

/** A plain connection of the test's own, for transactions held open across statements. */
export const connect = async (url: string) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  return client
}
