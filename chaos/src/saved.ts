import { readFileSync, writeFileSync } from 'node:fs'
import { check } from './checker.js'
import type { DbState, History, Violation } from './history.js'
import type { FaultLog } from './nemesis.js'

type Saved = {
  seed: number
  faults: FaultLog[]
  history: History
  db: Omit<DbState, 'historyRows' | 'versions'> & { historyRows: [string, number][]; versions: [string, number][] }
  violations: Violation[]
}

/** Writes everything the checker read, so a changed checker can judge the same run again. */
export const saveRun = (
  path: string,
  run: { seed: number; faults: FaultLog[]; history: History; db: DbState; violations: Violation[] },
) => {
  const saved: Saved = {
    ...run,
    db: { ...run.db, historyRows: [...run.db.historyRows], versions: [...run.db.versions] },
  }
  writeFileSync(path, JSON.stringify(saved))
}

/** Runs the checker again over a saved run (`npm run chaos -- --check <folder>/history.json`). */
export const recheck = (path: string) => {
  const saved = JSON.parse(readFileSync(path, 'utf8')) as Saved
  const db: DbState = { ...saved.db, historyRows: new Map(saved.db.historyRows), versions: new Map(saved.db.versions) }
  return { seed: saved.seed, violations: check(saved.history, db) }
}
