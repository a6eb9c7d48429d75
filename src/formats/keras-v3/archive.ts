/**
 * A Keras 3 `.keras` archive: a zip holding `metadata.json`, `config.json` and `model.weights.h5`
 * (keras/src/saving/saving_lib.py; Keras writes every member ZIP_STORED), plus the names Keras 3
 * gives the variables inside the weights file.
 */
import { inflateRawSync } from 'node:zlib'
import { InvalidModelError } from '../../errors.js'
import { findSuperblock, readHdf5, type ByteSource, type Hdf5File } from '../hdf5/index.js'
import { allLayers, isObject, keras3VariableNames, toSnakeCase, topLayers, type LayerConfig } from '../keras-h5/config.js'
import { memberDataOffset, readZipDirectory, type ZipEntry } from './zip.js'

export const CONFIG = 'config.json'
export const METADATA = 'metadata.json'
export const WEIGHTS = 'model.weights.h5'

/** JSON members larger than this are refused. */
const MAX_JSON = 64 << 20

export interface KerasArchive {
  readonly config: Record<string, unknown>
  readonly metadata: Record<string, unknown> | null
  /** The weights member, with where its bytes start; undefined when the archive has none. */
  readonly weights?: { readonly entry: ZipEntry, readonly dataOffset: number }
}

function invalid (source: ByteSource, problem: string, data: Record<string, unknown> = {}): InvalidModelError {
  return new InvalidModelError(`${source.name}: ${problem}`, { file: source.name, ...data })
}

/** A member's bytes, inflated when deflated (small members only: config and metadata). */
export async function memberBytes (source: ByteSource, e: ZipEntry, dataEnd: number, max: number): Promise<Uint8Array> {
  if ((e.flags & 1) !== 0) throw invalid(source, `member ${e.name} is encrypted`, { member: e.name })
  if (e.size > max) throw invalid(source, `member ${e.name} is ${e.size} bytes, more than mvc reads (${max})`, { member: e.name })
  const at = await memberDataOffset(source, e, dataEnd)
  const raw = await source.read(at, e.compressedSize)
  if (e.method === 0) {
    if (e.compressedSize !== e.size) throw invalid(source, `stored member ${e.name} has a compressed size ${e.compressedSize} unlike its size ${e.size}`, { member: e.name })
    return raw
  }
  if (e.method !== 8) throw invalid(source, `member ${e.name} uses compression method ${e.method}; Keras writes stored or deflated members`, { member: e.name })
  try {
    const out = inflateRawSync(raw, { maxOutputLength: max })
    if (out.length !== e.size) throw new Error(`inflated to ${out.length} bytes, the directory says ${e.size}`)
    return new Uint8Array(out.buffer, out.byteOffset, out.length)
  } catch (err) {
    throw invalid(source, `member ${e.name} cannot be inflated (${err instanceof Error ? err.message : String(err)})`, { member: e.name })
  }
}

function parseJson (source: ByteSource, name: string, bytes: Uint8Array): Record<string, unknown> {
  let v: unknown
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (e) {
    throw invalid(source, `${name} is not valid UTF-8 JSON (${e instanceof Error ? e.message : String(e)})`, { member: name })
  }
  if (!isObject(v)) throw invalid(source, `${name} is not a JSON object`, { member: name })
  return v
}

/** Reads a .keras archive's directory, config and metadata, and finds its weights member. */
export async function readArchive (source: ByteSource): Promise<KerasArchive & { dataEnd: number }> {
  const { entries, dataEnd } = await readZipDirectory(source)
  const find = (name: string): ZipEntry | undefined => entries.find(e => e.name === name)
  const configEntry = find(CONFIG)
  if (configEntry === undefined) throw invalid(source, `the archive has no ${CONFIG}, so it is not a Keras 3 model (members: ${entries.slice(0, 10).map(e => e.name).join(', ')})`)
  const config = parseJson(source, CONFIG, await memberBytes(source, configEntry, dataEnd, MAX_JSON))
  const metaEntry = find(METADATA)
  const metadata = metaEntry === undefined ? null : parseJson(source, METADATA, await memberBytes(source, metaEntry, dataEnd, MAX_JSON))
  const w = find(WEIGHTS)
  if (w === undefined) return { config, metadata, dataEnd }
  if ((w.flags & 1) !== 0) throw invalid(source, `member ${WEIGHTS} is encrypted`, { member: WEIGHTS })
  return { config, metadata, dataEnd, weights: { entry: w, dataOffset: await memberDataOffset(source, w, dataEnd) } }
}

/** The HDF5 structure of a stored (uncompressed) weights member, read in place. */
export async function readWeightsMember (source: ByteSource, dataOffset: number, size: number): Promise<Hdf5File> {
  const inner: ByteSource = { name: `${source.name}!${WEIGHTS}`, size, read: async (o, n) => await source.read(dataOffset + o, n) }
  if (await findSuperblock(inner) === undefined) throw invalid(source, `${WEIGHTS} inside the archive is not an HDF5 file`, { member: WEIGHTS })
  return await readHdf5(inner)
}

/** A folder of a Keras 3 weights file that holds variables (`layers/dense/vars`'s parent, `layers/dense`). */
export interface VarsFolder {
  /** 'layers/dense', 'layers/lstm/cell', 'optimizer', '' (the model's own vars). */
  readonly folder: string
  /** Dataset paths by variable index. */
  readonly vars: ReadonlyMap<number, string>
  /** The layer it belongs to (Keras 3.15 writes a `name` attribute on each vars group), when known. */
  readonly layerName?: string
  readonly optimizer: boolean
}

/**
 * The vars folders of a Keras 3 weights file in file order, each tied to its layer when the file
 * (`name` attributes) or the config (Keras's folder naming: the snake-case class name, numbered
 * `_1`, `_2`… in layer order) says which.
 */
export function varsFolders (h: Hdf5File, config: unknown): VarsFolder[] {
  const derived = new Map<string, string>()
  const counts = new Map<string, number>()
  for (const l of topLayers(config)) {
    const base = toSnakeCase(l.className)
    const n = counts.get(base) ?? 0
    counts.set(base, n + 1)
    derived.set(`layers/${n === 0 ? base : `${base}_${n}`}`, l.name)
  }
  const folders = new Map<string, Map<number, string>>()
  for (const d of h.datasets) {
    const m = /^(?:(.*)\/)?vars\/(\d+)$/.exec(d.path)
    if (m === null) continue
    const folder = m[1] ?? ''
    const list = folders.get(folder) ?? new Map<number, string>()
    list.set(Number(m[2]), d.path)
    folders.set(folder, list)
  }
  return [...folders.entries()].map(([folder, vars]) => {
    const attr = h.groups.get(folder === '' ? 'vars' : `${folder}/vars`)?.attributes.get('name')?.value
    const layerName = typeof attr === 'string' ? attr : derived.get(folder)
    const optimizer = folder === 'optimizer' || folder.startsWith('optimizer/')
    return { folder, vars, ...(layerName === undefined ? {} : { layerName }), optimizer }
  })
}

/**
 * Readable names for a folder's variables (`hidden1/kernel`), when its layer's class fixes them
 * (keras3VariableNames) and the count matches; undefined otherwise (the raw paths are kept).
 */
export function variableNames (f: VarsFolder, layers: ReadonlyMap<string, LayerConfig>, parentOf: (folder: string) => VarsFolder | undefined): string[] | undefined {
  if (f.optimizer || f.layerName === undefined) return undefined
  let layer = layers.get(f.layerName)
  // An RNN's cell (`layers/lstm/cell`): its variables are those of the RNN layer's class.
  if (layer === undefined && f.folder.endsWith('/cell')) {
    const parent = parentOf(f.folder.slice(0, -'/cell'.length))
    layer = parent?.layerName === undefined ? undefined : layers.get(parent.layerName)
  }
  if (layer === undefined) return undefined
  const names = keras3VariableNames(layer.className, layer.config)
  const indices = [...f.vars.keys()].sort((a, b) => a - b)
  if (names === undefined || names.length !== indices.length || !indices.every((v, i) => v === i)) return undefined
  return names.map(n => `${f.layerName!}/${n}`)
}

/** Every layer of a config by name (nested models included). */
export function configLayers (config: unknown): Map<string, LayerConfig> {
  return allLayers(config)
}
