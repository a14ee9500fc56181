import type { History, Violation } from './history.js'
import type { FaultLog } from './nemesis.js'
import type { Member } from './topology.js'

const table = (title: string, rows: [string, string | number][]) => {
  const width = Math.max(title.length, ...rows.map(([k]) => k.length))
  const lines = [`${title.padEnd(width)}  count`, `${'-'.repeat(width)}  -----`]
  for (const [k, v] of rows) lines.push(`${k.padEnd(width)}  ${v}`)
  if (rows.length === 0) lines.push(`${'(none)'.padEnd(width)}  0`)
  return lines.join('\n')
}

const sorted = (m: Map<string, number>) => [...m].sort(([a], [b]) => a.localeCompare(b))
const tally = (keys: string[]) => {
  const m = new Map<string, number>()
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1)
  return m
}
const spread = (values: number[]) => {
  if (values.length === 0) return '-'
  const s = [...values].sort((a, b) => a - b)
  return `min ${s[0]} / median ${s[Math.floor(s.length / 2)]} / max ${s.at(-1)} ms`
}

/**
 * How long a client was without its stream: from each stream the server ended (or that
 * broke) to the first frame of that client's next stream, by the fault under way when it
 * ended (or none: a lifetime's end). Streams the client had already replaced do not count.
 * Includes the client's own wait before it reconnects.
 */
export const streamRecovery = (history: History, faults: FaultLog[]): [string, string][] => {
  const byClient = new Map<string, History['connections']>()
  for (const c of history.connections) byClient.set(c.client, [...(byClient.get(c.client) ?? []), c])
  const gaps = new Map<string, number[]>()
  for (const conns of byClient.values()) {
    conns.sort((a, b) => a.openedAt - b.openedAt)
    conns.forEach((c, i) => {
      if (c.closedBy !== 'server' || c.status !== 200 || c.closedAt === undefined) return
      const closedAt = c.closedAt
      const later = conns.slice(i + 1)
      // Already replaced (a reconnect, a new sign-in): the client was never without a stream.
      if (later.some((d) => d.openedAt < closedAt)) return
      const next = later.find((d) => d.status === 200 && d.frames.length > 0)
      if (!next) return
      const fault = faults.find((f) => f.at - 100 <= closedAt && closedAt <= f.at + f.recoveredMs + 1000)
      const key = fault?.kind ?? '(no fault)'
      gaps.set(key, [...(gaps.get(key) ?? []), (next.frames[0]?.at ?? closedAt) - closedAt])
    })
  }
  return sorted(new Map([...gaps].map(([k, v]) => [k, v.length]))).map(([k, n]) => [
    k,
    `${n} streams: ${spread(gaps.get(k) ?? [])}`,
  ])
}

/** The end-of-run summary: operations, faults, recovery, memory, violations. */
export const summary = (input: {
  ops: Map<string, number>
  faults: FaultLog[]
  members: Member[]
  violations: Violation[]
  /** What the checker had to work on: streams by opening, cancels and revocations judged. */
  coverage: [string, number][]
  /** `streamRecovery` of the run. */
  recovery: [string, string][]
}) => {
  const faultKinds = tally(input.faults.map((f) => f.kind))
  const recovery = [...faultKinds.keys()].map((k): [string, string] => [
    k,
    spread(input.faults.filter((f) => f.kind === k).map((f) => f.recoveredMs)),
  ])
  const ready = input.members.map((m): [string, string] => [
    m.name,
    `ready ${spread(m.readyMs.slice(1))}; SIGTERM to exit ${spread(m.termMs)}; max RSS ${Math.round(m.maxRss / 1048576)} MB`,
  ])
  return [
    table('operation', sorted(input.ops)),
    table('checked', input.coverage),
    table('fault', sorted(faultKinds)),
    table('fault duration (fault to healed)', recovery),
    table('stream ended → next stream served, by fault', input.recovery),
    table('process: restart, stop, memory', ready),
    table('violation', sorted(tally(input.violations.map((v) => v.kind)))),
  ].join('\n\n')
}

/** How many streams opened fresh, by replay and with a reset, and what else the checker judged. */
export const coverage = (history: History): [string, number][] => {
  const opened = (c: History['connections'][number]) => {
    const first = c.frames[0]
    if (!first) return c.status === 200 ? 'streams: no frame' : `streams: refused (${c.status || 'no answer'})`
    if (c.lastEventId === undefined) return 'streams: fresh snapshot'
    return (first.data as { reset?: boolean }).reset ? 'streams: reset snapshot' : 'streams: replay'
  }
  const counts = tally(history.connections.map(opened))
  return [
    ...sorted(counts),
    ['frames', history.connections.reduce((sum, c) => sum + c.frames.length, 0)],
    ['cancels that returned 200', history.cancels.length],
    ['revocations (logout returned 204)', history.revocations.length],
  ]
}
