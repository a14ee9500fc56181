import { commonEnv, loadConfig, msSetting } from '@dormant/core'
import { z } from 'zod'

const DAY = 24 * 3600 * 1000

const booleanSetting = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1')
  .default(false)

/**
 * `postgres://user:password@host:port/database`: selects PostgreSQL instead of the SQLite
 * file at DB_PATH. The messages never repeat the value, which holds the password.
 */
const databaseUrl = z
  .string()
  .refine(
    (value) => URL.canParse(value) && /^postgres(ql)?:\/\//.test(value),
    'must be a postgres:// URL, as in postgres://user:password@host:5432/database',
  )
  .optional()

export const apiEnv = {
  ...commonEnv,
  DATABASE_URL: databaseUrl,
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  HIBERNATION_DURATION_MS: msSetting(3 * DAY, 1000, 365 * DAY),
  ADMIN_EMAIL: z.string().email().optional(),
  ADMIN_PASSWORD: z.string().min(8, 'at least 8 characters').optional(),
  SSE_HEARTBEAT_MS: msSetting(15_000, 100),
  SSE_MAX_LIFETIME_MS: msSetting(600_000, 1000),
  /** A client further behind than this many events gets a `reset` snapshot instead of a replay. */
  SSE_REPLAY_CAP: z.coerce.number().int().min(1).default(50_000),
  /**
   * How often each API process compares the events table's position with its own: a commit
   * whose publish was lost, or a revocation, reaches streams within this (or a heartbeat).
   */
  EVENTS_CHECK_MS: msSetting(2000, 100),
  SESSION_TTL_MS: msSetting(30 * DAY, 1000),
  /** Set when served over HTTPS so the session cookie gets `Secure`. */
  COOKIE_SECURE: booleanSetting,
  /** Failed logins allowed per account, and per client address, in each 15-minute window. */
  LOGIN_LIMIT_PER_ACCOUNT: z.coerce.number().int().min(1).default(10),
  LOGIN_LIMIT_PER_ADDRESS: z.coerce.number().int().min(1).default(100),
  /** A stream whose unread output exceeds this is closed; the client catches up by replay. */
  SSE_BUFFER_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(256 * 1024),
  /** `true` lets webhook endpoints point at loopback and private addresses (tests, self-hosted receivers). */
  WEBHOOK_ALLOW_PRIVATE: booleanSetting,
  /** Folder of the built web app; served at `/` when it exists. */
  WEB_DIST: z.string().optional(),
}

export type ApiConfig = ReturnType<typeof loadApiConfig>

/** What `openDb` opens: DATABASE_URL when set, else the SQLite file at DB_PATH. */
export const databaseLocation = (config: Pick<ApiConfig, 'DATABASE_URL' | 'DB_PATH'>) =>
  config.DATABASE_URL ?? config.DB_PATH

/** A database location or service URL fit for logs: any password in it is masked. */
export const redactUrl = (location: string) => {
  if (!URL.canParse(location)) return location
  const url = new URL(location)
  if (!url.password) return location
  url.password = '***'
  return url.toString()
}

export const loadApiConfig = (env: Record<string, string | undefined> = process.env) => {
  const config = loadConfig(apiEnv, env)
  if (Boolean(config.ADMIN_EMAIL) !== Boolean(config.ADMIN_PASSWORD)) {
    process.stderr.write('Invalid configuration:\n  ADMIN_EMAIL and ADMIN_PASSWORD must be set together\n')
    process.exit(1)
  }
  return config
}
