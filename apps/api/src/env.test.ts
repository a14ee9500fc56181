import { databaseLocation, redactUrl } from '@dormant/core'
import { databaseEnv, spawnApp, tempDatabase, testBackend, uniquePrefix } from '@dormant/testing'
import { describe, expect, inject, test } from 'vitest'
import { loadApiConfig } from './env.js'

const SECRET = 'hunter2-not-for-logs'

describe('DATABASE_URL', () => {
  test('selects the database over DB_PATH; without it, DB_PATH is the SQLite file', () => {
    const url = `postgres://dormant:${SECRET}@db.internal:5432/dormant`
    expect(databaseLocation(loadApiConfig({ DATABASE_URL: url, DB_PATH: '/tmp/x.db' }))).toBe(url)
    expect(databaseLocation(loadApiConfig({ DATABASE_URL: 'postgresql://db/dormant' }))).toBe('postgresql://db/dormant')
    expect(databaseLocation(loadApiConfig({ DB_PATH: '/tmp/x.db' }))).toBe('/tmp/x.db')
    expect(databaseLocation(loadApiConfig({}))).toBe('./data/dormant.db')
  })

  test.each([
    `postgres://dormant:${SECRET}@db.internal:notaport/dormant`,
    `mysql://dormant:${SECRET}@db.internal/dormant`,
    `dormant:${SECRET}@db.internal/dormant`,
  ])('the API refuses to start with a malformed one (%s), naming it without its password', async (url) => {
    const api = spawnApp('api', { DATABASE_URL: url, PORT: '0' })
    expect(await api.exited).toBe(1)
    expect(api.output()).toContain('DATABASE_URL: must be a postgres:// URL')
    expect(api.output()).not.toContain(SECRET)
  })
})

describe('redactUrl', () => {
  test('masks the password of a URL and leaves everything else as it is', () => {
    expect(redactUrl(`postgres://dormant:${SECRET}@db.internal:5432/dormant?sslmode=require`)).toBe(
      'postgres://dormant:***@db.internal:5432/dormant?sslmode=require',
    )
    expect(redactUrl(`redis://:${SECRET}@127.0.0.1:6379`)).toBe('redis://:***@127.0.0.1:6379')
    expect(redactUrl('postgres://postgres@127.0.0.1:5432/dormant')).toBe('postgres://postgres@127.0.0.1:5432/dormant')
    expect(redactUrl('./data/dormant.db')).toBe('./data/dormant.db')
  })
})

describe('the running API', () => {
  test('logs which database it serves from, never the password in DATABASE_URL', async () => {
    let location = await tempDatabase()
    if (testBackend() === 'postgres') {
      // Trust authentication accepts any password, so the one in the URL shows up only in logs.
      const url = new URL(location)
      url.password = SECRET
      location = url.toString()
    }
    const api = spawnApp('api', {
      ...databaseEnv(location),
      PORT: '0',
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: uniquePrefix(),
      ADMIN_EMAIL: 'admin@example.com',
      ADMIN_PASSWORD: 'admin-password',
    })
    try {
      await api.waitForOutput('api listening')
      expect(api.output()).toContain(redactUrl(location))
      expect(api.output()).not.toContain(SECRET)
    } finally {
      await api.signal('SIGTERM')
    }
  })
})
