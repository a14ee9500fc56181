import { join } from 'node:path'
import { tempDir } from '@dormant/testing'
import { expect, test } from 'vitest'
import { check } from './checker.js'
import type { DbState, History } from './history.js'
import { recheck, saveRun } from './saved.js'

test('a saved run is judged again with the same result, maps included', () => {
  const db: DbState = {
    events: [],
    hibernations: [{ id: 'h1', userId: 'u', status: 'completed', endsAt: 10, finishedAt: 11 }],
    historyRows: new Map([['h1', 2]]),
    versions: new Map([['u', 3]]),
  }
  const history: History = {
    heartbeatMs: 1000,
    connections: [],
    cancels: [],
    revocations: [],
    neverReadTransactions: [],
    rss: [],
    rssBoundBytes: 1,
    quiescedAt: 100,
    finalClients: [{ client: 'c', userId: 'u' }],
    finalDeadlineMs: 10_000,
  }
  const violations = check(history, db)
  expect(violations.map((v) => v.kind).sort()).toEqual(['final-state', 'timers', 'timers'])
  const path = join(tempDir('chaos-saved'), 'history.json')
  saveRun(path, { seed: 9, faults: [], history, db, violations })
  expect(recheck(path)).toEqual({ seed: 9, violations })
})
