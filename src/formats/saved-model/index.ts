/**
 * The SavedModel adapter: a folder holding `saved_model.pb`, `variables/variables.index` and
 * `variables/variables.data-*` (a tensor bundle, read with the checkpoint adapter's reader),
 * `fingerprint.pb`, `assets/`, and `keras_metadata.pb` when tf.keras wrote it. The folder may be
 * anywhere below the committed one; the model is named by its `saved_model.pb`.
 *
 * Glossary:
 * - variables: the SavedModel's checkpoint. Its tensors are the model's tensors; its index and data
 *   shards are the files the model covers. `saved_model.pb`, `fingerprint.pb`, `keras_metadata.pb`
 *   and assets are ordinary files (stored with content-defined chunking).
 * - summary: what is recorded of the protos as the topology (summary.ts): signatures, tags, per
 *   function node counts and op histograms, the object graph's structure — not the GraphDef itself.
 * - contract: the `serving_default` signature's inputs and outputs.
 * - runtimes: a SavedModel runs in TensorFlow, not in TF.js: `tfjs-node` (tfjs-node.ts)
 *   when installed; more (Python TensorFlow) can be added to `savedModelRuntimes`.
 *
 * Custom Python classes are not needed to run a SavedModel (its functions are traced graphs), so
 * `customObjects` is always empty.
 */
import { createHash } from 'node:crypto'
import { fail, isRecord, parseModel } from '../../format/objects.js'
import { InvalidModelError } from '../../errors.js'
import type { FileAccess, ModelContract, ModelFormat, ModelLayout, ModelRuntime, StoredModel } from '../interface.js'
import { layoutCheckpoint, readCheckpoint, readTensorEntries, tensorEntries, type Checkpoint } from '../tf-checkpoint/index.js'
import { tfjsNodeSavedModelRuntime } from './tfjs-node.js'
import { pythonRuntime } from '../python/index.js'
import { KerasSavedMetadataProto, SavedModelProto, decodePlain, type KerasSavedMetadata, type SavedModel } from './protos.js'
import { summarise } from './summary.js'

export { summarise, contractOf, primaryMetaGraph, functionName, SERVING_SIGNATURE } from './summary.js'
export { SavedModelProto, KerasSavedMetadataProto, decodePlain, type SavedModel } from './protos.js'

export const SAVED_MODEL = 'saved-model'
export const SAVED_MODEL_FILE = 'saved_model.pb'
/** saved_model.pb files larger than this are refused: protobuf messages are limited to 2 GiB. */
const MAX_SAVED_MODEL_BYTES = 2 ** 31 - 1

function messageOf (e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

function dirOf (path: string): string {
  const i = path.lastIndexOf('/')
  return i < 0 ? '' : path.slice(0, i + 1)
}

function decodeSavedModel (path: string, bytes: Uint8Array): SavedModel {
  let sm: SavedModel
  try {
    sm = decodePlain(SavedModelProto, bytes) as unknown as SavedModel
  } catch (e) {
    throw new InvalidModelError(`${path} is not a SavedModel protocol buffer (${messageOf(e)}); re-export the model with tf.saved_model.save, or remove the file`, { file: path }, { cause: e })
  }
  if (sm.meta_graphs.length === 0) throw new InvalidModelError(`${path} holds no meta graph: it is not a usable SavedModel`, { file: path })
  return sm
}

/** keras_metadata.pb, when present and readable; a damaged one is a warning (TensorFlow itself ignores it). */
async function kerasMetadata (access: FileAccess, path: string, warnings: string[]): Promise<{ value: KerasSavedMetadata | null, bytes: Uint8Array }> {
  if (!access.files.has(path)) return { value: null, bytes: new Uint8Array(0) }
  const bytes = await access.readAll(path)
  try {
    return { value: decodePlain(KerasSavedMetadataProto, bytes) as unknown as KerasSavedMetadata, bytes }
  } catch (e) {
    warnings.push(`${path} cannot be decoded (${messageOf(e)}); the Keras layer list is not recorded`)
    return { value: null, bytes }
  }
}

/** The runtimes that can run SavedModels, best first: TensorFlow itself (Python), then tfjs-node when installed. */
export const savedModelRuntimes: ModelRuntime[] = [pythonRuntime, tfjsNodeSavedModelRuntime]

async function layoutOf (access: FileAccess, claimed: ReadonlySet<string>, path: string): Promise<ModelLayout> {
  const dir = dirOf(path)
  const file = access.files.get(path)!
  if (file.size > MAX_SAVED_MODEL_BYTES) throw new InvalidModelError(`${path} has ${file.size} bytes, more than a protocol buffer can hold`, { file: path })
  const pb = await access.readAll(path)
  const sm = decodeSavedModel(path, pb)
  const warnings: string[] = []
  const keras = await kerasMetadata(access, `${dir}keras_metadata.pb`, warnings)
  const indexPath = `${dir}variables/variables.index`
  let ckpt: Checkpoint | null = null
  if (access.files.has(indexPath) && !claimed.has(indexPath)) {
    ckpt = await readCheckpoint(access, indexPath)
  } else if ([...access.files.keys()].some(p => p.startsWith(`${dir}variables/variables.data-`))) {
    warnings.push(`${dir}variables/ has data shards but no variables.index: the variables are stored as plain files`)
  }
  const laid = ckpt === null ? { tensors: [], warnings: [] } : layoutCheckpoint(ckpt)
  warnings.push(...laid.warnings.map(w => `variables: ${w}`))
  const summary = summarise(sm, keras.value)
  const fingerprint = createHash('sha256').update(pb).update('\0').update(keras.bytes).digest('hex')
  const shards = ckpt?.shards ?? []
  const contract: ModelContract | null = summary.contract
  return {
    format: SAVED_MODEL,
    path,
    files: ckpt === null ? [] : [ckpt.indexPath, ...shards],
    tensors: laid.tensors.map(t => t.layout),
    topology: {
      format: SAVED_MODEL,
      topology: summary.topology,
      meta: summary.meta
    },
    fingerprint,
    runnable: true,
    contract,
    customObjects: [],
    warnings,
    modelObject: ({ tensors, topology }) => ({
      type: 'mvc/model',
      format: SAVED_MODEL,
      path,
      topology,
      variables: ckpt?.indexPath ?? null,
      shards: [...shards],
      tensors: tensorEntries(laid, tensors),
      contract: contract === null ? null : JSON.parse(JSON.stringify(contract)) as unknown
    })
  }
}

async function detect (access: FileAccess, claimed: ReadonlySet<string>): Promise<ModelLayout[]> {
  const out: ModelLayout[] = []
  for (const f of access.files.values()) {
    if (claimed.has(f.path) || (f.path !== SAVED_MODEL_FILE && !f.path.endsWith(`/${SAVED_MODEL_FILE}`))) continue
    out.push(await layoutOf(access, claimed, f.path))
  }
  return out
}

function readContract (v: unknown): ModelContract | null {
  if (v === null || v === undefined) return null
  const side = (list: unknown): ModelContract['inputs'] => {
    if (!Array.isArray(list)) fail('model', 'contract inputs and outputs are lists')
    return list.map(t => {
      if (!isRecord(t) || typeof t.name !== 'string' || typeof t.dtype !== 'string' || !Array.isArray(t.shape) ||
          !t.shape.every(d => d === null || (typeof d === 'number' && Number.isSafeInteger(d) && d >= 0))) {
        fail('model', 'a contract tensor needs name, dtype and shape')
      }
      return { name: t.name, dtype: t.dtype, shape: t.shape as Array<number | null> }
    })
  }
  if (!isRecord(v)) fail('model', 'contract is not a map')
  return { inputs: side(v.inputs), outputs: side(v.outputs) }
}

function readModel (value: unknown): StoredModel {
  const m = parseModel(value)
  if (m.format !== SAVED_MODEL) fail('model', `format ${JSON.stringify(m.format)} is not ${SAVED_MODEL}`)
  const { variables, shards } = m.fields
  if (variables !== null && typeof variables !== 'string') fail('model', 'variables is neither a path nor null')
  if (!Array.isArray(shards) || !shards.every(s => typeof s === 'string')) fail('model', 'shards is not a list of paths')
  if (variables === null && shards.length > 0) fail('model', 'shards without a variables index')
  if (!m.tensors.every(t => t.group < shards.length)) fail('model', 'a tensor names a shard the model does not list')
  return {
    format: m.format,
    path: m.path,
    topology: m.topology,
    tensors: readTensorEntries(m),
    files: variables === null ? [] : [variables, ...shards as string[]],
    runnable: true,
    contract: readContract(m.fields.contract),
    customObjects: []
  }
}

export const savedModelFormat: ModelFormat = {
  id: 'saved-model',
  formats: [SAVED_MODEL],
  detect,
  readModel,
  runtimes: savedModelRuntimes
}
