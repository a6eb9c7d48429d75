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
import { isMvcError } from '../../errors.js'
import { DEFAULT_TOLERANCE, type ModelVerification, type Tolerance, type VerificationRecord } from '../../format/verification.js'
import type { ModelFormat } from '../../formats/interface.js'
import { bindInputs, type TensorData } from '../../formats/tensor-data.js'
import type { ObjectWriter } from '../../store/interface.js'
import { parseInputsFile, referenceInputs } from './inputs.js'
import { storeTensorData } from './tensors.js'
import { Runtimes } from './runtimes.js'

export interface VerifySettings {
  /** Runtime backend (TF.js: 'wasm', 'cpu', 'tensorflow'); default: the runtime's best available. */
  readonly backend?: string
  readonly tolerance?: Tolerance
  /** Inputs file bytes (`{ "inputs": [...] }`) instead of generated reference inputs. Commit only. */
  readonly inputs?: Uint8Array
  /** Commit only: fail (VERIFICATION_UNAVAILABLE) when a model can't be loaded or run, instead of recording why. */
  readonly require?: boolean
  /** Run with this runtime when it can ('tfjs', 'python-tensorflow'); default: each format's best. */
  readonly runtime?: string
  /** The Python interpreter for the Python runtime (`--python`; default MVC_PYTHON, else python3). */
  readonly python?: string
  /** Files registering custom classes (`--custom-objects`). */
  readonly customObjects?: readonly string[]
}

export interface RecordOptions extends VerifySettings {
  readonly sink: ObjectWriter
  /** Models of the snapshot: main file path, format, whether it can run alone (and why not), and its adapter. */
  readonly models: ReadonlyArray<{ readonly path: string, readonly format: string, readonly runnable: boolean, readonly notRunnableReason?: string, readonly adapter: ModelFormat }>
  /** Reads a file of the snapshot by relative path. */
  readonly readFile: (rel: string) => Promise<Uint8Array>
  /** The snapshot's folder on disk (for runtimes that load from a folder). */
  readonly dir: string
}

function reasonOf (e: unknown): string {
  return isMvcError(e) || e instanceof Error ? e.message : String(e)
}

/**
 * Runs each runnable model and records its inputs and outputs. Never throws for a model that can't
 * run: it is recorded as skipped with the reason (a weights-only file, a missing runtime or class).
 */
export async function recordVerification (options: RecordOptions): Promise<VerificationRecord> {
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE
  const runtimes = new Runtimes({ backend: options.backend, python: options.python, customObjects: options.customObjects })
  const models: ModelVerification[] = []
  let tfjs: { backend: string, version: string } | undefined
  try {
    for (const m of options.models) {
      if (!m.runnable) {
        models.push({ path: m.path, status: 'skipped', reason: m.notRunnableReason ?? 'it cannot be loaded or run on its own' })
        continue
      }
      try {
        const loaded = await runtimes.load(m.adapter, { format: m.format, path: m.path }, options.readFile, async () => options.dir, options.runtime)
        try {
          const sig = loaded.model.inputs
          const inputs: TensorData[] = options.inputs !== undefined
            ? bindInputs(sig, parseInputsFile(options.inputs))
            : referenceInputs(undefined, sig)
          const outputs = await loaded.model.run(inputs)
          const inputCids: CID[] = []
          for (const t of inputs) inputCids.push(await storeTensorData(options.sink, t))
          const outputCids: CID[] = []
          for (const t of outputs) outputCids.push(await storeTensorData(options.sink, t))
          const runtime = { id: loaded.runtime.id, version: loaded.open.version, backend: loaded.open.backend }
          if (runtime.id === 'tfjs') tfjs ??= { backend: runtime.backend, version: runtime.version }
          // TF.js records keep their historical shape (runtime on the record); others name theirs per model.
          models.push(runtime.id === 'tfjs'
            ? { path: m.path, status: 'recorded', inputs: inputCids, outputs: outputCids }
            : { path: m.path, status: 'recorded', inputs: inputCids, outputs: outputCids, runtime })
        } finally {
          loaded.model.dispose()
        }
      } catch (e) {
        models.push({ path: m.path, status: 'skipped', reason: reasonOf(e) })
      }
    }
  } finally {
    await runtimes.close()
  }
  const attempted = options.models.some(m => m.runnable)
  return { backend: tfjs?.backend ?? (attempted ? options.backend ?? 'none' : 'none'), tfjsVersion: tfjs?.version ?? 'none', tolerance, models }
}
