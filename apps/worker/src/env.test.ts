import { spawnApp, tempDbPath } from '@dormant/testing'
import { describe, expect, test } from 'vitest'
import { loadWorkerConfig } from './env.js'

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
    const worker = spawnApp('worker', { WORKER_CONCURRENCY: 'lots', RECONCILE_INTERVAL_MS: '0', DB_PATH: tempDbPath() })
    expect(await worker.exited).toBe(1)
    expect(worker.output()).toContain('Invalid configuration')
    expect(worker.output()).toMatch(/WORKER_CONCURRENCY: .+/)
    expect(worker.output()).toMatch(/RECONCILE_INTERVAL_MS: .+/)
  })
})
