import { createLogger, databaseLocation } from '@dormant/core'
import { type ApiClient, apiClient, databaseEnv, tempDatabase, uniquePrefix } from '@dormant/testing'
import { test as base, inject } from 'vitest'
import { loadApiConfig } from './env.js'
import { type RunningApi, startApi } from './server.js'

export const ADMIN = { email: 'admin@example.com', password: 'admin-password' }

export const USER_PASSWORD = 'user-password'

export type TestApi = RunningApi &
  Omit<ApiClient, 'closeStreams'> & {
    /** Where its database is, for `queryDb`, `databaseEnv` or a second process on the same data. */
    database: string
    /** The graceful shutdown SIGTERM runs, without `stop`'s cuts: for shutdown tests. */
    shutdown: () => Promise<void>
  }

/**
 * Starts a real API (HTTP server, a fresh database on the backend under test, Redis) with
 * settings a test may override (`databaseEnv(location)` to share another API's database).
 */
export const startTestApi = async (env: Record<string, string> = {}): Promise<TestApi> => {
  const config = loadApiConfig({
    PORT: '0',
    ...(env.DB_PATH || env.DATABASE_URL ? {} : databaseEnv(await tempDatabase())),
    REDIS_URL: inject('redisUrl'),
    REDIS_PREFIX: uniquePrefix(),
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    LOGIN_LIMIT_PER_ADDRESS: '100000',
    ...env,
  })
  const api = await startApi(config, createLogger('api-test', process.env.TEST_LOG_LEVEL ?? 'silent'))
  const { closeStreams, ...client } = apiClient(api.url, { admin: ADMIN, userPassword: USER_PASSWORD })
  const stop = api.stop
  /** Teardown, not a shutdown test: connections the test client keeps alive are cut at once. */
  const stopAll = async () => {
    closeStreams()
    const stopped = stop()
    api.server.closeAllConnections()
    await stopped
  }
  return Object.assign(api, client, { stop: stopAll, shutdown: stop, database: databaseLocation(config) })
}

/** A vitest fixture: `api` is a fresh, running API per test, stopped afterwards. */
export const test = base.extend<{ api: TestApi }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest fixtures take their dependencies by destructuring
  api: async ({}, use) => {
    const api = await startTestApi()
    await use(api)
    await api.stop()
  },
})
