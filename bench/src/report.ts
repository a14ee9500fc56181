import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Backend } from './database.js'
import type { ScenarioResult, Target } from './result.js'
import { fmt } from './result.js'

export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url))

const verdict = (t: Target) => (t.pass === undefined ? '—' : t.pass ? 'PASS' : 'MISS')

const pad = (rows: string[][]) => {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? []
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

const BACKEND_NAME: Record<Backend, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' }

/**
 * One result per scenario for the table, each saying its backend: a scenario run on both
 * backends becomes one result whose rows and targets come in pairs, SQLite's then PostgreSQL's.
 */
export const sideBySide = (results: ScenarioResult[]): ScenarioResult[] => {
  const ids = [...new Set(results.map((r) => r.id))]
  return ids.map((id) => {
    const runs = results.filter((r) => r.id === id)
    const first = runs[0] as ScenarioResult
    const name = (r: ScenarioResult) => BACKEND_NAME[r.backend ?? 'sqlite']
    if (runs.length === 1) return { ...first, title: `${first.title} [${name(first)}]` }
    return {
      ...first,
      title: `${first.title} [${runs.map(name).join(' | ')}]`,
      rows: first.rows.flatMap((_, i) =>
        runs.flatMap((r) => {
          const row = r.rows[i]
          return row ? [{ ...row, label: `${name(r)}  ${row.label}` }] : []
        }),
      ),
      targets: first.targets.flatMap((_, i) =>
        runs.flatMap((r) => {
          const t = r.targets[i]
          return t ? [{ ...t, label: `${name(r)}  ${t.label}` }] : []
        }),
      ),
    }
  })
}

/** The end-of-run table: each scenario's figures, then its targets with PASS/MISS. */
export const table = (results: ScenarioResult[]) =>
  results
    .map((r) => {
      const columns = [...new Set(r.rows.flatMap((row) => Object.keys(row.values)))]
      const figures = r.rows.length
        ? pad([['', ...columns], ...r.rows.map((row) => [row.label, ...columns.map((c) => row.values[c] ?? '')])])
        : ''
      const targets = pad(
        r.targets.map((t) => [
          `  ${t.label}`,
          `${fmt(t.value)}${t.unit}`,
          `target ${t.op === '<=' ? '≤' : '≥'} ${fmt(t.limit)}${t.unit}`,
          verdict(t),
        ]),
      )
      return [`## ${r.title}`, figures, targets].filter(Boolean).join('\n')
    })
    .join('\n\n')

/** Markdown version of the same table, for docs/performance.md and the README. */
export const markdown = (results: ScenarioResult[]) =>
  results
    .map((r) => {
      const columns = [...new Set(r.rows.flatMap((row) => Object.keys(row.values)))]
      const figures = r.rows.length
        ? [
            `| | ${columns.join(' | ')} |`,
            `|---|${columns.map(() => '---:').join('|')}|`,
            ...r.rows.map((row) => `| ${row.label} | ${columns.map((c) => row.values[c] ?? '').join(' | ')} |`),
          ].join('\n')
        : ''
      const targets = [
        '| target | measured | limit | |',
        '|---|---:|---:|---|',
        ...r.targets.map(
          (t) =>
            `| ${t.label} | ${fmt(t.value)}${t.unit} | ${t.op === '<=' ? '≤' : '≥'} ${fmt(t.limit)}${t.unit} | ${verdict(t)} |`,
        ),
      ].join('\n')
      return [`### ${r.title}`, figures, targets].filter(Boolean).join('\n\n')
    })
    .join('\n\n')

/**
 * Quick runs get their own `-quick` files, so a smoke test never overwrites a full run's
 * results, nor a PostgreSQL run a SQLite one's; a run of some scenarios only (`--only`) writes its own file and leaves `latest` alone.
 */
export const writeJson = (
  payload: unknown,
  startedAt: Date,
  options: { quick: boolean; partial: boolean; backends: Backend[] },
) => {
  mkdirSync(RESULTS_DIR, { recursive: true })
  // SQLite runs keep the names they always had; other backends get files of their own.
  const db = options.backends.join('-')
  const suffix = `${db === 'sqlite' ? '' : `-${db}`}${options.quick ? '-quick' : ''}`
  const name = `${startedAt.toISOString().replace(/[:.]/g, '-')}${options.partial ? '-partial' : ''}${suffix}.json`
  const text = `${JSON.stringify(payload, null, 2)}\n`
  writeFileSync(`${RESULTS_DIR}${name}`, text)
  if (options.partial) return [`bench/results/${name}`]
  writeFileSync(`${RESULTS_DIR}latest${suffix}.json`, text)
  return [`bench/results/${name}`, `bench/results/latest${suffix}.json`]
}
