/**
 * References: what is kept of each output at commit, which rule and tolerance it gets, and how an
 * output computed later is checked against it. Pure (no runtime, no store).
 *
 * The rules (docs/design.md, "Verification"):
 * - On the runtime that recorded (same fingerprint: runtime, version, backend and what changes its
 *   numerics), every output must be bit-identical: its sha256 must match.
 * - Elsewhere, each output's rule was chosen at commit: integer, bool and string outputs exactly;
 *   float outputs allclose with a tolerance measured between two backends at commit
 *   (atol = max(SAFETY · measured max |a − b|, FLOOR · scale), scale = max |output|), or, when no
 *   second backend ran, FALLBACK · scale; outputs computed after non-max suppression, top-k, argmax,
 *   where or unique (discrete post-processing) as a set of rows when their order flipped on the
 *   second backend, and not at all ('none') when even that differed.
 */
import { createHash } from 'node:crypto'
import type { CrossRule, OutputCheck, OutputReference, OutputStats, Tolerance } from '../../format/verification.js'
import { decodeTensorData, numElements, numericBytes, type TensorData } from '../../formats/tensor-data.js'
import { mulberry32 } from './inputs.js'

/** Tolerance = SAFETY × the difference measured between two backends at commit. */
export const SAFETY = 10
/**
 * …but never below FLOOR × the output's scale (max |value|): a third implementation rounds differently
 * again, and two backends that happen to agree say little about it (on the corpus, wasm without SIMD
 * differed from wasm with SIMD by 40× what cpu and wasm differed on one output; docs/performance.md).
 */
export const FLOOR = 1e-4
/** Without a second backend: FALLBACK × scale (3× the worst ratio measured on the corpus, docs/performance.md). */
export const FALLBACK = 2e-2
/** A discrete output whose measured difference stays below NOISE × scale differed by rounding only (no flip). */
export const NOISE = 1e-4

export function sha256Hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/**
 * `count` distinct positions in [0, size), sorted, drawn with mulberry32(seed) (Floyd's algorithm):
 * the same on every platform, so the positions of a sample are never stored.
 */
export function samplePositions (size: number, count: number, seed: number): Uint32Array {
  if (count >= size) return Uint32Array.from({ length: size }, (_, i) => i)
  const next = mulberry32(seed)
  const chosen = new Set<number>()
  for (let j = size - count; j < size; j++) {
    const t = next() % (j + 1)
    chosen.add(chosen.has(t) ? j : t)
  }
  return Uint32Array.from([...chosen].sort((a, b) => a - b))
}

/** Summary statistics of a float tensor; null for other dtypes. */
export function statsOf (t: TensorData): OutputStats | null {
  if (t.dtype !== 'float32') return null
  const v = decodeTensorData(t).values as Float32Array
  let finite = 0; let sum = 0; let sumsq = 0; let min = Infinity; let max = -Infinity; let nonFinite = 0
  for (const x of v) {
    if (!Number.isFinite(x)) { nonFinite++; continue }
    finite++; sum += x; sumsq += x * x
    if (x < min) min = x
    if (x > max) max = x
  }
  if (finite === 0) { min = 0; max = 0 }
  return { finite, sum, sumsq, min, max, nonFinite }
}

/** max |value| over finite elements (0 for non-float or empty tensors). */
export function scaleOf (t: TensorData): number {
  if (t.dtype !== 'float32') return 0
  let s = 0
  for (const x of decodeTensorData(t).values as Float32Array) if (Number.isFinite(x) && Math.abs(x) > s) s = Math.abs(x)
  return s
}

/** What is kept of an output: all of it when it has at most `budget` elements, else a seeded sample. */
export function keepOf (t: TensorData, budget: number, seed: number): { tensor: TensorData, sample: { seed: number, count: number } | null } {
  const n = numElements(t.shape)
  if (n <= budget || t.dtype === 'string') return { tensor: t, sample: null }
  const pos = samplePositions(n, budget, seed)
  return { tensor: { name: t.name, dtype: t.dtype, shape: [pos.length], data: gather(t, pos) }, sample: { seed, count: pos.length } }
}

function gather (t: TensorData, pos: Uint32Array): Uint8Array {
  const width = t.dtype === 'bool' ? 1 : 4
  const out = new Uint8Array(pos.length * width)
  for (let i = 0; i < pos.length; i++) out.set(t.data.subarray(pos[i]! * width, pos[i]! * width + width), i * width)
  return out
}

/** The elements of `t` that a reference kept (all, or its sample positions). */
export function keptPart (t: TensorData, sample: { seed: number, count: number } | null): TensorData {
  if (sample === null) return t
  const pos = samplePositions(numElements(t.shape), sample.count, sample.seed)
  return { name: t.name, dtype: t.dtype, shape: [pos.length], data: gather(t, pos) }
}

// ---------------------------------------------------------------------------------------------------
// Element-wise comparison
// ---------------------------------------------------------------------------------------------------

export interface ElementDiff {
  /** Largest |a − e| over element pairs; Infinity when a non-finite value mismatches. */
  readonly maxAbsDiff: number
  /** Largest |a − e| − (atol + rtol·|e|); ≤ 0 means every element is within the tolerance. */
  readonly maxExcess: number
  readonly nonFinite: boolean
  readonly elements: number
}

/** Element-wise difference of two tensors of equal dtype and element count. */
export function elementDiff (e: TensorData, a: TensorData, tol: Tolerance): ElementDiff {
  const de = decodeTensorData(e)
  const da = decodeTensorData(a)
  if (de.kind === 'string' || da.kind === 'string') {
    const xs = de.values as Uint8Array[]
    const ys = da.values as Uint8Array[]
    const differs = xs.length !== ys.length || xs.some((x, i) => Buffer.compare(x, ys[i] ?? new Uint8Array(0)) !== 0)
    return { maxAbsDiff: differs ? 1 : 0, maxExcess: differs ? 1 : 0, nonFinite: false, elements: xs.length }
  }
  const xs = de.values as ArrayLike<number>
  const ys = da.values as ArrayLike<number>
  const exact = de.kind !== 'float'
  const atol = exact ? 0 : tol.atol
  const rtol = exact ? 0 : tol.rtol
  let maxAbsDiff = 0; let maxExcess = -Infinity; let nonFinite = false
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as number
    const y = ys[i] as number
    let diff: number; let excess: number
    if (Number.isFinite(x) && Number.isFinite(y)) {
      diff = Math.abs(y - x)
      excess = diff - (atol + rtol * Math.abs(x))
    } else {
      nonFinite = true
      const same = (Number.isNaN(x) && Number.isNaN(y)) || x === y
      diff = same ? 0 : Infinity
      excess = same ? -atol : Infinity
    }
    if (diff > maxAbsDiff) maxAbsDiff = diff
    if (excess > maxExcess) maxExcess = excess
  }
  if (xs.length === 0) maxExcess = 0
  return { maxAbsDiff, maxExcess, nonFinite, elements: xs.length }
}

function numbers (t: TensorData): ArrayLike<number> {
  const d = decodeTensorData(t)
  if (d.kind === 'string') throw new TypeError('numbers of a string tensor')
  return d.values
}

/**
 * Set comparison: per batch item (axis 0), the rows (vectors along the last axis; scalars for rank
 * 1) of `a` and `e` are matched one to one, each within allclose, in any order. Returns the number of
 * rows of `e` left without a partner (0 passes) and the largest difference between matched rows.
 */
export function setDiff (e: TensorData, a: TensorData, tol: Tolerance): { unmatched: number, maxAbsDiff: number, rows: number } {
  const xs = numbers(e)
  const ys = numbers(a)
  const shape = e.shape
  const width = shape.length >= 2 ? shape[shape.length - 1]! : 1
  const perGroup = shape.length >= 2 ? numElements(shape.slice(1)) / width : numElements(shape)
  const groups = shape.length >= 2 ? shape[0]! : 1
  let unmatched = 0; let maxAbsDiff = 0
  for (let g = 0; g < groups; g++) {
    const used = new Uint8Array(perGroup)
    for (let r = 0; r < perGroup; r++) {
      const eo = (g * perGroup + r) * width
      let found = -1; let best = 0
      for (let c = 0; c < perGroup && found < 0; c++) {
        if (used[c] === 1) continue
        const ao = (g * perGroup + c) * width
        let ok = true; let worst = 0
        for (let k = 0; k < width && ok; k++) {
          const x = xs[eo + k] as number; const y = ys[ao + k] as number
          const same = (Number.isNaN(x) && Number.isNaN(y)) || x === y
          const d = same ? 0 : Math.abs(y - x)
          if (!(d <= tol.atol + tol.rtol * Math.abs(x))) ok = false
          else if (d > worst) worst = d
        }
        if (ok) { found = c; best = worst }
      }
      if (found < 0) unmatched++
      else { used[found] = 1; if (best > maxAbsDiff) maxAbsDiff = best }
    }
  }
  return { unmatched, maxAbsDiff, rows: groups * perGroup }
}

// ---------------------------------------------------------------------------------------------------
// Choosing a rule at commit
// ---------------------------------------------------------------------------------------------------

export interface DeriveOptions {
  /** The tolerance the user gave (--atol/--rtol): used as it is for every float output. */
  readonly given?: Tolerance
  /** The same inputs run on a second backend at commit. */
  readonly measured?: { readonly backend: string, readonly output: TensorData }
  /** The discrete op upstream of this output (graph models), e.g. 'NonMaxSuppressionV5'. */
  readonly discrete?: string
}

const rounded = (x: number): number => Number(x.toPrecision(3))
/** Tolerances are rounded up to 3 significant digits so records stay short and readable. */
const roundUp = (x: number): number => { const r = rounded(x); return r >= x ? r : rounded(x * (1 + 1e-3)) }

/** The rule and tolerance of output `e` (recorded now) on runtimes other than the recording one. */
export function deriveCheck (e: TensorData, o: DeriveOptions = {}): OutputCheck {
  const check = (rule: CrossRule, atol: number, rtol: number, basis: OutputCheck['basis'], note: string | null = null): OutputCheck =>
    ({ rule, atol: roundUp(atol), rtol: roundUp(rtol), basis, measured: o.measured === undefined ? null : { backend: o.measured.backend, maxAbsDiff: measuredDiff(e, o.measured.output) }, note })
  const after = o.discrete === undefined ? '' : ` (after ${o.discrete})`
  const a = o.measured?.output
  const sameShape = a !== undefined && a.dtype === e.dtype && a.shape.length === e.shape.length && a.shape.every((d, i) => d === e.shape[i])
  if (a !== undefined && !sameShape) {
    return check('none', 0, 0, 'measured', `shape or dtype differed on ${o.measured!.backend} at commit${after}: not compared across runtimes`)
  }
  if (e.dtype !== 'float32') {
    if (a === undefined || sha256Hex(a.data) === sha256Hex(e.data)) return check('exact', 0, 0, 'dtype', o.discrete === undefined ? null : `after ${o.discrete}`)
    if (e.dtype !== 'string' && e.shape.length > 0 && setDiff(e, a, { atol: 0, rtol: 0 }).unmatched === 0) return check('set', 0, 0, 'measured', `order differed on ${o.measured!.backend} at commit${after}`)
    return check('none', 0, 0, 'measured', `differed on ${o.measured!.backend} at commit${after}: not compared across runtimes`)
  }
  if (o.given !== undefined) return check('allclose', o.given.atol, o.given.rtol, 'given')
  const scale = scaleOf(e)
  if (a === undefined) {
    if (o.discrete !== undefined) return check('none', 0, 0, 'fallback', `after ${o.discrete}, and no second backend ran at commit: not compared across runtimes`)
    return check('allclose', FALLBACK * scale, 0, 'fallback')
  }
  const d = elementDiff(e, a, { atol: 0, rtol: 0 })
  if (d.maxAbsDiff === Infinity) return check('none', 0, 0, 'measured', `non-finite values differed on ${o.measured!.backend} at commit${after}: not compared across runtimes`)
  const atol = Math.max(SAFETY * d.maxAbsDiff, FLOOR * scale)
  if (o.discrete === undefined || d.maxAbsDiff <= NOISE * scale) return check('allclose', atol, 0, 'measured', o.discrete === undefined ? null : `after ${o.discrete}; rounding only on ${o.measured!.backend}`)
  // A discrete output that moved by more than rounding: its rows were reordered or swapped.
  const rowTol = { atol: Math.max(FLOOR * scale, NOISE * scale), rtol: 0 }
  if (e.shape.length > 0 && setDiff(e, a, rowTol).unmatched === 0) return check('set', rowTol.atol, 0, 'measured', `rows reordered on ${o.measured!.backend} at commit${after}`)
  return check('none', 0, 0, 'measured', `differed by ${rounded(d.maxAbsDiff)} on ${o.measured!.backend} at commit${after}: not compared across runtimes`)
}

function measuredDiff (e: TensorData, a: TensorData): number {
  if (a.dtype !== e.dtype || a.data.byteLength !== e.data.byteLength || e.dtype === 'string') return sha256Hex(a.data) === sha256Hex(e.data) ? 0 : -1
  const d = elementDiff(e, a, { atol: 0, rtol: 0 }).maxAbsDiff
  return Number.isFinite(d) ? d : -1
}

// ---------------------------------------------------------------------------------------------------
// Checking an output
// ---------------------------------------------------------------------------------------------------

export interface OutputResult {
  readonly name: string
  /** 'exact (same runtime)', 'exact', 'allclose', 'set', 'none' (not compared). */
  readonly rule: string
  readonly pass: boolean
  /** True when the output was not compared (rule 'none' on another runtime). */
  readonly skipped?: boolean
  /** Largest |actual − recorded| over the elements kept at commit. */
  readonly maxAbsDiff: number
  /** maxAbsDiff / max |recorded| (0 when both are 0). */
  readonly relDiff: number
  readonly atol: number
  readonly rtol: number
  /** Elements compared, and whether they were a sample of the output. */
  readonly elements: number
  readonly sampled: boolean
  /** Whether the output's bytes are identical to the recorded ones (sha256). */
  readonly identical: boolean
  readonly note?: string
  readonly shapeMismatch?: { expected: number[], actual: number[] }
  readonly dtypeMismatch?: { expected: string, actual: string }
  readonly missing?: 'actual' | 'expected'
  readonly nonFinite?: boolean
  /** An intermediate tensor recorded beside the outputs (OutputReference.probe). */
  readonly probe?: boolean
  /** Largest |a − e| − (atol + rtol·|e|) (≤ 0 passes): kept for the legacy report shape. */
  readonly maxAllowedExcess: number
}

function scaleOfStats (s: OutputStats | null, kept: TensorData): number {
  if (s !== null) return Math.max(Math.abs(s.min), Math.abs(s.max))
  return scaleOf(kept)
}

/**
 * Checks `actual` against a reference: bit-identical when `sameRuntime`, else by the reference's rule
 * (or allclose with `override` when the user gave a tolerance).
 */
export function checkOutput (ref: OutputReference, kept: TensorData, actual: TensorData, sameRuntime: boolean, override?: Tolerance): OutputResult {
  const base = { name: ref.name, atol: 0, rtol: 0, elements: 0, sampled: ref.sample !== null, identical: false, maxAbsDiff: Infinity, relDiff: Infinity, maxAllowedExcess: Infinity }
  const sameShape = actual.shape.length === ref.shape.length && actual.shape.every((d, i) => d === ref.shape[i])
  const rule = override !== undefined ? 'allclose' : sameRuntime ? 'exact (same runtime)' : ref.check.rule
  if (rule === 'none') {
    return { ...base, rule, pass: true, skipped: true, identical: sha256Hex(actual.data) === ref.sha256, note: ref.check.note ?? 'not compared across runtimes', maxAbsDiff: NaN, relDiff: NaN, maxAllowedExcess: 0 }
  }
  if (!sameShape) return { ...base, rule, pass: false, shapeMismatch: { expected: [...ref.shape], actual: [...actual.shape] } }
  if (actual.dtype !== ref.dtype) return { ...base, rule, pass: false, dtypeMismatch: { expected: ref.dtype, actual: actual.dtype } }
  const identical = sha256Hex(actual.data) === ref.sha256
  const part = keptPart(actual, ref.sample)
  const scale = scaleOfStats(ref.stats, kept)
  const tol = override ?? (rule === 'exact' || rule === 'exact (same runtime)' ? { atol: 0, rtol: 0 } : { atol: ref.check.atol, rtol: ref.check.rtol })
  const d = elementDiff(kept, part, tol)
  const rel = d.maxAbsDiff === 0 ? 0 : scale === 0 ? Infinity : d.maxAbsDiff / scale
  const out = { ...base, rule, atol: tol.atol, rtol: tol.rtol, elements: d.elements, identical, maxAbsDiff: d.maxAbsDiff, relDiff: rel, maxAllowedExcess: d.maxExcess, ...(d.nonFinite ? { nonFinite: true } : {}) }
  if (rule === 'exact' || rule === 'exact (same runtime)') {
    return { ...out, pass: identical, ...(identical || d.maxAbsDiff > 0 ? {} : { note: 'bytes differ outside the kept elements' }) }
  }
  if (rule === 'set') {
    if (ref.sample !== null) return { ...out, rule, pass: true, skipped: true, note: 'set rule needs the whole output, which was sampled' }
    const s = setDiff(kept, actual, tol)
    // The difference reported is between matched rows (the element-wise one counts reorderings).
    return { ...out, maxAbsDiff: s.maxAbsDiff, relDiff: s.maxAbsDiff === 0 ? 0 : scale === 0 ? Infinity : s.maxAbsDiff / scale, pass: s.unmatched === 0, ...(s.unmatched > 0 ? { note: `${s.unmatched} of ${s.rows} rows have no match` } : d.maxAbsDiff > s.maxAbsDiff ? { note: 'rows in another order' } : {}) }
  }
  // allclose on the kept elements, and the sums (a necessary condition of element-wise closeness over
  // all elements: it notices a change outside a sample when it shifts the total).
  let pass = d.maxExcess <= 0
  let note: string | undefined
  if (pass && ref.sample !== null && ref.stats !== null) {
    const now = statsOf(actual)!
    const bound = ref.stats.finite * tol.atol + tol.rtol * ref.stats.finite * scale
    if (now.nonFinite !== ref.stats.nonFinite) { pass = false; note = `${now.nonFinite} non-finite values, recorded ${ref.stats.nonFinite}` } else if (Math.abs(now.sum - ref.stats.sum) > bound) { pass = false; note = `sum ${now.sum} differs from the recorded ${ref.stats.sum} by more than ${bound}` }
  }
  return { ...out, pass, ...(note !== undefined ? { note } : {}) }
}

/** The legacy rule: one allclose tolerance for every output, whole tensors recorded. */
export function checkLegacy (e: TensorData, a: TensorData, tol: Tolerance): OutputResult {
  const base = { name: e.name, rule: e.dtype === 'float32' ? 'allclose' : 'exact', atol: e.dtype === 'float32' ? tol.atol : 0, rtol: e.dtype === 'float32' ? tol.rtol : 0, elements: 0, sampled: false, identical: false, maxAbsDiff: Infinity, relDiff: Infinity, maxAllowedExcess: Infinity }
  const sameShape = e.shape.length === a.shape.length && e.shape.every((d, i) => d === a.shape[i])
  if (!sameShape) return { ...base, pass: false, shapeMismatch: { expected: [...e.shape], actual: [...a.shape] } }
  if (e.dtype !== a.dtype) return { ...base, pass: false, dtypeMismatch: { expected: e.dtype, actual: a.dtype } }
  const d = elementDiff(e, a, tol)
  const scale = scaleOf(e)
  return {
    ...base,
    pass: d.maxExcess <= 0,
    elements: d.elements,
    identical: Buffer.compare(e.data, a.data) === 0,
    maxAbsDiff: d.maxAbsDiff,
    relDiff: d.maxAbsDiff === 0 ? 0 : scale === 0 ? Infinity : d.maxAbsDiff / scale,
    maxAllowedExcess: d.maxExcess,
    ...(d.nonFinite ? { nonFinite: true } : {})
  }
}

export { numericBytes }
