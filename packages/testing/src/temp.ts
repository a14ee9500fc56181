import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const tempDir = (label = 'dormant') => mkdtempSync(join(tmpdir(), `${label}-`))

/** A fresh SQLite path in a fresh folder. */
export const tempDbPath = () => join(tempDir('dormant-db'), 'test.db')

/** A Redis key prefix no other test uses: isolates queues, channels and background loops. */
export const uniquePrefix = (label = 't') => `${label}-${randomBytes(6).toString('hex')}`
