/**
 * Recording behaviour at commit: the save → load → compare-outputs routine, automated.
 *
 * Each runnable model of the snapshot is loaded by a runtime its format adapter offers and fed
 * deterministic reference inputs (or the user's). For every output mvc keeps its sha256, a tensor
 * (whole, or a seeded sample when large: references stay ≤ ~1 % of the model's bytes), statistics,
 * and a comparison rule with its tolerance for runtimes other than this one — measured by running the
 * same inputs on a second backend when one is available and cheap enough (reference.ts). Generated
 * inputs are not stored: their generator, seed and shapes are, with a digest of their bytes. A model
 * that cannot run is recorded as skipped with the reason; nothing here throws for one model.
 *
 * Runtimes are opened lazily (TF.js is imported only when a model is to be run).
 */
import type { CID } from 'multiformats/cid'
import { isMvcError } from '../../errors.js'
import { DEFAULT_TOLERANCE, type GeneratedInputSpec, type ModelVerification, type OutputReference, type RuntimeRecord, type Tolerance, type VerificationRecord } from '../../format/verification.js'
import type { LoadedModel, ModelFormat, SnapshotRanges } from '../../formats/interface.js'
import type { TensorData } from '../../formats/tensor-data.js'
import type { ObjectWriter } from '../../store/interface.js'
import { DEFAULT_SEED, concreteShape, conformInputs, parseInputs, referenceInputs } from './inputs.js'
import { deriveCheck, keepOf, sha256Hex, statsOf } from './reference.js'
import { storeTensorData } from './tensors.js'
import { Runtimes, type Loaded } from './runtimes.js'

/** The generator of reference inputs (inputs.ts, referenceInputs); part of the record. */
export const INPUT_GENERATOR = 'mulberry32/1'

/** Share of the model's bytes the kept outputs may take (spread over its outputs), and bounds per output. */
export const KEEP_FRACTION = 0.01
export const MIN_KEEP = 64
export const MAX_KEEP = 4096

/** `measure: 'auto'` runs the second backend only when the first run took at most this long… */
export const MEASURE_MAX_RUN_MS = 150
/** …and the model is at most this large (the second backend holds a second copy of it). */
export const MEASURE_MAX_BYTES = 128 * 1024 * 1024

/** One step of verification, for progress display: model `index` (1-based) of `total`. */
export interface VerifyProgress {
  readonly phase: 'load' | 'run' | 'second-backend' | 'done'
  readonly model: string
  readonly index: number
  readonly total: number
  /** ms since verification started. */
  readonly elapsedMs: number
}

export interface VerifySettings {
  /** Runtime backend (TF.js: 'wasm', 'cpu', 'tensorflow'); default: the runtime's best available. */
  readonly backend?: string
  /** A tolerance for every float output (the user's --atol/--rtol); default: measured or derived per output. */
  readonly tolerance?: Tolerance
  /** Inputs file bytes (JSON `{ "inputs": [...] }`, .npy or .npz) instead of generated reference inputs. Commit only. */
  readonly inputs?: Uint8Array
  /** Commit only: fail (VERIFICATION_UNAVAILABLE) when a model can't be loaded or run, instead of recording why. */
  readonly require?: boolean
  /** Run with this runtime when it can ('tfjs', 'python-tensorflow'); default: each format's best. */
  readonly runtime?: string
  /** The Python interpreter for the Python runtime (`--python`; default MVC_PYTHON, else python3). */
  readonly python?: string
  /** Files registering custom classes (`--custom-objects`). */
  readonly customObjects?: readonly string[]
  /**
   * Commit only: run the inputs on a second backend to measure each output's tolerance: 'auto' (default)
   * when the first run took ≤ 150 ms and the model is ≤ 128 MiB, 'always', or 'never'.
   */
  readonly measure?: 'auto' | 'always' | 'never'
  readonly onProgress?: (p: VerifyProgress) => void
}

export interface RecordOptions extends VerifySettings {
  readonly sink: ObjectWriter
  /** Models of the snapshot: main file path, format, whether it can run alone (and why not), its size in bytes, and its adapter. */
  readonly models: ReadonlyArray<{ readonly path: string, readonly format: string, readonly runnable: boolean, readonly notRunnableReason?: string, readonly bytes?: number, readonly adapter: ModelFormat }>
  /** Reads a file of the snapshot by relative path. */
  readonly readFile: (rel: string) => Promise<Uint8Array>
  /** The snapshot's folder on disk (for runtimes that load from a folder). */
  readonly dir: string
  /** Ranged reads of the snapshot's files (runtimes then read weights piece by piece). */
  readonly files?: SnapshotRanges
}

function reasonOf (e: unknown): string {
  return isMvcError(e) || e instanceof Error ? e.message : String(e)
}

/** Elements kept per output so that all of a model's kept outputs take about KEEP_FRACTION of its bytes. */
export function keepBudget (modelBytes: number | undefined, outputs: number): number {
  if (modelBytes === undefined) return MAX_KEEP
  return Math.max(MIN_KEEP, Math.min(MAX_KEEP, Math.floor(KEEP_FRACTION * modelBytes / 4 / Math.max(1, outputs))))
}

function runtimeRecord (l: Loaded): RuntimeRecord {
  const r = { id: l.runtime.id, version: l.open.version, backend: l.open.backend }
  return l.open.fingerprint === undefined ? r : { ...r, fingerprint: l.open.fingerprint }
}

/**
 * Runs each runnable model and records its reference. Never throws for a model that can't run: it is
 * recorded as skipped with the reason (a weights-only file, a missing runtime or class).
 */
export async function recordVerification (options: RecordOptions): Promise<VerificationRecord> {
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE
  const runtimes = new Runtimes({ backend: options.backend, python: options.python, customObjects: options.customObjects })
  const seconds = new Map<string, Runtimes>()
  const models: ModelVerification[] = []
  let tfjs: { backend: string, version: string } | undefined
  const start = Date.now()
  const runnable = options.models.filter(m => m.runnable)
  const progress = (phase: VerifyProgress['phase'], model: string): void => {
    options.onProgress?.({ phase, model, index: runnable.findIndex(m => m.path === model) + 1, total: runnable.length, elapsedMs: Date.now() - start })
  }
  const given = options.inputs === undefined ? undefined : parseInputs(options.inputs)
  try {
    for (const m of options.models) {
      if (!m.runnable) {
        models.push({ path: m.path, status: 'skipped', reason: m.notRunnableReason ?? 'it cannot be loaded or run on its own' })
        continue
      }
      try {
        progress('load', m.path)
        const loaded = await runtimes.load(m.adapter, { format: m.format, path: m.path }, options.readFile, async () => options.dir, options.runtime, options.files)
        let second: { backend: string, outputs: TensorData[] } | undefined
        let outputs: TensorData[]
        let inputs: TensorData[]
        let specs: GeneratedInputSpec[] | null = null
        try {
          const sig = loaded.model.inputs
          if (given !== undefined) {
            inputs = conformInputs(sig, given)
          } else {
            specs = sig.map(s => {
              const spec = { name: s.name, dtype: s.dtype, shape: concreteShape(s.shape) }
              return s.indexBound === undefined ? spec : { ...spec, indexBound: s.indexBound }
            })
            inputs = referenceInputs(undefined, specs, DEFAULT_SEED)
          }
          progress('run', m.path)
          const t0 = Date.now()
          let probes = [...(loaded.model.probes ?? [])]
          let all: TensorData[]
          try {
            all = await loaded.model.run(inputs, probes.length > 0 ? probes : undefined)
          } catch (e) {
            if (probes.length === 0) throw e
            // A probe the runtime cannot fetch must not cost the record: run the outputs alone.
            probes = []
            all = await loaded.model.run(inputs)
          }
          outputs = all.slice(0, all.length - probes.length)
          const probed = all.slice(all.length - probes.length).filter(t => t.dtype === 'float32')
          const ran = Date.now() - t0
          const measure = options.measure ?? 'auto'
          const wanted = measure === 'always' || (measure === 'auto' && ran <= MEASURE_MAX_RUN_MS && (m.bytes ?? 0) <= MEASURE_MAX_BYTES)
          const alt = wanted && options.tolerance === undefined ? loaded.runtime.crossCheckBackends?.find(b => b !== loaded.open.backend) : undefined
          const discrete = loaded.model.discreteOutputs
          if (alt !== undefined) {
            progress('second-backend', m.path)
            second = await secondOpinion(seconds, alt, options, m, loaded, inputs, probed.map(t => t.name))
          }
          const record = await referenceOf(options.sink, inputs, outputs, probed, given === undefined ? specs : null, keepBudget(m.bytes, outputs.length + probed.length), second, discrete, options.tolerance)
          const runtime = runtimeRecord(loaded)
          if (runtime.id === 'tfjs') tfjs ??= { backend: runtime.backend, version: runtime.version }
          models.push({ path: m.path, status: 'recorded', inputs: record.inputCids, outputs: record.outputs.map(o => o.kept), runtime, reference: { generated: record.generated, inputDigests: record.digests, outputs: record.outputs } })
        } finally {
          loaded.model.dispose()
        }
        progress('done', m.path)
      } catch (e) {
        models.push({ path: m.path, status: 'skipped', reason: reasonOf(e) })
      }
    }
  } finally {
    await runtimes.close()
    for (const r of seconds.values()) await r.close()
  }
  const attempted = options.models.some(m => m.runnable)
  return { backend: tfjs?.backend ?? (attempted ? options.backend ?? 'none' : 'none'), tfjsVersion: tfjs?.version ?? 'none', tolerance, models }
}

/** The same inputs on another backend of the same runtime; undefined when it cannot run there. */
async function secondOpinion (seconds: Map<string, Runtimes>, backend: string, options: RecordOptions, m: RecordOptions['models'][number], first: Loaded, inputs: readonly TensorData[], probes: readonly string[]): Promise<{ backend: string, outputs: TensorData[] } | undefined> {
  let rts = seconds.get(backend)
  if (rts === undefined) {
    rts = new Runtimes({ backend, python: options.python, customObjects: options.customObjects })
    seconds.set(backend, rts)
  }
  let other: Loaded
  try {
    other = await rts.load(m.adapter, { format: m.format, path: m.path }, options.readFile, async () => options.dir, first.runtime.id, options.files)
  } catch {
    return undefined
  }
  try {
    if (other.runtime.id !== first.runtime.id || other.open.backend === first.open.backend) return undefined
    return { backend: other.open.backend, outputs: await other.model.run(inputs, probes.length > 0 ? probes : undefined) }
  } catch {
    return undefined
  } finally {
    other.model.dispose()
  }
}

async function referenceOf (sink: ObjectWriter, inputs: readonly TensorData[], outputs: readonly TensorData[], probes: readonly TensorData[], specs: GeneratedInputSpec[] | null,
  budget: number, second: { backend: string, outputs: TensorData[] } | undefined, discrete: LoadedModel['discreteOutputs'], given: Tolerance | undefined):
  Promise<{ inputCids: CID[], digests: string[], generated: { generator: string, seed: number, specs: GeneratedInputSpec[] } | null, outputs: OutputReference[] }> {
  const inputCids: CID[] = []
  if (specs === null) for (const t of inputs) inputCids.push(await storeTensorData(sink, t))
  const refs: OutputReference[] = []
  for (const [i, t] of [...outputs, ...probes].entries()) {
    const probe = i >= outputs.length
    const other = second?.outputs.find(o => o.name === t.name) ?? (probe ? undefined : second?.outputs[i])
    const check = deriveCheck(t, {
      ...(given !== undefined ? { given } : {}),
      ...(second !== undefined && other !== undefined ? { measured: { backend: second.backend, output: other } } : {}),
      // Probes feed discrete ops and often come from thresholds themselves: they get the discrete rules.
      ...(probe ? { discrete: 'the ops that feed a discrete choice (probe)' } : discrete?.get(t.name) !== undefined ? { discrete: discrete.get(t.name) } : {})
    })
    // Seeded per output so that two outputs of one model do not sample the same positions.
    const keep = keepOf(t, budget, (DEFAULT_SEED + i + 1) >>> 0)
    const kept = await storeTensorData(sink, keep.tensor)
    const ref: OutputReference = { name: t.name, dtype: t.dtype, shape: [...t.shape], sha256: sha256Hex(t.data), kept, sample: keep.sample, stats: statsOf(t), check }
    refs.push(probe ? { ...ref, probe: true } : ref)
  }
  return {
    inputCids,
    digests: inputs.map(t => sha256Hex(t.data)),
    generated: specs === null ? null : { generator: INPUT_GENERATOR, seed: DEFAULT_SEED, specs },
    outputs: refs
  }
}
