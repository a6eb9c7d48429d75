/**
 * Behaviour verification with TensorFlow.js.
 *
 * At commit time mvc loads the model with TF.js, builds deterministic reference inputs, runs inference
 * and records inputs and outputs as `TensorData`; at checkout it loads the rebuilt model, runs the
 * recorded inputs and compares the outputs within a tolerance (`compareOutputs`).
 *
 * TF.js is heavy (hundreds of milliseconds to import), so this module only has *type* imports of it:
 * the library itself is imported inside `loadRuntime`, and every other function that needs it takes
 * the `LoadedRuntime` it returned. The pure parts (`compareOutputs`, `parseInputsFile`,
 * `referenceInputs`, the byte codecs) never touch TF.js, so their results do not depend on a backend.
 *
 * Tensor bytes follow the tf.io weight encoding: numbers little-endian (float32/int32 4 bytes, bool 1
 * byte), strings as a little-endian uint32 byte length followed by the UTF-8 bytes, per element.
 */
import { posix } from 'node:path'
import type * as TF from '@tensorflow/tfjs'
import { InvalidArgumentError, InvalidModelError, VerificationUnavailableError, isMvcError } from '../errors.js'
import { unsafePathReason } from '../format/paths.js'

type TfModule = typeof import('@tensorflow/tfjs')

export type BackendName = 'tensorflow' | 'wasm' | 'cpu'
export const BACKENDS: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu']

export type TensorDType = 'float32' | 'int32' | 'bool' | 'string'

export interface TensorData {
  readonly name: string
  readonly dtype: TensorDType
  readonly shape: readonly number[]
  /** Little-endian raw bytes as in the tf.io weight encoding; strings: uint32-LE length + UTF-8 bytes each. */
  readonly data: Uint8Array
}

/** What the WebAssembly backend actually runs with (recorded so a verification report can say it). */
export interface WasmDetails {
  readonly simd: boolean
  readonly multithread: boolean
  readonly threads: number
}

export interface LoadedRuntime {
  readonly tf: TfModule
  readonly backend: BackendName
  readonly tfjsVersion: string
  /** Present when backend is 'wasm'. */
  readonly wasm?: WasmDetails
}

// ---------------------------------------------------------------------------------------------------
// Runtime loading
// ---------------------------------------------------------------------------------------------------

/**
 * Module-level caches. TF.js keeps its engine, registered backends and flags in a process global,
 * so there is exactly one TF.js per process whatever we do; caching the runtime objects here only
 * avoids redoing backend selection and makes repeated calls return the identical object.
 * Promises are cached (not results) so concurrent callers share one initialisation.
 */
const runtimes = new Map<BackendName, Promise<LoadedRuntime>>()
let defaultRuntime: Promise<LoadedRuntime> | undefined
let tfjsModule: Promise<TfModule> | undefined

const TFJS_NODE = '@tensorflow/tfjs-node'

function messageOf (e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** A dynamically imported CommonJS package may expose its exports as the namespace or on `default`. */
function asTfModule (m: unknown): TfModule | undefined {
  for (const cand of [m, isRecord(m) ? m.default : undefined]) {
    if ((typeof cand === 'object' || typeof cand === 'function') && cand !== null &&
        typeof (cand as Record<string, unknown>).tensor === 'function' &&
        typeof (cand as Record<string, unknown>).setBackend === 'function') {
      return cand as TfModule
    }
  }
  return undefined
}

/**
 * Silences TF.js's console chatter. In Node the cpu backend prints a "looks like you are running
 * TensorFlow.js in Node.js ... install our node backend" banner through console.warn on its first
 * tensor, and the engine warns on re-registrations; mvc's CLI output must stay clean (and mvc picks
 * the backend itself). The maintainers' switch for this is the PROD flag (tensorflow/tfjs#5349,
 * fixed by #5368: tfjs-core's log.warn/log.log are no-ops when PROD is set). In 4.x PROD gates only
 * those messages, it changes no numerics. It must be set before the first backend initialises.
 */
function quietTf (tf: TfModule): void {
  tf.env().set('PROD', true)
}

async function importTfjs (): Promise<TfModule> {
  tfjsModule ??= (async () => {
    let m: unknown
    try {
      m = await import('@tensorflow/tfjs')
    } catch (e) {
      throw new VerificationUnavailableError(
        `behaviour verification needs TensorFlow.js, which could not be loaded (${messageOf(e)}); install it with \`npm install @tensorflow/tfjs\``,
        { package: '@tensorflow/tfjs' }, { cause: e })
    }
    const tf = asTfModule(m)
    if (tf === undefined) {
      throw new VerificationUnavailableError('@tensorflow/tfjs loaded but does not look like TensorFlow.js (no tensor/setBackend exports)', { package: '@tensorflow/tfjs' })
    }
    quietTf(tf)
    return tf
  })()
  tfjsModule.catch(() => { tfjsModule = undefined })
  return await tfjsModule
}

function versionOf (tf: TfModule): string {
  const v: unknown = tf.version
  if (isRecord(v) && typeof v.tfjs === 'string') return v.tfjs
  return tf.version_core
}

async function selectBackend (tf: TfModule, backend: BackendName, install: string): Promise<void> {
  let ok: boolean
  try {
    ok = await tf.setBackend(backend)
    await tf.ready()
  } catch (e) {
    throw new VerificationUnavailableError(`the '${backend}' TensorFlow.js backend failed to initialise (${messageOf(e)}); ${install}`, { backend }, { cause: e })
  }
  if (!ok || tf.getBackend() !== backend) {
    throw new VerificationUnavailableError(`the '${backend}' TensorFlow.js backend failed to initialise; ${install}`, { backend })
  }
}

async function initTensorflow (): Promise<LoadedRuntime> {
  // tfjs-node is optional and not a dependency: a computed specifier keeps TypeScript from needing
  // its types and keeps bundlers from trying to resolve it.
  const specifier: string = TFJS_NODE
  const unavailable = (e: unknown): VerificationUnavailableError => new VerificationUnavailableError(
    `the 'tensorflow' backend needs ${TFJS_NODE}, which could not be loaded (${messageOf(e)}); install it with \`npm install ${TFJS_NODE}\` (its install step downloads libtensorflow), or use the 'wasm' or 'cpu' backend`,
    { backend: 'tensorflow', package: TFJS_NODE }, { cause: e })
  let m: unknown
  try {
    // Resolve first so that the environment is only touched when the package is there at all.
    import.meta.resolve(specifier)
  } catch (e) {
    throw unavailable(e)
  }
  // libtensorflow prints its own C++ log lines (CPU feature notices) on load; keep them out of mvc's
  // output unless the user asked for them.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2'
  try {
    m = await import(specifier)
  } catch (e) {
    throw unavailable(e)
  }
  const tf = asTfModule(m)
  if (tf === undefined) {
    throw new VerificationUnavailableError(`${TFJS_NODE} loaded but does not look like TensorFlow.js`, { backend: 'tensorflow', package: TFJS_NODE })
  }
  quietTf(tf)
  await selectBackend(tf, 'tensorflow', `reinstall ${TFJS_NODE} or use the 'wasm' or 'cpu' backend`)
  return { tf, backend: 'tensorflow', tfjsVersion: versionOf(tf) }
}

async function initWasm (): Promise<LoadedRuntime> {
  const tf = await importTfjs()
  let wasm: unknown
  try {
    // Importing registers the 'wasm' backend with the engine. In Node it finds its .wasm binaries next
    // to its own files (verified with 4.22), so setWasmPaths is not needed.
    wasm = await import('@tensorflow/tfjs-backend-wasm')
  } catch (e) {
    throw new VerificationUnavailableError(
      `the 'wasm' backend needs @tensorflow/tfjs-backend-wasm, which could not be loaded (${messageOf(e)}); install it with \`npm install @tensorflow/tfjs-backend-wasm\`, or use the 'cpu' backend`,
      { backend: 'wasm', package: '@tensorflow/tfjs-backend-wasm' }, { cause: e })
  }
  await selectBackend(tf, 'wasm', "reinstall @tensorflow/tfjs-backend-wasm or use the 'cpu' backend")
  // TF.js decides these itself: SIMD when the engine validates SIMD code, multithreading never in Node
  // (tfjs disables it there, tensorflow/tfjs#3830), so the thread count is 1.
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true
  const multithread = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true
  let threads = 1
  if (isRecord(wasm) && typeof wasm.getThreadsCount === 'function') {
    const n: unknown = wasm.getThreadsCount()
    if (typeof n === 'number' && n > 0) threads = n
  }
  return { tf, backend: 'wasm', tfjsVersion: versionOf(tf), wasm: { simd, multithread, threads } }
}

async function initCpu (): Promise<LoadedRuntime> {
  const tf = await importTfjs()
  await selectBackend(tf, 'cpu', 'reinstall @tensorflow/tfjs')
  return { tf, backend: 'cpu', tfjsVersion: versionOf(tf) }
}

function initBackend (backend: BackendName): Promise<LoadedRuntime> {
  let p = runtimes.get(backend)
  if (p === undefined) {
    p = backend === 'tensorflow' ? initTensorflow() : backend === 'wasm' ? initWasm() : initCpu()
    runtimes.set(backend, p)
    // A failed initialisation is not cached, so a later call reports the problem again with its reason.
    p.catch(() => { if (runtimes.get(backend) === p) runtimes.delete(backend) })
  }
  return p
}

/** Makes the runtime's backend the active one (TF.js has a single global active backend). */
async function activate (rt: LoadedRuntime): Promise<void> {
  if (rt.tf.getBackend() !== rt.backend) await selectBackend(rt.tf, rt.backend, 'the backend was available earlier in this process')
}

/**
 * Loads TF.js lazily (a dynamic import, so commands that do not verify do not pay for it) and selects a
 * backend: the requested one, else tfjs-node ('tensorflow') when `@tensorflow/tfjs-node` can be
 * imported, else 'wasm', else 'cpu'. Requesting an unavailable backend throws
 * VerificationUnavailableError saying why and what to install.
 *
 * Runtimes are cached per backend in this module (TF.js is a process global anyway), so calling it
 * twice returns the same object. The returned backend is made the active TF.js backend; the other
 * functions here re-activate their runtime's backend when a different one was selected since.
 * Side effect: sets TF.js's PROD flag (see `quietTf`) to keep its banner out of mvc's output.
 */
export async function loadRuntime (backend?: BackendName): Promise<LoadedRuntime> {
  if (backend !== undefined && !BACKENDS.includes(backend)) {
    throw new InvalidArgumentError(`unknown TensorFlow.js backend ${JSON.stringify(backend)}; expected one of ${BACKENDS.join(', ')}`, { backend })
  }
  let rt: LoadedRuntime
  if (backend !== undefined) {
    rt = await initBackend(backend)
  } else {
    defaultRuntime ??= (async () => {
      const reasons: string[] = []
      for (const b of BACKENDS) {
        try {
          return await initBackend(b)
        } catch (e) {
          if (!(e instanceof VerificationUnavailableError)) throw e
          reasons.push(`${b}: ${e.message}`)
        }
      }
      throw new VerificationUnavailableError(`no TensorFlow.js backend could be loaded:\n${reasons.join('\n')}`, { tried: BACKENDS })
    })()
    defaultRuntime.catch(() => { defaultRuntime = undefined })
    rt = await defaultRuntime
  }
  await activate(rt)
  return rt
}

// ---------------------------------------------------------------------------------------------------
// Model loading
// ---------------------------------------------------------------------------------------------------

/** Artifacts source: mvc gives file bytes by posix relative path (from its store or from disk). */
export type ReadFile = (relPath: string) => Promise<Uint8Array>

export type ModelKind = 'layers' | 'graph'

/**
 * Layers vs graph from a parsed model.json: its `format` field ('layers-model', 'graph-model'; older
 * converters wrote 'tfjs-graph-model'), else the shape of `modelTopology` (a GraphDef has `node`,
 * a Keras config has `class_name`/`model_config`).
 */
export function detectModelKind (json: unknown): ModelKind {
  if (!isRecord(json)) throw new InvalidModelError('model.json is not a JSON object', {})
  const format = json.format
  if (format === 'layers-model') return 'layers'
  if (format === 'graph-model' || format === 'tfjs-graph-model') return 'graph'
  const topo = json.modelTopology
  if (isRecord(topo)) {
    if (Array.isArray(topo.node)) return 'graph'
    if ('class_name' in topo || 'model_config' in topo) return 'layers'
  }
  throw new InvalidModelError(`cannot tell whether model.json is a layers or a graph model (format ${JSON.stringify(format ?? null)})`, { format: format ?? null })
}

function parseModelJson (bytes: Uint8Array, jsonPath: string): Record<string, unknown> {
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (e) {
    throw new InvalidModelError(`${jsonPath} is not valid UTF-8 JSON: ${messageOf(e)}`, { path: jsonPath }, { cause: e })
  }
  if (!isRecord(json) || !isRecord(json.modelTopology)) {
    throw new InvalidModelError(`${jsonPath} is not a TensorFlow.js model.json (no modelTopology object)`, { path: jsonPath })
  }
  return json
}

/** Resolves a weightsManifest path against the model.json folder, refusing anything that escapes it. */
function resolveShardPath (jsonPath: string, shard: unknown): string {
  if (typeof shard !== 'string' || shard.length === 0) {
    throw new InvalidModelError(`${jsonPath}: weightsManifest has a path that is not a non-empty string`, { path: jsonPath })
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(shard)) {
    throw new InvalidModelError(`${jsonPath}: weight path ${JSON.stringify(shard)} is a URL; mvc only reads weights stored beside model.json`, { path: jsonPath, shard })
  }
  const resolved = posix.normalize(posix.join(posix.dirname(jsonPath), shard))
  const why = unsafePathReason(resolved)
  if (why !== undefined) {
    throw new InvalidModelError(`${jsonPath}: weight path ${JSON.stringify(shard)} resolves to ${JSON.stringify(resolved)}, refused because ${why}`, { path: jsonPath, shard, reason: why })
  }
  return resolved
}

/**
 * The shards joined into one fresh ArrayBuffer, in manifest order (as tfjs-node's file handler does).
 * Not handed to TF.js as a list: tfjs 4.22's CompositeArrayBuffer assumes every shard but the last has
 * the first shard's size and computes shard indices from it, so a larger last shard (e.g. hand-split
 * files) silently decodes as zeros. One copy either way, and the caller's bytes are never aliased.
 */
function concatShards (shards: readonly Uint8Array[]): ArrayBuffer {
  let total = 0
  for (const s of shards) total += s.byteLength
  const out = new Uint8Array(total)
  let off = 0
  for (const s of shards) { out.set(s, off); off += s.byteLength }
  return out.buffer
}

/**
 * A tf.io.IOHandler whose load() reads model.json at `jsonPath` and its weight shards (resolved
 * relative to the json's folder; paths escaping it or URLs are refused) through `readFile`, and
 * returns ModelArtifacts built by tf.io.getModelArtifactsForJSON like tfjs's own handlers, with the
 * shards concatenated in manifest order (weights may straddle shard boundaries). Bytes handed in by
 * readFile are copied, never mutated.
 */
export function readFileIOHandler (rt: LoadedRuntime, jsonPath: string, readFile: ReadFile): TF.io.IOHandler {
  const tf = rt.tf
  return {
    load: async (): Promise<TF.io.ModelArtifacts> => {
      const json = parseModelJson(await readFile(jsonPath), jsonPath)
      const modelJSON = json as unknown as TF.io.ModelJSON
      return await tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        if (!Array.isArray(manifest)) throw new InvalidModelError(`${jsonPath}: weightsManifest is not an array`, { path: jsonPath })
        const paths: string[] = []
        for (const group of manifest as unknown[]) {
          if (!isRecord(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
            throw new InvalidModelError(`${jsonPath}: weightsManifest entry lacks paths/weights arrays`, { path: jsonPath })
          }
          for (const p of group.paths as unknown[]) paths.push(resolveShardPath(jsonPath, p))
        }
        const shards = await Promise.all(paths.map(async p => await readFile(p)))
        return [tf.io.getWeightSpecs(manifest), concatShards(shards)]
      })
    }
  }
}

export type LoadedModel = { kind: 'layers', model: TF.LayersModel } | { kind: 'graph', model: TF.GraphModel }

/** Loads a model through `readFile`; layers vs graph is decided from the JSON (see detectModelKind). */
export async function loadModel (rt: LoadedRuntime, jsonPath: string, readFile: ReadFile): Promise<LoadedModel> {
  await activate(rt)
  const jsonBytes = await readFile(jsonPath)
  const kind = detectModelKind(parseModelJson(jsonBytes, jsonPath))
  // Hand the handler the bytes already read instead of reading model.json twice.
  const handler = readFileIOHandler(rt, jsonPath, async p => p === jsonPath ? jsonBytes : await readFile(p))
  try {
    if (kind === 'layers') return { kind, model: await rt.tf.loadLayersModel(handler) }
    return { kind, model: await rt.tf.loadGraphModel(handler) }
  } catch (e) {
    // Errors raised by TF.js itself (bad topology, weights not matching the manifest): the model
    // files are at fault. mvc errors (ours, or readFile's missing objects) pass through.
    if (isMvcError(e)) throw e
    throw new InvalidModelError(`TensorFlow.js could not load ${kind} model ${jsonPath}: ${messageOf(e)}`, { path: jsonPath, kind }, { cause: e })
  }
}

// ---------------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------------

export interface InputSpec {
  readonly name: string
  /** null (or -1 in graph models, normalised to null here) for an unknown dimension. */
  readonly shape: readonly (number | null)[]
  readonly dtype: string
  /**
   * Set when the input feeds an Embedding layer directly: its values are used as indices, so reference
   * inputs are integers in [0, min(10, indexBound)) even when the input is declared float32 (Keras
   * declares Input layers float32 by default and Embedding casts).
   */
  readonly indexBound?: number
}

function embeddingBound (layer: TF.layers.Layer): number | undefined {
  let bound: number | undefined
  for (const node of layer.outboundNodes) {
    const next = node.outboundLayer
    if (next.getClassName() !== 'Embedding') return undefined
    const dim: unknown = next.getConfig().inputDim
    if (typeof dim !== 'number' || dim < 1) return undefined
    bound = bound === undefined ? dim : Math.min(bound, dim)
  }
  return bound
}

/**
 * A Sequential model builds its inner functional model lazily (on first predict), and until then its
 * inputNames/outputNames/inputLayers are empty. Building does what predict would do anyway.
 */
function built (model: TF.LayersModel): TF.LayersModel {
  if (!model.built || model.outputNames === undefined || model.outputNames.length === 0) model.build(model.inputs.map(t => t.shape))
  return model
}

/** The model's inputs, in the order runModel takes them. */
export function inputSignature (m: LoadedModel): InputSpec[] {
  if (m.kind === 'layers') {
    const model = built(m.model)
    return model.inputs.map((t, i): InputSpec => {
      const layer = model.inputLayers[i]
      const bound = layer === undefined ? undefined : embeddingBound(layer)
      const spec: InputSpec = { name: model.inputNames[i] ?? t.name, shape: [...t.shape], dtype: t.dtype }
      return bound === undefined ? spec : { ...spec, indexBound: bound }
    })
  }
  const model = m.model
  // Placeholders fed from the initializer graph (hash tables' resources) are not user inputs.
  const resourceNodes = new Set<string>()
  // modelSignature is typed `{}` by tfjs-converter; narrow it.
  const signature: unknown = model.modelSignature
  const sigInputs: unknown = isRecord(signature) ? signature.inputs : undefined
  if (isRecord(sigInputs)) {
    for (const v of Object.values(sigInputs)) {
      if (isRecord(v) && v.resourceId != null && typeof v.name === 'string') resourceNodes.add(v.name.split(':')[0] ?? v.name)
    }
  }
  return model.inputs.filter(t => !resourceNodes.has(t.name)).map((t): InputSpec => {
    if (t.shape === undefined) {
      throw new InvalidArgumentError(`graph model input ${JSON.stringify(t.name)} has an unknown rank, so reference inputs cannot be built; supply inputs with --inputs`, { input: t.name })
    }
    return { name: t.name, shape: t.shape.map(d => d < 0 ? null : d), dtype: String(t.dtype ?? 'float32') }
  })
}

/** Fixed seed for reference inputs ("mvc1"); changing it changes every recorded reference input. */
export const DEFAULT_SEED = 0x6d766331

/** mulberry32: tiny, fast, well-distributed 32-bit PRNG; identical on every platform. */
export function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0)
  }
}

/** The same generator as floats in [0, 1): for fixtures, tests and benchmarks that need seeded data. */
export function uniform01 (seed: number): () => number {
  const next = mulberry32(seed)
  return () => next() / 4294967296
}

/** Concrete shape for reference inputs: unknown batch (dim 0) → 2, other unknown dims → 4. */
export function concreteShape (shape: readonly (number | null)[]): number[] {
  return shape.map((d, i) => (d === null || d < 0) ? (i === 0 ? 2 : 4) : d)
}

function numElements (shape: readonly number[]): number {
  let n = 1
  for (const d of shape) n *= d
  return n
}

/**
 * Deterministic reference inputs: per input a mulberry32 stream seeded from `seed` and the input's
 * index; unknown dimensions become small fixed sizes (batch 2, others 4); float inputs uniform in
 * [-1, 1); int inputs in [0, 10) because integer inputs are nearly always token or class ids, which
 * must be valid indices even for small vocabularies (models with other ranges need --inputs); bool
 * inputs 0/1. Inputs feeding an Embedding get integers in [0, min(10, vocabulary)) whatever their
 * dtype. Pure: the bytes do not depend on the backend (`rt` is taken for API symmetry).
 */
export function referenceInputs (_rt: LoadedRuntime | undefined, sig: readonly InputSpec[], seed: number = DEFAULT_SEED): TensorData[] {
  return sig.map((spec, index): TensorData => {
    const shape = concreteShape(spec.shape)
    const n = numElements(shape)
    const next = mulberry32((seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0)
    const intBound = Math.max(1, Math.min(10, spec.indexBound ?? 10))
    switch (spec.dtype) {
      case 'float32': {
        const v = new Float32Array(n)
        for (let i = 0; i < n; i++) {
          // 24 random bits: every value is exactly representable in float32, so the range stays [-1, 1).
          v[i] = spec.indexBound !== undefined ? next() % intBound : (next() >>> 8) / 2 ** 23 - 1
        }
        return { name: spec.name, dtype: 'float32', shape, data: numericBytes(v) }
      }
      case 'int32': {
        const v = new Int32Array(n)
        for (let i = 0; i < n; i++) v[i] = next() % intBound
        return { name: spec.name, dtype: 'int32', shape, data: numericBytes(v) }
      }
      case 'bool': {
        const v = new Uint8Array(n)
        for (let i = 0; i < n; i++) v[i] = next() & 1
        return { name: spec.name, dtype: 'bool', shape, data: v }
      }
      default:
        throw new InvalidArgumentError(`cannot build reference values for input ${JSON.stringify(spec.name)} of dtype ${spec.dtype}; supply inputs with --inputs`, { input: spec.name, dtype: spec.dtype })
    }
  })
}

const INPUT_DTYPES: readonly TensorDType[] = ['float32', 'int32', 'bool', 'string']

/**
 * Parses a user-supplied inputs file:
 * `{ "inputs": [ { "name"?, "shape": [...], "dtype": "float32"|"int32"|"bool"|"string", "values": [...] } ] }`.
 * `values` is flat (length = product of shape) or nested exactly like the shape. float32 also accepts
 * "NaN", "Infinity" and "-Infinity" (JSON has no literals for them); bool accepts true/false/0/1.
 * Unnamed entries get the name `#<index>` ('#' cannot occur in TF names), which runModel binds by
 * position. Throws InvalidArgumentError naming the entry and what is wrong.
 */
export function parseInputsFile (bytes: Uint8Array): TensorData[] {
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (e) {
    throw new InvalidArgumentError(`inputs file is not valid UTF-8 JSON: ${messageOf(e)}`, {}, { cause: e })
  }
  if (!isRecord(json) || !Array.isArray(json.inputs)) {
    throw new InvalidArgumentError('inputs file must be a JSON object with an "inputs" array', {})
  }
  return (json.inputs as unknown[]).map((entry, i): TensorData => {
    const where = `inputs[${i}]`
    const bad = (msg: string): InvalidArgumentError => new InvalidArgumentError(`inputs file: ${where}: ${msg}`, { index: i })
    if (!isRecord(entry)) throw bad('is not an object')
    const name = entry.name === undefined ? `#${i}` : entry.name
    if (typeof name !== 'string' || name.length === 0) throw bad('"name" must be a non-empty string')
    const shape = entry.shape
    if (!Array.isArray(shape) || !shape.every((d: unknown) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
      throw bad('"shape" must be an array of non-negative integers')
    }
    const dims = shape as number[]
    const dtype = entry.dtype
    if (typeof dtype !== 'string' || !(INPUT_DTYPES as readonly string[]).includes(dtype)) {
      throw bad(`"dtype" must be one of ${INPUT_DTYPES.join(', ')}`)
    }
    if (!Array.isArray(entry.values)) throw bad('"values" must be an array')
    const count = numElements(dims)
    const flat = flattenValues(entry.values, dims, msg => bad(msg))
    if (flat.length !== count) {
      throw bad(`"values" has ${flat.length} elements but shape [${dims.join(', ')}] needs ${count}`)
    }
    const t = dtype as TensorDType
    return { name, dtype: t, shape: dims, data: encodeValues(t, flat, (j, msg) => bad(`values element ${j}: ${msg}`)) }
  })
}

/** Flat arrays pass as they are; nested arrays must match `shape` level by level. */
function flattenValues (values: unknown[], shape: readonly number[], bad: (msg: string) => Error): unknown[] {
  if (!values.some(v => Array.isArray(v))) return values
  const out: unknown[] = []
  const walk = (v: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw bad(`"values"${path} is nested deeper than shape [${shape.join(', ')}]`)
      out.push(v)
      return
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw bad(`"values"${path} must be an array of length ${shape[depth] ?? 0} to match shape [${shape.join(', ')}]`)
    }
    v.forEach((x, k) => { walk(x, depth + 1, `${path}[${k}]`) })
  }
  walk(values, 0, '')
  return out
}

function encodeValues (dtype: TensorDType, flat: readonly unknown[], bad: (j: number, msg: string) => Error): Uint8Array {
  switch (dtype) {
    case 'float32': {
      const v = new Float32Array(flat.length)
      flat.forEach((x, j) => {
        if (typeof x === 'number') v[j] = x
        else if (x === 'NaN') v[j] = NaN
        else if (x === 'Infinity') v[j] = Infinity
        else if (x === '-Infinity') v[j] = -Infinity
        else throw bad(j, `${JSON.stringify(x)} is not a number`)
      })
      return numericBytes(v)
    }
    case 'int32': {
      const v = new Int32Array(flat.length)
      flat.forEach((x, j) => {
        if (typeof x !== 'number' || !Number.isInteger(x) || x < -(2 ** 31) || x > 2 ** 31 - 1) throw bad(j, `${JSON.stringify(x)} is not a 32-bit integer`)
        v[j] = x
      })
      return numericBytes(v)
    }
    case 'bool': {
      const v = new Uint8Array(flat.length)
      flat.forEach((x, j) => {
        if (x === true || x === 1) v[j] = 1
        else if (x === false || x === 0) v[j] = 0
        else throw bad(j, `${JSON.stringify(x)} is not a boolean (true/false/0/1)`)
      })
      return v
    }
    case 'string': {
      const enc = new TextEncoder()
      return encodeStrings(flat.map((x, j) => {
        if (typeof x !== 'string') throw bad(j, `${JSON.stringify(x)} is not a string`)
        return enc.encode(x)
      }))
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Byte codecs (pure)
// ---------------------------------------------------------------------------------------------------

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** Copy of a typed array's bytes in little-endian order (a plain copy on little-endian hosts). */
function numericBytes (v: Float32Array | Int32Array): Uint8Array {
  const out = new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice()
  if (!LITTLE_ENDIAN) {
    for (let i = 0; i < out.length; i += 4) {
      const a = out[i] ?? 0; const b = out[i + 1] ?? 0
      out[i] = out[i + 3] ?? 0; out[i + 1] = out[i + 2] ?? 0; out[i + 2] = b; out[i + 3] = a
    }
  }
  return out
}

function encodeStrings (items: readonly Uint8Array[]): Uint8Array {
  let total = 0
  for (const s of items) total += 4 + s.byteLength
  const out = new Uint8Array(total)
  const dv = new DataView(out.buffer)
  let off = 0
  for (const s of items) {
    dv.setUint32(off, s.byteLength, true)
    out.set(s, off + 4)
    off += 4 + s.byteLength
  }
  return out
}

type Decoded = { kind: 'float', values: Float32Array } | { kind: 'int', values: Int32Array } | { kind: 'bool', values: Uint8Array } | { kind: 'string', values: Uint8Array[] }

/** Decodes TensorData bytes, checking they fit its shape; throws InvalidArgumentError when malformed. */
function decodeData (d: TensorData): Decoded {
  const shape = d.shape
  if (!Array.isArray(shape) || !shape.every(x => Number.isSafeInteger(x) && x >= 0)) {
    throw new InvalidArgumentError(`tensor ${JSON.stringify(d.name)}: invalid shape ${JSON.stringify(shape)}`, { name: d.name })
  }
  const n = numElements(shape)
  const bytes = d.data
  const malformed = (what: string): InvalidArgumentError =>
    new InvalidArgumentError(`tensor ${JSON.stringify(d.name)} (${d.dtype} [${shape.join(', ')}]): ${what}`, { name: d.name, dtype: d.dtype, shape: [...shape] })
  switch (d.dtype) {
    case 'float32':
    case 'int32': {
      if (bytes.byteLength !== n * 4) throw malformed(`has ${bytes.byteLength} bytes, expected ${n * 4}`)
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      if (d.dtype === 'float32') {
        const v = new Float32Array(n)
        for (let i = 0; i < n; i++) v[i] = dv.getFloat32(i * 4, true)
        return { kind: 'float', values: v }
      }
      const v = new Int32Array(n)
      for (let i = 0; i < n; i++) v[i] = dv.getInt32(i * 4, true)
      return { kind: 'int', values: v }
    }
    case 'bool':
      if (bytes.byteLength !== n) throw malformed(`has ${bytes.byteLength} bytes, expected ${n}`)
      return { kind: 'bool', values: bytes }
    case 'string': {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      const out: Uint8Array[] = []
      let off = 0
      while (off < bytes.byteLength) {
        if (off + 4 > bytes.byteLength) throw malformed('truncated string length')
        const len = dv.getUint32(off, true)
        if (off + 4 + len > bytes.byteLength) throw malformed('truncated string bytes')
        out.push(bytes.subarray(off + 4, off + 4 + len))
        off += 4 + len
      }
      if (out.length !== n) throw malformed(`holds ${out.length} strings, expected ${n}`)
      return { kind: 'string', values: out }
    }
    default:
      throw malformed('unsupported dtype')
  }
}

/** Encodes a TF.js tensor as TensorData (reads its values; does not dispose it). */
export async function encodeTensor (name: string, t: TF.Tensor): Promise<TensorData> {
  const shape = [...t.shape]
  switch (t.dtype) {
    case 'float32':
      return { name, dtype: 'float32', shape, data: numericBytes(await t.data<'float32'>()) }
    case 'int32':
      return { name, dtype: 'int32', shape, data: numericBytes(await t.data<'int32'>()) }
    case 'bool': {
      // The bool data of TF.js is a Uint8Array of 0/1; copy so the result owns its bytes.
      const v = await t.data<'bool'>()
      return { name, dtype: 'bool', shape, data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice() }
    }
    case 'string': {
      // bytes() gives the raw encoded strings, so non-UTF-8 payloads survive unchanged.
      const raw = await t.bytes()
      const items = Array.isArray(raw) ? raw : [raw]
      return { name, dtype: 'string', shape, data: encodeStrings(items) }
    }
    default:
      throw new InvalidArgumentError(`tensor ${JSON.stringify(name)} has dtype ${t.dtype}, which mvc cannot record`, { name, dtype: t.dtype })
  }
}

/** Creates a TF.js tensor from TensorData on the currently active backend (the caller disposes it). */
export function decodeTensor (rt: LoadedRuntime, d: TensorData): TF.Tensor {
  const dec = decodeData(d)
  const shape = [...d.shape]
  switch (dec.kind) {
    case 'float': return rt.tf.tensor(dec.values, shape, 'float32')
    case 'int': return rt.tf.tensor(dec.values, shape, 'int32')
    case 'bool': return rt.tf.tensor(dec.values, shape, 'bool')
    case 'string': return rt.tf.tensor(dec.values, shape, 'string')
  }
}

// ---------------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------------

/** Output names in the order runModel returns them. */
export function outputNames (m: LoadedModel): string[] {
  return m.kind === 'layers' ? [...built(m.model).outputNames] : [...m.model.outputNodes]
}

/**
 * Orders `inputs` like the signature: by name when every input's name is a model input name, else by
 * position (unnamed inputs from an inputs file). Checks counts and known dimensions.
 */
export function bindInputs (sig: readonly InputSpec[], inputs: readonly TensorData[]): TensorData[] {
  const expected = sig.map(s => `${s.name} [${s.shape.map(d => d ?? '?').join(', ')}] ${s.dtype}`).join('; ')
  if (inputs.length !== sig.length) {
    throw new InvalidArgumentError(`the model takes ${sig.length} input(s) (${expected}) but ${inputs.length} were given`, { expected: sig.length, given: inputs.length })
  }
  const names = new Set(sig.map(s => s.name))
  const byName = inputs.every(t => names.has(t.name)) && new Set(inputs.map(t => t.name)).size === inputs.length
  const bound = byName ? sig.map(s => inputs.find(t => t.name === s.name) as TensorData) : [...inputs]
  return bound.map((t, i) => {
    const s = sig[i] as InputSpec
    const ok = t.shape.length === s.shape.length && s.shape.every((d, k) => d === null || d < 0 || d === t.shape[k])
    if (!ok) {
      throw new InvalidArgumentError(`input ${JSON.stringify(t.name)} has shape [${t.shape.join(', ')}], but model input ${JSON.stringify(s.name)} expects [${s.shape.map(d => d ?? '?').join(', ')}]`, { input: s.name, shape: [...t.shape] })
    }
    return t.name === s.name ? t : { ...t, name: s.name }
  })
}

function asTensorList (out: TF.Tensor | TF.Tensor[] | TF.NamedTensorMap): TF.Tensor[] {
  if (Array.isArray(out)) return out
  if (isRecord(out) && !('dataId' in out)) return Object.values(out as TF.NamedTensorMap)
  return [out as TF.Tensor]
}

/** TF.js's GraphModel.execute refuses graphs with control flow or dynamic shapes and says to use executeAsync. */
function needsAsync (e: unknown): boolean {
  return e instanceof Error && /executeAsync/.test(e.message)
}

/**
 * Runs inference with training off (layers: model.predict; graph: model.execute, or executeAsync for
 * graphs with control flow / dynamic ops) and returns the outputs as TensorData named after the
 * model's output names, in order. Every tensor it creates is disposed, also when inference fails.
 */
export async function runModel (rt: LoadedRuntime, m: LoadedModel, inputs: readonly TensorData[]): Promise<TensorData[]> {
  await activate(rt)
  const tf = rt.tf
  const bound = bindInputs(inputSignature(m), inputs)
  const names = outputNames(m)
  let outputs: TF.Tensor[] = []
  try {
    if (m.kind === 'layers') {
      // tidy disposes the input tensors and every intermediate; the returned outputs survive it.
      outputs = tf.tidy(() => {
        const xs = bound.map(t => decodeTensor(rt, t))
        return asTensorList(m.model.predict(xs.length === 1 ? xs[0] as TF.Tensor : xs))
      })
    } else {
      const model = m.model
      try {
        outputs = tf.tidy(() => {
          const feed: TF.NamedTensorMap = {}
          for (const t of bound) feed[t.name] = decodeTensor(rt, t)
          return asTensorList(model.execute(feed, names))
        })
      } catch (e) {
        if (!needsAsync(e)) throw e
        // tidy cannot span an await: create and dispose the inputs by hand. The executor disposes
        // its own intermediates.
        const feed: TF.NamedTensorMap = {}
        try {
          for (const t of bound) feed[t.name] = decodeTensor(rt, t)
          outputs = asTensorList(await model.executeAsync(feed, names))
        } finally {
          tf.dispose(Object.values(feed))
        }
      }
    }
    if (outputs.length !== names.length) {
      throw new InvalidModelError(`model produced ${outputs.length} output(s) but declares ${names.length} (${names.join(', ')})`, { outputs: names })
    }
    const result: TensorData[] = []
    for (const [i, t] of outputs.entries()) result.push(await encodeTensor(names[i] ?? `#${i}`, t))
    return result
  } catch (e) {
    if (isMvcError(e)) throw e
    throw new InvalidModelError(`running the ${m.kind} model failed: ${messageOf(e)}`, { kind: m.kind }, { cause: e })
  } finally {
    tf.dispose(outputs)
  }
}

// ---------------------------------------------------------------------------------------------------
// Comparison (pure)
// ---------------------------------------------------------------------------------------------------

export interface Tolerance { readonly atol: number, readonly rtol: number }
export const DEFAULT_TOLERANCE: Tolerance = Object.freeze({ atol: 1e-5, rtol: 1e-5 })

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
  const de = decodeData(e)
  const da = decodeData(a)
  if (de.kind === 'string' || da.kind === 'string') {
    const xs = de.values as Uint8Array[]
    const ys = da.values as Uint8Array[]
    const differs = xs.some((x, i) => !bytesEqual(x, ys[i] ?? new Uint8Array(0)))
    const diff = differs ? 1 : 0
    return { name, maxAbsDiff: diff, maxAllowedExcess: diff, pass: !differs }
  }
  const xs = de.values as ArrayLike<number>
  const ys = da.values as ArrayLike<number>
  // Integers and booleans are exact: tolerance applies to floating point only.
  const exact = de.kind !== 'float'
  const atol = exact ? 0 : tol.atol
  const rtol = exact ? 0 : tol.rtol
  let maxAbsDiff = 0
  let maxExcess = -Infinity
  let nonFinite = false
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as number
    const y = ys[i] as number
    let diff: number
    let excess: number
    if (Number.isFinite(x) && Number.isFinite(y)) {
      diff = Math.abs(y - x)
      excess = diff - (atol + rtol * Math.abs(x))
    } else {
      nonFinite = true
      // NaN == NaN and +Inf == +Inf positionally; anything else involving a non-finite value fails.
      const same = (Number.isNaN(x) && Number.isNaN(y)) || x === y
      diff = same ? 0 : Infinity
      excess = same ? -atol : Infinity
    }
    if (diff > maxAbsDiff) maxAbsDiff = diff
    if (excess > maxExcess) maxExcess = excess
  }
  // An empty tensor has nothing to exceed.
  if (xs.length === 0) maxExcess = 0
  const out: OutputComparison = { name, maxAbsDiff, maxAllowedExcess: maxExcess, pass: maxExcess <= 0 }
  return nonFinite ? { ...out, nonFinite } : out
}

function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}
