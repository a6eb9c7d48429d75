/** Text forms of numbers, sizes and dates, as the CLI prints them. */
import type { Scalar } from '../core/ui/types.js'

export function bytes (n: number): string {
  const sign = n < 0 ? '−' : ''
  let v = Math.abs(n)
  if (v < 1024) return `${sign}${v} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let i = -1
  do { v /= 1024; i++ } while (v >= 1024 && i < units.length - 1)
  return `${sign}${v.toFixed(v < 10 ? 2 : 1)} ${units[i]!}`
}

export function date (ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')
}

/** Four significant digits, exponent form for very small or large values. */
export function num (v: number | null | undefined): string {
  if (v === null || v === undefined) return '—'
  if (!Number.isFinite(v)) return String(v)
  if (v === 0) return '0'
  const a = Math.abs(v)
  if (a < 1e-4 || a >= 1e6) return v.toExponential(3)
  return String(Number(v.toPrecision(4)))
}

export function scalar (v: Scalar | undefined): string {
  if (v === undefined) return '—'
  if (typeof v === 'number') return String(v)
  return v === null ? 'null' : String(v)
}

export function shape (s: ReadonlyArray<number | null>): string {
  return `[${s.map(d => d === null ? '?' : String(d)).join(',')}]`
}

export function shortCid (cid: string): string {
  return cid.slice(0, 16)
}

export function count (n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en')} ${n === 1 ? one : many}`
}
