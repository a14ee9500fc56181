import { createHash, randomBytes } from 'node:crypto'

/** 256 random bits; only its hash is stored, so a leaked DB yields no usable cookie. */
export const newSessionToken = () => randomBytes(32).toString('base64url')

export const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url')
