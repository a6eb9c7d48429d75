/**
 * The model-format contract. A format adapter knows one family of model files (TF.js, Keras HDF5,
 * `.keras`, TF checkpoints, SavedModels…); everything else in mvc — storage, diff, verification, the
 * IOHandler — goes through this interface and never looks inside a model file itself.
 *
 * What an adapter does:
 * 1. **Recognise** its models among a snapshot's files (`detect`), validating them before anything is
 *    written: a malformed file is an InvalidModelError naming the file and the object, never a crash.
 * 2. **Lay out** each model (`ModelLayout`): every tensor as a name, dtype, shape and the byte ranges
 *    in which files hold its stored bytes, plus the model's topology for diff. The generic storage
 *    (src/core/models.ts) stores each tensor once as an `mvc/tensor` in row-aligned chunks and rebuilds
 *    every file the model covers byte for byte from slices of those chunks plus the bytes between
 *    them (stored with content-defined chunking) — so a container format (HDF5, zip, checkpoint
 *    data) fits as well as TF.js shards, which tensors cover completely.
 * 3. **Describe** what it stored (`readModel`): from an `mvc/model` object back to its tensors and
 *    topology, for diff, verification and loading.
 * 4. **Run** its models when a runtime can (`ModelRuntime`), for verification.
 *
 * Adapters are pure or read only through the `FileAccess` they are given; they never write.
 */
import type { CID } from 'multiformats/cid'
import type { InputSpec, TensorData } from './tensor-data.js'

/** One file of a snapshot, as adapters see it. */
export interface SnapshotFile {
  /** POSIX path relative to the snapshot root. */
  readonly path: string
  readonly size: number
}

/** Read access to a snapshot's files (the working folder at commit, the store when reading back). */
export interface FileAccess {
  /** Every file of the snapshot, by path. */
  readonly files: ReadonlyMap<string, SnapshotFile>
  /** Exactly `length` bytes at `offset`; InvalidModelError when the file is shorter or has changed. */
  read (path: string, offset: number, length: number): Promise<Uint8Array>
  /** A whole (small) file. */
  readAll (path: string): Promise<Uint8Array>
}

/** A run of a tensor's stored bytes inside one file. */
export interface TensorSpan {
  readonly file: string
  readonly offset: number
  readonly length: number
}

export interface TensorLayout {
  readonly name: string
  readonly dtype: string
  readonly shape: readonly number[]
  /** The format's quantization record (TF.js: `{ dtype, scale, min }`), or undefined. */
  readonly quantization?: unknown
  /** The tensor's stored bytes, in order. May be empty only for a zero-byte tensor. */
  readonly spans: readonly TensorSpan[]
  readonly byteLength: number
  /** Bytes per first-dimension row, for row-aligned chunking; = byteLength for scalars and strings. */
  readonly rowBytes: number
}

/** The topology of a model: stored as an `mvc/topology` object, compared by diff. */
export interface TopologyValue {
  readonly format: string
  readonly topology: unknown
  readonly meta: Readonly<Record<string, unknown>>
}

export type { ModelContract, TensorContract } from '../format/objects.js'
import type { ModelContract } from '../format/objects.js'

/** What an adapter found: one model of a snapshot. */
export interface ModelLayout {
  /** The value of the `format` field of its `mvc/model` (e.g. 'layers-model'). */
  readonly format: string
  /** The model's main file (model.json, the .h5, the checkpoint index): names the model. */
  readonly path: string
  /** Files whose bytes the model's tensors (and the bytes between them) make up; rebuilt from tensor chunks. */
  readonly files: readonly string[]
  readonly tensors: readonly TensorLayout[]
  readonly topology: TopologyValue | null
  /**
   * A cheap identity of everything the layout was computed from besides the covered files' content
   * (e.g. a hash of model.json): with the covered files' CIDs it keys the model cache.
   */
  readonly fingerprint: string
  /** True when the model can be loaded and run on its own (false for weights-only files). */
  readonly runnable: boolean
  /** Why it cannot run on its own, when `runnable` is false ("weights only: …"). */
  readonly notRunnableReason?: string
  /** The input/output contract when the format declares one (signatures, input layers), else null. */
  readonly contract: ModelContract | null
  /** Classes the model's config needs that are not built into its framework (`Course>ScaledDense`). */
  readonly customObjects: readonly string[]
  /**
   * What the adapter could not map tensor by tensor (a compressed or chunked dataset, a sliced variable)
   * and left to plain storage, in words for `commit` to print. Storage stays exact either way.
   */
  readonly warnings: readonly string[]
  /** The `mvc/model` object for this layout, given the stored tensor and topology CIDs (in `tensors` order). */
  modelObject (stored: { readonly tensors: readonly CID[], readonly topology: CID | null }): Readonly<Record<string, unknown>>
}

/** A tensor of a stored model. */
export interface StoredTensor {
  readonly tensor: CID
  /** Which part of the model it belongs to, for display: 'weights' unless the format says otherwise (e.g. 'optimizer'). */
  readonly role: string
}

/** A stored `mvc/model` object, read back through its adapter. */
export interface StoredModel {
  readonly format: string
  readonly path: string
  readonly topology: CID | null
  readonly tensors: readonly StoredTensor[]
  /** Files of the snapshot the model covers. */
  readonly files: readonly string[]
  /** True when the model can be loaded and run on its own (false for weights-only files). */
  readonly runnable: boolean
  readonly contract: ModelContract | null
  readonly customObjects: readonly string[]
}

export interface ModelFormat {
  /** A short stable id ('tfjs'). */
  readonly id: string
  /** Values of `mvc/model`'s `format` field this adapter writes and reads. */
  readonly formats: readonly string[]
  /**
   * The models of this format among the snapshot's files. `claimed` holds files another adapter has
   * already taken (a shard can belong to one model only). Throws InvalidModelError / UnsafePathError
   * for a file that is clearly of this format but malformed, before anything is stored.
   */
  detect (access: FileAccess, claimed: ReadonlySet<string>): Promise<ModelLayout[]>
  /** Reads back an `mvc/model` value this adapter wrote (throws InvalidObjectError when malformed). */
  readModel (value: unknown): StoredModel
  /** Runtimes that can run this format's models in this process, best first. */
  readonly runtimes: readonly ModelRuntime[]
}

/** What verification needs of a runtime. */
export interface ModelRuntime {
  /** 'tfjs', 'python-tensorflow'… */
  readonly id: string
  /** True when it loads models from a folder on disk (another process reads them), not through `read`. */
  readonly needsDirectory?: boolean
  /**
   * Prepares the runtime (imports its library, selects a backend). Throws VerificationUnavailableError
   * saying what to install when it cannot run here.
   */
  open (options: RuntimeOptions): Promise<OpenRuntime>
  /**
   * Backends of this runtime that can give a second opinion at commit (the same model run on another
   * implementation, to measure rounding differences), in order of preference. Absent: none.
   */
  readonly crossCheckBackends?: readonly string[]
}

export interface RuntimeOptions {
  /** A backend the user asked for (TF.js: 'wasm', 'cpu', 'tensorflow'). */
  readonly backend?: string
  /** The Python interpreter for runtimes that use one (`--python`). */
  readonly python?: string
  /** Files that register custom classes (`--custom-objects`): Python modules, or JS modules calling tf.serialization.registerClass. */
  readonly customObjects?: readonly string[]
}

export interface OpenRuntime {
  /** The backend that runs, recorded with the outputs ('wasm'). */
  readonly backend: string
  /** The runtime library's version, recorded with the outputs. */
  readonly version: string
  /**
   * Everything that changes the runtime's numerics (version, backend, SIMD, engine, CPU): runs with
   * equal fingerprints compute bit-identical outputs. Absent when the runtime cannot promise that.
   */
  readonly fingerprint?: string
  /**
   * Loads a model whose main file is `path`, reading its files through `read` (paths relative to the
   * snapshot root), or from `where.dir` — the snapshot's folder on disk — when the runtime needs a directory.
   */
  load (model: { readonly format: string, readonly path: string }, read: (path: string) => Promise<Uint8Array>, where?: { readonly dir?: string, readonly files?: SnapshotRanges }): Promise<LoadedModel>
  /** Releases what `open` started (a child process). */
  close? (): Promise<void>
}

/** Ranged reads of a snapshot's files, for runtimes that read weights piece by piece instead of whole files. */
export interface SnapshotRanges {
  size (path: string): Promise<number>
  readRange (path: string, offset: number, length: number): Promise<Uint8Array>
}

export interface LoadedModel {
  /** Inputs in the order `run` takes them. */
  readonly inputs: readonly InputSpec[]
  /**
   * Outputs computed after a discrete operation (non-max suppression, top-k, argmax, where, unique),
   * by output name → the operation; their order or membership can flip between implementations.
   */
  readonly discreteOutputs?: ReadonlyMap<string, string>
  /**
   * Intermediate tensors worth recording beside the outputs (graph models: the continuous values that
   * discrete ops choose from), by name; `run` returns them after the outputs when asked. Absent when
   * the runtime cannot fetch intermediate tensors.
   */
  readonly probes?: readonly string[]
  /** Runs inference (training off) and returns the outputs, named, in the model's order, then the `probes` asked for. */
  run (inputs: readonly TensorData[], probes?: readonly string[]): Promise<TensorData[]>
  dispose (): void
}
