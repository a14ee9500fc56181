import './provided.js'
import type { TestProject } from 'vitest/node'
import { startRedisServer } from './redis-server.js'

/** One private Redis per test project; tests isolate from each other by key prefix. */
export default async function setup(project: TestProject) {
  const redis = await startRedisServer()
  project.provide('redisUrl', redis.url)
  return () => redis.destroy()
}
