import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { testBackend } from '@dormant/testing'
import { describe, expect, test } from 'vitest'

const OPENERS = 6
const ROUNDS = 40

/**
 * Each child waits for a shared start time per round, then opens that round's new database
 * file, so every file sees OPENERS processes switching it to WAL and migrating at once —
 * what an API and a worker (or two APIs) started together on a fresh volume do.
 */
const opener = (dir: string, start: number) =>
  spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { openSqlite, closeSqlite } from ${JSON.stringify(new URL('./client.ts', import.meta.url).href)}
       const failures = []
       for (let round = 0; round < ${ROUNDS}; round++) {
         while (Date.now() < ${start} + round * 60) {}
         try { closeSqlite(openSqlite(${JSON.stringify(dir)} + '/' + round + '.sqlite')) }
         catch (err) { failures.push(round + ': ' + err.message) }
       }
       console.log(JSON.stringify(failures))`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )

describe.runIf(testBackend() === 'sqlite')('opening a new SQLite file', () => {
  test(`${OPENERS} processes opening ${ROUNDS} new databases at the same instant all succeed`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dormant-open-race-'))
    const start = Date.now() + 3_000
    const children = Array.from({ length: OPENERS }, () => opener(dir, start))
    const reports = await Promise.all(
      children.map(async (child) => {
        let out = ''
        child.stdout.on('data', (chunk) => (out += chunk))
        const [code] = await once(child, 'exit')
        expect(code).toBe(0)
        return JSON.parse(out) as string[]
      }),
    )
    expect(reports.flat()).toEqual([])
  })
})
