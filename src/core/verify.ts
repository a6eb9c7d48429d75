/**
 * Behaviour verification: the save → load → compare-outputs routine, automated.
 *
 * At commit, each runnable TF.js model of the snapshot (layers or graph) is loaded with TF.js, fed
 * deterministic reference inputs (or the user's), and its inputs and outputs are stored as
 * `mvc/tensor` objects in the commit's `verification` record with the backend, TF.js version and
 * tolerance. At checkout (or `mvc verify`) the rebuilt model is loaded and run on the same inputs, and
 * every output is compared within the tolerance.
 *
 * TF.js is imported only here, lazily (`import()`), so commands that don't verify never load it.
 */
import type { CID } from 'multiformats/cid'
import { rawCid } from '../content/block.js'
import { isMvcError } from '../errors.js'
import type { TensorObject } from '../format/objects.js'
import { parseTensor } from '../format/objects.js'
import { decodeObject } from '../content/block.js'
import type { ObjectStore } from '../store/interface.js'
import { writeObject, type ObjectSink } from './objects.js'
import type { BackendName, TensorData, Tolerance, OutputComparison } from '../tfjs/runtime.js'

export type { BackendName, Tolerance }
export const DEFAULT_TOLERANCE: Tolerance = { atol: 1e-5, rtol: 1e-5 }
const TENSOR_CHUNK = 1 << 20

/** The `verification` field of a commit (docs/design.md, "Verification"). */
export interface VerificationRecord {
  readonly backend: string
  readonly tfjsVersion: string
  readonly tolerance: Tolerance
  readonly models: readonly ModelVerification[]
}
export type ModelVerification =
  | { readonly path: string, readonly status: 'recorded', readonly inputs: readonly CID[], readonly outputs: readonly CID[] }
  | { readonly path: string, readonly status: 'skipped', readonly reason: string }

export interface RecordOptions {
  readonly store: ObjectStore
  readonly sink: ObjectSink
  /** Models of the snapshot: JSON path relative to the snapshot root and format. */
  readonly models: ReadonlyArray<{ readonly path: string, readonly format: string }>
  /** Reads a file of the snapshot by relative path. */
  readonly readFile: (rel: string) => Promise<Uint8Array>
  readonly backend?: BackendName
  readonly tolerance?: Tolerance
  /** Raw bytes of an inputs file (`--inputs`), used for every model instead of generated inputs. */
  readonly inputsFile?: Uint8Array
  /** Files of the snapshot, to recognise SavedModels. */
  readonly paths: readonly string[]
}

async function runtimeModule (): Promise<typeof import('../tfjs/runtime.js')> {
  return await import('../tfjs/runtime.js')
}

function reasonOf (e: unknown): string {
  return isMvcError(e) || e instanceof Error ? e.message : String(e)
}

/** Stores a tensor's bytes as ≤ 1 MiB raw chunks plus an `mvc/tensor` object. */
export async function storeTensorData (sink: ObjectSink, t: TensorData): Promise<CID> {
  const chunks: Array<[CID, number]> = []
  for (let off = 0; off < t.data.length || chunks.length === 0; off += TENSOR_CHUNK) {
    const piece = t.data.subarray(off, Math.min(t.data.length, off + TENSOR_CHUNK))
    const cid = rawCid(piece)
    await sink.putRaw(cid, piece)
    chunks.push([cid, piece.length])
    if (piece.length === 0) break
  }
  const block = await writeObject<TensorObject>(sink, { type: 'mvc/tensor', name: t.name, dtype: t.dtype, shape: [...t.shape], quantization: null, size: t.data.length, chunks })
  return block.cid
}

/** Reads a tensor object and its bytes (verified). */
export async function readTensor (store: ObjectStore, cid: CID): Promise<{ tensor: TensorObject, data: Uint8Array }> {
  const tensor = parseTensor(decodeObject(cid, await store.get(cid), `tensor ${cid.toString()}`))
  const data = new Uint8Array(tensor.size)
  let off = 0
  for (const [c, len] of tensor.chunks) {
    const b = await store.get(c)
    data.set(b.subarray(0, len), off)
    off += len
  }
  return { tensor, data }
}

/** Runs each runnable model and records its inputs and outputs. Never throws for a model that can't run: it is recorded as skipped. */
export async function recordVerification (options: RecordOptions): Promise<VerificationRecord> {
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE
  const savedModels = options.paths.filter(p => p === 'saved_model.pb' || p.endsWith('/saved_model.pb'))
  const runnable = options.models.filter(m => m.format !== 'weights-manifest')
  const skipped: ModelVerification[] = savedModels.map(p => ({
    path: p,
    status: 'skipped' as const,
    reason: 'SavedModels can only be run with @tensorflow/tfjs-node, which is not installed here'
  }))
  if (runnable.length === 0) return { backend: 'none', tfjsVersion: 'none', tolerance, models: skipped }
  let rt: Awaited<ReturnType<Awaited<ReturnType<typeof runtimeModule>>['loadRuntime']>>
  const R = await runtimeModule()
  try {
    rt = await R.loadRuntime(options.backend)
  } catch (e) {
    return { backend: options.backend ?? 'none', tfjsVersion: 'none', tolerance, models: [...runnable.map(r => ({ path: r.path, status: 'skipped' as const, reason: reasonOf(e) })), ...skipped] }
  }
  const models: ModelVerification[] = []
  for (const r of runnable) {
    try {
      const loaded = await R.loadModel(rt, r.path, options.readFile)
      try {
        const sig = R.inputSignature(loaded)
        const inputs = options.inputsFile !== undefined
          ? R.bindInputs(sig, R.parseInputsFile(options.inputsFile))
          : R.referenceInputs(rt, sig)
        const outputs = await R.runModel(rt, loaded, inputs)
        const inputCids: CID[] = []
        for (const t of inputs) inputCids.push(await storeTensorData(options.sink, t))
        const outputCids: CID[] = []
        for (const t of outputs) outputCids.push(await storeTensorData(options.sink, t))
        models.push({ path: r.path, status: 'recorded', inputs: inputCids, outputs: outputCids })
      } finally {
        loaded.model.dispose()
      }
    } catch (e) {
      models.push({ path: r.path, status: 'skipped', reason: reasonOf(e) })
    }
  }
  return { backend: rt.backend, tfjsVersion: rt.tfjsVersion, tolerance, models: [...models, ...skipped] }
}

/** Parses a commit's `verification` field; undefined when none was recorded. */
export function parseVerification (v: unknown): VerificationRecord | undefined {
  if (v === null || typeof v !== 'object') return undefined
  const r = v as Partial<VerificationRecord>
  if (!Array.isArray(r.models) || typeof r.backend !== 'string' || typeof r.tolerance !== 'object' || r.tolerance === null) return undefined
  return r as VerificationRecord
}

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
  /** Reads a file of the rebuilt snapshot by relative path. */
  readonly readFile: (rel: string) => Promise<Uint8Array>
  readonly backend?: BackendName
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
  const R = await runtimeModule()
  const rt = await R.loadRuntime(options.backend)
  const models: ModelCheck[] = []
  for (const m of recorded) {
    const inputs: TensorData[] = []
    for (const c of m.inputs) inputs.push(asTensorData(await readTensor(options.store, c)))
    const expected: TensorData[] = []
    for (const c of m.outputs) expected.push(asTensorData(await readTensor(options.store, c)))
    const loaded = await R.loadModel(rt, m.path, options.readFile)
    try {
      const actual = await R.runModel(rt, loaded, inputs)
      const cmp = R.compareOutputs(expected, actual, tolerance)
      models.push({ path: m.path, status: cmp.pass ? 'pass' : 'fail', outputs: cmp.outputs })
    } finally {
      loaded.model.dispose()
    }
  }
  const all = [...models, ...skipped]
  return { backend: rt.backend, recordedBackend: options.record.backend, tolerance, pass: models.every(m => m.status === 'pass'), verified: true, models: all }
}

function asTensorData (t: { tensor: TensorObject, data: Uint8Array }): TensorData {
  return { name: t.tensor.name, dtype: t.tensor.dtype as TensorData['dtype'], shape: t.tensor.shape, data: t.data }
}
