import { spawn } from 'node:child_process'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { waitFor } from '@dormant/testing'
import { expect, test } from 'vitest'
import { connect, postgresDatabase } from './test-database.js'

const PACKAGE = dirname(dirname(dirname(fileURLToPath(import.meta.url))))

/**
 * A process that loads the PostgreSQL client (what openDb runs for a postgres:// URL; the
 * smallest import, as loading under tsx is slow on a busy machine), says `ready`, and on
 * `go` opens (migrating) the database.
 */
const opener = (url: string) => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { closePostgres, openPostgres } from './src/postgres/client.ts'
       console.log('ready')
       process.stdin.once('data', async () => {
         await closePostgres(await openPostgres(${JSON.stringify(url)}))
         console.log('opened')
       })`,
    ],
    { cwd: PACKAGE, stdio: ['pipe', 'pipe', 'pipe'] },
  )
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString()
  })
  return {
    ready: () => waitFor(() => out.includes('ready'), { timeoutMs: 150_000, what: 'a process to load' }),
    go: () => child.stdin.end('go\n'),
    done: new Promise<{ code: number | null; out: string; err: string }>((resolve) =>
      child.once('exit', (code) => resolve({ code, out, err })),
    ),
  }
}

test('six processes opening one empty database together apply each migration once', async () => {
  const url = await postgresDatabase()
  const processes = Array.from({ length: 6 }, () => opener(url))
  await Promise.all(processes.map((p) => p.ready()))
  for (const p of processes) p.go()
  const results = await Promise.all(processes.map((p) => p.done))
  for (const r of results) expect(r, r.err).toMatchObject({ code: 0, out: expect.stringContaining('opened') })

  const client = await connect(url)
  try {
    const applied = await client.query('select hash from drizzle.__drizzle_migrations')
    const journal = await import('../../drizzle/postgres/meta/_journal.json', { with: { type: 'json' } })
    expect(applied.rows).toHaveLength(journal.default.entries.length)
    const triggers = await client.query("select tgname from pg_trigger where tgrelid = 'events'::regclass")
    expect(triggers.rows).toEqual([{ tgname: 'events_assign_id' }])
  } finally {
    await client.end()
  }
}, 240_000)
