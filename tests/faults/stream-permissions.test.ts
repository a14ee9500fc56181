import type { SseRecorder } from '@dormant/testing'
import { afterAll, expect, inject, test } from 'vitest'
import { type ApiProcess, report, spawnApi, spawnWorker, systemEnv } from './support.js'

const procs: { signal(s: NodeJS.Signals): Promise<unknown> }[] = []
afterAll(async () => {
  await Promise.all(procs.map((p) => p.signal('SIGTERM')))
})

const frameTypes = (s: SseRecorder) => s.events().map((f) => f.event)
const completions = (s: SseRecorder) => s.events('hibernation.completed').length

/** Starts a 1 s hibernation as the user; the worker completes it (through Redis). */
const hibernate = async (api: ApiProcess, cookie: string) => {
  const res = await api.call('/api/me/hibernation', { method: 'POST', cookie })
  expect(res.status).toBe(201)
}

test('transaction.created follows transactions.read on live streams and replays, through the worker and Redis', async () => {
  const env = await systemEnv(inject('redisUrl'), { HIBERNATION_DURATION_MS: '1000' })
  // The stream on one API, the changes through the other, the completions in the worker.
  const [a, b] = [await spawnApi(env), await spawnApi(env)]
  procs.push(a, b, await spawnWorker(env))
  const [without, other] = [
    await a.newUser({ permissions: ['hibernation.self'] }),
    await a.newUser({ permissions: ['hibernation.self', 'transactions.read'] }),
  ]
  const live = b.stream(without.cookie)
  const neighbour = b.stream(other.cookie)
  await Promise.all([live.untilEvents(1, 'snapshot'), neighbour.untilEvents(1, 'snapshot')])
  // Resumed as a browser would: with the snapshot's id as sent.
  const from = live.events('snapshot')[0]?.id

  await Promise.all([hibernate(a, without.cookie), hibernate(a, other.cookie)])
  await Promise.all([live.untilEvents(1, 'hibernation.completed'), neighbour.untilEvents(1, 'hibernation.completed')])
  expect(frameTypes(live)).not.toContain('transaction.created')
  // Isolation through the worker and Redis: each stream holds only its own user's events.
  expect(JSON.stringify(live.frames)).not.toContain(other.id)
  expect(JSON.stringify(neighbour.frames)).not.toContain(without.id)
  expect(neighbour.events('transaction.created')).toHaveLength(1)

  // A replay obeys the same rule.
  const replay = b.stream(without.cookie, { lastEventId: from })
  await replay.untilEvents(1, 'hibernation.completed')
  expect(frameTypes(replay)).not.toContain('transaction.created')

  // Granted while the stream is open: the next completion's transaction reaches it at once.
  await b.grant(without.id, ['hibernation.self', 'transactions.read'])
  await hibernate(a, without.cookie)
  await live.until(() => completions(live) === 2, 10_000, 'second completion')
  expect(live.events('transaction.created')).toHaveLength(1)

  // Revoked while open: the next one's transaction does not.
  await a.grant(without.id, ['hibernation.self'])
  await hibernate(a, without.cookie)
  await live.until(() => completions(live) === 3, 10_000, 'third completion')
  expect(live.events('transaction.created')).toHaveLength(1)
  report(
    `stream without transactions.read: ${frameTypes(live).filter((t) => t === 'transaction.created').length} transaction frame(s) across 3 completions (only while granted)`,
  )
})
