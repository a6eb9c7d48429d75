/**
 * The Keras 2 HDF5 format adapter: `model.save('m.h5')` full models and `save_weights('w.h5')`
 * weights-only files (Keras 2 / tf_keras, and Keras 3's legacy .h5 saving, which writes the same).
 *
 * Glossary:
 * - full model (`keras-h5`): root attributes `model_config` (JSON), `keras_version`, `backend`, maybe
 *   `training_config`; weights in `model_weights/<layer>/<weight name>` with the `layer_names` and
 *   `weight_names` attributes giving their order; optimizer state in `optimizer_weights/<weight name>`.
 * - weights-only file (`keras-h5-weights`): root attribute `layer_names`, the layers' groups at the root.
 * - tensor names are Keras's own weight names (`dense/kernel:0`, `Adam/m/dense/kernel:0`); optimizer
 *   tensors have the role 'optimizer'.
 * - Recognition is by content, not by name: any HDF5 file with those attributes, whatever it is called.
 *   An HDF5 file without them is not a Keras 2 model (the Keras 3 adapter or plain storage takes it).
 *
 * Layout: each dataset that is one byte range becomes a tensor (layout.ts); the file is rebuilt from
 * those tensors plus the bytes between them. Runtime: TF.js in this process (runtime.ts).
 */
import { pythonRuntime } from '../python/index.js'
import type { FileAccess, ModelFormat, ModelLayout, StoredModel } from '../interface.js'
import { InvalidModelError } from '../../errors.js'
import { hdf5Of, type Hdf5File, type Hdf5Group } from '../hdf5/index.js'
import { attrList, attrText } from './attributes.js'
import { customObjects, isObject, kerasContract } from './config.js'
import { checkOverlaps, datasetTensor, jsonValue, kerasLayout, readKerasModel, type PlannedTensor, type Role } from './layout.js'
import { kerasTfjsRuntime } from './runtime.js'

export { kerasTfjsRuntime } from './runtime.js'
export { attrList, attrText } from './attributes.js'

const FORMATS = ['keras-h5', 'keras-h5-weights'] as const

/** Files no larger than this are not examined as Keras files (they hold no model). */
const MIN_SIZE = 8

function parseJsonAttr (file: string, h: Hdf5File, name: string): unknown {
  const a = h.groups.get('')?.attributes.get(name)
  if (a === undefined) return undefined
  const text = attrText(a)
  if (text === undefined) throw new InvalidModelError(`${file}: root attribute ${name} is not a string (${a.unsupported ?? 'of another type'}); Keras writes it as JSON text`, { file, attribute: name })
  try {
    return JSON.parse(text) as unknown
  } catch (e) {
    throw new InvalidModelError(`${file}: root attribute ${name} is not valid JSON (${e instanceof Error ? e.message : String(e)}); the file is damaged`, { file, attribute: name }, { cause: e })
  }
}

/**
 * Whether an HDF5 file's root looks like any Keras file (Keras 2 attributes, or Keras 3's `vars`
 * group): what both Keras adapters pass to hdf5Of, so that a large HDF5 file that is not a model is
 * read no further than its root group.
 */
export function kerasRoot (root: Hdf5Group): boolean {
  return root.attributes.has('model_config') || attrList(root, 'layer_names') !== undefined || root.links.includes('vars')
}

/** What kind of Keras 2 file an HDF5 structure is, if any. */
export function keras2Kind (h: Hdf5File): 'keras-h5' | 'keras-h5-weights' | undefined {
  const root = h.groups.get('')
  if (root === undefined) return undefined
  if (root.attributes.has('model_config')) return 'keras-h5'
  if (attrList(root, 'layer_names') !== undefined) return 'keras-h5-weights'
  return undefined
}

/**
 * The tensors of a Keras 2 weights group (the root of a weights-only file, `model_weights` of a full
 * model) in Keras's order — `layer_names`, then each layer's `weight_names` — then `optimizer_weights`,
 * then any dataset not named there (in path order), with the warnings for those left as plain bytes.
 */
export function keras2Tensors (file: string, h: Hdf5File, weightsRoot: string): { tensors: PlannedTensor[], warnings: string[] } {
  const byPath = new Map(h.datasets.map(d => [d.path, d]))
  const used = new Set<string>()
  const tensors: PlannedTensor[] = []
  const warnings: string[] = []
  const prefix = weightsRoot === '' ? '' : weightsRoot + '/'
  const add = (path: string, name: string, role: Role): void => {
    const d = byPath.get(path)
    if (d === undefined || used.has(path)) return
    used.add(path)
    const t = datasetTensor(file, 0, d, name)
    if ('tensor' in t) tensors.push({ role, dataset: path, layout: t.tensor })
    else warnings.push(t.warning)
  }
  for (const layer of attrList(h.groups.get(weightsRoot), 'layer_names') ?? []) {
    for (const w of attrList(h.groups.get(prefix + layer), 'weight_names') ?? []) add(`${prefix}${layer}/${w}`, w, 'weights')
  }
  for (const w of attrList(h.groups.get('optimizer_weights'), 'weight_names') ?? []) add(`optimizer_weights/${w}`, w, 'optimizer')
  for (const d of h.datasets) {
    const role: Role = d.path.startsWith('optimizer_weights/') ? 'optimizer' : 'weights'
    const name = d.path.startsWith(prefix) ? d.path.slice(prefix.length) : d.path.startsWith('optimizer_weights/') ? d.path.slice('optimizer_weights/'.length) : d.path
    add(d.path, name, role)
  }
  checkOverlaps(file, tensors)
  return { tensors, warnings }
}

/** The layout of a Keras 2 file whose structure is `h`. */
export function keras2Layout (file: string, h: Hdf5File, kind: 'keras-h5' | 'keras-h5-weights'): ModelLayout {
  const root = h.groups.get('')!
  if (kind === 'keras-h5-weights') {
    const { tensors, warnings } = keras2Tensors(file, h, '')
    return kerasLayout({
      format: kind,
      path: file,
      tensors,
      topology: null,
      contract: null,
      customObjects: [],
      warnings,
      notRunnableReason: 'weights only (save_weights): the file holds no model config, so it loads only into a model built by code'
    })
  }
  const modelConfig = parseJsonAttr(file, h, 'model_config')
  if (!isObject(modelConfig)) throw new InvalidModelError(`${file}: model_config is not a JSON object with class_name and config; the file is damaged`, { file })
  const trainingConfig = parseJsonAttr(file, h, 'training_config')
  const weightsRoot = h.groups.has('model_weights') ? 'model_weights' : ''
  const { tensors, warnings } = keras2Tensors(file, h, weightsRoot)
  const meta: Record<string, unknown> = {
    keras_version: attrText(root.attributes.get('keras_version')) ?? null,
    backend: attrText(root.attributes.get('backend')) ?? null,
    training_config: trainingConfig ?? null
  }
  return kerasLayout({
    format: kind,
    path: file,
    tensors,
    topology: { format: kind, topology: jsonValue(modelConfig), meta: jsonValue(meta) as Record<string, unknown> },
    contract: kerasContract(modelConfig),
    customObjects: customObjects(modelConfig, trainingConfig),
    warnings
  })
}

async function detect (access: FileAccess, claimed: ReadonlySet<string>): Promise<ModelLayout[]> {
  const out: ModelLayout[] = []
  for (const f of access.files.values()) {
    if (claimed.has(f.path) || f.size < MIN_SIZE || !/\.(h5|hdf5|he5)$/i.test(f.path)) continue
    const h = await hdf5Of(access, f.path, { accept: kerasRoot })
    if (h === null || h.rootOnly) continue
    const kind = keras2Kind(h)
    if (kind === undefined) continue
    out.push(keras2Layout(f.path, h, kind))
  }
  return out
}

function readModel (value: unknown): StoredModel {
  return readKerasModel(value, FORMATS)
}

export const kerasH5Format: ModelFormat = {
  id: 'keras-h5',
  formats: FORMATS,
  detect,
  readModel,
  runtimes: [kerasTfjsRuntime, pythonRuntime]
}
