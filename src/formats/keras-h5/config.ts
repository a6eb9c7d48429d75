/**
 * Reading a Keras model config (`model_config` of a Keras 2 .h5, `config.json` of a Keras 3 .keras):
 * its input/output contract, the custom classes it needs, its layers, and the Keras 2 form of a Keras 3
 * config (what TensorFlow.js parses). Pure: no I/O.
 */
import type { ModelContract, TensorContract } from '../interface.js'
import { KERAS_CLASSES } from './known-classes.js'

export type Json = Record<string, unknown>

export function isObject (v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** A layer of a config: its class, its name and its config. */
export interface LayerConfig {
  readonly className: string
  /** The registered name when it differs from the class name (Keras 3 `registered_name`, Keras 2 `Package>Class`). */
  readonly registeredName: string
  readonly name: string
  readonly config: Json
  /** The layer's entry in the config, whole. */
  readonly raw: Json
}

function layerOf (v: unknown): LayerConfig | undefined {
  if (!isObject(v) || typeof v.class_name !== 'string' || !isObject(v.config)) return undefined
  const name = typeof v.config.name === 'string' ? v.config.name : typeof v.name === 'string' ? v.name : undefined
  if (name === undefined) return undefined
  const registered = typeof v.registered_name === 'string' && v.registered_name !== '' ? v.registered_name : v.class_name
  return { className: v.class_name, registeredName: registered, name, config: v.config, raw: v }
}

/** The top-level layers of a Functional/Model/Sequential config, in order ([] for anything else). */
export function topLayers (model: unknown): LayerConfig[] {
  if (!isObject(model)) return []
  const cfg = model.config
  const list = Array.isArray(cfg) ? cfg : isObject(cfg) && Array.isArray(cfg.layers) ? cfg.layers : []
  return list.map(layerOf).filter((l): l is LayerConfig => l !== undefined)
}

/** Every layer of a config, nested models' layers included, by name (the first of a name wins). */
export function allLayers (model: unknown): Map<string, LayerConfig> {
  const out = new Map<string, LayerConfig>()
  const walk = (m: unknown, depth: number): void => {
    if (depth > 32) return
    for (const l of topLayers(m)) {
      if (!out.has(l.name)) out.set(l.name, l)
      if (Array.isArray(l.config.layers) || isObject(l.config.layer)) walk(isObject(l.config.layer) ? { config: { layers: [l.config.layer] } } : l.raw, depth + 1)
    }
  }
  walk(model, 0)
  return out
}

// ---------------------------------------------------------------------------------------------------
// custom objects

/** Packages under which Keras registers its own classes ("Custom>Adam" in tf_keras configs). */
const KERAS_PACKAGES = new Set(['Custom', 'keras', 'tf_keras'])

/**
 * Classes the configs name that Keras does not provide, by registered name (`Course>ScaledDense`), in
 * first-seen order: every object with a `class_name` is looked at, at any depth (layers, losses,
 * metrics, optimizers, initializers, regularizers, constraints).
 */
export function customObjects (...configs: unknown[]): string[] {
  const found: string[] = []
  const walk = (v: unknown, depth: number): void => {
    if (depth > 200) return
    if (Array.isArray(v)) { for (const x of v) walk(x, depth + 1); return }
    if (!isObject(v)) return
    if (typeof v.class_name === 'string' && !v.class_name.startsWith('__')) {
      const cls = v.class_name
      const name = typeof v.registered_name === 'string' && v.registered_name !== '' ? v.registered_name : cls
      const module = typeof v.module === 'string' ? v.module : undefined
      const sep = name.lastIndexOf('>')
      const standard = module !== undefined && (module === 'keras' || module.startsWith('keras.') || module === 'builtins')
        ? true
        : sep >= 0
          ? KERAS_PACKAGES.has(name.slice(0, sep)) && KERAS_CLASSES.has(name.slice(sep + 1))
          : KERAS_CLASSES.has(name)
      if (!standard && !found.includes(name)) found.push(name)
    }
    for (const x of Object.values(v)) walk(x, depth + 1)
  }
  for (const c of configs) walk(c, 0)
  return found
}

// ---------------------------------------------------------------------------------------------------
// contract

/** The dtype a layer config names (a string, or a Keras 3 DTypePolicy), as the dtype of its output. */
function dtypeOf (config: Json): string {
  const d = config.dtype
  let name: unknown = d
  if (isObject(d)) name = isObject(d.config) ? d.config.name : undefined
  if (typeof name !== 'string') return 'float32'
  if (name.startsWith('mixed_')) return name.slice('mixed_'.length)
  return name
}

type Shape = ReadonlyArray<number | null>

function shapeOf (v: unknown): Shape | undefined {
  if (!Array.isArray(v) || !v.every(d => d === null || (typeof d === 'number' && Number.isInteger(d) && d >= 0))) return undefined
  return v as Shape
}

/** `[name, node, tensor]` triples of input_layers/output_layers (Keras 3 writes one triple flat). */
function endpoints (v: unknown): string[] {
  if (!Array.isArray(v)) return []
  if (typeof v[0] === 'string') return [v[0]]
  return v.filter(Array.isArray).map(e => e[0]).filter((n): n is string => typeof n === 'string')
}

/** Names of the layers feeding a layer (Keras 2 and Keras 3 inbound_nodes), for its first node. */
export function inboundNames (raw: Json): string[] {
  const nodes = raw.inbound_nodes
  if (!Array.isArray(nodes) || nodes.length === 0) return []
  const node: unknown = nodes[0]
  const out: string[] = []
  if (Array.isArray(node)) {
    for (const e of node) if (Array.isArray(e) && typeof e[0] === 'string') out.push(e[0])
    return out
  }
  for (const t of kerasTensors(isObject(node) ? node.args : undefined)) out.push(t.history[0])
  return out
}

interface KerasTensor { readonly history: [string, number, number], readonly shape: Shape | undefined }

/** The `__keras_tensor__` objects of a Keras 3 node's args, in order, at any nesting. */
function kerasTensors (v: unknown, depth = 0): KerasTensor[] {
  if (depth > 16) return []
  if (Array.isArray(v)) return v.flatMap(x => kerasTensors(x, depth + 1))
  if (!isObject(v)) return []
  if (v.class_name === '__keras_tensor__' && isObject(v.config)) {
    const h = v.config.keras_history
    if (Array.isArray(h) && typeof h[0] === 'string') {
      return [{ history: [h[0], typeof h[1] === 'number' ? h[1] : 0, typeof h[2] === 'number' ? h[2] : 0], shape: shapeOf(v.config.shape) }]
    }
  }
  return []
}

const SAME_SHAPE = new Set(['Activation', 'ReLU', 'LeakyReLU', 'ELU', 'PReLU', 'Softmax', 'ThresholdedReLU', 'Dropout', 'SpatialDropout1D',
  'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'BatchNormalization', 'LayerNormalization',
  'GroupNormalization', 'UnitNormalization', 'Normalization', 'Rescaling', 'ActivityRegularization', 'Identity'])

function product (dims: Shape): number | null {
  let n = 1
  for (const d of dims) { if (d === null) return null; n *= d }
  return n
}

function convOut (size: number | null, kernel: number, stride: number, padding: string, dilation = 1): number | null {
  if (size === null) return null
  if (padding === 'same') return Math.ceil(size / stride)
  const k = (kernel - 1) * dilation + 1
  return Math.floor((size - k) / stride) + 1
}

function tuple (v: unknown, n: number, fallback: number): number[] {
  if (typeof v === 'number') return Array<number>(n).fill(v)
  if (Array.isArray(v) && v.length === n && v.every(x => typeof x === 'number')) return v as number[]
  return Array<number>(n).fill(fallback)
}

/** The output shape of a layer given its input shape, for the layers whose rule is simple; else undefined. */
function outputShape (l: LayerConfig, input: Shape): Shape | undefined {
  const c = l.config
  const cls = l.className
  if (SAME_SHAPE.has(cls)) return input
  if (cls === 'Dense' && typeof c.units === 'number' && input.length >= 2) return [...input.slice(0, -1), c.units]
  if (cls === 'Flatten' && input.length >= 1) return [input[0]!, product(input.slice(1))]
  if ((cls === 'GlobalAveragePooling1D' || cls === 'GlobalMaxPooling1D' || cls === 'GlobalAveragePooling2D' || cls === 'GlobalMaxPooling2D') &&
      c.keepdims !== true && c.data_format !== 'channels_first' && input.length >= 3) return [input[0]!, input[input.length - 1]!]
  const channelsLast = c.data_format === undefined || c.data_format === null || c.data_format === 'channels_last'
  const conv = /^Conv([12])D$/.exec(cls)
  if (conv !== null && channelsLast && typeof c.filters === 'number') {
    const n = Number(conv[1])
    if (input.length !== n + 2) return undefined
    const k = tuple(c.kernel_size, n, 1)
    const s = tuple(c.strides, n, 1)
    const d = tuple(c.dilation_rate, n, 1)
    const padding = typeof c.padding === 'string' ? c.padding : 'valid'
    if (padding !== 'same' && padding !== 'valid') return undefined
    return [input[0]!, ...input.slice(1, -1).map((x, i) => convOut(x, k[i]!, s[i]!, padding, d[i]!)), c.filters]
  }
  const pool = /^(Max|Average)Pooling([12])D$/.exec(cls)
  if (pool !== null && channelsLast) {
    const n = Number(pool[2])
    if (input.length !== n + 2) return undefined
    const p = tuple(c.pool_size, n, 2)
    const s = c.strides === null || c.strides === undefined ? p : tuple(c.strides, n, 1)
    const padding = typeof c.padding === 'string' ? c.padding : 'valid'
    if (padding !== 'same' && padding !== 'valid') return undefined
    return [input[0]!, ...input.slice(1, -1).map((x, i) => convOut(x, p[i]!, s[i]!, padding)), input[input.length - 1]!]
  }
  return undefined
}

function inputContract (l: LayerConfig): TensorContract | undefined {
  const shape = shapeOf(l.config.batch_input_shape) ?? shapeOf(l.config.batch_shape)
  if (shape === undefined) return undefined
  return { name: l.name, dtype: dtypeOf(l.config), shape }
}

/**
 * The inputs (from the input layers' `batch_input_shape` / `batch_shape` and dtype) and outputs of a
 * Functional or Sequential config. Output shapes are inferred through the common layers (Dense,
 * Conv1D/2D, pooling, Flatten, normalisation and activation layers…); when any output's shape cannot
 * be inferred, `outputs` is empty. Null when the inputs cannot be read.
 */
export function kerasContract (model: unknown): ModelContract | null {
  if (!isObject(model)) return null
  const layers = topLayers(model)
  if (layers.length === 0) return null
  const byName = new Map(layers.map(l => [l.name, l]))
  const cfg = isObject(model.config) ? model.config : {}
  const sequential = model.class_name === 'Sequential'
  let inputs: TensorContract[] = []
  let outputNames: string[]
  if (sequential) {
    const first = layers[0]!
    const input = inputContract(first)
    if (input === undefined) return null
    inputs = [first.className === 'InputLayer' ? input : { ...input, name: `${first.name}_input` }]
    outputNames = [layers[layers.length - 1]!.name]
  } else {
    for (const n of endpoints(cfg.input_layers)) {
      const l = byName.get(n)
      const c = l === undefined ? undefined : inputContract(l)
      if (c === undefined) return null
      inputs.push(c)
    }
    if (inputs.length === 0) return null
    outputNames = endpoints(cfg.output_layers)
  }

  const shapes = new Map<string, Shape | undefined>()
  const shapeAt = (name: string, depth: number): Shape | undefined => {
    if (shapes.has(name)) return shapes.get(name)
    shapes.set(name, undefined) // cycle guard
    const l = byName.get(name)
    let s: Shape | undefined
    if (l !== undefined && depth < 10_000) {
      if (l.className === 'InputLayer') {
        s = inputContract(l)?.shape
      } else if (sequential) {
        // A Sequential's first layer may carry the model's batch_input_shape itself.
        const i = layers.indexOf(l)
        const prev = i === 0 ? inputContract(l)?.shape : shapeAt(layers[i - 1]!.name, depth + 1)
        s = prev === undefined ? undefined : outputShape(l, prev)
      } else {
        const from = inboundNames(l.raw)
        const prev = from.length === 1 ? shapeAt(from[0]!, depth + 1) : undefined
        s = prev === undefined ? undefined : outputShape(l, prev)
      }
    }
    shapes.set(name, s)
    return s
  }
  const outputs: TensorContract[] = []
  for (const n of outputNames) {
    const l = byName.get(n)
    const s = shapeAt(n, 0)
    if (l === undefined || s === undefined) return { inputs, outputs: [] }
    outputs.push({ name: n, dtype: dtypeOf(l.config), shape: s })
  }
  return { inputs, outputs }
}

// ---------------------------------------------------------------------------------------------------
// Keras 3 → Keras 2 config (for TensorFlow.js)

/**
 * A Keras 3 config rewritten the way Keras 2 wrote it, which is what TensorFlow.js parses: DTypePolicy
 * objects become dtype strings, `batch_shape` becomes `batch_input_shape`, node args become
 * `[[name, node, tensor, kwargs], …]` lists, a single `[name, 0, 0]` endpoint becomes a list of one,
 * and `module`/`registered_name`/`build_config`/`compile_config` go. A Keras 2 config is returned as is.
 */
export function toKeras2Config (model: unknown): unknown {
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > 200) return v
    if (Array.isArray(v)) return v.map(x => walk(x, depth + 1))
    if (!isObject(v)) return v
    if (v.class_name === 'DTypePolicy' || v.class_name === 'FloatDTypePolicy' || v.class_name === 'Policy') {
      return isObject(v.config) && typeof v.config.name === 'string' ? v.config.name : 'float32'
    }
    const out: Json = {}
    for (const [k, x] of Object.entries(v)) {
      if (k === 'module' || k === 'registered_name' || k === 'build_config' || k === 'compile_config' || k === 'shared_object_id') continue
      if (k === 'batch_shape') { out.batch_input_shape = walk(x, depth + 1); continue }
      if (k === 'inbound_nodes' && Array.isArray(x) && x.some(isObject)) {
        out.inbound_nodes = x.map(node => {
          if (!isObject(node)) return node
          const kwargs = isObject(node.kwargs) ? walk(node.kwargs, depth + 1) : {}
          return kerasTensors(node.args).map(t => [t.history[0], t.history[1], t.history[2], kwargs])
        })
        continue
      }
      if ((k === 'input_layers' || k === 'output_layers') && Array.isArray(x) && typeof x[0] === 'string') {
        out[k] = [x]
        continue
      }
      out[k] = walk(x, depth + 1)
    }
    return out
  }
  return walk(model, 0)
}

// ---------------------------------------------------------------------------------------------------
// Keras 3 variable names

/**
 * The names of a Keras 3 layer's variables in the order `save_own_variables` stores them
 * (trainable first, then non-trainable), for the layers whose variables are fixed by their config;
 * undefined for any other class. Checked against Keras 3.15.1 (`layer._trainable_variables +
 * layer._non_trainable_variables` after build).
 */
export function keras3VariableNames (className: string, config: Json): string[] | undefined {
  const bias = config.use_bias !== false
  switch (className) {
    case 'Dense': case 'EinsumDense':
    case 'Conv1D': case 'Conv2D': case 'Conv3D': case 'Conv1DTranspose': case 'Conv2DTranspose': case 'Conv3DTranspose':
    case 'DepthwiseConv1D': case 'DepthwiseConv2D':
      if (className === 'EinsumDense') return typeof config.bias_axes === 'string' && config.bias_axes !== '' ? ['kernel', 'bias'] : ['kernel']
      return bias ? ['kernel', 'bias'] : ['kernel']
    case 'SeparableConv1D': case 'SeparableConv2D':
      return bias ? ['depthwise_kernel', 'pointwise_kernel', 'bias'] : ['depthwise_kernel', 'pointwise_kernel']
    case 'BatchNormalization':
      return [...(config.scale !== false ? ['gamma'] : []), ...(config.center !== false ? ['beta'] : []), 'moving_mean', 'moving_variance']
    case 'LayerNormalization': case 'GroupNormalization':
      return [...(config.scale !== false ? ['gamma'] : []), ...(config.center !== false ? ['beta'] : [])]
    case 'Embedding':
      return ['embeddings']
    case 'PReLU':
      return ['alpha']
    case 'LSTMCell': case 'GRUCell': case 'SimpleRNNCell': case 'LSTM': case 'GRU': case 'SimpleRNN':
      return bias ? ['kernel', 'recurrent_kernel', 'bias'] : ['kernel', 'recurrent_kernel']
    default:
      return undefined
  }
}

/** Keras's `to_snake_case` (keras/src/utils/naming.py): how Keras 3 names a layer's folder in a weights file. */
export function toSnakeCase (name: string): string {
  const a = name.replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
  return a.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase()
}
