/**
 * The TensorFlow checkpoint adapter: `<prefix>.index` plus `<prefix>.data-NNNNN-of-NNNNN` shards, as
 * written by `tf.train.Checkpoint`, `tf.keras` `save_weights` in the TF format, and TF1 `Saver`s
 * (a `checkpoint` text file beside them is an ordinary file).
 *
 * Glossary:
 * - index: the `.index` SSTable of bundle entries (sstable.ts, bundle.ts). It is a covered file made
 *   of bytes between tensors only, so it is stored with content-defined chunking.
 * - data shard: a `.data-*` file; each unpartitioned numeric variable is one tensor spanning its
 *   bytes there (layout.ts); the rest of the shard (strings, partitioned variables, the object
 *   graph) is stored as bytes between tensors.
 * - key / name: the checkpoint key a tensor is stored under, and the variable name shown for it
 *   (from the object graph when it has one; the key otherwise).
 * - role: 'optimizer' for optimizer state (slots, iteration count, moments), 'weights' otherwise.
 *
 * A checkpoint holds values only: it cannot run without the code that built the model.
 */
import { createHash } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { fail, isCount, isRecord, parseModel, type ModelObject } from '../../format/objects.js'
import type { FileAccess, ModelFormat, ModelLayout, SnapshotFile, StoredModel } from '../interface.js'
import { FOOTER_LENGTH, endsWithMagic } from './sstable.js'
import { readCheckpoint, type Checkpoint } from './bundle.js'
import { layoutCheckpoint, objectGraphSummary, type CheckpointLayout } from './layout.js'

export { readCheckpoint, shardName, isShardOf, decodeStringTensor, dtypeName, fixedDtype, OBJECT_GRAPH_KEY, type Checkpoint, type CheckpointEntry } from './bundle.js'
export { layoutCheckpoint, objectGraphSummary, tensorNames, type CheckpointLayout, type CheckpointTensor } from './layout.js'
export { readTable, readFooter, readBlock, blockEntries, crc32c, maskCrc, SSTableError, TABLE_MAGIC } from './sstable.js'

export const TF_CHECKPOINT = 'tf-checkpoint'
const NOT_RUNNABLE = 'a TensorFlow checkpoint holds variable values only: running it needs the code that built the model'

const DATA_SHARD = /\.data-\d{5,}-of-\d{5,}$/

/** Prefixes that have at least one data shard among the files. */
function shardPrefixes (access: FileAccess): Set<string> {
  const out = new Set<string>()
  for (const p of access.files.keys()) {
    const m = DATA_SHARD.exec(p)
    if (m !== null) out.add(p.slice(0, m.index))
  }
  return out
}

/**
 * An `.index` file is taken for a checkpoint when data shards with its prefix are beside it or when it
 * ends with the table magic; it is then parsed strictly, so a truncated or damaged index next to its
 * shards is an error, not a plain file.
 */
async function isCheckpointIndex (access: FileAccess, f: SnapshotFile, prefixes: ReadonlySet<string>): Promise<boolean> {
  if (!f.path.endsWith('.index') || f.path === '.index' || f.path.endsWith('/.index')) return false
  if (prefixes.has(f.path.slice(0, -'.index'.length))) return true
  if (f.size < FOOTER_LENGTH) return false
  return endsWithMagic(await access.read(f.path, f.size - 8, 8))
}

/** The topology value of a checkpoint: its object graph, with the bundle's header as meta. */
function topologyOf (format: string, ckpt: Checkpoint): { format: string, topology: unknown, meta: Record<string, unknown> } {
  return {
    format,
    topology: { objects: objectGraphSummary(ckpt.objectGraph) },
    meta: { shards: ckpt.numShards, endianness: ckpt.endianness, bundleVersion: ckpt.version?.producer ?? null }
  }
}

/** Tensor entries of an `mvc/model` written by the TF adapters: shard (as `group`), tensor, key, role. */
export function tensorEntries (laid: CheckpointLayout, tensors: readonly CID[]): Array<Record<string, unknown>> {
  return laid.tensors.map((t, i) => ({ group: t.shard, tensor: tensors[i]!, key: t.key, role: t.role }))
}

/** Reads back tensor entries written by `tensorEntries` (throws InvalidObjectError when malformed). */
export function readTensorEntries (m: ModelObject): Array<{ tensor: CID, role: string }> {
  const raw = m.fields.tensors as unknown[]
  return m.tensors.map((t, i) => {
    const e: unknown = raw[i]
    if (!isRecord(e) || typeof e.key !== 'string' || typeof e.role !== 'string') fail('model', 'a checkpoint tensor entry needs key and role')
    return { tensor: t.tensor, role: e.role }
  })
}

function stringList (v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every(s => typeof s === 'string')) fail('model', `${what} is not a list of paths`)
  return v as string[]
}

function layoutOf (ckpt: Checkpoint, indexBytes: Uint8Array): ModelLayout {
  const laid = layoutCheckpoint(ckpt)
  return {
    format: TF_CHECKPOINT,
    path: ckpt.indexPath,
    files: [ckpt.indexPath, ...ckpt.shards],
    tensors: laid.tensors.map(t => t.layout),
    topology: topologyOf(TF_CHECKPOINT, ckpt),
    fingerprint: createHash('sha256').update(indexBytes).digest('hex'),
    runnable: false,
    notRunnableReason: NOT_RUNNABLE,
    contract: null,
    customObjects: [],
    warnings: laid.warnings,
    modelObject: ({ tensors, topology }) => ({
      type: 'mvc/model',
      format: TF_CHECKPOINT,
      path: ckpt.indexPath,
      topology,
      shards: [...ckpt.shards],
      tensors: tensorEntries(laid, tensors)
    })
  }
}

async function detect (access: FileAccess, claimed: ReadonlySet<string>): Promise<ModelLayout[]> {
  const prefixes = shardPrefixes(access)
  const out: ModelLayout[] = []
  for (const f of access.files.values()) {
    if (claimed.has(f.path) || !await isCheckpointIndex(access, f, prefixes)) continue
    const ckpt = await readCheckpoint(access, f.path)
    // A shard another adapter took (a SavedModel's variables) makes this index theirs too.
    if (ckpt.shards.some(s => claimed.has(s))) continue
    out.push(layoutOf(ckpt, await access.readAll(f.path)))
  }
  return out
}

function readModel (value: unknown): StoredModel {
  const m = parseModel(value)
  if (m.format !== TF_CHECKPOINT) fail('model', `format ${JSON.stringify(m.format)} is not ${TF_CHECKPOINT}`)
  const shards = stringList(m.fields.shards, 'shards')
  const tensors = readTensorEntries(m)
  if (!m.tensors.every(t => isCount(t.group) && t.group < shards.length)) fail('model', 'a tensor names a shard the model does not list')
  return { format: m.format, path: m.path, topology: m.topology, tensors, files: [m.path, ...shards], runnable: false, contract: null, customObjects: [] }
}

export const tfCheckpointFormat: ModelFormat = {
  id: 'tf-checkpoint',
  formats: [TF_CHECKPOINT],
  detect,
  readModel,
  runtimes: []
}
