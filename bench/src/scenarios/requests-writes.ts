import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { connectRedis, createHibernationQueue, scheduleHibernationJobs } from '@dormant/core'
import { closeDb, createSession, createUser, type Db, deploymentId, openDb, startHibernation } from '@dormant/db'
import { tempDbPath, uniquePrefix } from '@dormant/testing'
import { sleep } from '../clock.js'
import type { Ctx } from '../context.js'
import { callJson, insertBareUsers, keepAliveAgent, pool } from '../fixtures.js'
import type { Step } from '../progress.js'
import { startApi, startWorker } from '../servers/process.js'
import { SETS } from './requests-load.js'

const versions = (db: Db) => (db.$client.prepare('select sum(version) as v from users').get() as { v: number }).v
const completed = (db: Db) =>
  (db.$client.prepare("select count(*) as n from hibernations where status = 'completed'").get() as { n: number }).n

/**
 * The floor for several writers: processes committing the same PUT transaction (update,
 * read back, outbox row) in a loop on one file with better-sqlite3 and its default busy handling.
 */
const FLOOR_WRITER = `
const Database = require(process.env.SQLITE);
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

const floorWriters = async (dbPath: string, processes: number, seconds: number) => {
  const db = openDb(dbPath)
  try {
    const before = versions(db)
    const t0 = performance.now()
    const sqlite = createRequire(import.meta.url).resolve('better-sqlite3')
    await Promise.all(
      Array.from(
        { length: processes },
        () =>
          new Promise((resolve, reject) =>
            spawn(process.execPath, ['-e', FLOOR_WRITER], {
              env: { ...process.env, SQLITE: sqlite, DB_PATH: dbPath, MS: String(seconds * 1000) },
              stdio: 'inherit',
            }).once('exit', (code) => (code === 0 ? resolve(code) : reject(new Error(`floor writer exited ${code}`)))),
          ),
      ),
    )
    return (versions(db) - before) / ((performance.now() - t0) / 1000)
  } finally {
    closeDb(db)
  }
}

/**
 * 3 API processes taking admin PUTs and 2 workers completing due hibernations, all on one
 * SQLite file at once. Changes committed per second are read from the file: users' version
 * bumps over the window.
 */
export const writeThroughput = async (ctx: Ctx, size: { seconds: number; due: number }, s: Step) => {
  const dbPath = tempDbPath()
  const prefix = uniquePrefix('bench')
  const db = openDb(dbPath)
  const redis = connectRedis(ctx.redisUrl)
  const queue = createHibernationQueue(redis, prefix, deploymentId(db))
  const putUsers = insertBareUsers(db, 1000)
  const sleepers = insertBareUsers(db, size.due)
  const token = randomBytes(16).toString('hex')
  const admin = createUser(db, { email: 'w-admin@example.com', passwordHash: 'x', role: 'admin', permissions: [] })
  if ('error' in admin) throw new Error('seeding the admin')
  createSession(db, {
    userId: admin.user.id,
    tokenHash: createHash('sha256').update(token).digest('base64url'),
    ttlMs: 3600_000,
  })
  const due = sleepers.map((id) => {
    const started = startHibernation(db, id, 1000, Date.now() - 2000)
    if ('error' in started) throw new Error(`start hibernation: ${started.error}`)
    return started.hibernation
  })
  const env = { DB_PATH: dbPath, REDIS_URL: ctx.redisUrl, REDIS_PREFIX: prefix }
  const apis = await Promise.all([1, 2, 3].map(() => startApi(env)))
  const workers = [1, 2].map(() => startWorker(env))
  const agent = keepAliveAgent(24)
  try {
    await Promise.all(workers.map((w) => w.waitForOutput('worker ready', 60_000)))
    s.update(`writes: ${size.seconds} s of PUTs through 3 APIs while 2 workers complete ${size.due} hibernations`)
    const versions0 = versions(db)
    const completed0 = completed(db)
    const t0 = performance.now()
    const stopAt = t0 + size.seconds * 1000
    const queueing = (async () => {
      for (let i = 0; i < due.length && performance.now() < stopAt; i += 500)
        await scheduleHibernationJobs(queue, due.slice(i, i + 500))
    })()
    let puts = 0
    await pool(24, 24, async (lane) => {
      const api = apis[lane % apis.length]
      for (let i = lane; performance.now() < stopAt; i += 24) {
        const res = await callJson(
          agent,
          api?.port ?? 0,
          'PUT',
          `/api/users/${putUsers[i % putUsers.length]}/permissions`,
          {
            cookie: `dormant_session=${token}`,
            body: { permissions: SETS[i % 2] },
          },
        )
        if (res.status === 200) puts += 1
      }
    })
    const seconds = (performance.now() - t0) / 1000
    const changes = versions(db) - versions0
    const activations = completed(db) - completed0
    await queueing
    for (const api of apis) await api.stop()
    for (const w of workers) await w.signal('SIGTERM')
    await sleep(100)
    s.update('writes: the floor, 5 processes committing the same transaction')
    const floorChangesPerSecond = await floorWriters(dbPath, 5, size.seconds)
    return {
      seconds,
      changes,
      changesPerSecond: changes / seconds,
      putsPerSecond: puts / seconds,
      activationsPerSecond: activations / seconds,
      floorChangesPerSecond,
    }
  } finally {
    agent.destroy()
    await Promise.all([...apis.map((a) => a.stop()), ...workers.map((w) => w.signal('SIGTERM'))])
    await queue.close()
    await redis.quit()
    closeDb(db)
  }
}
