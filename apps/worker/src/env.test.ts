import { databaseEnv, spawnApp, tempDatabase, testBackend, uniquePrefix } from '@dormant/testing'
import { describe, expect, inject, test } from 'vitest'
import { databaseLocation, describeDatabase, loadWorkerConfig } from './env.js'

describe('worker configuration', () => {
  test('defaults', () => {
    expect(loadWorkerConfig({})).toMatchObject({
      RECONCILE_INTERVAL_MS: 60_000,
      WORKER_CONCURRENCY: 50,
      JOB_LOCK_MS: 30_000,
      REDIS_PREFIX: 'dormant',
    })
  })

  test('a bad value stops the process with a message naming the variable', async () => {
    const worker = spawnApp('worker', {
      WORKER_CONCURRENCY: 'lots',
      RECONCILE_INTERVAL_MS: '0',
      ...databaseEnv(await tempDatabase()),
    })
    expect(await worker.exited).toBe(1)
    expect(worker.output()).toContain('Invalid configuration')
    expect(worker.output()).toMatch(/WORKER_CONCURRENCY: .+/)
    expect(worker.output()).toMatch(/RECONCILE_INTERVAL_MS: .+/)
  })

  test('DATABASE_URL selects PostgreSQL over DB_PATH; anything but a postgres:// URL is refused without echoing it', async () => {
    const url = 'postgres://dormant:s3cret@db.internal:5432/dormant'
    expect(databaseLocation(loadWorkerConfig({ DATABASE_URL: url, DB_PATH: '/var/x.db' }))).toBe(url)
    expect(databaseLocation(loadWorkerConfig({ DB_PATH: '/var/x.db' }))).toBe('/var/x.db')
    expect(databaseLocation(loadWorkerConfig({ DATABASE_URL: 'postgresql://h/db' }))).toBe('postgresql://h/db')
    expect(describeDatabase(url)).toBe('postgres://dormant:***@db.internal:5432/dormant')
    expect(describeDatabase('./data/dormant.db')).toBe('./data/dormant.db')

    const worker = spawnApp('worker', { DATABASE_URL: 'mysql://dormant:s3cret@db.internal/dormant' })
    expect(await worker.exited).toBe(1)
    expect(worker.output()).toMatch(/DATABASE_URL: .+/)
    expect(worker.output()).not.toContain('s3cret')
  })

  // Trust authentication lets a URL carry any password: the one here must never reach the log.
  test.runIf(testBackend() === 'postgres')('the worker logs its database without the password', async () => {
    const url = new URL(await tempDatabase())
    url.password = 'never-logged'
    const worker = spawnApp('worker', {
      DATABASE_URL: url.toString(),
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: uniquePrefix(),
    })
    try {
      await worker.waitForOutput('worker ready')
      expect(worker.output()).toContain(`${url.host}${url.pathname}`)
      expect(worker.output()).not.toContain('never-logged')
    } finally {
      await worker.signal('SIGTERM')
    }
  })
})
