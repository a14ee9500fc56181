import { afterEach, describe, expect, test } from 'vitest'
import { COMPLETED_ONCE, startTimerSystem, type TimerSystem, untilPast } from './support.js'

describe('worker crashes and restarts', () => {
  let system: TimerSystem | undefined
  afterEach(async () => {
    await system?.stop()
    system = undefined
  })

  test('kill -9 between a batch commit and its acknowledgement: all 20 complete exactly once after a new worker starts', async () => {
    system = await startTimerSystem()
    const queue = system.api.deps.queue
    // The worker holds each batch after its commit, before publish and ack: the kill lands there.
    const first = await system.startWorker({ TEST_HOLD_AFTER_COMMIT_MS: '60000' })
    const hs = await system.hibernateDirect(20, () => Date.now() + 1500)

    await first.waitForOutput('test hold: batch committed', 10_000)
    const hold = first
      .output()
      .split('\n')
      .find((l) => l.includes('test hold: batch committed'))
    const held = (JSON.parse(hold ?? '{}') as { hibernations?: string[] }).hibernations ?? []
    expect(held.length).toBeGreaterThan(0)
    // The proof that the kill lands in the window: committed in the DB, still active (unacknowledged) in Redis.
    for (const id of held) {
      expect(await system.counts({ id })).toEqual(COMPLETED_ONCE)
      expect(await queue.getJobState(id)).toBe('active')
    }
    expect(await first.signal('SIGKILL')).toBe('SIGKILL')
    // Later batches may have reached the hold too; every batch committed by then is unacknowledged.
    const committed = await system!.completedAmong(hs)
    const states = await Promise.all(committed.map((h) => queue.getJobState(h.id)))
    const atKill = {
      committed: committed.length,
      committedUnacknowledged: states.filter((state) => state === 'active').length,
      heldInFirstBatch: held.length,
    }
    expect(atKill.committedUnacknowledged).toBe(atKill.committed)

    await system.startWorker()
    const ready = Date.now()
    await system.settled(hs, 20_000)
    console.info(
      `kill -9: ${JSON.stringify(atKill)} at the kill; all 20 completed ${Date.now() - ready} ms after the new worker was ready`,
    )
    const counts = await system.countsAll()
    for (const h of hs) expect(counts.get(h.id)).toEqual(COMPLETED_ONCE)
    await expect
      // A job in flight at the kill stays active until its lock expires (JOB_LOCK_MS 2 s) and the
      // stalled check hands it back; it then finds its hibernation completed and is acknowledged.
      .poll(() => queue.getJobCounts('active', 'wait', 'delayed', 'failed'), { timeout: 10_000 })
      .toEqual({
        active: 0,
        wait: 0,
        delayed: 0,
        failed: 0,
      })
    for (const id of held) expect(await queue.getJobState(id)).toBe('completed')
  })

  test('no worker at the due time: the hibernation completes as soon as a worker starts', async () => {
    system = await startTimerSystem()
    const hs = await system.hibernateDirect(3, () => Date.now() + 1000)
    await untilPast(Math.max(...hs.map((h) => h.endsAt)) + 200)
    for (const h of hs) expect((await system.counts(h)).status).toBe('scheduled')

    const started = Date.now()
    await system.startWorker()
    const ready = Date.now()
    await system.settled(hs)
    console.info(
      `worker down at due time: completed ${Date.now() - ready} ms after 'worker ready' (${ready - started} ms to start)`,
    )
    for (const h of hs) expect(await system.counts(h)).toEqual(COMPLETED_ONCE)
  })

  test('SIGTERM mid-batch: in-flight jobs finish, exit code 0, nothing lost', async () => {
    system = await startTimerSystem()
    const queue = system.api.deps.queue
    // Many more than one worker completes in the moment between its first completion and the signal.
    const due = Date.now() + 1000
    const hs = await system.hibernateDirect(1500, () => due)
    const worker = await system.startWorker()

    await worker.waitForOutput('hibernation completed', 10_000)
    expect(await worker.signal('SIGTERM')).toBe(0)
    const output = worker.output()
    const afterSignal = output.slice(output.indexOf('shutting down'))
    const finishedAfterSignal = afterSignal.split('\n').filter((l) => l.includes('hibernation completed')).length
    const done = await system!.completedAmong(hs)
    console.info(
      `SIGTERM: ${done.length} completed by exit (of ${hs.length}), ${finishedAfterSignal} of them after the signal`,
    )
    // Jobs that were running when the signal came finished before the process exited.
    expect(finishedAfterSignal).toBeGreaterThan(0)
    expect(await queue.getActiveCount()).toBe(0)
    for (const h of done) expect(await queue.getJobState(h.id)).toBe('completed')
    const rest = hs.filter((h) => !done.includes(h))
    expect(rest.length).toBeGreaterThan(0)
    // The rest are queued for the next worker: waiting, or still delayed where BullMQ had not
    // yet promoted them (it promotes due jobs in batches as workers fetch).
    for (const h of rest) expect(['waiting', 'delayed']).toContain(await queue.getJobState(h.id))

    await system.startWorker()
    await system.settled(hs, 20_000)
    const counts = await system.countsAll()
    for (const h of hs) expect(counts.get(h.id)).toEqual(COMPLETED_ONCE)
  })
})
