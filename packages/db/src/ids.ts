import { randomBytes } from 'node:crypto'

/** Prefixed random ids: readable in logs, never all digits, no ':' (valid BullMQ job ids). */
export const newId = (prefix: 'usr' | 'ses' | 'hib' | 'txn' | 'whe' | 'whd') =>
  `${prefix}_${randomBytes(12).toString('base64url')}`
