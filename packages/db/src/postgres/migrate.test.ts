import { spawn } from 'node:child_process'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startTcpProxy, waitFor } from '@dormant/testing'
import { expect, test } from 'vitest'
import { MIGRATION_LOCK } from './client.js'
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

test('a process whose connection breaks while it waits to migrate tries again, and opens', async () => {
  const url = await postgresDatabase()
  const server = new URL(url)
  // The opener reaches PostgreSQL through a proxy, which cuts its connection as a restart would.
  const proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) }, 'postgres')
  const throughProxy = new URL(url)
  throughProxy.port = String(proxy.port)
  const holder = await connect(url)
  try {
    // Another process is migrating: the opener waits on the lock.
    await holder.query('select pg_advisory_lock($1)', [MIGRATION_LOCK])
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `import { closeDb, openDb } from './src/index.ts'
         const db = await openDb(${JSON.stringify(throughProxy.href)}, {
           waitMs: 60_000,
           onWait: (err) => console.log('waiting: ' + err.message),
         })
         await closeDb(db)
         console.log('opened')`,
      ],
      { cwd: PACKAGE, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    for (const s of [child.stdout, child.stderr]) s.on('data', (c: Buffer) => (out += c.toString()))
    const done = new Promise<number | null>((resolve) => child.once('exit', resolve))
    const tried = () => {
      if (child.exitCode !== null) throw new Error(`the opener exited (${child.exitCode}):\n${out}`)
      return out.includes('waiting: ')
    }
    /** A session waiting for the migration lock, other than `not`. */
    const waiter = async (not = 0) =>
      (
        await holder.query<{ pid: number }>(
          `select pid from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock' and wait_event = 'advisory'
              and pid <> $1`,
          [not],
        )
      ).rows[0]?.pid
    const first = await waitFor(() => waiter(), {
      timeoutMs: 150_000,
      what: 'the opener to wait for the migration lock',
    })
    // Its connection reset mid-query, and new ones refused for a while.
    proxy.partition('refuse')
    await waitFor(tried, { timeoutMs: 30_000, what: 'a failed try' })
    proxy.heal()
    // (The server may not notice the first session's client is gone while it waits on a lock.)
    await waitFor(() => waiter(first), { timeoutMs: 30_000, what: 'the opener to wait again, on a new connection' })
    await holder.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK])
    expect(await done, out).toBe(0)
    expect(out).toContain('opened')
  } finally {
    await holder.end()
    await proxy.close()
  }
}, 240_000)
