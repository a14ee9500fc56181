import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { connectRedis, createHibernationQueue, scheduleHibernationJobs } from '@dormant/core'
import { closeDb, deploymentId, openDb } from '@dormant/db'
import { uniquePrefix } from '@dormant/testing'
import { sleep } from '../clock.js'
import type { Ctx } from '../context.js'
import { type Backend, benchDatabase, count, databaseEnv, openRaw, type Raw } from '../database.js'
import { callJson, insertBareUsers, insertHibernations, keepAliveAgent, pool } from '../fixtures.js'
import type { Step } from '../progress.js'
import { seedAdmin } from '../seed.js'
import { startApi, startWorker } from '../servers/process.js'
import { SETS } from './requests-load.js'

/**
 * Processes writing at once. SQLite: 3 APIs + 2 workers on one file (one host). PostgreSQL:
 * the 2 APIs + 2 workers, as two hosts of one API and one worker each would be.
 */
export const WRITERS: Record<Backend, { apis: number; workers: number; target: number }> = {
  sqlite: { apis: 3, workers: 2, target: 1000 },
  postgres: { apis: 2, workers: 2, target: 800 },
}

/** Requests in flight at once across the APIs, and in the floor's processes together. */
const LANES = 24

const versions = (raw: Raw) => count(raw, 'select cast(sum(version) as bigint) as n from users')
const completed = (raw: Raw) =>
  count(raw, "select cast(count(*) as integer) as n from hibernations where status = 'completed'")

/**
 * The floor for several writers on SQLite: processes committing the same PUT transaction
 * (update, read back, outbox row) in a loop on one file with better-sqlite3 and its default
 * busy handling.
 */
const SQLITE_FLOOR_WRITER = `
const Database = require(process.env.DRIVER);
const db = new Database(process.env.DB_PATH);
db.pragma('busy_timeout = 10000');
const ids = db.prepare('select id from users').all().map((r) => r.id);
const set = db.prepare('update users set permissions = ?, version = version + 1, updated_at = ? where id = ?');
const read = db.prepare('select * from users where id = ?');
const ev = db.prepare('insert into events (user_id, type, data, created_at) values (?, ?, ?, ?)');
const tx = db.transaction((id) => { set.run('["hibernation.self"]', Date.now(), id); ev.run(id, 'user.updated', JSON.stringify(read.get(id)), Date.now()); });
const until = Date.now() + Number(process.env.MS);
for (let i = 0; Date.now() < until; i++) tx.immediate(ids[(i * 7919 + process.pid) % ids.length]);
`

/**
 * The same floor on PostgreSQL: each process runs LANES ÷ processes connections of pg, each
 * committing the same transaction in a loop (the events table's append trigger included, as
 * for the API's own inserts).
 */
const POSTGRES_FLOOR_WRITER = `
const pg = require(process.env.DRIVER);
const lane = async (ids, k) => {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  const until = Date.now() + Number(process.env.MS);
  for (let i = k; Date.now() < until; i += Number(process.env.LANES)) {
    const id = ids[(i * 7919 + process.pid) % ids.length];
    await client.query('begin');
    await client.query('update users set permissions = $1, version = version + 1, updated_at = $2 where id = $3', ['["hibernation.self"]', Date.now(), id]);
    const { rows } = await client.query('select * from users where id = $1', [id]);
    await client.query('insert into events (user_id, type, data, created_at) values ($1, $2, $3, $4)', [id, 'user.updated', JSON.stringify(rows[0]), Date.now()]);
    await client.query('commit');
  }
  await client.end();
};
(async () => {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  const ids = (await client.query('select id from users')).rows.map((r) => r.id);
  await client.end();
  await Promise.all(Array.from({ length: Number(process.env.LANES) }, (_, k) => lane(ids, k)));
})().catch((err) => { console.error(err); process.exit(1); });
`

const floorWriters = async (backend: Backend, location: string, raw: Raw, processes: number, seconds: number) => {
  const before = await versions(raw)
  const t0 = performance.now()
  const driver = createRequire(import.meta.url).resolve(backend === 'postgres' ? 'pg' : 'better-sqlite3')
  const script = backend === 'postgres' ? POSTGRES_FLOOR_WRITER : SQLITE_FLOOR_WRITER
  await Promise.all(
    Array.from(
      { length: processes },
      () =>
        new Promise((resolve, reject) =>
          spawn(process.execPath, ['-e', script], {
            env: {
              ...process.env,
              ...databaseEnv(location),
              DRIVER: driver,
              MS: String(seconds * 1000),
              LANES: String(Math.ceil(LANES / processes)),
            },
            stdio: 'inherit',
          }).once('exit', (code) => (code === 0 ? resolve(code) : reject(new Error(`floor writer exited ${code}`)))),
        ),
    ),
  )
  return ((await versions(raw)) - before) / ((performance.now() - t0) / 1000)
}

/**
 * API processes taking admin PUTs and workers completing due hibernations, all on one database
 * at once (WRITERS). Changes committed per second are read from the database: users' version
 * bumps over the window.
 */
export const writeThroughput = async (ctx: Ctx, size: { seconds: number; due: number }, s: Step) => {
  const topology = WRITERS[ctx.backend]
  const location = await benchDatabase(ctx.backend)
  const prefix = uniquePrefix('bench')
  const db = await openDb(location)
  const raw = await openRaw(location)
  const redis = connectRedis(ctx.redisUrl)
  const queue = createHibernationQueue(redis, prefix, await deploymentId(db))
  const putUsers = await insertBareUsers(raw, 1000)
  const sleepers = await insertBareUsers(raw, size.due)
  const admin = await seedAdmin(location, 'w-admin@example.com', randomBytes(16).toString('hex'))
  const now = Date.now()
  const due = await insertHibernations(raw, sleepers, now - 2000, () => now - 1000)
  const env = { ...databaseEnv(location), REDIS_URL: ctx.redisUrl, REDIS_PREFIX: prefix }
  const apis = await Promise.all(Array.from({ length: topology.apis }, () => startApi(env)))
  const workers = Array.from({ length: topology.workers }, () => startWorker(env))
  const agent = keepAliveAgent(LANES)
  const processes = `${topology.apis} APIs + ${topology.workers} workers`
  try {
    await Promise.all(workers.map((w) => w.waitForOutput('worker ready', 60_000)))
    s.update(`writes: ${size.seconds} s of PUTs through ${processes} completing ${size.due} hibernations`)
    const versions0 = await versions(raw)
    const completed0 = await completed(raw)
    const t0 = performance.now()
    const stopAt = t0 + size.seconds * 1000
    const queueing = (async () => {
      for (let i = 0; i < due.length && performance.now() < stopAt; i += 500)
        await scheduleHibernationJobs(queue, due.slice(i, i + 500))
    })()
    let puts = 0
    await pool(LANES, LANES, async (lane) => {
      const api = apis[lane % apis.length]
      for (let i = lane; performance.now() < stopAt; i += LANES) {
        const res = await callJson(
          agent,
          api?.port ?? 0,
          'PUT',
          `/api/users/${putUsers[i % putUsers.length]}/permissions`,
          { cookie: admin, body: { permissions: SETS[i % 2] } },
        )
        if (res.status === 200) puts += 1
      }
    })
    const seconds = (performance.now() - t0) / 1000
    const changes = (await versions(raw)) - versions0
    const activations = (await completed(raw)) - completed0
    await queueing
    for (const api of apis) await api.stop()
    for (const w of workers) await w.signal('SIGTERM')
    await sleep(100)
    const floorProcesses = topology.apis + topology.workers
    s.update(`writes: the floor, ${floorProcesses} processes committing the same transaction`)
    const floorChangesPerSecond = await floorWriters(ctx.backend, location, raw, floorProcesses, size.seconds)
    return {
      processes,
      target: topology.target,
      seconds,
      changes,
      changesPerSecond: changes / seconds,
      putsPerSecond: puts / seconds,
      activationsPerSecond: activations / seconds,
      floorProcesses,
      floorChangesPerSecond,
    }
  } finally {
    agent.destroy()
    await Promise.all([...apis.map((a) => a.stop()), ...workers.map((w) => w.signal('SIGTERM'))])
    await queue.close()
    await redis.quit()
    await raw.close()
    await closeDb(db)
  }
}
