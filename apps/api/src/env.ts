import { commonEnv, loadConfig, msSetting } from '@dormant/core'
import { z } from 'zod'

const DAY = 24 * 3600 * 1000

const booleanSetting = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1')
  .default(false)

export const apiEnv = {
  ...commonEnv,
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
  /**
   * On SIGTERM, how long the API goes on serving (health 503, `Connection: close`) before it
   * stops listening: behind a balancer, longer than its health check takes to take it out.
   * 0 (a lone API): it stops at once.
   */
  SHUTDOWN_DRAIN_MS: msSetting(0, 0, 60_000),
  /** Set when served over HTTPS so the session cookie gets `Secure`. */
  COOKIE_SECURE: booleanSetting,
  /** Failed logins allowed per account, and per client address, in each 15-minute window. */
  LOGIN_LIMIT_PER_ACCOUNT: z.coerce.number().int().min(1).default(10),
  LOGIN_LIMIT_PER_ADDRESS: z.coerce.number().int().min(1).default(100),
  /**
   * Proxies in front of the API that append the client's address to X-Forwarded-For (1 behind
   * one load balancer). 0: the socket's peer is the client, and the header is ignored.
   */
  TRUST_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
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

export const loadApiConfig = (env: Record<string, string | undefined> = process.env) => {
  const config = loadConfig(apiEnv, env)
  if (Boolean(config.ADMIN_EMAIL) !== Boolean(config.ADMIN_PASSWORD)) {
    process.stderr.write('Invalid configuration:\n  ADMIN_EMAIL and ADMIN_PASSWORD must be set together\n')
    process.exit(1)
  }
  return config
}
