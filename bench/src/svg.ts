import type { machine } from './machine.js'
import { fmt, type ScenarioResult, type Target } from './result.js'

const ROW = 26
const LEFT = 330
const BAR = 420
const MIN = 0.1
const MAX = 100

/** How far a figure is on the good side of its target: > 1 means met, by that factor. */
const headroom = (t: Target) => {
  if (t.limit === 0) return t.value === 0 ? MAX : MIN
  if (!Number.isFinite(t.value) || t.value <= 0) return t.op === '<=' ? MAX : MIN
  return t.op === '>=' ? t.value / t.limit : t.limit / t.value
}

const x = (v: number) => LEFT + (Math.log10(Math.min(MAX, Math.max(MIN, v)) / MIN) / Math.log10(MAX / MIN)) * BAR

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * A hand-written bar chart of every target of the run: each bar is the measured figure's
 * headroom over its target on a log axis, so the line at 1× separates met from missed.
 */
export const svgChart = (results: ScenarioResult[], facts: ReturnType<typeof machine>, size: string) => {
  const rows = results.flatMap((r) => r.targets.map((t) => ({ scenario: r.id, t })))
  const top = 70
  const height = top + rows.length * ROW + 50
  const width = LEFT + BAR + 220
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="16" y="24" font-size="16" font-weight="600">Dormant — npm run bench (${esc(size)})</text>`,
    `<text x="16" y="44" fill="#555">${esc(`${facts.cpus} × ${facts.cpuModel}, Node ${facts.node}, ${(facts.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB. Bar: headroom over the target (log scale); right of 1× = met.`)}</text>`,
  ]
  for (const tick of [0.1, 1, 10, 100]) {
    parts.push(
      `<line x1="${x(tick)}" y1="${top - 8}" x2="${x(tick)}" y2="${top + rows.length * ROW}" stroke="${tick === 1 ? '#333' : '#ddd'}" stroke-width="${tick === 1 ? 1.5 : 1}"/>`,
      `<text x="${x(tick)}" y="${top + rows.length * ROW + 16}" text-anchor="middle" fill="#555">${tick}×</text>`,
    )
  }
  rows.forEach(({ scenario, t }, i) => {
    const y = top + i * ROW
    const h = headroom(t)
    const met = h >= 1
    const color = t.pass === undefined ? (met ? '#8fb8de' : '#e0b0a0') : t.pass ? '#3c8d5a' : '#c0392b'
    const from = x(Math.min(h, 1))
    const to = x(Math.max(h, 1))
    const figure = `${fmt(t.value)}${t.unit} (target ${t.op === '<=' ? '≤' : '≥'} ${fmt(t.limit)}${t.unit})`
    parts.push(
      `<text x="16" y="${y + 15}">${esc(`${scenario}: ${t.label}`)}</text>`,
      `<rect x="${from}" y="${y + 4}" width="${Math.max(2, to - from)}" height="${ROW - 10}" fill="${color}"/>`,
      `<text x="${LEFT + BAR + 8}" y="${y + 15}" fill="#333">${esc(figure)}</text>`,
    )
  })
  parts.push(
    `<text x="16" y="${height - 12}" fill="#777">Full runs colour bars PASS (green) / MISS (red); quick runs are a smoke test and are not judged.</text>`,
    '</svg>',
  )
  return `${parts.join('\n')}\n`
}
