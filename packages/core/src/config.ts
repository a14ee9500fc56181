import { z } from 'zod'
import { DEPLOYMENT_CHECK_MS, DEPLOYMENT_CLAIM_TTL_MS } from './deployment.js'

export const msSetting = (fallback: number, min = 1, max = 365 * 24 * 3600 * 1000) =>
  z.coerce.number().int().min(min).max(max).default(fallback)

/** Settings both processes read. Each app extends this with its own. */
export const commonEnv = {
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** Prefix of every Redis key and channel: two deployments can share one Redis. */
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "_" and "-" only')
    .default('dormant'),
  DB_PATH: z.string().min(1).default('./data/dormant.db'),
  /**
   * `postgres://user:password@host:port/database`: PostgreSQL instead of the SQLite file at
   * DB_PATH (several hosts, one database). The message never repeats the value, which holds
   * the password.
   */
  DATABASE_URL: z
    .string()
    .refine(
      (value) => URL.canParse(value) && /^postgres(ql)?:\/\//.test(value),
      'must be a postgres:// URL, as in postgres://user:password@host:5432/database',
    )
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * For tests only: how long a stopped deployment's claim on REDIS_PREFIX outlives its last
   * process, so a test of the lapse need not wait the production 30 s. Leave it unset in
   * production. At least two re-claim intervals, so a running process never loses its claim.
   */
  TEST_DEPLOYMENT_CLAIM_TTL_MS: msSetting(DEPLOYMENT_CLAIM_TTL_MS, 2 * DEPLOYMENT_CHECK_MS, DEPLOYMENT_CLAIM_TTL_MS),
}

/**
 * Parses the environment once. A bad value stops the process with one line per problem,
 * naming the variable, so a typo in a deployment is caught at start and not at 3 a.m.
 */
export const loadConfig = <S extends z.ZodRawShape>(
  shape: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<z.ZodObject<S>> => {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''))
  const result = z.object(shape).safeParse(present)
  if (result.success) return result.data
  const lines = result.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`)
  process.stderr.write(`Invalid configuration:\n${lines.join('\n')}\n`)
  process.exit(1)
}

/** What `openDb` opens: DATABASE_URL when set, else the SQLite file at DB_PATH. */
export const databaseLocation = (config: { DATABASE_URL?: string | undefined; DB_PATH: string }) =>
  config.DATABASE_URL ?? config.DB_PATH

/** A database location or service URL fit for logs: any password in it is masked. */
export const redactUrl = (location: string) => {
  if (!URL.canParse(location)) return location
  const url = new URL(location)
  if (!url.password) return location
  url.password = '***'
  return url.toString()
}
