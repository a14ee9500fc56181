import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
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
 * results; a run of some scenarios only (`--only`) writes its own file and leaves `latest` alone.
 */
export const writeJson = (payload: unknown, startedAt: Date, options: { quick: boolean; partial: boolean }) => {
  mkdirSync(RESULTS_DIR, { recursive: true })
  const suffix = options.quick ? '-quick' : ''
  const name = `${startedAt.toISOString().replace(/[:.]/g, '-')}${options.partial ? '-partial' : ''}${suffix}.json`
  const text = `${JSON.stringify(payload, null, 2)}\n`
  writeFileSync(`${RESULTS_DIR}${name}`, text)
  if (options.partial) return [`bench/results/${name}`]
  writeFileSync(`${RESULTS_DIR}latest${suffix}.json`, text)
  return [`bench/results/${name}`, `bench/results/latest${suffix}.json`]
}
