/**
 * TF.js models in a runtime: loading a layers or graph model from its files, its input signature, and
 * inference with tensors converted to and from `TensorData`.
 */
import type * as TF from '@tensorflow/tfjs'
import { InvalidArgumentError, InvalidModelError, isMvcError } from '../../errors.js'
import { bindInputs, encodeStrings, decodeTensorData, numericBytes, type InputSpec, type TensorData } from '../tensor-data.js'
import { activate, type LoadedRuntime } from './runtime.js'
import { loadArtifacts } from './artifacts.js'
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

export type LoadedModel = { kind: 'layers', model: TF.LayersModel } | { kind: 'graph', model: TF.GraphModel }

/** Loads a model through `readFile`; layers vs graph is decided from the JSON (see detectModelKind). */
export async function loadModel (rt: LoadedRuntime, jsonPath: string, readFile: ReadFile): Promise<LoadedModel> {
  await activate(rt)
  const jsonBytes = await readFile(jsonPath)
  const json = parseModelJson(jsonBytes, jsonPath)
  const kind = detectModelKind(json)
  // A graph TF.js could never finish building would hang loadLayersModel: refuse it first.
  if (kind === 'layers') checkLayersTopology(json.modelTopology, jsonPath)
  // Hand the handler the bytes already read instead of reading model.json twice.
  const handler: TF.io.IOHandler = { load: async () => await loadArtifacts(jsonPath, readFile, jsonBytes) }
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
