/**
 * A checkpoint's tensors as mvc lays them out: each entry with its bytes in one data shard becomes a
 * tensor (one span: shard, offset, size), named after its variable when the object graph gives one,
 * with a role ('optimizer' for optimizer state). What cannot be mapped that way — string tensors,
 * partitioned variables, resources, a big-endian bundle — stays in the shards' bytes between tensors
 * (stored exactly, with content-defined chunking) and is named in a warning.
 */
import type { TensorLayout } from '../interface.js'
import { DT_STRING, OBJECT_GRAPH_KEY, dtypeName, fixedDtype, numElements, type Checkpoint, type CheckpointEntry } from './bundle.js'
import type { ObjectGraph } from './protos.js'

export interface CheckpointTensor {
  readonly layout: TensorLayout
  /** The checkpoint key it was stored under. */
  readonly key: string
  /** 'weights' or 'optimizer'. */
  readonly role: string
  /** Its data shard's id. */
  readonly shard: number
}

export interface CheckpointLayout {
  readonly tensors: readonly CheckpointTensor[]
  readonly warnings: readonly string[]
}

/** Keys whose variable is optimizer state: slot variables and anything an optimizer owns but the model's own variables. */
function isOptimizerKey (key: string, slotKeys: ReadonlySet<string>): boolean {
  if (slotKeys.has(key) || key.includes('.OPTIMIZER_SLOT')) return true
  const parts = key.split('/')
  const at = parts.indexOf('optimizer')
  // Keras 3 optimizers track the model's trainable variables under `_trainable_variables`: weights.
  return at >= 0 && parts[at + 1] !== '_trainable_variables'
}

/** Checkpoint keys of optimizer slot variables (TF2 Keras optimizers), from the object graph. */
function slotVariableKeys (graph: ObjectGraph | null): Set<string> {
  const out = new Set<string>()
  for (const node of graph?.nodes ?? []) {
    for (const s of node.slot_variables) {
      for (const a of graph!.nodes[s.slot_variable_node_id]?.attributes ?? []) out.add(a.checkpoint_key)
    }
  }
  return out
}

/** How well a key names its variable: fewer `_private` path segments, then shorter, then key order. */
function keyRank (key: string): [number, number] {
  return [key.split('/').filter(p => p.startsWith('_')).length, key.length]
}

/**
 * Display names: the variable's full name from the object graph (`hidden1/kernel`) when it has one,
 * else the raw key. When several keys hold the same variable (a Keras 3 SavedModel lists each under
 * `variables/N` and `_all_variables/M`), the best-placed key gets the name and the others their first
 * key segment before it. Names are unique within the checkpoint (raw keys where they would clash).
 */
export function tensorNames (keys: readonly string[], graph: ObjectGraph | null): Map<string, string> {
  const fullName = new Map<string, string>()
  for (const node of graph?.nodes ?? []) {
    for (const a of node.attributes) if (a.full_name !== '' && a.checkpoint_key !== '') fullName.set(a.checkpoint_key, a.full_name)
  }
  const byName = new Map<string, string[]>()
  for (const k of keys) {
    const n = fullName.get(k)
    if (n !== undefined) byName.set(n, [...(byName.get(n) ?? []), k])
  }
  const names = new Map<string, string>()
  for (const k of keys) names.set(k, k)
  for (const [name, ks] of byName) {
    const [best, ...rest] = [...ks].sort((a, b) => {
      const [ua, la] = keyRank(a)
      const [ub, lb] = keyRank(b)
      return ua - ub || la - lb || (a < b ? -1 : a > b ? 1 : 0)
    })
    names.set(best!, name)
    // The other keys of the same variable are named by their first key segment and the name
    // (`_all_variables/hidden1/kernel`): their numbered keys are not stable from one save to the next.
    for (const k of rest) names.set(k, `${k.split('/')[0]!}/${name}`)
  }
  // A full name equal to another tensor's raw key would make two tensors share a name: keep keys then.
  const counts = new Map<string, number>()
  for (const n of names.values()) counts.set(n, (counts.get(n) ?? 0) + 1)
  for (const [k, n] of names) if ((counts.get(n) ?? 0) > 1) names.set(k, k)
  return names
}

function describe (e: CheckpointEntry): string {
  return `${JSON.stringify(e.key)} (${dtypeName(e.dtype)} [${e.shape.join(', ')}])`
}

/** Lays out the checkpoint's tensors, with warnings for what stays plain bytes. */
export function layoutCheckpoint (ckpt: Checkpoint): CheckpointLayout {
  const warnings: string[] = []
  const mappable: CheckpointEntry[] = []
  const strings: string[] = []
  const partitioned: string[] = []
  const other: string[] = []
  for (const e of ckpt.entries) {
    if (e.sliceKey) continue // the bytes of one slice of a partitioned variable: named through the variable
    if (e.slices.length > 0) { partitioned.push(describe(e)); continue }
    if (e.dtype === DT_STRING) { if (e.key !== OBJECT_GRAPH_KEY) strings.push(describe(e)); continue }
    if (fixedDtype(e.dtype) === undefined) { other.push(describe(e)); continue }
    mappable.push(e)
  }
  if (ckpt.endianness === 'big') {
    warnings.push(`the checkpoint was written big-endian; its ${mappable.length} tensor(s) are stored as plain bytes, not tensor by tensor`)
    mappable.length = 0
  }
  if (strings.length > 0) warnings.push(`string tensor(s) stored as plain bytes in the data shards: ${strings.join(', ')}`)
  if (partitioned.length > 0) warnings.push(`partitioned (sliced) variable(s) stored as plain bytes in the data shards: ${partitioned.join(', ')}`)
  if (other.length > 0) warnings.push(`tensor(s) of a dtype mvc does not map stored as plain bytes: ${other.join(', ')}`)
  // Two entries over the same bytes cannot both be tensors of the shard file: keep the first.
  const taken: CheckpointEntry[] = []
  const overlapping: string[] = []
  const byPosition = [...mappable].sort((a, b) => a.shardId - b.shardId || a.offset - b.offset)
  let last: CheckpointEntry | undefined
  for (const e of byPosition) {
    if (last !== undefined && last.shardId === e.shardId && e.offset < last.offset + last.size && e.size > 0) {
      overlapping.push(describe(e))
      continue
    }
    taken.push(e)
    if (e.size > 0) last = e
  }
  if (overlapping.length > 0) warnings.push(`tensor(s) sharing bytes with another entry stored as plain bytes: ${overlapping.join(', ')}`)
  const keep = new Set(taken)
  const kept = mappable.filter(e => keep.has(e))
  const names = tensorNames(kept.map(e => e.key), ckpt.objectGraph)
  const slots = slotVariableKeys(ckpt.objectGraph)
  const tensors = kept.map((e): CheckpointTensor => {
    const dtype = fixedDtype(e.dtype)!
    const rows = e.shape.length > 0 ? e.shape[0]! : 0
    const elements = numElements(e.shape)
    return {
      key: e.key,
      role: isOptimizerKey(e.key, slots) ? 'optimizer' : 'weights',
      shard: e.shardId,
      layout: {
        name: names.get(e.key) ?? e.key,
        dtype: dtype.name,
        shape: [...e.shape],
        spans: e.size === 0 ? [] : [{ file: ckpt.shards[e.shardId]!, offset: e.offset, length: e.size }],
        byteLength: e.size,
        rowBytes: rows > 0 && elements > 0 ? e.size / rows : e.size
      }
    }
  })
  return { tensors, warnings }
}

/**
 * The object graph as a topology value: per object, its children (`[local name, node id]`), its
 * saved attributes (`[name, full name, checkpoint key]`) and slot variables. Null without a graph.
 */
export function objectGraphSummary (graph: ObjectGraph | null): unknown {
  if (graph === null) return null
  return graph.nodes.map(n => ({
    children: n.children.map(c => [c.local_name, c.node_id]),
    attributes: n.attributes.map(a => [a.name, a.full_name, a.checkpoint_key]),
    slots: n.slot_variables.map(s => [s.original_variable_node_id, s.slot_name, s.slot_variable_node_id])
  }))
}
