/**
 * One side of the completion/cancel race in complete-hibernation.test.ts, run as its own
 * process so its transactions truly overlap the other side's. Input: argv[2] is JSON
 * `{ location, op, items: [{ id, userId }] }` (a SQLite path or a postgres:// URL). It prints `ready`, reads the start time from stdin,
 * and prints one JSON array of `{ id, ok, start, end }`, times on the shared wall clock.
 */
import { once } from 'node:events'
import { cancelHibernation, closeDb, completeHibernation, openDb } from '@dormant/db'

type Input = { location: string; op: 'complete' | 'cancel'; items: { id: string; userId: string }[] }

const SLOT_MS = 4
const input = JSON.parse(process.argv[2] ?? '{}') as Input
const db = await openDb(input.location)
const clock = () => performance.timeOrigin + performance.now()
process.stdout.write('ready\n')
const [line] = (await once(process.stdin, 'data')) as [Buffer]
const startAt = Number(line.toString())
process.stdin.destroy()
// Item i starts at the same instant on both sides (a slot every 4 ms), so each pair meets:
// a busy wait keeps that instant sharp.
const results: { id: string; ok: boolean; start: number; end: number }[] = []
for (const [i, item] of input.items.entries()) {
  while (clock() < startAt + i * SLOT_MS) {}
  const start = clock()
  const now = Date.now()
  const ok =
    input.op === 'complete'
      ? (await completeHibernation(db, item.id, now)).outcome === 'completed'
      : 'hibernationId' in (await cancelHibernation(db, item.userId, now))
  results.push({ id: item.id, ok, start, end: clock() })
}
await closeDb(db)
process.stdout.write(`${JSON.stringify(results)}\n`)
