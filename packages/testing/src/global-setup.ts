import './provided.js'
import { randomBytes } from 'node:crypto'
import type { TestProject } from 'vitest/node'
import { dropTestDatabases, testBackend } from './database.js'
import { startRedisServer } from './redis-server.js'

/**
 * One private Redis per test project; tests isolate from each other by key prefix. On
 * PostgreSQL every test makes its own database, named with this project's run id and
 * dropped here when the project ends.
 */
export default async function setup(project: TestProject) {
  const redis = await startRedisServer()
  const runId = randomBytes(4).toString('hex')
  project.provide('redisUrl', redis.url)
  project.provide('runId', runId)
  return async () => {
    await redis.destroy()
    if (testBackend() === 'postgres') await dropTestDatabases(runId)
  }
}
