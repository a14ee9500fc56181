import { type Logger, pino } from 'pino'

export type { Logger }

/** Secrets never reach the log, whatever a caller passes in. */
const REDACT = [
  'password',
  '*.password',
  'token',
  '*.token',
  'cookie',
  '*.cookie',
  'req.headers.cookie',
  'headers.cookie',
  'res.headers["set-cookie"]',
]

export const createLogger = (name: string, level = process.env.LOG_LEVEL ?? 'info') =>
  pino({ name, level, redact: { paths: REDACT, censor: '[redacted]' } })
