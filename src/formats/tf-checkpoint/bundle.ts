/**
 * TensorFlow's tensor bundle (tensorflow/core/util/tensor_bundle/tensor_bundle.{h,cc}): the
 * `<prefix>.index` SSTable (sstable.ts) maps each checkpoint key to a `BundleEntryProto` — dtype,
 * shape, data shard, offset, size, CRC-32C, slices — and the empty key to the `BundleHeaderProto`;
 * tensor bytes live in `<prefix>.data-NNNNN-of-NNNNN`. Reads through `FileAccess` and checks every
 * entry against the shard it points into, so that what is handed on never reads out of bounds.
 *
 * Glossary:
 * - key: a checkpoint key (`model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE`); keys of
 *   slices of a partitioned variable are binary (they start with a NUL byte).
 * - object graph: the `_CHECKPOINTABLE_OBJECT_GRAPH` entry, a scalar string tensor in a data shard
 *   holding a serialized `TrackableObjectGraph`; its attributes give each key the variable's name.
 */
import { InvalidModelError } from '../../errors.js'
import type { FileAccess } from '../interface.js'
import {
  BundleEntryProto, BundleHeaderProto, TrackableObjectGraph, decodePlain,
  type BundleEntry, type BundleHeader, type ObjectGraph, type TensorSlice, type VersionDef
} from './protos.js'
import { Cursor, SSTableError, readTable } from './sstable.js'

/** The key of the serialized object graph. */
export const OBJECT_GRAPH_KEY = '_CHECKPOINTABLE_OBJECT_GRAPH'
/** Index files larger than this are refused (an index holds metadata only: a few hundred bytes per key). */
export const MAX_INDEX_BYTES = 1 << 30
/** Object graphs larger than this are not decoded (the tensors keep their raw keys). */
const MAX_OBJECT_GRAPH_BYTES = 256 << 20

// ---------------------------------------------------------------------------------------------------
// dtypes

/** TF DataType enum → mvc dtype and bytes per element, for the fixed-size types (types.proto). */
const FIXED_DTYPES: ReadonlyMap<number, { readonly name: string, readonly bytes: number }> = new Map([
  [1, { name: 'float32', bytes: 4 }],
  [2, { name: 'float64', bytes: 8 }],
  [3, { name: 'int32', bytes: 4 }],
  [4, { name: 'uint8', bytes: 1 }],
  [5, { name: 'int16', bytes: 2 }],
  [6, { name: 'int8', bytes: 1 }],
  [8, { name: 'complex64', bytes: 8 }],
  [9, { name: 'int64', bytes: 8 }],
  [10, { name: 'bool', bytes: 1 }],
  [11, { name: 'qint8', bytes: 1 }],
  [12, { name: 'quint8', bytes: 1 }],
  [13, { name: 'qint32', bytes: 4 }],
  [14, { name: 'bfloat16', bytes: 2 }],
  [15, { name: 'qint16', bytes: 2 }],
  [16, { name: 'quint16', bytes: 2 }],
  [17, { name: 'uint16', bytes: 2 }],
  [18, { name: 'complex128', bytes: 16 }],
  [19, { name: 'float16', bytes: 2 }],
  [22, { name: 'uint32', bytes: 4 }],
  [23, { name: 'uint64', bytes: 8 }],
  [24, { name: 'float8_e5m2', bytes: 1 }],
  [25, { name: 'float8_e4m3fn', bytes: 1 }],
  [26, { name: 'float8_e4m3fnuz', bytes: 1 }],
  [27, { name: 'float8_e4m3b11fnuz', bytes: 1 }],
  [28, { name: 'float8_e5m2fnuz', bytes: 1 }]
])

/** Names of the other DataType values, for messages. */
const OTHER_DTYPES: ReadonlyMap<number, string> = new Map([
  [0, 'invalid'], [7, 'string'], [20, 'resource'], [21, 'variant'], [29, 'int4'], [30, 'uint4'], [31, 'int2'], [32, 'uint2'], [33, 'float4_e2m1fn']
])

export const DT_STRING = 7

/** The mvc dtype of a fixed-size TF DataType, with its element size; undefined for strings, resources, packed types. */
export function fixedDtype (dtype: number): { readonly name: string, readonly bytes: number } | undefined {
  // Reference types (DT_FLOAT_REF = 101, …) are the base type + 100; checkpoints store the base type.
  return FIXED_DTYPES.get(dtype > 100 && dtype < 200 ? dtype - 100 : dtype)
}

/** A TF DataType as a readable name ('float32', 'string', 'dtype 57'). */
export function dtypeName (dtype: number): string {
  return fixedDtype(dtype)?.name ?? OTHER_DTYPES.get(dtype) ?? `dtype ${dtype}`
}

// ---------------------------------------------------------------------------------------------------
// the bundle

export interface CheckpointEntry {
  /** The key as text (binary slice keys decode lossily; see `sliceKey`). */
  readonly key: string
  /** True for the entry of one slice of a partitioned variable (binary key). */
  readonly sliceKey: boolean
  readonly dtype: number
  readonly shape: readonly number[]
  readonly shardId: number
  readonly offset: number
  readonly size: number
  readonly crc32c: number
  /** Non-empty for a partitioned variable: its bytes are in the slices' own entries. */
  readonly slices: readonly TensorSlice[]
}

export interface Checkpoint {
  /** The `.index` file, relative to the snapshot root. */
  readonly indexPath: string
  /** `indexPath` without `.index`. */
  readonly prefix: string
  readonly numShards: number
  readonly endianness: 'little' | 'big'
  readonly version: VersionDef | null
  /** The data shard files, by shard id. */
  readonly shards: readonly string[]
  /** Every entry but the header, in key order. */
  readonly entries: readonly CheckpointEntry[]
  /** The decoded object graph, or null when the checkpoint has none (name-based TF1 checkpoints). */
  readonly objectGraph: ObjectGraph | null
}

/** `<prefix>.data-00003-of-00012`: the data shard name TensorFlow uses (tensor_bundle.cc DataFilename). */
export function shardName (prefix: string, shard: number, numShards: number): string {
  const pad = (n: number): string => String(n).padStart(5, '0')
  return `${prefix}.data-${pad(shard)}-of-${pad(numShards)}`
}

const SHARD_SUFFIX = /^\.data-\d{5,}-of-\d{5,}$/

/** True when `path` names a data shard of the checkpoint with this prefix (whatever the shard count). */
export function isShardOf (prefix: string, path: string): boolean {
  return path.startsWith(prefix) && SHARD_SUFFIX.test(path.slice(prefix.length))
}

function messageOf (e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

function invalid (indexPath: string, what: string, data: Record<string, unknown> = {}, cause?: unknown): InvalidModelError {
  return new InvalidModelError(`${indexPath}: ${what}; re-save the checkpoint, or remove it from the folder`,
    { file: indexPath, ...data }, cause === undefined ? undefined : { cause })
}

function decodeKey (key: Uint8Array): string {
  return new TextDecoder('utf-8').decode(key)
}

function shapeOf (indexPath: string, key: string, shape: BundleEntry['shape']): number[] {
  if (shape === null) return []
  if (shape.unknown_rank) throw invalid(indexPath, `entry ${JSON.stringify(key)} has a shape of unknown rank`, { key })
  return shape.dim.map(d => {
    if (!Number.isSafeInteger(d.size) || d.size < 0) throw invalid(indexPath, `entry ${JSON.stringify(key)} has a dimension of size ${d.size}`, { key })
    return d.size
  })
}

export function numElements (shape: readonly number[]): number {
  return shape.reduce((a, d) => a * d, 1)
}

/**
 * Reads and checks the checkpoint whose index is `indexPath`: the table, the header, every entry
 * (dtype, shape, shard, offset and size within the shard; fixed-size tensors' sizes), the data shards'
 * presence, and the object graph. Throws InvalidModelError naming the file and what is wrong.
 */
export async function readCheckpoint (access: FileAccess, indexPath: string): Promise<Checkpoint> {
  const indexFile = access.files.get(indexPath)
  if (indexFile === undefined) throw new InvalidModelError(`${indexPath} is missing`, { file: indexPath })
  if (indexFile.size > MAX_INDEX_BYTES) throw invalid(indexPath, `the index has ${indexFile.size} bytes, more than mvc reads (${MAX_INDEX_BYTES})`)
  const bytes = await access.readAll(indexPath)
  let table
  try {
    table = readTable(bytes)
  } catch (e) {
    if (e instanceof SSTableError) throw invalid(indexPath, e.message, {}, e)
    throw e
  }
  const first = table[0]
  if (first === undefined || first.key.length !== 0) throw invalid(indexPath, 'the table has no header entry (empty key)')
  let header: BundleHeader
  try {
    header = decodePlain(BundleHeaderProto, first.value) as unknown as BundleHeader
  } catch (e) {
    throw invalid(indexPath, `the header is not a BundleHeaderProto (${messageOf(e)})`, {}, e)
  }
  const numShards = header.num_shards
  if (!Number.isSafeInteger(numShards) || numShards < 0 || numShards > 100000) throw invalid(indexPath, `the header gives ${numShards} data shards`)
  if (header.endianness !== 0 && header.endianness !== 1) throw invalid(indexPath, `the header gives an unknown endianness (${header.endianness})`)
  const prefix = indexPath.slice(0, -'.index'.length)
  const shards: string[] = []
  for (let i = 0; i < numShards; i++) {
    const s = shardName(prefix, i, numShards)
    if (!access.files.has(s)) {
      throw new InvalidModelError(`${indexPath}: data shard ${s} (${i + 1} of ${numShards}) is not in the folder; copy every ${prefix}.data-* file next to the index`, { file: indexPath, shard: s })
    }
    shards.push(s)
  }
  const entries: CheckpointEntry[] = []
  for (const e of table.slice(1)) {
    const key = decodeKey(e.key)
    const sliceKey = e.key[0] === 0
    let raw: BundleEntry
    try {
      raw = decodePlain(BundleEntryProto, e.value) as unknown as BundleEntry
    } catch (err) {
      throw invalid(indexPath, `the entry of ${JSON.stringify(key)} is not a BundleEntryProto (${messageOf(err)})`, { key }, err)
    }
    const shape = shapeOf(indexPath, key, raw.shape)
    const entry: CheckpointEntry = {
      key, sliceKey, dtype: raw.dtype, shape, shardId: raw.shard_id, offset: raw.offset, size: raw.size, crc32c: raw.crc32c, slices: raw.slices
    }
    // A partitioned variable's own entry has no bytes: shard, offset and size are ignored (tensor_bundle.proto).
    if (entry.slices.length === 0) {
      if (!Number.isSafeInteger(entry.shardId) || entry.shardId < 0 || entry.shardId >= numShards) {
        throw invalid(indexPath, `entry ${JSON.stringify(key)} is in data shard ${entry.shardId}, but the checkpoint has ${numShards}`, { key })
      }
      const shardSize = access.files.get(shards[entry.shardId]!)!.size
      if (!Number.isSafeInteger(entry.offset) || !Number.isSafeInteger(entry.size) || entry.offset < 0 || entry.size < 0 || entry.offset + entry.size > shardSize) {
        throw invalid(indexPath, `entry ${JSON.stringify(key)} lies at bytes ${entry.offset}..${entry.offset + entry.size} of ${shards[entry.shardId]!}, which has ${shardSize}`, { key, shard: shards[entry.shardId] })
      }
      const fixed = fixedDtype(entry.dtype)
      if (fixed !== undefined && numElements(shape) * fixed.bytes !== entry.size) {
        throw invalid(indexPath, `entry ${JSON.stringify(key)} (${fixed.name} [${shape.join(', ')}]) has ${entry.size} bytes, expected ${numElements(shape) * fixed.bytes}`, { key })
      }
    }
    entries.push(entry)
  }
  const objectGraph = await readObjectGraph(access, indexPath, shards, entries.find(e => e.key === OBJECT_GRAPH_KEY))
  return { indexPath, prefix, numShards, endianness: header.endianness === 1 ? 'big' : 'little', version: header.version, shards, entries, objectGraph }
}

/**
 * The elements of a string tensor as the bundle stores them (tensor_bundle.cc WriteStringTensor): a
 * varint64 length per element, the masked CRC-32C of those lengths (4 bytes), then the bytes.
 */
export function decodeStringTensor (bytes: Uint8Array, count: number, where: string): Uint8Array[] {
  const c = new Cursor(bytes, 0, bytes.length, where)
  const lengths: number[] = []
  for (let i = 0; i < count; i++) lengths.push(c.varint(10, `length of string ${i}`))
  c.take(4, 'checksum of the string lengths')
  const out = lengths.map((n, i) => c.take(n, `string ${i}`))
  if (c.pos !== bytes.length) throw new SSTableError(`${where}: ${bytes.length - c.pos} bytes follow the last string`)
  return out
}

async function readObjectGraph (access: FileAccess, indexPath: string, shards: readonly string[], entry: CheckpointEntry | undefined): Promise<ObjectGraph | null> {
  if (entry === undefined) return null
  if (entry.dtype !== DT_STRING || entry.shape.length !== 0 || entry.slices.length > 0) {
    throw invalid(indexPath, `${OBJECT_GRAPH_KEY} is not a scalar string (${dtypeName(entry.dtype)} [${entry.shape.join(', ')}])`)
  }
  if (entry.size > MAX_OBJECT_GRAPH_BYTES) return null
  const shard = shards[entry.shardId]!
  const bytes = await access.read(shard, entry.offset, entry.size)
  try {
    const [graph] = decodeStringTensor(bytes, 1, `${OBJECT_GRAPH_KEY} in ${shard}`)
    return decodePlain(TrackableObjectGraph, graph!) as unknown as ObjectGraph
  } catch (e) {
    throw invalid(indexPath, `the object graph (${OBJECT_GRAPH_KEY}, in ${shard}) cannot be decoded: ${messageOf(e)}`, { shard }, e)
  }
}
