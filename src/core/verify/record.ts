/**
 * Recording behaviour at commit: the save → load → compare-outputs routine, automated.
 *
 * Each runnable model of the snapshot is loaded by a runtime its format adapter offers, fed
 * deterministic reference inputs (or the user's), and its inputs and outputs are stored as
 * `mvc/tensor` objects in the commit's `verification` record with the backend, the runtime's version
 * and the tolerance (docs/design.md, "Verification"). A model that cannot run is recorded as skipped
 * with the reason; nothing here throws for one model.
 *
 * Runtimes are opened lazily (TF.js is imported only when a model is to be run).
 */
import type { CID } from 'multiformats/cid'
import { VerificationUnavailableError, isMvcError } from '../../errors.js'
import { DEFAULT_TOLERANCE, type ModelVerification, type Tolerance, type VerificationRecord } from '../../format/verification.js'
import type { ModelFormat, OpenRuntime } from '../../formats/interface.js'
import { bindInputs, type TensorData } from '../../formats/tensor-data.js'
import type { ObjectSink } from '../objects.js'
import { parseInputsFile, referenceInputs } from './inputs.js'
import { storeTensorData } from './tensors.js'

export interface VerifySettings {
  /** Runtime backend (TF.js: 'wasm', 'cpu', 'tensorflow'); default: the runtime's best available. */
  readonly backend?: string
  readonly tolerance?: Tolerance
  /** Inputs file bytes (`{ "inputs": [...] }`) instead of generated reference inputs. Commit only. */
  readonly inputs?: Uint8Array
  /** Commit only: fail (VERIFICATION_UNAVAILABLE) when a model can't be loaded or run, instead of recording why. */
  readonly require?: boolean
}

export interface RecordOptions extends VerifySettings {
  readonly sink: ObjectSink
  /** Models of the snapshot: main file path, whether it can run alone, and its adapter. */
  readonly models: ReadonlyArray<{ readonly path: string, readonly format: string, readonly runnable: boolean, readonly adapter: ModelFormat }>
  /** Reads a file of the snapshot by relative path. */
  readonly readFile: (rel: string) => Promise<Uint8Array>
  /** Files of the snapshot, to recognise SavedModels. */
  readonly paths: readonly string[]
}

function reasonOf (e: unknown): string {
  return isMvcError(e) || e instanceof Error ? e.message : String(e)
}

/** Runs each runnable model and records its inputs and outputs. Never throws for a model that can't run: it is recorded as skipped. */
export async function recordVerification (options: RecordOptions): Promise<VerificationRecord> {
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE
  const savedModels = options.paths.filter(p => p === 'saved_model.pb' || p.endsWith('/saved_model.pb'))
  const runnable = options.models.filter(m => m.runnable)
  const skipped: ModelVerification[] = savedModels.map(p => ({
    path: p,
    status: 'skipped' as const,
    reason: 'SavedModels can only be run with @tensorflow/tfjs-node, which is not installed here'
  }))
  if (runnable.length === 0) return { backend: 'none', tfjsVersion: 'none', tolerance, models: skipped }
  // One runtime per adapter, opened once.
  const opened = new Map<ModelFormat, Promise<OpenRuntime>>()
  const runtimeFor = async (adapter: ModelFormat): Promise<OpenRuntime> => {
    let p = opened.get(adapter)
    if (p === undefined) {
      const rt = adapter.runtimes[0]
      p = rt === undefined
        ? Promise.reject(new VerificationUnavailableError(`no runtime can run ${adapter.id} models`, { format: adapter.id }))
        : rt.open({ backend: options.backend })
      opened.set(adapter, p)
    }
    return await p
  }
  let first: OpenRuntime | undefined
  try {
    first = await runtimeFor(runnable[0]!.adapter)
  } catch (e) {
    return { backend: options.backend ?? 'none', tfjsVersion: 'none', tolerance, models: [...runnable.map(r => ({ path: r.path, status: 'skipped' as const, reason: reasonOf(e) })), ...skipped] }
  }
  const models: ModelVerification[] = []
  for (const r of runnable) {
    try {
      const rt = await runtimeFor(r.adapter)
      const loaded = await rt.load({ format: r.format, path: r.path }, options.readFile)
      try {
        const sig = loaded.inputs
        const inputs: TensorData[] = options.inputs !== undefined
          ? bindInputs(sig, parseInputsFile(options.inputs))
          : referenceInputs(undefined, sig)
        const outputs = await loaded.run(inputs)
        const inputCids: CID[] = []
        for (const t of inputs) inputCids.push(await storeTensorData(options.sink, t))
        const outputCids: CID[] = []
        for (const t of outputs) outputCids.push(await storeTensorData(options.sink, t))
        models.push({ path: r.path, status: 'recorded', inputs: inputCids, outputs: outputCids })
      } finally {
        loaded.dispose()
      }
    } catch (e) {
      models.push({ path: r.path, status: 'skipped', reason: reasonOf(e) })
    }
  }
  return { backend: first.backend, tfjsVersion: first.version, tolerance, models: [...models, ...skipped] }
}
