/**
 * Running Keras models with TensorFlow.js in this process, for verification: the model is built from
 * its Keras config (`tf.models.modelFromJSON`) and its weights are read from the HDF5 datasets
 * through the same structure reader the adapter uses. TF.js implements the common Keras layers; a
 * model needing a class it lacks — a custom object (`Course>ScaledDense`) or a Keras layer TF.js does
 * not implement — is a VerificationUnavailableError naming the classes, never a raw "Unknown layer".
 *
 * Shared by the Keras 2 (.h5) and Keras 3 (.keras) adapters: each gives its own `KerasLoader`.
 */
import { openTfjs } from '../tfjs/index.js'
import type * as TF from '@tensorflow/tfjs'
import { InvalidModelError, VerificationUnavailableError, isMvcError } from '../../errors.js'
import { bytesSource, datasetRange, readHdf5, tensorDType, type Hdf5Dataset, type Hdf5File } from '../hdf5/index.js'
import type { LoadedModel, ModelRuntime, OpenRuntime } from '../interface.js'
import type { LoadedRuntime } from '../tfjs/runtime.js'
import { inputSignature, runModel, type LoadedModel as TfjsLoaded } from '../tfjs/model.js'
import { customObjects, isObject, toKeras2Config } from './config.js'
import { attrList } from './attributes.js'

/** Builds a TF.js model (weights set) from a model's main file bytes. */
export type KerasLoader = (rt: LoadedRuntime, path: string, bytes: Uint8Array) => Promise<TF.LayersModel>

function messageOf (e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

/**
 * The TF.js model of a Keras config (Keras 2 form; see config.ts toKeras2Config), without weights.
 * Custom classes and layers TF.js lacks are VerificationUnavailableError.
 */
export async function buildModel (rt: LoadedRuntime, path: string, modelConfig: unknown): Promise<TF.LayersModel> {
  const custom = customObjects(modelConfig)
  if (custom.length > 0) {
    throw new VerificationUnavailableError(
      `${path} needs custom classes that TensorFlow.js does not have: ${custom.join(', ')}. ` +
      'Pass --custom-objects <file> (the Python file that defines and registers them) to verify it with Python TensorFlow.',
      { path, customObjects: custom })
  }
  try {
    // modelFromJSON's types want tfjs-layers' PyJsonDict; a parsed Keras config is one.
    return await rt.tf.models.modelFromJSON({ modelTopology: modelConfig } as unknown as Parameters<typeof rt.tf.models.modelFromJSON>[0])
  } catch (e) {
    const unknown = /Unknown (?:layer|class|initializer|regularizer|constraint|activation|loss|metric)s?:?\s*([A-Za-z0-9_>.]+)/i.exec(messageOf(e))
    if (unknown !== null) {
      throw new VerificationUnavailableError(
        `TensorFlow.js cannot build ${path}: it does not implement ${unknown[1]!.replace(/\.$/, '')}. ` +
        'Verify it with Python TensorFlow instead (the python-tensorflow runtime).', { path, className: unknown[1] }, { cause: e })
    }
    throw new VerificationUnavailableError(`TensorFlow.js cannot build ${path} from its Keras config: ${messageOf(e)}`, { path }, { cause: e })
  }
}

function half (h: number): number {
  const sign = (h & 0x8000) !== 0 ? -1 : 1
  const exp = (h >> 10) & 0x1f
  const frac = h & 0x3ff
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024)
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN
  return sign * 2 ** (exp - 15) * (1 + frac / 1024)
}

/** A dataset's elements as a TF.js tensor (floats as float32, integers as int32, bools as bool). */
export function datasetTensor (rt: LoadedRuntime, file: string, bytes: Uint8Array, d: Hdf5Dataset): TF.Tensor {
  const range = datasetRange(d)
  const dt = tensorDType(d.dtype)
  if ('reason' in range || 'reason' in dt) {
    const why = 'reason' in range ? range.reason : (dt as { reason: string }).reason
    throw new VerificationUnavailableError(`${file}: dataset /${d.path} cannot be read by mvc's TF.js runtime because ${why}`, { file, dataset: d.path })
  }
  const raw = bytes.subarray(range.offset, range.offset + range.size)
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
  const shape = [...(d.shape ?? [])]
  const n = shape.reduce((a, b) => a * b, 1)
  const dtype = dt.dtype
  if (dtype === 'bool') return rt.tf.tensor(raw.slice(), shape, 'bool')
  if (dtype.startsWith('float') || dtype === 'bfloat16') {
    const out = new Float32Array(n)
    for (let i = 0; i < n; i++) {
      if (dtype === 'float32') out[i] = dv.getFloat32(i * 4, true)
      else if (dtype === 'float64') out[i] = dv.getFloat64(i * 8, true)
      else if (dtype === 'float16') out[i] = half(dv.getUint16(i * 2, true))
      else { const f = new DataView(new ArrayBuffer(4)); f.setUint32(0, dv.getUint16(i * 2, true) << 16); out[i] = f.getFloat32(0) }
    }
    return rt.tf.tensor(out, shape, 'float32')
  }
  const m = /^(u?)int(8|16|32|64)$/.exec(dtype)
  if (m !== null) {
    const size = Number(m[2]) / 8
    const signed = m[1] === ''
    const out = new Int32Array(n)
    for (let i = 0; i < n; i++) {
      const at = i * size
      const v = size === 1 ? (signed ? dv.getInt8(at) : dv.getUint8(at))
        : size === 2 ? (signed ? dv.getInt16(at, true) : dv.getUint16(at, true))
          : size === 4 ? (signed ? dv.getInt32(at, true) : dv.getUint32(at, true))
            : Number(signed ? dv.getBigInt64(at, true) : dv.getBigUint64(at, true))
      if (v > 2147483647 || v < -2147483648) throw new VerificationUnavailableError(`${file}: dataset /${d.path} holds ${v}, which TF.js's int32 cannot`, { file, dataset: d.path })
      out[i] = v
    }
    return rt.tf.tensor(out, shape, 'int32')
  }
  throw new VerificationUnavailableError(`${file}: dataset /${d.path} is ${dtype}, which TF.js cannot hold`, { file, dataset: d.path })
}

/** Keras 2 .h5 full model: config from `model_config`, weights by name from `layer_names`/`weight_names`. */
export const loadKeras2: KerasLoader = async (rt, path, bytes) => {
  const h: Hdf5File = await readHdf5(bytesSource(bytes, path))
  const root = h.groups.get('')
  const configText = root?.attributes.get('model_config')?.value
  if (typeof configText !== 'string') throw new VerificationUnavailableError(`${path} has no model_config: it holds weights only and cannot be run alone`, { path })
  let config: unknown
  try {
    config = JSON.parse(configText)
  } catch (e) {
    throw new InvalidModelError(`${path}: model_config is not valid JSON`, { path }, { cause: e })
  }
  if (!isObject(config)) throw new InvalidModelError(`${path}: model_config is not a JSON object`, { path })
  // Keras 3's legacy .h5 saving writes a Keras 3 config; TF.js parses the Keras 2 form (a no-op for Keras 2 configs).
  const model = await buildModel(rt, path, toKeras2Config(config))
  const weightsRoot = h.groups.has('model_weights') ? 'model_weights' : ''
  const prefix = weightsRoot === '' ? '' : weightsRoot + '/'
  const byPath = new Map(h.datasets.map(d => [d.path, d]))
  const weights: TF.NamedTensorMap = {}
  try {
    for (const layer of attrList(h.groups.get(weightsRoot), 'layer_names') ?? []) {
      for (const w of attrList(h.groups.get(prefix + layer), 'weight_names') ?? []) {
        const d = byPath.get(`${prefix}${layer}/${w}`)
        if (d === undefined) throw new InvalidModelError(`${path}: weight ${w} of layer ${layer} is listed in weight_names but has no dataset`, { path, weight: w })
        // TF.js names weights as the converter does: Keras's name without the ":0" suffix.
        weights[w.replace(/:\d+$/, '')] = datasetTensor(rt, path, bytes, d)
      }
    }
    model.loadWeights(weights, true)
  } catch (e) {
    model.dispose()
    if (isMvcError(e)) throw e
    throw new InvalidModelError(`${path}: its weights do not fit the model TensorFlow.js built from model_config: ${messageOf(e)}`, { path }, { cause: e })
  } finally {
    rt.tf.dispose(Object.values(weights))
  }
  return model
}

/** A `tfjs` ModelRuntime whose models are loaded by `loaders` (by the format of the model object). */
export function kerasRuntime (loaders: Readonly<Record<string, KerasLoader>>): ModelRuntime {
  return {
    id: 'tfjs',
    async open (options): Promise<OpenRuntime> {
      // TF.js with JS modules that register custom layers with tf.serialization.registerClass.
      const rt = await openTfjs(options)
      return {
        backend: rt.backend,
        version: rt.tfjsVersion,
        async load (m, read): Promise<LoadedModel> {
          const loader = loaders[m.format]
          if (loader === undefined) {
            throw new VerificationUnavailableError(`${m.path} (${m.format}) holds weights only: there is no model to run`, { path: m.path, format: m.format })
          }
          const model = await loader(rt, m.path, await read(m.path))
          const loaded: TfjsLoaded = { kind: 'layers', model }
          return {
            get inputs () { return inputSignature(loaded) },
            run: async inputs => await runModel(rt, loaded, inputs),
            dispose: () => { model.dispose() }
          }
        }
      }
    }
  }
}

/** The runtime of the Keras 2 adapter. */
export const kerasTfjsRuntime: ModelRuntime = kerasRuntime({ 'keras-h5': loadKeras2 })
