/**
 * TF.js models in a runtime: loading a layers or graph model from its files, its input signature, and
 * inference with tensors converted to and from `TensorData`.
 */
import type * as TF from '@tensorflow/tfjs'
import { InvalidArgumentError, InvalidModelError, isMvcError } from '../../errors.js'
import { bindInputs, encodeStrings, decodeTensorData, numericBytes, type InputSpec, type TensorData } from '../tensor-data.js'
import { activate, type LoadedRuntime } from './runtime.js'
import { loadArtifacts, resolveShardPath } from './artifacts.js'
import { parseJson } from '../../content/bounded.js'
import { checkLayersTopology } from './topology-check.js'

function messageOf (e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
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
    json = parseJson(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (e) {
    throw new InvalidModelError(`${jsonPath} is not valid UTF-8 JSON: ${messageOf(e)}`, { path: jsonPath }, { cause: e })
  }
  if (!isRecord(json) || !isRecord(json.modelTopology)) {
    throw new InvalidModelError(`${jsonPath} is not a TensorFlow.js model.json (no modelTopology object)`, { path: jsonPath })
  }
  return json
}

/**
 * A tf.io.IOHandler whose load() reads model.json at `jsonPath` and its weight shards (resolved
 * relative to the json's folder; paths escaping it or URLs are refused) through `readFile`
 * (src/formats/tfjs/artifacts.ts). Bytes handed in by readFile are copied, never mutated.
 */
export function readFileIOHandler (_rt: LoadedRuntime, jsonPath: string, readFile: ReadFile): TF.io.IOHandler {
  return { load: async (): Promise<TF.io.ModelArtifacts> => await loadArtifacts(jsonPath, readFile) }
}

export type LoadedModel = { kind: 'layers', model: TF.LayersModel } | { kind: 'graph', model: TF.GraphModel, discrete?: ReadonlyMap<string, string>, probes?: readonly string[] }

/** Ops whose results are discrete choices: a rounding difference upstream can flip them. */
const DISCRETE_OPS = /^(NonMaxSuppressionV\d|TopKV2|ArgMax|ArgMin|Where|Unique|Bincount|DenseBincount|SparseToDense)$/

/**
 * For each node of a GraphDef (model.json's `modelTopology.node`), the first discrete op found
 * upstream of it, by node name. Used to tell which outputs are post-processed.
 */
export function discreteUpstream (topology: unknown, outputs: readonly string[]): Map<string, string> {
  const out = new Map<string, string>()
  const nodes = isRecord(topology) && Array.isArray(topology.node) ? topology.node as unknown[] : []
  const byName = new Map<string, { op: string, input: string[] }>()
  for (const n of nodes) {
    if (!isRecord(n) || typeof n.name !== 'string') continue
    byName.set(n.name, { op: typeof n.op === 'string' ? n.op : '', input: Array.isArray(n.input) ? n.input.filter((x): x is string => typeof x === 'string') : [] })
  }
  for (const name of outputs) {
    const seen = new Set<string>()
    const stack = [name.split(':')[0] ?? name]
    const found: string[] = []
    while (stack.length > 0) {
      const n = stack.pop()!
      if (seen.has(n)) continue
      seen.add(n)
      const node = byName.get(n)
      if (node === undefined) continue
      if (DISCRETE_OPS.test(node.op) && !found.includes(node.op)) found.push(node.op)
      for (const i of node.input) stack.push((i.startsWith('^') ? i.slice(1) : i).split(':')[0] ?? i)
    }
    if (found.length > 0) out.set(name, found.sort().join(', '))
  }
  return out
}

/**
 * The continuous tensors that feed the discrete ops upstream of a graph's outputs (NMS boxes and
 * scores, the values top-k and argmax choose from), as `node:index` names. A small change of a weight
 * often moves no discrete choice, so the outputs do not show it; these tensors do. Recorded beside
 * the outputs as probes.
 */
export function discreteProbes (topology: unknown, outputs: readonly string[]): string[] {
  const nodes = isRecord(topology) && Array.isArray(topology.node) ? topology.node as unknown[] : []
  const byName = new Map<string, { op: string, input: string[] }>()
  for (const n of nodes) {
    if (!isRecord(n) || typeof n.name !== 'string') continue
    byName.set(n.name, { op: typeof n.op === 'string' ? n.op : '', input: Array.isArray(n.input) ? n.input.filter((x): x is string => typeof x === 'string') : [] })
  }
  const probes: string[] = []
  const seen = new Set<string>()
  const stack = outputs.map(o => o.split(':')[0] ?? o)
  while (stack.length > 0) {
    const n = stack.pop()!
    if (seen.has(n)) continue
    seen.add(n)
    const node = byName.get(n)
    if (node === undefined) continue
    if (DISCRETE_OPS.test(node.op)) {
      // The values chosen from: NMS's boxes and scores, the first operand of the others.
      const fed = /^NonMaxSuppression/.test(node.op) ? node.input.slice(0, 2) : node.input.slice(0, 1)
      for (const i of fed) {
        const [name, index] = (i.startsWith('^') ? i.slice(1) : i).split(':')
        const probe = `${name ?? i}:${index ?? '0'}`
        // Inputs and constants say nothing about the model's behaviour that the record lacks.
        const op = byName.get(name ?? i)?.op
        if (op === undefined || op === 'Placeholder' || op === 'Const') continue
        if (!probes.includes(probe) && !outputs.includes(probe) && !outputs.includes(name ?? i)) probes.push(probe)
      }
    }
    for (const i of node.input) stack.push((i.startsWith('^') ? i.slice(1) : i).split(':')[0] ?? i)
  }
  return probes.sort()
}

/**
 * Ranged access to a snapshot's files, when the caller has it (the store reads only the chunks a range
 * covers; a folder reads at an offset). Without it, shards are read whole, one at a time.
 */
export interface RangedFiles {
  size (path: string): Promise<number>
  readRange (path: string, offset: number, length: number): Promise<Uint8Array>
}

/** Bytes copied per read while filling a tensor. */
const PIECE = 8 << 20

/**
 * Loads a model through `readFile`; layers vs graph is decided from the JSON (see detectModelKind).
 *
 * On the wasm and cpu backends weights are read straight into the tensors that hold them: the model is
 * built with zero-filled weights first (layers: every initializer replaced by zeros, so building costs
 * no random numbers; graph: one zero tensor per weight), its weight names and shapes are checked
 * against the manifest and the shards' sizes before any weight byte is read (a model that cannot load
 * fails fast), then each weight's bytes are copied piece by piece into the backend's memory of its
 * tensor. No buffer of the whole model is made: peak memory is the model's tensors plus one piece
 * (or one shard, without `files`). Quantized and string weights are decoded one weight at a time.
 * Elsewhere (tfjs-node, or a TF.js without the hooks this relies on) the artifacts are built as
 * tf.io.getModelArtifactsForJSON builds them (artifacts.ts).
 */
export async function loadModel (rt: LoadedRuntime, jsonPath: string, readFile: ReadFile, files?: RangedFiles): Promise<LoadedModel> {
  await activate(rt)
  const jsonBytes = await readFile(jsonPath)
  const json = parseModelJson(jsonBytes, jsonPath)
  const kind = detectModelKind(json)
  // A graph TF.js could never finish building would hang loadLayersModel: refuse it first.
  if (kind === 'layers') checkLayersTopology(json.modelTopology, jsonPath)
  try {
    if (rt.backend === 'wasm' || rt.backend === 'cpu') {
      const streamed = await loadInPlace(rt, kind, json, jsonPath, readFile, files)
      if (streamed !== undefined) return streamed
    }
    // Hand the handler the bytes already read instead of reading model.json twice.
    const handler: TF.io.IOHandler = { load: async () => await loadArtifacts(jsonPath, readFile, jsonBytes) }
    if (kind === 'layers') return { kind, model: await rt.tf.loadLayersModel(handler) }
    const model = await rt.tf.loadGraphModel(handler)
    return { kind, model, discrete: discreteUpstream(json.modelTopology, model.outputNodes), probes: discreteProbes(json.modelTopology, model.outputNodes) }
  } catch (e) {
    // Errors raised by TF.js itself (bad topology, weights not matching the manifest): the model
    // files are at fault. mvc errors (ours, or readFile's missing objects) pass through.
    if (isMvcError(e)) throw e
    throw new InvalidModelError(`TensorFlow.js could not load ${kind} model ${jsonPath}: ${messageOf(e)}`, { path: jsonPath, kind }, { cause: e })
  }
}

interface Placed {
  readonly spec: TF.io.WeightsManifestEntry
  /** Stored bytes of the weight, as runs of shard files. */
  readonly pieces: ReadonlyArray<{ file: string, offset: number, length: number }>
  readonly byteLength: number
}

const STORED_SIZE: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, complex64: 8 }

/** Where each weight's bytes are: the manifest's groups laid end to end over their shards (sizes known). */
async function placeWeights (json: Record<string, unknown>, jsonPath: string, sizeOf: (p: string) => Promise<number>): Promise<Placed[] | undefined> {
  const manifest = json.weightsManifest
  if (manifest == null) return []
  if (!Array.isArray(manifest)) throw new InvalidModelError(`${jsonPath}: weightsManifest is not an array`, { path: jsonPath })
  const out: Placed[] = []
  for (const group of manifest as unknown[]) {
    if (!isRecord(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) throw new InvalidModelError(`${jsonPath}: weightsManifest entry lacks paths/weights arrays`, { path: jsonPath })
    const shards: Array<{ file: string, size: number }> = []
    for (const p of group.paths as unknown[]) {
      if (typeof p !== 'string' || p.length === 0) throw new InvalidModelError(`${jsonPath}: weightsManifest has a path that is not a non-empty string`, { path: jsonPath })
      const file = resolveShardPath(jsonPath, p)
      shards.push({ file, size: await sizeOf(file) })
    }
    const total = shards.reduce((n, x) => n + x.size, 0)
    let at = 0
    for (const w of group.weights as TF.io.WeightsManifestEntry[]) {
      // String weights carry their lengths inside the data: their size is not known from the manifest.
      const stored = w.quantization?.dtype ?? w.dtype
      const unit = STORED_SIZE[stored]
      if (unit === undefined || !Array.isArray(w.shape)) return undefined
      const byteLength = w.shape.reduce((a: number, b: number) => a * b, 1) * unit
      if (at + byteLength > total) {
        throw new InvalidModelError(`${jsonPath}: weight ${JSON.stringify(w.name)} needs bytes ${at}–${at + byteLength} of its group, but the group's shards hold ${total}`, { path: jsonPath, weight: w.name })
      }
      const pieces: Array<{ file: string, offset: number, length: number }> = []
      let start = at; let base = 0
      for (const sh of shards) {
        const end = base + sh.size
        if (start < end && start < at + byteLength) {
          const len = Math.min(end, at + byteLength) - start
          pieces.push({ file: sh.file, offset: start - base, length: len })
          start += len
        }
        base = end
      }
      out.push({ spec: w, pieces, byteLength })
      at += byteLength
    }
  }
  return out
}

/** Replaces every initializer in a Keras config by zeros: the values are overwritten by the stored weights. */
function zeroInitializers (v: unknown): unknown {
  if (Array.isArray(v)) return v.map(zeroInitializers)
  if (!isRecord(v)) return v
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v)) {
    out[k] = (k.endsWith('_initializer') || k === 'initializer') && isRecord(x) && typeof x.class_name === 'string'
      ? { class_name: 'Zeros', config: {} }
      : zeroInitializers(x)
  }
  return out
}

/** The bytes of a tensor's backend storage, writable, on the wasm and cpu backends; undefined elsewhere. */
function storageOf (rt: LoadedRuntime, t: TF.Tensor, byteLength: number): Uint8Array | undefined {
  const backend: unknown = rt.tf.backend()
  if (!isRecord(backend)) return undefined
  if (rt.backend === 'wasm') {
    const map = backend.dataIdMap as { get?: (id: unknown) => unknown } | undefined
    const info = map?.get?.(t.dataId)
    const wasm = backend.wasm as { HEAPU8?: Uint8Array } | undefined
    if (!isRecord(info) || typeof info.memoryOffset !== 'number' || !(wasm?.HEAPU8 instanceof Uint8Array)) return undefined
    return wasm.HEAPU8.subarray(info.memoryOffset, info.memoryOffset + byteLength)
  }
  const data = backend.data as { get?: (id: unknown) => unknown } | undefined
  const info = data?.get?.(t.dataId)
  const values = isRecord(info) ? info.values : undefined
  if (!ArrayBuffer.isView(values) || values.byteLength !== byteLength) return undefined
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
}

/** Reads a weight's stored bytes piece by piece, handing each to `sink` at its offset in the weight. */
async function readWeight (w: Placed, read: (file: string, offset: number, length: number) => Promise<Uint8Array>, sink: (bytes: Uint8Array, at: number) => void): Promise<void> {
  let at = 0
  for (const p of w.pieces) {
    for (let off = 0; off < p.length; off += PIECE) {
      const len = Math.min(PIECE, p.length - off)
      const bytes = await read(p.file, p.offset + off, len)
      if (bytes.byteLength !== len) throw new InvalidModelError(`${p.file}: read ${bytes.byteLength} bytes at ${p.offset + off}, expected ${len}`, { path: p.file })
      sink(bytes, at)
      at += len
    }
  }
}

/** Fills `target` (a zero tensor the backend owns) with a weight's stored bytes, or decodes it when it is quantized. */
async function fill (rt: LoadedRuntime, w: Placed, target: TF.Tensor, read: (file: string, offset: number, length: number) => Promise<Uint8Array>): Promise<TF.Tensor | undefined> {
  const direct = w.spec.quantization === undefined && (w.spec.dtype === 'float32' || w.spec.dtype === 'int32' || w.spec.dtype === 'bool')
  const storage = direct ? storageOf(rt, target, w.byteLength) : undefined
  if (storage !== undefined) {
    await readWeight(w, read, (bytes, at) => {
      // The wasm heap can move when it grows: take the view again for every piece.
      const dest = storageOf(rt, target, w.byteLength) ?? storage
      dest.set(bytes, at)
    })
    return undefined
  }
  // One weight at a time through TF.js's own decoder (dequantization, float16).
  const bytes = new Uint8Array(w.byteLength)
  await readWeight(w, read, (b, at) => { bytes.set(b, at) })
  const decoded = rt.tf.io.decodeWeights(bytes.buffer, [w.spec])
  return decoded[w.spec.name]
}

/** A reader of byte ranges: ranged when the caller has it, else whole shards, the last one kept. */
function rangeReader (readFile: ReadFile, files: RangedFiles | undefined): { read: (file: string, offset: number, length: number) => Promise<Uint8Array>, size: (file: string) => Promise<number> } {
  if (files !== undefined) return { read: async (f, o, l) => await files.readRange(f, o, l), size: async f => await files.size(f) }
  let last: { file: string, bytes: Uint8Array } | undefined
  const whole = async (file: string): Promise<Uint8Array> => {
    if (last?.file !== file) last = { file, bytes: await readFile(file) }
    return last.bytes
  }
  return { read: async (f, o, l) => (await whole(f)).subarray(o, o + l), size: async f => (await whole(f)).byteLength }
}

async function loadInPlace (rt: LoadedRuntime, kind: ModelKind, json: Record<string, unknown>, jsonPath: string, readFile: ReadFile, files: RangedFiles | undefined): Promise<LoadedModel | undefined> {
  const tf = rt.tf
  const reader = rangeReader(readFile, files)
  const placed = await placeWeights(json, jsonPath, reader.size)
  if (placed === undefined) return undefined
  const artifacts: TF.io.ModelArtifacts = { modelTopology: json.modelTopology as TF.io.ModelArtifacts['modelTopology'], format: json.format as string | undefined, generatedBy: json.generatedBy as string | undefined, convertedBy: json.convertedBy as string | null | undefined }
  for (const k of ['signature', 'userDefinedMetadata', 'modelInitializer', 'initializerSignature'] as const) if (json[k] != null) (artifacts as Record<string, unknown>)[k] = json[k]
  if (kind === 'layers') {
    const topo = isRecord(json.modelTopology) && isRecord(json.modelTopology.model_config) ? json.modelTopology.model_config : json.modelTopology
    const model = await tf.models.modelFromJSON({ modelTopology: zeroInitializers(topo) as TF.io.ModelArtifacts['modelTopology'] } as unknown as TF.io.ModelJSON)
    try {
      // Match weights to variables as LayersModel.loadWeights does: by original name, or without an RNN cell's name.
      const byName = new Map<string, TF.LayerVariable>()
      for (const v of model.weights) byName.set(v.originalName, v)
      const targets: Array<{ w: Placed, v: TF.LayerVariable }> = []
      const problems: string[] = []
      for (const w of placed) {
        const tokens = w.spec.name.split('/')
        const v = byName.get(w.spec.name) ?? byName.get([...tokens.slice(0, -2), tokens[tokens.length - 1]].join('/'))
        if (v === undefined) { problems.push(`weight ${JSON.stringify(w.spec.name)} has no variable in the topology`); continue }
        byName.delete(v.originalName)
        if (v.shape.length !== w.spec.shape.length || v.shape.some((d, i) => d !== w.spec.shape[i])) problems.push(`weight ${JSON.stringify(w.spec.name)} has shape [${w.spec.shape.join(',')}] but the topology's variable has [${v.shape.join(',')}]`)
        else if (v.dtype !== w.spec.dtype) problems.push(`weight ${JSON.stringify(w.spec.name)} is ${w.spec.dtype} but the topology's variable is ${v.dtype}`)
        else targets.push({ w, v })
      }
      for (const name of byName.keys()) problems.push(`variable ${JSON.stringify(name)} has no weight in the manifest`)
      if (problems.length > 0) {
        throw new InvalidModelError(`${jsonPath}: the weights manifest does not match the topology (checked before reading weights): ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`, { path: jsonPath, problems })
      }
      for (const { w, v } of targets) {
        const decoded = await fill(rt, w, v.read(), reader.read)
        if (decoded !== undefined) { v.write(decoded); decoded.dispose() }
      }
      return { kind, model }
    } catch (e) {
      model.dispose()
      throw e
    }
  }
  // Graph: weights are the values of the graph's Const nodes (and its initializer's), by node name.
  const nodes = new Set<string>()
  for (const g of [json.modelTopology, json.modelInitializer]) {
    if (isRecord(g) && Array.isArray(g.node)) for (const n of g.node) if (isRecord(n) && typeof n.name === 'string') nodes.add(n.name)
  }
  const stray = placed.filter(w => !nodes.has(w.spec.name))
  if (stray.length > 0) {
    throw new InvalidModelError(`${jsonPath}: the weights manifest does not match the graph (checked before reading weights): ${stray.slice(0, 5).map(w => `weight ${JSON.stringify(w.spec.name)} names no node`).join('; ')}${stray.length > 5 ? `; and ${stray.length - 5} more` : ''}`, { path: jsonPath, weights: stray.map(w => w.spec.name) })
  }
  const GraphModel = (tf as unknown as { GraphModel?: new (url: TF.io.IOHandler) => TF.GraphModel }).GraphModel
  if (GraphModel === undefined) return undefined
  const model = new GraphModel({ load: async () => artifacts })
  const loadWithWeightMap = (model as unknown as { loadWithWeightMap?: (a: TF.io.ModelArtifacts, m: TF.NamedTensorMap) => boolean }).loadWithWeightMap
  if (typeof loadWithWeightMap !== 'function') return undefined
  const weightMap: TF.NamedTensorMap = {}
  try {
    for (const w of placed) {
      const direct = w.spec.quantization === undefined && (w.spec.dtype === 'float32' || w.spec.dtype === 'int32' || w.spec.dtype === 'bool')
      const zero = direct ? tf.zeros(w.spec.shape, w.spec.dtype as 'float32' | 'int32' | 'bool') : tf.zeros([0])
      const decoded = await fill(rt, w, zero, reader.read)
      if (decoded !== undefined) { zero.dispose(); weightMap[w.spec.name] = decoded } else weightMap[w.spec.name] = zero
    }
    loadWithWeightMap.call(model, artifacts, weightMap)
  } catch (e) {
    tf.dispose(Object.values(weightMap))
    throw e
  }
  return { kind, model, discrete: discreteUpstream(json.modelTopology, model.outputNodes), probes: discreteProbes(json.modelTopology, model.outputNodes) }
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
  const dec = decodeTensorData(d)
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
export async function runModel (rt: LoadedRuntime, m: LoadedModel, inputs: readonly TensorData[], extra: readonly string[] = []): Promise<TensorData[]> {
  if (extra.length > 0 && m.kind !== 'graph') throw new InvalidArgumentError('only graph models have probes', {})
  await activate(rt)
  const tf = rt.tf
  const bound = bindInputs(inputSignature(m), inputs)
  const names = [...outputNames(m), ...extra]
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
