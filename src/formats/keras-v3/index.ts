/**
 * The Keras 3 format adapter: `.keras` archives (`keras-v3`) and Keras 3 weights-only files
 * (`save_weights('m.weights.h5')`, `keras-v3-weights`).
 *
 * Glossary:
 * - archive: a `.keras` zip of `metadata.json`, `config.json` and `model.weights.h5`. Keras stores
 *   members uncompressed, so the weights file's datasets are byte ranges of the `.keras` file itself:
 *   a tensor's offset is the member's data offset plus the dataset's offset in the inner HDF5 file.
 *   A deflated weights member is left to plain storage (exact, but not tensor by tensor) with a warning.
 * - vars folder: Keras 3 stores a layer's variables by index (`layers/dense/vars/0`); the layer's
 *   class says which is which (`kernel`, `bias`), giving names like `hidden1/kernel`. Variables it
 *   cannot name keep their path. `optimizer/vars/<i>` are the optimizer's (role 'optimizer').
 * - weights-only file: an HDF5 file whose root has a `vars` group and none of Keras 2's attributes.
 */
import { pythonRuntime } from '../python/index.js'
import type { FileAccess, ModelFormat, ModelLayout, StoredModel } from '../interface.js'
import { InvalidModelError } from '../../errors.js'
import { fileSource, hdf5Of, type Hdf5File } from '../hdf5/index.js'
import { customObjects, kerasContract } from '../keras-h5/config.js'
import { keras2Kind, kerasRoot } from '../keras-h5/index.js'
import { checkOverlaps, datasetTensor, jsonValue, kerasLayout, readKerasModel, type PlannedTensor } from '../keras-h5/layout.js'
import { configLayers, readArchive, readWeightsMember, varsFolders, variableNames, WEIGHTS } from './archive.js'
import { looksLikeZip } from './zip.js'
import { kerasV3Runtime } from './runtime.js'

export { kerasV3Runtime } from './runtime.js'

const FORMATS = ['keras-v3', 'keras-v3-weights'] as const

/** True when an HDF5 structure is a Keras 3 weights file. */
export function isKeras3Weights (h: Hdf5File): boolean {
  return !h.rootOnly && keras2Kind(h) === undefined && (h.groups.get('')?.links.includes('vars') ?? false)
}

/**
 * The tensors of a Keras 3 weights file whose HDF5 bytes start at `base` of snapshot file `file`:
 * folder by folder in file order, variables by index, named from the config where it can.
 */
export function keras3Tensors (file: string, base: number, h: Hdf5File, config: unknown): { tensors: PlannedTensor[], warnings: string[] } {
  const byPath = new Map(h.datasets.map(d => [d.path, d]))
  const layers = configLayers(config)
  // Layers in the config's order (the file lists folders alphabetically), then the rest, the optimizer last.
  const order = [...layers.keys()]
  const rank = (f: { layerName?: string, optimizer: boolean }): number => f.optimizer ? Infinity : f.layerName !== undefined && order.includes(f.layerName) ? order.indexOf(f.layerName) : order.length
  const folders = varsFolders(h, config).map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(x => x.f)
  const byFolder = new Map(folders.map(f => [f.folder, f]))
  const tensors: PlannedTensor[] = []
  const warnings: string[] = []
  const used = new Set<string>()
  for (const f of folders) {
    const names = variableNames(f, layers, p => byFolder.get(p))
    const indices = [...f.vars.keys()].sort((a, b) => a - b)
    indices.forEach((index, i) => {
      const path = f.vars.get(index)!
      used.add(path)
      const t = datasetTensor(file, base, byPath.get(path)!, names?.[i] ?? path)
      if ('tensor' in t) tensors.push({ role: f.optimizer ? 'optimizer' : 'weights', dataset: path, layout: t.tensor })
      else warnings.push(t.warning)
    })
  }
  for (const d of h.datasets) {
    if (used.has(d.path)) continue
    const t = datasetTensor(file, base, d, d.path)
    const optimizer = d.path.startsWith('optimizer/')
    if ('tensor' in t) tensors.push({ role: optimizer ? 'optimizer' : 'weights', dataset: d.path, layout: t.tensor })
    else warnings.push(t.warning)
  }
  checkOverlaps(file, tensors)
  return { tensors, warnings }
}

async function archiveLayout (access: FileAccess, path: string): Promise<ModelLayout> {
  const source = fileSource(access, path)
  if (!(await looksLikeZip(source))) {
    throw new InvalidModelError(`${path} is not a zip archive; a .keras file is the zip Keras 3 writes (model.save('m.keras')). Rename it if it is something else`, { file: path })
  }
  const archive = await readArchive(source)
  const { config, metadata } = archive
  let tensors: PlannedTensor[] = []
  const warnings: string[] = []
  if (archive.weights === undefined) {
    warnings.push(`the archive has no ${WEIGHTS}: there are no weights to store tensor by tensor`)
  } else if (archive.weights.entry.method !== 0) {
    warnings.push(`${WEIGHTS} is compressed inside the archive (method ${archive.weights.entry.method}), so its bytes are stored as plain bytes, not tensor by tensor (Keras itself writes it uncompressed)`)
  } else {
    const { entry, dataOffset } = archive.weights
    const h = await readWeightsMember(source, dataOffset, entry.size)
    const planned = keras3Tensors(path, dataOffset, h, config)
    tensors = planned.tensors
    warnings.push(...planned.warnings)
  }
  const meta: Record<string, unknown> = { keras_version: typeof metadata?.keras_version === 'string' ? metadata.keras_version : null }
  return kerasLayout({
    format: 'keras-v3',
    path,
    tensors,
    topology: { format: 'keras-v3', topology: jsonValue(config), meta },
    contract: kerasContract(config),
    customObjects: customObjects(config),
    warnings
  })
}

async function detect (access: FileAccess, claimed: ReadonlySet<string>): Promise<ModelLayout[]> {
  const out: ModelLayout[] = []
  for (const f of access.files.values()) {
    if (claimed.has(f.path)) continue
    if (/\.keras$/i.test(f.path)) {
      out.push(await archiveLayout(access, f.path))
      continue
    }
    if (!/\.(h5|hdf5|he5)$/i.test(f.path) || f.size < 8) continue
    const h = await hdf5Of(access, f.path, { accept: kerasRoot })
    if (h === null || !isKeras3Weights(h)) continue
    const { tensors, warnings } = keras3Tensors(f.path, 0, h, null)
    out.push(kerasLayout({
      format: 'keras-v3-weights',
      path: f.path,
      tensors,
      topology: null,
      contract: null,
      customObjects: [],
      warnings,
      notRunnableReason: 'weights only (Keras 3 save_weights): the file holds no model config, so it loads only into a model built by code'
    }))
  }
  return out
}

function readModel (value: unknown): StoredModel {
  return readKerasModel(value, FORMATS)
}

export const kerasV3Format: ModelFormat = {
  id: 'keras-v3',
  formats: FORMATS,
  detect,
  readModel,
  // Keras 3 wrote it: Python Keras is the most faithful runtime; TF.js runs the standard layers in process.
  runtimes: [pythonRuntime, kerasV3Runtime]
}
