import { setTimeout as sleep } from 'node:timers/promises'
import type { EventPublisher, Logger } from '@dormant/core'
import { type CompletionOutcome, completeHibernations, type Db } from '@dormant/db'

type Waiting = { id: string; resolve: (outcome: CompletionOutcome) => void; reject: (err: unknown) => void }

/**
 * Group commit for completions. Jobs that run at the same moment (a burst of timers due
 * together) share one transaction and one publish instead of paying for one each. One
 * transaction at a time: the completions that arrive while it commits wait and form the next
 * batch (so a slow database makes batches bigger, not transactions more numerous), and each
 * batch's publish is sent before the next commit starts, so events reach Redis in commit order.
 * A completion resolves only once its events are published, so a job is never acknowledged
 * before its events are out. If a batch fails, each completion is retried alone, so one bad
 * hibernation cannot hold the others back.
 */
export const createGroupCommit = (
  deps: { db: Db; publisher: EventPublisher; log?: Logger; holdAfterCommitMs?: number },
  maxBatch = 200,
) => {
  const waiting: Waiting[] = []
  /** Completions of a failed batch, each committed as a batch of its own, before new ones. */
  const alone: Waiting[] = []
  let committing = false

  const publish = async (batch: Waiting[], outcomes: CompletionOutcome[]) => {
    if (deps.holdAfterCommitMs) {
      deps.log?.info({ hibernations: batch.map((w) => w.id) }, 'test hold: batch committed, not yet published')
      await sleep(deps.holdAfterCommitMs)
    }
    await deps.publisher.events(outcomes.flatMap((o) => (o.outcome === 'completed' ? o.events : [])))
  }

  const failed = (batch: Waiting[], err: unknown) => {
    if (batch.length === 1) return batch[0]?.reject(err)
    alone.push(...batch)
    setImmediate(next)
  }

  const next = async () => {
    if (committing) return
    const batch = alone.length ? alone.splice(0, 1) : waiting.splice(0, maxBatch)
    if (!batch.length) return
    committing = true
    let outcomes: CompletionOutcome[]
    try {
      outcomes = await completeHibernations(
        deps.db,
        batch.map((w) => w.id),
      )
    } catch (err) {
      return failed(batch, err)
    } finally {
      committing = false
      setImmediate(next)
    }
    try {
      // Sent (or its hold begun) before the next commit can start: publishes go out in commit order.
      await publish(batch, outcomes)
      for (const [i, w] of batch.entries()) w.resolve(outcomes[i] as CompletionOutcome)
    } catch (err) {
      failed(batch, err)
    }
  }

  return {
    /** Completes one hibernation, together with whatever else is completing right now. */
    complete: (id: string) =>
      new Promise<CompletionOutcome>((resolve, reject) => {
        waiting.push({ id, resolve, reject })
        if (waiting.length === 1) setImmediate(next)
      }),
  }
}
