/**
 * The verification record a commit carries (docs/design.md, "Verification"): which runtime recorded
 * reference outputs, and for each model either what is needed to check it again or why it could not
 * be recorded. Pure types, the parser and the encoder; the core fills it (src/core/verify/) and checks
 * against it.
 *
 * Two shapes of recorded model exist on disk:
 * - `status: "recorded"` (mvc ≤ 0.1 records): `inputs` and `outputs` are `mvc/tensor` links of whole
 *   tensors, compared with the record's one allclose tolerance.
 * - `status: "recorded2"`: inputs are regenerated from a seed (or linked when the user gave them), each
 *   output keeps a digest of its bytes, a tensor (whole, or a seeded sample of its elements), summary
 *   statistics, and its own comparison rule and tolerance. Readers that do not know it read it as
 *   "not recorded" (the policy on unknown values), never misread it.
 * In memory both are `status: 'recorded'`; the second has `reference`.
 */
import { CID } from 'multiformats/cid'

/** Outputs match when |a − e| ≤ atol + rtol·|e| element-wise (numpy's allclose). */
export interface Tolerance { readonly atol: number, readonly rtol: number }
export const DEFAULT_TOLERANCE: Tolerance = Object.freeze({ atol: 1e-5, rtol: 1e-5 })

/**
 * The runtime that recorded a model's outputs: its id ('tfjs', 'python-tensorflow'), version and
 * backend; `fingerprint` names everything that changes its numerics (SIMD, engine version, CPU): two
 * runs with the same fingerprint compute bit-identical outputs, so they are compared exactly.
 */
export interface RuntimeRecord { readonly id: string, readonly version: string, readonly backend: string, readonly fingerprint?: string }

/**
 * How an output is compared on a runtime other than the recording one (on the recording one — same
 * fingerprint — every output must be bit-identical):
 * - exact: bytes equal (integer, bool and string outputs);
 * - allclose: |a − e| ≤ atol + rtol·|e| element-wise;
 * - set: per batch item, the rows (vectors along the last axis) match one to one within allclose,
 *   in any order (outputs after non-max suppression or top-k, whose order flips between kernels);
 * - none: not comparable across runtimes (it already differed between two backends at commit beyond
 *   what the other rules allow: discrete outputs on inputs that sit at a decision threshold).
 */
export type CrossRule = 'exact' | 'allclose' | 'set' | 'none'

/** Where an output's tolerance came from. */
export type ToleranceBasis = 'dtype' | 'measured' | 'fallback' | 'given'

export interface OutputCheck {
  readonly rule: CrossRule
  readonly atol: number
  readonly rtol: number
  readonly basis: ToleranceBasis
  /** The second backend run at commit and the largest difference it showed (finite values only). */
  readonly measured: { readonly backend: string, readonly maxAbsDiff: number } | null
  /** Why the rule was chosen when it is not the obvious one (e.g. "after NonMaxSuppressionV5"). */
  readonly note: string | null
}

/** Summary of a float output's values (finite elements only; non-finite ones are counted). */
export interface OutputStats {
  readonly finite: number
  readonly sum: number
  readonly sumsq: number
  readonly min: number
  readonly max: number
  readonly nonFinite: number
}

export interface OutputReference {
  readonly name: string
  readonly dtype: string
  readonly shape: readonly number[]
  /** sha256 (hex) of the output's bytes in the tf.io encoding. */
  readonly sha256: string
  /** `mvc/tensor`: the whole output, or (when `sample` is set) the sampled elements as a 1-D tensor. */
  readonly kept: CID
  /** Elements kept: `count` positions drawn by `samplePositions(size, count, seed)`; null = all. */
  readonly sample: { readonly seed: number, readonly count: number } | null
  readonly stats: OutputStats | null
  readonly check: OutputCheck
  /**
   * True for an intermediate tensor recorded beside the outputs (the continuous values a discrete op
   * chooses from, e.g. the scores before non-max suppression): checked like an output, but only by
   * runtimes that can fetch it.
   */
  readonly probe?: boolean
}

/** One input of generated reference inputs, as it was generated (concrete shape). */
export interface GeneratedInputSpec {
  readonly name: string
  readonly dtype: string
  readonly shape: readonly number[]
  readonly indexBound?: number
}

export interface ReferenceModel {
  /** Set when the inputs were generated (then `inputs` is empty and they are made again from this). */
  readonly generated: { readonly generator: string, readonly seed: number, readonly specs: readonly GeneratedInputSpec[] } | null
  /** sha256 (hex) of each input's bytes, in order. */
  readonly inputDigests: readonly string[]
  readonly outputs: readonly OutputReference[]
}

export type ModelVerification =
  | { readonly path: string, readonly status: 'recorded', readonly inputs: readonly CID[], readonly outputs: readonly CID[], readonly runtime?: RuntimeRecord, readonly reference?: ReferenceModel }
  | { readonly path: string, readonly status: 'skipped', readonly reason: string }

export interface VerificationRecord {
  /** The runtime's backend that recorded the outputs ('wasm', 'cpu', 'tensorflow'), or 'none'. */
  readonly backend: string
  readonly tfjsVersion: string
  /** The tolerance given at commit (records with per-output checks use those instead). */
  readonly tolerance: Tolerance
  readonly models: readonly ModelVerification[]
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && CID.asCID(v) === null
}

function links (v: unknown): CID[] | undefined {
  if (!Array.isArray(v)) return undefined
  const out: CID[] = []
  for (const x of v) {
    const c = CID.asCID(x)
    if (c === null) return undefined
    out.push(c)
  }
  return out
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const isDims = (v: unknown): v is number[] => Array.isArray(v) && v.every(d => Number.isSafeInteger(d) && d >= 0)
const RULES: readonly string[] = ['exact', 'allclose', 'set', 'none']
const BASES: readonly string[] = ['dtype', 'measured', 'fallback', 'given']

function parseRuntime (rt: unknown): RuntimeRecord | undefined {
  if (!isRecord(rt) || typeof rt.id !== 'string' || typeof rt.version !== 'string' || typeof rt.backend !== 'string') return undefined
  return typeof rt.fingerprint === 'string'
    ? { id: rt.id, version: rt.version, backend: rt.backend, fingerprint: rt.fingerprint }
    : { id: rt.id, version: rt.version, backend: rt.backend }
}

function parseCheck (v: unknown): OutputCheck | undefined {
  if (!isRecord(v) || typeof v.rule !== 'string' || !RULES.includes(v.rule) || !isNum(v.atol) || !isNum(v.rtol) || typeof v.basis !== 'string' || !BASES.includes(v.basis)) return undefined
  let measured: OutputCheck['measured'] = null
  if (isRecord(v.measured) && typeof v.measured.backend === 'string' && isNum(v.measured.maxAbsDiff)) measured = { backend: v.measured.backend, maxAbsDiff: v.measured.maxAbsDiff }
  return { rule: v.rule as CrossRule, atol: v.atol, rtol: v.rtol, basis: v.basis as ToleranceBasis, measured, note: typeof v.note === 'string' ? v.note : null }
}

function parseStats (v: unknown): OutputStats | null | undefined {
  if (v === null || v === undefined) return null
  if (!isRecord(v)) return undefined
  const { finite, sum, sumsq, min, max, nonFinite } = v
  if (![finite, sum, sumsq, min, max, nonFinite].every(isNum)) return undefined
  return { finite: finite as number, sum: sum as number, sumsq: sumsq as number, min: min as number, max: max as number, nonFinite: nonFinite as number }
}

function parseOutput (v: unknown): OutputReference | undefined {
  if (!isRecord(v) || typeof v.name !== 'string' || typeof v.dtype !== 'string' || !isDims(v.shape) || typeof v.sha256 !== 'string') return undefined
  const kept = CID.asCID(v.kept)
  const check = parseCheck(v.check)
  const stats = parseStats(v.stats)
  if (kept === null || check === undefined || stats === undefined) return undefined
  let sample: OutputReference['sample'] = null
  if (v.sample !== null && v.sample !== undefined) {
    if (!isRecord(v.sample) || !Number.isSafeInteger(v.sample.seed) || !Number.isSafeInteger(v.sample.count)) return undefined
    sample = { seed: v.sample.seed as number, count: v.sample.count as number }
  }
  const out = { name: v.name, dtype: v.dtype, shape: v.shape, sha256: v.sha256, kept, sample, stats, check }
  return v.probe === true ? { ...out, probe: true } : out
}

function parseReference (m: Record<string, unknown>): ReferenceModel | undefined {
  const inputs = m.inputs
  if (!isRecord(inputs) || !Array.isArray(inputs.digests) || !inputs.digests.every(d => typeof d === 'string') || !Array.isArray(m.outputs)) return undefined
  let generated: ReferenceModel['generated'] = null
  const g = inputs.generated
  if (g !== null && g !== undefined) {
    if (!isRecord(g) || typeof g.generator !== 'string' || !Number.isSafeInteger(g.seed) || !Array.isArray(g.specs)) return undefined
    const specs: GeneratedInputSpec[] = []
    for (const s of g.specs) {
      if (!isRecord(s) || typeof s.name !== 'string' || typeof s.dtype !== 'string' || !isDims(s.shape)) return undefined
      specs.push(Number.isSafeInteger(s.indexBound) ? { name: s.name, dtype: s.dtype, shape: s.shape, indexBound: s.indexBound as number } : { name: s.name, dtype: s.dtype, shape: s.shape })
    }
    generated = { generator: g.generator, seed: g.seed as number, specs }
  }
  const outputs: OutputReference[] = []
  for (const o of m.outputs) {
    const r = parseOutput(o)
    if (r === undefined) return undefined
    outputs.push(r)
  }
  return { generated, inputDigests: inputs.digests as string[], outputs }
}

/**
 * A commit's `verification` field, or null when none was recorded or the value is not a record this
 * version understands (it is then treated as not recorded; the bytes are kept as they are).
 */
export function parseVerificationRecord (v: unknown): VerificationRecord | null {
  if (!isRecord(v) || !Array.isArray(v.models) || typeof v.backend !== 'string' || !isRecord(v.tolerance)) return null
  const t = v.tolerance
  if (typeof t.atol !== 'number' || typeof t.rtol !== 'number') return null
  const models: ModelVerification[] = []
  for (const m of v.models) {
    if (!isRecord(m) || typeof m.path !== 'string') return null
    if (m.status === 'recorded') {
      const inputs = links(m.inputs)
      const outputs = links(m.outputs)
      if (inputs === undefined || outputs === undefined) return null
      const runtime = parseRuntime(m.runtime)
      models.push(runtime === undefined ? { path: m.path, status: 'recorded', inputs, outputs } : { path: m.path, status: 'recorded', inputs, outputs, runtime })
    } else if (m.status === 'recorded2') {
      const runtime = parseRuntime(m.runtime)
      const reference = parseReference(m)
      const tensors = isRecord(m.inputs) ? links(m.inputs.tensors) : undefined
      if (runtime === undefined || reference === undefined || tensors === undefined) return null
      models.push({ path: m.path, status: 'recorded', inputs: tensors, outputs: reference.outputs.map(o => o.kept), runtime, reference })
    } else if (m.status === 'skipped' && typeof m.reason === 'string') {
      models.push({ path: m.path, status: 'skipped', reason: m.reason })
    } else return null
  }
  return { backend: v.backend, tfjsVersion: typeof v.tfjsVersion === 'string' ? v.tfjsVersion : 'none', tolerance: { atol: t.atol, rtol: t.rtol }, models }
}

/** The value written into a commit's `verification` field (the inverse of parseVerificationRecord). */
export function encodeVerificationRecord (r: VerificationRecord): Record<string, unknown> {
  return {
    backend: r.backend,
    tfjsVersion: r.tfjsVersion,
    tolerance: { atol: r.tolerance.atol, rtol: r.tolerance.rtol },
    models: r.models.map((m): Record<string, unknown> => {
      if (m.status === 'skipped') return { path: m.path, status: 'skipped', reason: m.reason }
      if (m.reference === undefined) {
        return m.runtime === undefined
          ? { path: m.path, status: 'recorded', inputs: [...m.inputs], outputs: [...m.outputs] }
          : { path: m.path, status: 'recorded', inputs: [...m.inputs], outputs: [...m.outputs], runtime: { ...m.runtime } }
      }
      const ref = m.reference
      return {
        path: m.path,
        status: 'recorded2',
        runtime: { ...m.runtime },
        inputs: {
          generated: ref.generated === null ? null : { generator: ref.generated.generator, seed: ref.generated.seed, specs: ref.generated.specs.map(s => ({ ...s, shape: [...s.shape] })) },
          tensors: [...m.inputs],
          digests: [...ref.inputDigests]
        },
        outputs: ref.outputs.map(o => ({
          name: o.name,
          dtype: o.dtype,
          shape: [...o.shape],
          sha256: o.sha256,
          kept: o.kept,
          sample: o.sample === null ? null : { ...o.sample },
          stats: o.stats === null ? null : { ...o.stats },
          check: { ...o.check, measured: o.check.measured === null ? null : { ...o.check.measured } },
          ...(o.probe === true ? { probe: true } : {})
        }))
      }
    })
  }
}
