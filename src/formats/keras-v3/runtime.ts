/**
 * Keras 3 `.keras` models in TF.js: the config is rewritten in the Keras 2 form TF.js parses
 * (config.ts toKeras2Config), the model built, and each layer's variables set from its vars folder in
 * index order (Keras 3 and TF.js order a layer's weights alike: trainable, then non-trainable).
 * TF.js reads Keras 3 configs only partly: anything it cannot build is a VerificationUnavailableError
 * naming the class.
 */
import type * as TF from '@tensorflow/tfjs'
import { inflateRawSync } from 'node:zlib'
import { InvalidModelError, VerificationUnavailableError, isMvcError } from '../../errors.js'
import { bytesSource, readHdf5 } from '../hdf5/index.js'
import { customObjects, toKeras2Config } from '../keras-h5/config.js'
import { buildModel, datasetTensor, kerasRuntime, type KerasLoader } from '../keras-h5/runtime.js'
import { readArchive, varsFolders, WEIGHTS } from './archive.js'

/** Node Buffers hold at most 2^31 - 1 bytes here; a larger deflated weights member cannot be verified in process. */
const MAX_WEIGHTS_INFLATE = 2 ** 31 - 1

export const loadKeras3: KerasLoader = async (rt, path, bytes) => {
  const source = bytesSource(bytes, path)
  const archive = await readArchive(source)
  // What building the model needs: its layers (a custom loss in compile_config does not stop inference).
  const custom = customObjects({ ...archive.config, compile_config: null })
  if (custom.length > 0) {
    throw new VerificationUnavailableError(
      `${path} needs custom classes that TensorFlow.js does not have: ${custom.join(', ')}. ` +
      'Pass --custom-objects <file> (the Python file that defines and registers them) to verify it with Python TensorFlow.',
      { path, customObjects: custom })
  }
  if (archive.weights === undefined) throw new VerificationUnavailableError(`${path} has no ${WEIGHTS}: there are no weights to run it with`, { path })
  const { entry, dataOffset } = archive.weights
  let weightBytes = bytes.subarray(dataOffset, dataOffset + entry.compressedSize)
  if (entry.method === 8) {
    try {
      const out = inflateRawSync(weightBytes, { maxOutputLength: MAX_WEIGHTS_INFLATE })
      weightBytes = new Uint8Array(out.buffer, out.byteOffset, out.length)
    } catch (e) {
      throw new InvalidModelError(`${path}: ${WEIGHTS} cannot be inflated (${e instanceof Error ? e.message : String(e)})`, { path }, { cause: e })
    }
  }
  const inner = `${path}!${WEIGHTS}`
  const h = await readHdf5(bytesSource(weightBytes, inner))
  const model = await buildModel(rt, path, toKeras2Config(archive.config))
  const byPath = new Map(h.datasets.map(d => [d.path, d]))
  const folders = varsFolders(h, archive.config).filter(f => !f.optimizer && f.folder !== '')
  const created: TF.Tensor[] = []
  try {
    const used = new Set<string>()
    for (const layer of model.layers) {
      if (layer.weights.length === 0) continue
      // The layer's folder and the folders below it (an RNN's cell), variables in index order.
      const own = folders.find(f => f.layerName === layer.name)
      if (own === undefined) throw new VerificationUnavailableError(`${path}: no variables in ${WEIGHTS} belong to layer ${layer.name} (${layer.getClassName()})`, { path, layer: layer.name })
      const mine = folders.filter(f => f.folder === own.folder || f.folder.startsWith(own.folder + '/'))
      const tensors: TF.Tensor[] = []
      for (const f of mine) {
        used.add(f.folder)
        for (const i of [...f.vars.keys()].sort((a, b) => a - b)) {
          const t = datasetTensor(rt, inner, weightBytes, byPath.get(f.vars.get(i)!)!)
          created.push(t)
          tensors.push(t)
        }
      }
      if (tensors.length !== layer.weights.length) {
        throw new VerificationUnavailableError(`${path}: layer ${layer.name} (${layer.getClassName()}) has ${layer.weights.length} weights in TensorFlow.js but ${tensors.length} variables in ${WEIGHTS}`, { path, layer: layer.name })
      }
      layer.setWeights(tensors)
    }
    const unused = folders.filter(f => !used.has(f.folder) && f.vars.size > 0)
    if (unused.length > 0) throw new VerificationUnavailableError(`${path}: TensorFlow.js built no layer for the variables of ${unused.map(f => f.folder).join(', ')}`, { path })
  } catch (e) {
    model.dispose()
    if (isMvcError(e)) throw e
    throw new InvalidModelError(`${path}: its weights do not fit the model TensorFlow.js built from config.json: ${e instanceof Error ? e.message : String(e)}`, { path }, { cause: e })
  } finally {
    rt.tf.dispose(created)
  }
  return model
}

/** The runtime of the Keras 3 adapter. */
export const kerasV3Runtime = kerasRuntime({ 'keras-v3': loadKeras3 })
