import type { Backend } from './database.js'

export type Target = {
  label: string
  value: number
  op: '<=' | '>='
  limit: number
  unit: string
  /** Judged only on full-size runs; quick runs are a smoke test. */
  pass?: boolean
}

export type ScenarioResult = {
  id: string
  /** The database every process of the scenario used (set by main). */
  backend?: Backend
  title: string
  /** Rows for the table: a system or a phase, and its figures. */
  rows: { label: string; values: Record<string, string> }[]
  targets: Target[]
  /** Everything measured, for the JSON file. */
  data: Record<string, unknown>
  notes: string[]
}

export const target = (label: string, value: number, op: Target['op'], limit: number, unit = ''): Target => ({
  label,
  value,
  op,
  limit,
  unit,
})

export const judge = (t: Target): Target => ({
  ...t,
  pass: Number.isFinite(t.value) && (t.op === '<=' ? t.value <= t.limit : t.value >= t.limit),
})

export const fmt = (n: number, digits = 2) => {
  if (!Number.isFinite(n)) return String(n)
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US')
  if (Math.abs(n) >= 100) return n.toFixed(0)
  return n.toFixed(digits)
}

export const bytesFmt = (n: number) => {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} KB`
  return `${Math.round(n)} B`
}
