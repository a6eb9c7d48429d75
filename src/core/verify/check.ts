/**
 * Checking behaviour: load the rebuilt (or stored) models, run the inputs recorded at commit, and
 * check every output against its reference (reference.ts): bit-identical on the runtime that
 * recorded it, by the output's recorded rule elsewhere. Records made before per-output rules compare
 * every output with the record's one tolerance.
 */
import { VerificationUnavailableError } from '../../errors.js'
import type { ModelVerification, RuntimeRecord, Tolerance, VerificationRecord } from '../../format/verification.js'
import type { ModelFormat, SnapshotRanges } from '../../formats/interface.js'
import type { TensorData } from '../../formats/tensor-data.js'
import type { ObjectStore } from '../../store/interface.js'
import { referenceInputs } from './inputs.js'
import type { VerifyProgress } from './record.js'
import { INPUT_GENERATOR } from './record.js'
import { checkLegacy, checkOutput, sha256Hex, type OutputResult } from './reference.js'
import { readTensorData } from './tensors.js'
import { Runtimes } from './runtimes.js'

export interface ModelCheck {
  readonly path: string
  readonly status: 'pass' | 'fail' | 'skipped'
  readonly reason?: string
  readonly outputs: readonly OutputResult[]
  /** The runtime that ran the model now, and the one that recorded its outputs. */
  readonly runtime?: RuntimeRecord
  readonly recordedBy?: RuntimeRecord
  /** True when both have the same fingerprint: outputs must then be bit-identical. */
  readonly sameRuntime?: boolean
}

export interface VerificationReport {
  readonly backend: string
  readonly recordedBackend: string
  /** The tolerance given now (--atol/--rtol), else the record's (used by records without per-output rules). */
  readonly tolerance: Tolerance
  /** True when the user gave the tolerance (it then overrides every output's recorded rule). */
  readonly toleranceGiven?: boolean
  readonly pass: boolean
  /** True when at least one output was actually compared. */
  readonly verified: boolean
  readonly models: readonly ModelCheck[]
}

export interface CheckOptions {
  readonly store: ObjectStore
  readonly record: VerificationRecord
  /** The format and adapter of each model of the version, by main file path. */
  readonly models: ReadonlyMap<string, { readonly format: string, readonly adapter: ModelFormat }>
  /** Reads a file of the rebuilt snapshot by relative path. */
  readonly readFile: (rel: string) => Promise<Uint8Array>
  /** The rebuilt snapshot's folder on disk, made on first use (for runtimes that load from a folder). */
  readonly dir: () => Promise<string | undefined>
  /** Ranged reads of the snapshot's files (runtimes then read weights piece by piece). */
  readonly files?: SnapshotRanges
  readonly backend?: string
  /** Overrides every output's recorded rule with allclose at this tolerance. */
  readonly tolerance?: Tolerance
  /** Run with this runtime when it can; default: the one that recorded each model's outputs. */
  readonly runtime?: string
  readonly python?: string
  readonly customObjects?: readonly string[]
  readonly onProgress?: (p: VerifyProgress) => void
}

type Recorded = Extract<ModelVerification, { status: 'recorded' }>

/** The recorded inputs of a model: read from the store, or generated again and checked against their digests. */
export async function recordedInputs (store: ObjectStore, m: Recorded): Promise<TensorData[]> {
  const ref = m.reference
  if (ref?.generated != null) {
    if (ref.generated.generator !== INPUT_GENERATOR) {
      throw new VerificationUnavailableError(`${m.path}: its reference inputs were made by generator ${ref.generated.generator}, which this mvc does not have (it has ${INPUT_GENERATOR}); use the mvc that committed it`, { path: m.path, generator: ref.generated.generator })
    }
    const inputs = referenceInputs(undefined, ref.generated.specs, ref.generated.seed)
    inputs.forEach((t, i) => {
      if (sha256Hex(t.data) !== ref.inputDigests[i]) {
        throw new VerificationUnavailableError(`${m.path}: reference input ${t.name} generated now differs from the one recorded (digest mismatch); this mvc cannot reproduce it`, { path: m.path, input: t.name })
      }
    })
    return inputs
  }
  const inputs: TensorData[] = []
  for (const c of m.inputs) inputs.push(await readTensorData(store, c))
  return inputs
}

/** Loads the rebuilt models, runs the recorded inputs and checks every output. */
export async function checkVerification (options: CheckOptions): Promise<VerificationReport> {
  const override = options.tolerance
  const tolerance = override ?? options.record.tolerance
  const recorded = options.record.models.filter((m): m is Recorded => m.status === 'recorded')
  const skipped: ModelCheck[] = options.record.models.filter(m => m.status === 'skipped')
    .map(m => ({ path: m.path, status: 'skipped', reason: `not recorded at commit: ${(m as { reason: string }).reason}`, outputs: [] }))
  const given = override !== undefined ? { toleranceGiven: true } : {}
  if (recorded.length === 0) {
    return { backend: 'none', recordedBackend: options.record.backend, tolerance, ...given, pass: true, verified: false, models: skipped }
  }
  const runtimes = new Runtimes({ backend: options.backend, python: options.python, customObjects: options.customObjects })
  const models: ModelCheck[] = []
  let backend = 'none'
  const start = Date.now()
  const progress = (phase: VerifyProgress['phase'], path: string, i: number): void => {
    options.onProgress?.({ phase, model: path, index: i + 1, total: recorded.length, elapsedMs: Date.now() - start })
  }
  try {
    for (const [i, m] of recorded.entries()) {
      const model = options.models.get(m.path)
      if (model === undefined) throw new VerificationUnavailableError(`the verification record names ${m.path}, which is not a model of this version`, { path: m.path })
      const inputs = await recordedInputs(options.store, m)
      const kept: TensorData[] = []
      for (const c of m.outputs) kept.push(await readTensorData(options.store, c))
      const recordedBy: RuntimeRecord = m.runtime ?? { id: 'tfjs', version: options.record.tfjsVersion, backend: options.record.backend }
      progress('load', m.path, i)
      const loaded = await runtimes.load(model.adapter, { format: model.format, path: m.path }, options.readFile, options.dir, options.runtime ?? recordedBy.id, options.files)
      const runtime: RuntimeRecord = { id: loaded.runtime.id, version: loaded.open.version, backend: loaded.open.backend, ...(loaded.open.fingerprint !== undefined ? { fingerprint: loaded.open.fingerprint } : {}) }
      if (backend === 'none') backend = runtime.backend
      const sameRuntime = recordedBy.fingerprint !== undefined && recordedBy.fingerprint === runtime.fingerprint
      try {
        progress('run', m.path, i)
        const probes = (m.reference?.outputs ?? []).filter(o => o.probe === true).map(o => o.name)
        const canProbe = loaded.model.probes !== undefined
        const actual = await loaded.model.run(inputs, canProbe && probes.length > 0 ? probes : undefined)
        const outputs = m.reference === undefined
          ? legacyOutputs(kept, actual, tolerance)
          : checkedOutputs(m, kept, actual, sameRuntime, override, canProbe)
        const pass = outputs.every(o => o.pass)
        const check: ModelCheck = { path: m.path, status: pass ? 'pass' : 'fail', outputs }
        models.push(runtime.id === 'tfjs' && m.runtime === undefined ? check : { ...check, runtime, recordedBy, sameRuntime })
      } finally {
        loaded.model.dispose()
      }
      progress('done', m.path, i)
    }
  } finally {
    await runtimes.close()
  }
  const all = [...models, ...skipped]
  const verified = models.some(m => m.outputs.some(o => o.skipped !== true))
  return { backend, recordedBackend: options.record.backend, tolerance, ...given, pass: models.every(m => m.status === 'pass'), verified, models: all }
}

function missing (name: string, side: 'actual' | 'expected'): OutputResult {
  return { name, rule: '-', pass: false, maxAbsDiff: Infinity, relDiff: Infinity, atol: 0, rtol: 0, elements: 0, sampled: false, identical: false, maxAllowedExcess: Infinity, missing: side }
}

/** Pairs outputs by name (by position when the runtime names them differently) and checks each. */
function pairUp<T extends { name: string }> (expected: readonly T[], actual: readonly TensorData[], check: (e: T, a: TensorData) => OutputResult): OutputResult[] {
  const results: OutputResult[] = []
  const used = new Set<number>()
  const byName = expected.every(e => actual.some(a => a.name === e.name))
  expected.forEach((e, k) => {
    const j = byName ? actual.findIndex((a, i) => !used.has(i) && a.name === e.name) : (k < actual.length ? k : -1)
    if (j < 0) { results.push(missing(e.name, 'actual')); return }
    used.add(j)
    results.push(check(e, actual[j]!))
  })
  actual.forEach((a, i) => { if (!used.has(i)) results.push(missing(a.name, 'expected')) })
  return results
}

function legacyOutputs (expected: readonly TensorData[], actual: readonly TensorData[], tol: Tolerance): OutputResult[] {
  return pairUp(expected, actual, (e, a) => checkLegacy(e, a, tol))
}

function checkedOutputs (m: Recorded, kept: readonly TensorData[], actual: readonly TensorData[], sameRuntime: boolean, override: Tolerance | undefined, canProbe: boolean): OutputResult[] {
  const refs = m.reference!.outputs.map((r, i) => ({ ...r, keptData: kept[i]! }))
  const checked = pairUp(refs.filter(r => canProbe || r.probe !== true), actual, (r, a) => {
    const out = checkOutput(r, r.keptData, a, sameRuntime, override)
    return r.probe === true ? { ...out, probe: true } : out
  })
  if (canProbe) return checked
  // A runtime that cannot fetch intermediate tensors checks the outputs alone.
  return [...checked, ...refs.filter(r => r.probe === true).map((r): OutputResult => ({
    name: r.name, rule: 'none', pass: true, skipped: true, probe: true, maxAbsDiff: NaN, relDiff: NaN, atol: 0, rtol: 0, elements: 0, sampled: r.sample !== null, identical: false, maxAllowedExcess: 0, note: 'an intermediate tensor this runtime cannot fetch'
  }))]
}
