/**
 * Checking behaviour: load the rebuilt (or stored) models, run the inputs recorded at commit, and
 * compare every output with the recorded one within the tolerance (compare.ts).
 */
import { VerificationUnavailableError } from '../../errors.js'
import type { ModelVerification, RuntimeRecord, Tolerance, VerificationRecord } from '../../format/verification.js'
import type { ModelFormat } from '../../formats/interface.js'
import type { TensorData } from '../../formats/tensor-data.js'
import type { ObjectStore } from '../../store/interface.js'
import { compareOutputs, type OutputComparison } from './compare.js'
import { readTensorData } from './tensors.js'
import { Runtimes } from './runtimes.js'

export interface ModelCheck {
  readonly path: string
  readonly status: 'pass' | 'fail' | 'skipped'
  readonly reason?: string
  readonly outputs: readonly OutputComparison[]
  /** The runtime that ran the model now, and the one that recorded its outputs (absent for TF.js-only records). */
  readonly runtime?: RuntimeRecord
  readonly recordedBy?: RuntimeRecord
}

export interface VerificationReport {
  readonly backend: string
  readonly recordedBackend: string
  readonly tolerance: Tolerance
  readonly pass: boolean
  /** True when at least one model was actually compared. */
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
  readonly backend?: string
  readonly tolerance?: Tolerance
  /** Run with this runtime when it can; default: the one that recorded each model's outputs. */
  readonly runtime?: string
  readonly python?: string
  readonly customObjects?: readonly string[]
}

/** Loads the rebuilt models, runs the recorded inputs and compares every output. */
export async function checkVerification (options: CheckOptions): Promise<VerificationReport> {
  const tolerance = options.tolerance ?? options.record.tolerance
  const recorded = options.record.models.filter((m): m is Extract<ModelVerification, { status: 'recorded' }> => m.status === 'recorded')
  const skipped: ModelCheck[] = options.record.models.filter(m => m.status === 'skipped')
    .map(m => ({ path: m.path, status: 'skipped', reason: `not recorded at commit: ${(m as { reason: string }).reason}`, outputs: [] }))
  if (recorded.length === 0) {
    return { backend: 'none', recordedBackend: options.record.backend, tolerance, pass: true, verified: false, models: skipped }
  }
  const runtimes = new Runtimes({ backend: options.backend, python: options.python, customObjects: options.customObjects })
  const models: ModelCheck[] = []
  let backend = 'none'
  try {
    for (const m of recorded) {
      const model = options.models.get(m.path)
      if (model === undefined) throw new VerificationUnavailableError(`the verification record names ${m.path}, which is not a model of this version`, { path: m.path })
      const inputs: TensorData[] = []
      for (const c of m.inputs) inputs.push(await readTensorData(options.store, c))
      const expected: TensorData[] = []
      for (const c of m.outputs) expected.push(await readTensorData(options.store, c))
      const recordedBy: RuntimeRecord = m.runtime ?? { id: 'tfjs', version: options.record.tfjsVersion, backend: options.record.backend }
      const loaded = await runtimes.load(model.adapter, { format: model.format, path: m.path }, options.readFile, options.dir, options.runtime ?? recordedBy.id)
      const runtime: RuntimeRecord = { id: loaded.runtime.id, version: loaded.open.version, backend: loaded.open.backend }
      if (backend === 'none') backend = runtime.backend
      try {
        const actual = await loaded.model.run(inputs)
        const cmp = compareOutputs(expected, actual, tolerance)
        const check: ModelCheck = { path: m.path, status: cmp.pass ? 'pass' : 'fail', outputs: cmp.outputs }
        models.push(runtime.id === 'tfjs' && m.runtime === undefined ? check : { ...check, runtime, recordedBy })
      } finally {
        loaded.model.dispose()
      }
    }
  } finally {
    await runtimes.close()
  }
  const all = [...models, ...skipped]
  return { backend, recordedBackend: options.record.backend, tolerance, pass: models.every(m => m.status === 'pass'), verified: true, models: all }
}
