/**
 * Checking behaviour: load the rebuilt (or stored) models, run the inputs recorded at commit, and
 * compare every output with the recorded one within the tolerance (compare.ts).
 */
import { VerificationUnavailableError } from '../../errors.js'
import type { ModelVerification, Tolerance, VerificationRecord } from '../../format/verification.js'
import type { ModelFormat, OpenRuntime } from '../../formats/interface.js'
import type { TensorData } from '../../formats/tensor-data.js'
import type { ObjectStore } from '../../store/interface.js'
import { compareOutputs, type OutputComparison } from './compare.js'
import { readTensorData } from './tensors.js'

export interface ModelCheck {
  readonly path: string
  readonly status: 'pass' | 'fail' | 'skipped'
  readonly reason?: string
  readonly outputs: readonly OutputComparison[]
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
  readonly backend?: string
  readonly tolerance?: Tolerance
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
  const opened = new Map<ModelFormat, OpenRuntime>()
  const runtimeFor = async (path: string): Promise<{ format: string, rt: OpenRuntime }> => {
    const model = options.models.get(path)
    if (model === undefined) throw new VerificationUnavailableError(`the verification record names ${path}, which is not a model of this version`, { path })
    const adapter = model.adapter
    let rt = opened.get(adapter)
    if (rt === undefined) {
      const runtime = adapter.runtimes[0]
      if (runtime === undefined) throw new VerificationUnavailableError(`no runtime can run ${adapter.id} models`, { format: adapter.id })
      rt = await runtime.open({ backend: options.backend })
      opened.set(adapter, rt)
    }
    return { format: model.format, rt }
  }
  const models: ModelCheck[] = []
  let backend = 'none'
  for (const m of recorded) {
    const inputs: TensorData[] = []
    for (const c of m.inputs) inputs.push(await readTensorData(options.store, c))
    const expected: TensorData[] = []
    for (const c of m.outputs) expected.push(await readTensorData(options.store, c))
    const { format, rt } = await runtimeFor(m.path)
    if (backend === 'none') backend = rt.backend
    const loaded = await rt.load({ format, path: m.path }, options.readFile)
    try {
      const actual = await loaded.run(inputs)
      const cmp = compareOutputs(expected, actual, tolerance)
      models.push({ path: m.path, status: cmp.pass ? 'pass' : 'fail', outputs: cmp.outputs })
    } finally {
      loaded.dispose()
    }
  }
  const all = [...models, ...skipped]
  return { backend, recordedBackend: options.record.backend, tolerance, pass: models.every(m => m.status === 'pass'), verified: true, models: all }
}
