import { connect, type Socket } from 'node:net'
import { connectRedis, createEventPublisher } from '@dormant/core'
import { closeDb, deploymentId, openDb, setPermissions } from '@dormant/db'
import { queryDb, streamPosition } from '@dormant/testing'
import { afterAll, expect, inject, test } from 'vitest'
import { type ApiProcess, committedEvents, dbOf, ids, report, spawnApi, systemEnv } from './support.js'

let api: ApiProcess | undefined
let stalled: Socket | undefined
afterAll(async () => {
  stalled?.destroy()
  await api?.signal('SIGTERM')
})

const BUFFER_LIMIT = 1024 * 1024

const metric = async (name: string) => {
  const text = await (await api?.call('/metrics'))?.text()
  const line = text?.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
  return Number(line?.split(' ').at(-1) ?? Number.NaN)
}

/** Ids of the complete frames in raw SSE bytes (a trailing partial frame is not an event received). */
const frameIds = (raw: string) => {
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4)
  const blocks = body.split('\n\n').slice(0, -1)
  return blocks
    .filter((b) => !b.includes('event: snapshot'))
    .map((b) => /^id: (\S+)$/m.exec(b)?.[1])
    .filter((id): id is string => id !== undefined)
    .map(streamPosition)
}

test('a client that stops reading is cut off past its buffer cap, memory stays bounded, replay catches it up', async () => {
  const env = await systemEnv(inject('redisUrl'), {
    SSE_BUFFER_LIMIT_BYTES: String(BUFFER_LIMIT),
    SSE_HEARTBEAT_MS: '60000',
  })
  api = await spawnApi(env)
  const user = await api.newUser()
  const reader = api.stream(user.cookie)
  await reader.untilEvents(1, 'snapshot')

  // A raw HTTP/1.0 client (no chunking) that reads the snapshot and then stops reading.
  let raw = ''
  let closed = false
  const socket = connect(api.port, '127.0.0.1')
  stalled = socket
  socket.setEncoding('utf8')
  socket.on('close', () => {
    closed = true
  })
  socket.write(`GET /api/events HTTP/1.0\r\nHost: 127.0.0.1\r\nCookie: ${user.cookie}\r\n\r\n`)
  await new Promise<void>((resolve) => {
    const onData = (chunk: string) => {
      raw += chunk
      if (raw.includes('event: snapshot')) {
        socket.off('data', onData)
        socket.pause()
        resolve()
      }
    }
    socket.on('data', onData)
  })
  socket.on('data', (chunk: string) => {
    raw += chunk
  })
  socket.pause()

  // Another process (as the worker would) commits big events and announces them via Redis.
  const db = await openDb(dbOf(env))
  const redis = connectRedis(env.REDIS_URL)
  const publisher = createEventPublisher(redis, env.REDIS_PREFIX, await deploymentId(db))
  await queryDb(dbOf(env), 'update users set name = ? where id = ?', ['n'.repeat(16 * 1024), user.id])
  const rssBefore = await metric('process_resident_memory_bytes')
  const startId = Math.max(...(await committedEvents(dbOf(env))).all)
  let written = 0
  let bytes = 0
  try {
    while (!api.output().includes('client not reading') && written < 3000) {
      // Bursts stay well under the cap, so a client that does read is never cut off.
      for (let k = 0; k < 2; k++, written++) {
        const change = await setPermissions(db, user.id, written % 2 ? ['reports.view'] : ['billing.manage'])
        const last = change?.events.at(-1)
        if (last) bytes += JSON.stringify(last.data).length
        if (last && k === 1) await publisher.upTo(last.id)
      }
      await new Promise((r) => setTimeout(r, 2))
    }
  } finally {
    await closeDb(db)
  }
  const finalId = Math.max(...(await committedEvents(dbOf(env))).byUser(user.id))
  await publisher.upTo(finalId)
  await redis.quit()
  expect(api.output(), `no overflow after ${written} events`).toContain('stream closed: client not reading')
  const rssAfter = await metric('process_resident_memory_bytes')
  expect(await metric('dormant_sse_overflow_closes_total')).toBe(1)

  // The stalled client now reads what the kernel held, then sees the connection end.
  socket.resume()
  await new Promise<void>((resolve) => (closed ? resolve() : socket.once('close', () => resolve())))
  const seen = frameIds(raw)
  expect(seen.length).toBeLessThan(written)

  // The reading client was not affected: it has every event.
  const expected = (await committedEvents(dbOf(env), startId)).byUser(user.id)
  await reader.until(() => ids(reader).length >= expected.length, 30_000, 'reader events')
  expect(ids(reader)).toEqual(expected)
  expect(reader.ended).toBe(false)

  // Reconnecting with the last id it saw fills the gap exactly.
  const again = api.stream(user.cookie, { lastEventId: seen.at(-1) ?? startId })
  await again.until(() => seen.length + ids(again).length >= expected.length, 30_000, 'replay')
  expect([...seen, ...ids(again)]).toEqual(expected)
  // A replay bigger than the cap on its own (the client saw nothing at all) is not cut off.
  const full = api.stream(user.cookie, { lastEventId: startId })
  await full.until(() => ids(full).length >= expected.length, 30_000, 'full replay')
  expect(ids(full)).toEqual(expected)
  expect(bytes).toBeGreaterThan(2 * BUFFER_LIMIT)
  report(
    `slow client: ${written} events (${(bytes / 1e6).toFixed(1)} MB) written while it did not read; cut off after it had ${seen.length} (cap ${BUFFER_LIMIT} B); RSS ${(rssBefore / 1e6).toFixed(0)} → ${(rssAfter / 1e6).toFixed(0)} MB; replay delivered the other ${ids(again).length}, 0 lost, 0 duplicated`,
  )
  // Without the cap the server would hold everything the client did not read.
  expect(rssAfter - rssBefore).toBeLessThan(Math.max(bytes / 2, 32e6))
})
