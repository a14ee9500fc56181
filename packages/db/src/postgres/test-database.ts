import { postgresAdminUrl, tempDatabase } from '@dormant/testing'
import pg from 'pg'
import { afterAll } from 'vitest'

const created: string[] = []

/**
 * A new empty PostgreSQL database for these PostgreSQL-only tests, whatever backend the run
 * tests (global teardown drops test databases only on PostgreSQL runs), dropped after the file.
 */
export const postgresDatabase = async () => {
  const url = await tempDatabase('postgres')
  created.push(url)
  return url
}

// Registered while the test file imports this module: it runs after all of that file's tests.
afterAll(async () => {
  const admin = new pg.Client({ connectionString: postgresAdminUrl() })
  await admin.connect()
  try {
    for (const url of created.splice(0)) {
      await admin.query(`drop database if exists "${new URL(url).pathname.slice(1)}" with (force)`)
    }
  } finally {
    await admin.end()
  }
})

/** A plain connection of the test's own, for transactions held open across statements. */
export const connect = async (url: string) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  return client
}
