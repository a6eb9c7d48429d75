/**
 * Recognising and validating TF.js model files. Pure: no I/O and no tfjs import.
 *
 * For every JSON file of a committed folder, `parseModelJson` says whether it is a TF.js model
 * (LayersModel `model.json`, GraphModel `model.json`, or a weights-only `*weights_manifest.json`)
 * and resolves its shard paths; `planTensors` then lays the weights over the shard files, in manifest
 * order, the way tfjs's own loader reads them (each manifest group is the concatenation of its shards,
 * and a tensor may start in one shard and end in the next). The plan is what lets mvc store tensors
 * one by one and rebuild the shards byte-identical.
 *
 * Conventions followed: tfjs-core/src/io/types.ts (ModelJSON, WeightsManifestEntry,
 * DTYPE_VALUE_SIZE_MAP) and io_utils.ts (string tensors: per element a 4-byte little-endian length,
 * then the bytes; quantized tensors sized by `quantization.dtype`).
 *
 * Unlike tfjs's loaders, every shard path is checked: it must stay inside the committed root.
 */
import { InvalidModelError, UnsafePathError } from '../../errors.js'
import { unsafePathReason } from '../../format/paths.js'
import { parseJson } from '../../content/bounded.js'

export type ModelFormat = 'layers-model' | 'graph-model' | 'weights-manifest'

export interface WeightSpec {
  readonly name: string
  readonly shape: readonly number[]
  readonly dtype: string
  /** As in the JSON (`{ dtype: 'uint8' | 'uint16' | 'float16', scale?, min?, ... }`). */
  readonly quantization?: Readonly<Record<string, unknown>>
  /** Index of the manifest group the weight belongs to. */
  readonly group: number
  /** tfjs's own optional `group` field of the entry ('model' | 'optimizer'), kept when present. */
  readonly weightGroup?: string
}

/** A run of bytes of one tensor inside one shard file. */
export interface TensorSpan {
  /** Path relative to the committed root, posix. */
  readonly shard: string
  readonly offset: number
  readonly length: number
}

export interface TensorPlan {
  readonly spec: WeightSpec
  readonly byteLength: number
  readonly spans: readonly TensorSpan[]
  /** Bytes per first-dimension row, for row-aligned chunking; = byteLength for scalars and strings. */
  readonly rowBytes: number
}

export interface WeightsGroup {
  /** The entries exactly as written in the JSON (relative to the JSON file's folder). */
  readonly paths: readonly string[]
  readonly weights: readonly WeightSpec[]
}

export interface ModelDescriptor {
  readonly format: ModelFormat
  /** Posix path of the JSON file relative to the committed root. */
  readonly jsonPath: string
  /** `modelTopology` for layers/graph models; null for weights-only files (and topology-less JSON). */
  readonly topology: unknown | null
  readonly weightsManifest: readonly WeightsGroup[]
  /** Resolved shard paths, posix, relative to the committed root, in manifest order. */
  readonly shards: readonly string[]
  /** The other top-level fields: format, generatedBy, convertedBy, signature, userDefinedMetadata, ... */
  readonly meta: Readonly<Record<string, unknown>>
}

/** Reads `length` bytes of a shard from `offset`; only needed for string tensors. */
export type ReadShardBytes = (shard: string, offset: number, length: number) => Uint8Array

/** Bytes per element (tfjs's DTYPE_VALUE_SIZE_MAP). */
const DTYPE_SIZE: ReadonlyMap<string, number> = new Map([
  ['float32', 4], ['int32', 4], ['bool', 1], ['complex64', 8],
  ['float16', 2], ['uint16', 2], ['uint8', 1]
])
/** dtypes a weight may have (tfjs WeightsManifestEntry.dtype). */
const WEIGHT_DTYPES: ReadonlySet<string> = new Set(['float32', 'int32', 'bool', 'complex64', 'string'])
/** quantization.dtype → the weight dtypes tfjs can dequantize it to (io_utils.decodeWeight). */
const QUANTIZED_TO: ReadonlyMap<string, readonly string[]> = new Map([
  ['uint8', ['float32', 'int32']], ['uint16', ['float32', 'int32']], ['float16', ['float32']]
])
const STRING_LENGTH_BYTES = 4

/**
 * Bytes per element of a fixed-size dtype: float32 4, int32 4, bool 1, complex64 8, and the quantized
 * storage types uint8 1, uint16 2, float16 2. Throws InvalidModelError for 'string' (variable-length:
 * its size is only known by reading the shard, see planTensors) and for unknown dtypes.
 */
export function dtypeByteSize (dtype: string): number {
  const size = DTYPE_SIZE.get(dtype)
  if (size !== undefined) return size
  if (dtype === 'string') {
    throw new InvalidModelError('dtype "string" has no fixed element size: each element is a 4-byte length followed by its bytes, so its size comes from the shard bytes', { dtype })
  }
  throw new InvalidModelError(`unknown dtype ${JSON.stringify(dtype)}; TF.js weights use float32, int32, bool, complex64 or string (quantized: uint8, uint16, float16)`, { dtype })
}

// ---------------------------------------------------------------------------------------------------
// parseModelJson

type Json = Record<string, unknown>

function isObject (v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function hasKey (o: Json, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k) && o[k] !== undefined
}

function posixDirname (p: string): string {
  const i = p.lastIndexOf('/')
  return i < 0 ? '' : p.slice(0, i)
}

/** Why a file that does not parse still claims to be a TF.js model (its name or its keys), or undefined. */
function modelClaim (jsonPath: string, bytes: Uint8Array): string | undefined {
  const name = jsonPath.slice(jsonPath.lastIndexOf('/') + 1).toLowerCase()
  if (name === 'model.json') return 'it is named model.json'
  if (name.endsWith('weights_manifest.json')) return 'it is named like a weights manifest'
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 1 << 20))
  if (text.includes('"modelTopology"') || text.includes('"weightsManifest"')) return 'it has the keys of a TF.js model'
  if (/"format"\s*:\s*"(layers|graph)-model"/.test(text)) return 'it says it is a TF.js model'
  return undefined
}

/** A group of a manifest looks like `{ paths, weights }`. */
function looksLikeGroup (v: unknown): boolean {
  return isObject(v) && hasKey(v, 'paths') && hasKey(v, 'weights')
}

/**
 * Returns null when the JSON is not a TF.js model (so it is stored as a plain file). Throws
 * InvalidModelError when it clearly is a model but is malformed, UnsafePathError when a shard path
 * would leave the committed root. `jsonPath` is the posix path relative to the committed root; shard
 * paths in the manifest are resolved relative to its folder.
 *
 * Recognised: an object with `modelTopology` and `format` absent or "layers-model" (LayersModel; a
 * `modelTopology` holding a GraphDef `node` list with no `format` is a GraphModel, as written by
 * converters before `format` existed), an object with `format: "graph-model"`, an object with a
 * `weightsManifest` and no topology (weights-only LayersModel artifacts, topology null), and a JSON
 * array of `{ paths, weights }` groups (weights-only manifest). An object whose `format` is some
 * other string is not a format we know: null, stored as plain files, losslessly.
 */
export function parseModelJson (jsonPath: string, bytes: Uint8Array): ModelDescriptor | null {
  let json: unknown
  try {
    // TextDecoder drops a UTF-8 BOM, which JSON.parse would reject.
    json = parseJson(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (e) {
    // A file that claims to be a model but does not parse is a damaged model, not a plain file: storing
    // it silently as one would drop its verification.
    const claim = modelClaim(jsonPath, bytes)
    if (claim === undefined) return null
    throw new InvalidModelError(`${jsonPath}: ${claim}, but it is not valid JSON (${e instanceof Error ? e.message : String(e)}): the model file is truncated or damaged. ` +
      'Restore it, or commit it as a plain file with --allow-invalid-models', { file: jsonPath, damaged: true })
  }

  if (Array.isArray(json)) {
    if (!json.some(looksLikeGroup)) return null
    const groups = parseManifest(jsonPath, json, 'the weights manifest')
    return {
      format: 'weights-manifest',
      jsonPath,
      topology: null,
      weightsManifest: groups,
      shards: resolveShards(jsonPath, groups),
      meta: {}
    }
  }
  if (!isObject(json)) return null

  const hasTopology = hasKey(json, 'modelTopology') && json.modelTopology !== null
  const hasManifest = hasKey(json, 'weightsManifest') && json.weightsManifest !== null
  const fmt = json.format
  const knownFormat = fmt === 'layers-model' || fmt === 'graph-model'
  if (!hasTopology && !hasManifest && !knownFormat) return null
  if (fmt !== undefined && fmt !== null && typeof fmt !== 'string') {
    throw new InvalidModelError(`${jsonPath}: "format" must be a string such as "layers-model" or "graph-model", not ${describe(fmt)}; fix the model file`, { file: jsonPath, field: 'format' })
  }
  if (typeof fmt === 'string' && !knownFormat) return null
  if (!hasTopology && !hasManifest) {
    throw new InvalidModelError(`${jsonPath}: says "format": ${JSON.stringify(fmt)} but has neither "modelTopology" nor "weightsManifest"; the model file is truncated or damaged`, { file: jsonPath })
  }

  const topology: unknown = hasTopology ? json.modelTopology : null
  if (hasTopology && !isObject(topology)) {
    throw new InvalidModelError(`${jsonPath}: "modelTopology" must be a JSON object, not ${describe(topology)}; the model file is damaged or was not written by TF.js`, { file: jsonPath, field: 'modelTopology' })
  }
  const graphNodes = isObject(topology) ? topology.node : undefined

  let format: ModelFormat
  if (fmt === 'graph-model') format = 'graph-model'
  else if (fmt === 'layers-model') format = 'layers-model'
  else format = Array.isArray(graphNodes) ? 'graph-model' : 'layers-model'

  if (format === 'graph-model') {
    if (topology === null) {
      throw new InvalidModelError(`${jsonPath}: a graph model needs a "modelTopology" (the GraphDef); the file has none`, { file: jsonPath, field: 'modelTopology' })
    }
    if (!Array.isArray(graphNodes)) {
      throw new InvalidModelError(`${jsonPath}: the GraphDef in "modelTopology" must have a "node" array; the model file is damaged`, { file: jsonPath, field: 'modelTopology.node' })
    }
  }

  let groups: WeightsGroup[] = []
  if (hasManifest) {
    if (!Array.isArray(json.weightsManifest)) {
      throw new InvalidModelError(`${jsonPath}: "weightsManifest" must be an array of { paths, weights } groups, not ${describe(json.weightsManifest)}; fix the model file`, { file: jsonPath, field: 'weightsManifest' })
    }
    groups = parseManifest(jsonPath, json.weightsManifest, '"weightsManifest"')
  }

  const meta: Json = {}
  for (const [k, v] of Object.entries(json)) {
    if (k !== 'modelTopology' && k !== 'weightsManifest') meta[k] = v
  }
  return {
    format,
    jsonPath,
    topology,
    weightsManifest: groups,
    shards: resolveShards(jsonPath, groups),
    meta
  }
}

function describe (v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`
  if (typeof v === 'object') return 'an object'
  return `a ${typeof v}`
}

function parseManifest (jsonPath: string, raw: readonly unknown[], what: string): WeightsGroup[] {
  return raw.map((g, gi): WeightsGroup => {
    const where = `${what}[${gi}]`
    if (!isObject(g)) {
      throw new InvalidModelError(`${jsonPath}: ${where} must be a { paths, weights } object, not ${describe(g)}; fix the model file`, { file: jsonPath, group: gi })
    }
    if (!Array.isArray(g.paths)) {
      throw new InvalidModelError(`${jsonPath}: ${where}.paths must be an array of shard file names, not ${describe(g.paths)}; fix the model file`, { file: jsonPath, group: gi, field: 'paths' })
    }
    const paths = g.paths.map((p: unknown, pi: number): string => {
      if (typeof p !== 'string') {
        throw new InvalidModelError(`${jsonPath}: ${where}.paths[${pi}] must be a string (a shard file name), not ${describe(p)}; fix the model file`, { file: jsonPath, group: gi, index: pi })
      }
      return p
    })
    if (!Array.isArray(g.weights)) {
      throw new InvalidModelError(`${jsonPath}: ${where}.weights must be an array of { name, shape, dtype } entries, not ${describe(g.weights)}; fix the model file`, { file: jsonPath, group: gi, field: 'weights' })
    }
    const weights = g.weights.map((w: unknown, wi: number) => parseWeight(jsonPath, `${where}.weights[${wi}]`, w, gi))
    return { paths, weights }
  })
}

function parseWeight (jsonPath: string, where: string, w: unknown, group: number): WeightSpec {
  if (!isObject(w)) {
    throw new InvalidModelError(`${jsonPath}: ${where} must be a { name, shape, dtype } object, not ${describe(w)}; fix the model file`, { file: jsonPath, group })
  }
  const name = w.name
  if (typeof name !== 'string') {
    throw new InvalidModelError(`${jsonPath}: ${where} has no "name" string; every weight needs a name, a shape and a dtype`, { file: jsonPath, group, field: 'name' })
  }
  const label = `weight ${JSON.stringify(name)} (${where})`
  if (!Array.isArray(w.shape) || !w.shape.every((d: unknown) => typeof d === 'number')) {
    throw new InvalidModelError(`${jsonPath}: ${label} needs a "shape" array of numbers, not ${describe(w.shape)}; fix the model file`, { file: jsonPath, tensor: name, field: 'shape' })
  }
  if (typeof w.dtype !== 'string') {
    throw new InvalidModelError(`${jsonPath}: ${label} needs a "dtype" string such as "float32", not ${describe(w.dtype)}; fix the model file`, { file: jsonPath, tensor: name, field: 'dtype' })
  }
  let quantization: Readonly<Record<string, unknown>> | undefined
  if (hasKey(w, 'quantization') && w.quantization !== null) {
    const q = w.quantization
    if (!isObject(q) || typeof q.dtype !== 'string') {
      throw new InvalidModelError(`${jsonPath}: ${label} has a "quantization" that is not an object with a "dtype" string; fix the model file`, { file: jsonPath, tensor: name, field: 'quantization' })
    }
    quantization = q
  }
  let weightGroup: string | undefined
  if (hasKey(w, 'group') && w.group !== null) {
    if (typeof w.group !== 'string') {
      throw new InvalidModelError(`${jsonPath}: ${label} has a "group" that is not a string (TF.js uses "model" or "optimizer"); fix the model file`, { file: jsonPath, tensor: name, field: 'group' })
    }
    weightGroup = w.group
  }
  const spec: { -readonly [K in keyof WeightSpec]: WeightSpec[K] } = { name, shape: w.shape as number[], dtype: w.dtype, group }
  if (quantization !== undefined) spec.quantization = quantization
  if (weightGroup !== undefined) spec.weightGroup = weightGroup
  return spec
}

/** Why a manifest `paths` entry may not be followed, or undefined; `resolved` gets the root-relative path. */
function resolveEntry (dir: string, entry: string): { resolved?: string, why?: string } {
  if (entry.length === 0) return { why: 'it is empty' }
  if (entry.includes('\0')) return { why: 'it contains a NUL byte' }
  if (entry.includes('\\')) return { why: 'it contains a backslash' }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(entry)) return { why: 'it is a URL or a drive path, not a path relative to the model file' }
  if (entry.startsWith('/')) return { why: 'it is absolute' }
  const stack = dir === '' ? [] : dir.split('/')
  for (const seg of entry.split('/')) {
    if (seg === '') return { why: 'it has an empty segment' }
    if (/^(\.|%2e){1,2}$/i.test(seg) && seg.includes('%')) return { why: 'it has a percent-encoded dot segment' }
    if (seg === '.') continue
    if (seg === '..') {
      if (stack.length === 0) return { why: 'it climbs out of the committed folder with ".."' }
      stack.pop()
      continue
    }
    stack.push(seg)
  }
  if (stack.length === 0) return { why: 'it names a folder, not a file' }
  const resolved = stack.join('/')
  const why = unsafePathReason(resolved)
  return why === undefined ? { resolved } : { why }
}

function resolveShards (jsonPath: string, groups: readonly WeightsGroup[]): string[] {
  const dir = posixDirname(jsonPath)
  const seen = new Map<string, string>()
  const out: string[] = []
  for (const g of groups) {
    for (const entry of g.paths) {
      const r = resolveEntry(dir, entry)
      if (r.resolved === undefined) {
        throw new UnsafePathError(`${jsonPath}: refusing weights path ${JSON.stringify(entry)} because ${r.why ?? 'it is unsafe'}; shard paths must be relative and stay inside the committed folder`, { file: jsonPath, path: entry, reason: r.why })
      }
      const prev = seen.get(r.resolved)
      if (prev !== undefined) {
        throw new InvalidModelError(`${jsonPath}: the shard ${r.resolved} is listed twice in the weights manifest (as ${JSON.stringify(prev)} and ${JSON.stringify(entry)}); each shard file may appear once`, { file: jsonPath, shard: r.resolved })
      }
      seen.set(r.resolved, entry)
      out.push(r.resolved)
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------------
// planTensors

/** True when some weight is a string tensor, so planTensors needs its `readShardBytes` argument. */
export function planNeedsBytes (desc: ModelDescriptor): boolean {
  return desc.weightsManifest.some(g => g.weights.some(w => w.dtype === 'string' && w.quantization === undefined))
}

function fmtShape (shape: readonly number[]): string {
  return `[${shape.join(',')}]`
}

/** Number of elements; checks every entry is a non-negative integer. */
function elementCount (jsonPath: string, w: WeightSpec): number {
  let n = 1
  for (const d of w.shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new InvalidModelError(`${jsonPath}: weight ${JSON.stringify(w.name)} has shape ${fmtShape(w.shape)}; shape entries must be non-negative integers`, { file: jsonPath, tensor: w.name, shape: w.shape })
    }
    n *= d
  }
  if (!Number.isSafeInteger(n)) {
    throw new InvalidModelError(`${jsonPath}: weight ${JSON.stringify(w.name)} has shape ${fmtShape(w.shape)}, too many elements to be real`, { file: jsonPath, tensor: w.name, shape: w.shape })
  }
  return n
}

/** Bytes per stored element of a fixed-size weight (quantized: the quantized type); undefined for strings. */
function storedElementSize (jsonPath: string, w: WeightSpec): number | undefined {
  if (!WEIGHT_DTYPES.has(w.dtype)) {
    throw new InvalidModelError(`${jsonPath}: weight ${JSON.stringify(w.name)} has unknown dtype ${JSON.stringify(w.dtype)}; TF.js weights are float32, int32, bool, complex64 or string, so fix the manifest`, { file: jsonPath, tensor: w.name, dtype: w.dtype })
  }
  if (w.quantization !== undefined) {
    const q = w.quantization
    const qd = q.dtype
    const targets = typeof qd === 'string' ? QUANTIZED_TO.get(qd) : undefined
    if (targets === undefined) {
      throw new InvalidModelError(`${jsonPath}: weight ${JSON.stringify(w.name)} is quantized with unknown dtype ${JSON.stringify(qd)}; TF.js supports uint8, uint16 and float16, so fix the manifest`, { file: jsonPath, tensor: w.name, quantization: q })
    }
    if (!targets.includes(w.dtype)) {
      throw new InvalidModelError(`${jsonPath}: weight ${JSON.stringify(w.name)} is ${w.dtype} quantized as ${String(qd)}, which TF.js cannot dequantize (${String(qd)} holds ${targets.join(' or ')})`, { file: jsonPath, tensor: w.name, quantization: q })
    }
    if (qd !== 'float16' && (typeof q.scale !== 'number' || typeof q.min !== 'number')) {
      throw new InvalidModelError(`${jsonPath}: weight ${JSON.stringify(w.name)} is quantized as ${String(qd)} but its quantization lacks numeric "scale" and "min"; TF.js cannot dequantize it`, { file: jsonPath, tensor: w.name, quantization: q })
    }
    return dtypeByteSize(qd as string)
  }
  if (w.dtype === 'string') return undefined
  return dtypeByteSize(w.dtype)
}

interface ShardRange { readonly shard: string, readonly start: number, readonly size: number }

/**
 * Lays the weights across the shards, in manifest order, across shard boundaries (each group is the
 * concatenation of its shards, as tfjs's loader reads it). `shardSizes` maps shard path → actual file
 * size. `readShardBytes` is needed only for string tensors (see planNeedsBytes); without it a model
 * with string weights is a programmer error (TypeError).
 *
 * Throws InvalidModelError (data names the file and, where there is one, the tensor) when a shard is
 * missing, when a group's shards are too short for its weights (naming the tensor that runs past the
 * end) or too long (saying how many bytes are left over), for unknown dtypes, negative or non-integer
 * shape entries and unknown or impossible quantization.
 */
export function planTensors (desc: ModelDescriptor, shardSizes: ReadonlyMap<string, number>, readShardBytes?: ReadShardBytes): TensorPlan[] {
  const file = desc.jsonPath
  const plans: TensorPlan[] = []
  const dir = posixDirname(file)
  let shardIndex = 0
  desc.weightsManifest.forEach((group, gi) => {
    // The group's shards, with their offsets in the group's concatenated bytes.
    const ranges: ShardRange[] = []
    let total = 0
    for (let pi = 0; pi < group.paths.length; pi++) {
      const shard = desc.shards[shardIndex++]
      if (shard === undefined) {
        throw new InvalidModelError(`${file}: the descriptor lists fewer shard paths than its weights manifest; parse the model file again`, { file, group: gi })
      }
      const size = shardSizes.get(shard)
      if (size === undefined) {
        const entry = group.paths[pi] ?? shard
        const listed = entry === rel(dir, shard) ? '' : ` (listed as ${JSON.stringify(entry)})`
        throw new InvalidModelError(`${file}: weights shard ${shard}${listed} is missing; add the file or fix "paths" in the weights manifest`, { file, shard, group: gi })
      }
      if (!Number.isSafeInteger(size) || size < 0) {
        throw new TypeError(`planTensors: size of ${shard} must be a non-negative integer, got ${String(size)}`)
      }
      ranges.push({ shard, start: total, size })
      total += size
    }
    const shardNames = ranges.map(r => rel(dir, r.shard)).join(', ') || '(none)'

    /** Copies `length` bytes of the group from `offset`, across shards. */
    const readGroup = (offset: number, length: number): Uint8Array => {
      if (readShardBytes === undefined) {
        throw new TypeError(`planTensors: ${file} has string weights; pass readShardBytes (see planNeedsBytes)`)
      }
      const out = new Uint8Array(length)
      let done = 0
      for (const r of ranges) {
        if (done === length) break
        const at = offset + done
        if (at >= r.start + r.size || at < r.start) continue
        const n = Math.min(length - done, r.start + r.size - at)
        const got = readShardBytes(r.shard, at - r.start, n)
        if (got.length !== n) throw new TypeError(`planTensors: readShardBytes(${r.shard}, ${at - r.start}, ${n}) returned ${got.length} bytes`)
        out.set(got, done)
        done += n
      }
      return out
    }

    const tooShort = (w: WeightSpec, offset: number, need: string): never => {
      const have = total - offset
      const last = ranges.at(-1)
      const ends = last === undefined
        ? 'the group has no shard files'
        : `shard ${rel(dir, last.shard)} ends ${have} byte${have === 1 ? '' : 's'} into it`
      throw new InvalidModelError(`${file}: weight ${JSON.stringify(w.name)} needs ${need} but ${ends}; the shard is short or the manifest is wrong`, { file, tensor: w.name, group: gi, offset, available: have, shards: ranges.map(r => r.shard) })
    }

    let offset = 0
    for (const w of group.weights) {
      const count = elementCount(file, w)
      const elem = storedElementSize(file, w)
      let byteLength: number
      if (elem !== undefined) {
        byteLength = count * elem
        if (!Number.isSafeInteger(byteLength)) {
          throw new InvalidModelError(`${file}: weight ${JSON.stringify(w.name)} with shape ${fmtShape(w.shape)} is too large to be real`, { file, tensor: w.name })
        }
        const storedAs = w.quantization !== undefined ? `${w.dtype} quantized as ${String(w.quantization.dtype)}` : w.dtype
        if (offset + byteLength > total) tooShort(w, offset, `${byteLength} bytes (shape ${fmtShape(w.shape)}, ${storedAs})`)
      } else {
        // string: per element, a 4-byte little-endian length then the bytes.
        byteLength = 0
        for (let i = 0; i < count; i++) {
          if (offset + byteLength + STRING_LENGTH_BYTES > total) {
            tooShort(w, offset, `more than ${byteLength + STRING_LENGTH_BYTES} bytes (shape ${fmtShape(w.shape)}, string; element ${i} of ${count} has no length)`)
          }
          const len = readGroup(offset + byteLength, STRING_LENGTH_BYTES)
          const n = new DataView(len.buffer, len.byteOffset, len.byteLength).getUint32(0, true)
          byteLength += STRING_LENGTH_BYTES + n
          if (offset + byteLength > total) {
            tooShort(w, offset, `at least ${byteLength} bytes (shape ${fmtShape(w.shape)}, string; element ${i} of ${count} is ${n} bytes long)`)
          }
        }
      }
      const spans: TensorSpan[] = []
      let at = offset
      const end = offset + byteLength
      for (const r of ranges) {
        if (at >= end) break
        if (at >= r.start + r.size) continue
        const n = Math.min(end, r.start + r.size) - at
        spans.push({ shard: r.shard, offset: at - r.start, length: n })
        at += n
      }
      const rows = w.shape.length >= 1 ? (w.shape[0] as number) : 0
      const rowBytes = elem !== undefined && rows > 0 ? byteLength / rows : byteLength
      plans.push({ spec: w, byteLength, spans, rowBytes })
      offset = end
    }
    if (offset < total) {
      const extra = total - offset
      throw new InvalidModelError(`${file}: weights group ${gi} (${shardNames}) has ${extra} extra byte${extra === 1 ? '' : 's'} after its last weight (the weights need ${offset} bytes, the shards hold ${total}); the manifest is missing weights or a shard is wrong`, { file, group: gi, extraBytes: extra, expected: offset, actual: total, shards: ranges.map(r => r.shard) })
    }
  })
  return plans
}

/** A shard path as seen from the model file's folder (how the manifest names it), for messages. */
function rel (dir: string, shard: string): string {
  return dir !== '' && shard.startsWith(dir + '/') ? shard.slice(dir.length + 1) : shard
}
