/**
 * Comparing outputs with the outputs recorded at commit. Pure: no runtime.
 */
import { InvalidArgumentError } from '../../errors.js'
import { DEFAULT_TOLERANCE, type Tolerance } from '../../format/verification.js'
import type { TensorData } from '../../formats/tensor-data.js'
import { elementDiff } from './reference.js'

export { DEFAULT_TOLERANCE, type Tolerance }

// ---------------------------------------------------------------------------------------------------
// Comparison (pure)
// ---------------------------------------------------------------------------------------------------


export interface OutputComparison {
  readonly name: string
  /** Largest |actual - expected|; Infinity when a non-finite value mismatches or the output is missing. */
  readonly maxAbsDiff: number
  /** Max over elements of |a-b| - (atol + rtol*|expected|); <= 0 passes. Exact dtypes use atol = rtol = 0. */
  readonly maxAllowedExcess: number
  readonly pass: boolean
  readonly shapeMismatch?: { expected: number[], actual: number[] }
  readonly dtypeMismatch?: { expected: string, actual: string }
  /** Which side lacks this output name. */
  readonly missing?: 'actual' | 'expected'
  /** True when either tensor contains NaN or ±Infinity (a weak reference even when it passes). */
  readonly nonFinite?: boolean
}

/**
 * Compares outputs like numpy.allclose: |actual - expected| <= atol + rtol * |expected| for every
 * element; NaN equals NaN only at the same positions; infinities must match exactly; shape or dtype
 * mismatch fails; int32 and bool compare exactly; strings byte-for-byte (a differing string counts as
 * difference 1). Outputs are paired by name; an output missing on either side fails. Pure: no TF.js.
 */
export function compareOutputs (expected: readonly TensorData[], actual: readonly TensorData[], tol: Tolerance): { pass: boolean, outputs: OutputComparison[] } {
  if (!(tol.atol >= 0) || !(tol.rtol >= 0)) {
    throw new InvalidArgumentError(`tolerances must be non-negative numbers (atol ${tol.atol}, rtol ${tol.rtol})`, { atol: tol.atol, rtol: tol.rtol })
  }
  const results: OutputComparison[] = []
  const used = new Set<number>()
  for (const e of expected) {
    const j = actual.findIndex((a, k) => !used.has(k) && a.name === e.name)
    if (j < 0) {
      results.push({ name: e.name, maxAbsDiff: Infinity, maxAllowedExcess: Infinity, pass: false, missing: 'actual' })
      continue
    }
    used.add(j)
    results.push(compareOne(e, actual[j] as TensorData, tol))
  }
  actual.forEach((a, k) => {
    if (!used.has(k)) results.push({ name: a.name, maxAbsDiff: Infinity, maxAllowedExcess: Infinity, pass: false, missing: 'expected' })
  })
  return { pass: results.every(r => r.pass), outputs: results }
}

function compareOne (e: TensorData, a: TensorData, tol: Tolerance): OutputComparison {
  const name = e.name
  const sameShape = e.shape.length === a.shape.length && e.shape.every((d, i) => d === a.shape[i])
  if (!sameShape) {
    return { name, maxAbsDiff: Infinity, maxAllowedExcess: Infinity, pass: false, shapeMismatch: { expected: [...e.shape], actual: [...a.shape] } }
  }
  if (e.dtype !== a.dtype) {
    return { name, maxAbsDiff: Infinity, maxAllowedExcess: Infinity, pass: false, dtypeMismatch: { expected: e.dtype, actual: a.dtype } }
  }
  // Integers, booleans and strings are exact: tolerance applies to floating point only (reference.ts).
  const d = elementDiff(e, a, tol)
  const out: OutputComparison = { name, maxAbsDiff: d.maxAbsDiff, maxAllowedExcess: d.maxExcess, pass: d.maxExcess <= 0 }
  return d.nonFinite ? { ...out, nonFinite: true } : out
}

