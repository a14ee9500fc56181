import { setTimeout as sleep } from 'node:timers/promises'
import type { EventPublisher, Logger } from '@dormant/core'
import { type CompletionOutcome, completeHibernations, type Db } from '@dormant/db'

type Waiting = { id: string; resolve: (outcome: CompletionOutcome) => void; reject: (err: unknown) => void }

/**
 * Group commit for completions. Jobs that run at the same moment (a burst of timers due
 * together) share one transaction and one publish instead of paying for one each. A
 * completion resolves only once its events are published, so a job is never acknowledged
 * before its events are out. If the batch fails, each completion is retried alone, so one
 * bad hibernation cannot hold the others back.
 */
export const createGroupCommit = (
  deps: { db: Db; publisher: EventPublisher; log?: Logger; holdAfterCommitMs?: number },
  maxBatch = 200,
) => {
  const waiting: Waiting[] = []

  const run = async (batch: Waiting[]) => {
    const outcomes = completeHibernations(
      deps.db,
      batch.map((w) => w.id),
    )
    if (deps.holdAfterCommitMs) {
      deps.log?.info({ hibernations: batch.map((w) => w.id) }, 'test hold: batch committed, not yet published')
      await sleep(deps.holdAfterCommitMs)
    }
    await deps.publisher.events(outcomes.flatMap((o) => (o.outcome === 'completed' ? o.events : [])))
    return outcomes
  }

  const flush = async () => {
    const batch = waiting.splice(0, maxBatch)
    if (waiting.length) setImmediate(flush)
    try {
      const outcomes = await run(batch)
      for (const [i, w] of batch.entries()) w.resolve(outcomes[i] as CompletionOutcome)
    } catch (err) {
      if (batch.length === 1) return batch[0]?.reject(err)
      for (const w of batch) run([w]).then(([outcome]) => w.resolve(outcome as CompletionOutcome), w.reject)
    }
  }

  return {
    /** Completes one hibernation, together with whatever else is completing right now. */
    complete: (id: string) =>
      new Promise<CompletionOutcome>((resolve, reject) => {
        waiting.push({ id, resolve, reject })
        if (waiting.length === 1) setImmediate(flush)
      }),
  }
}
