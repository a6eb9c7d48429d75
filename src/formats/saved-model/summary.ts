/**
 * What mvc records of a SavedModel's protos: a summary small enough to store and compare, never the
 * whole GraphDef. Per meta graph: tags, signatures (inputs and outputs with tensor names, dtypes and
 * shapes), the graph's node count and op histogram, the same per library function, and the object
 * graph's structure (kinds, children, variables); Keras metadata (`keras_metadata.pb`) as a list of
 * layer paths and classes. Function names lose TensorFlow's trailing unique ids (`__inference_call_5547`
 * → `__inference_call`): they change with every trace, not with the model.
 */
import type { ModelContract, TensorContract } from '../interface.js'
import { dtypeName } from '../tf-checkpoint/index.js'
import type { FunctionDef, KerasSavedMetadata, MetaGraphDef, NodeDef, SavedModel, SavedObject, SignatureDef, TensorInfo, TensorShape } from './protos.js'

/** The serving signature whose inputs and outputs are the model's contract. */
export const SERVING_SIGNATURE = 'serving_default'

/** A function name without TensorFlow's trailing unique id. */
export function functionName (name: string): string {
  return name.replace(/_\d+$/, '')
}

function sortedKeys (o: Record<string, unknown>): string[] {
  return Object.keys(o).sort()
}

/** null for an unknown rank; -1 dimensions as null. */
export function shapeOf (s: TensorShape | null): Array<number | null> | null {
  if (s === null || s.unknown_rank) return null
  return s.dim.map(d => d.size < 0 ? null : d.size)
}

function tensorInfo (t: TensorInfo): Record<string, unknown> {
  return {
    tensor: t.name ?? (t.coo_sparse !== undefined ? 'coo_sparse' : t.composite_tensor !== undefined ? 'composite_tensor' : null),
    dtype: dtypeName(t.dtype),
    shape: shapeOf(t.tensor_shape)
  }
}

function signature (s: SignatureDef): Record<string, unknown> {
  const side = (m: Record<string, TensorInfo>): Record<string, unknown> => Object.fromEntries(sortedKeys(m).map(k => [k, tensorInfo(m[k]!)]))
  return { method: s.method_name, inputs: side(s.inputs), outputs: side(s.outputs) }
}

function histogram (nodes: readonly NodeDef[]): Record<string, number> {
  const h: Record<string, number> = {}
  for (const n of nodes) h[n.op] = (h[n.op] ?? 0) + 1
  return h
}

function functions (list: readonly FunctionDef[]): Record<string, unknown[]> {
  const out: Record<string, Array<{ nodes: number, ops: Record<string, number> }>> = {}
  for (const f of list) {
    const name = functionName(f.signature?.name ?? '')
    ;(out[name] ??= []).push({ nodes: f.node_def.length, ops: histogram(f.node_def) })
  }
  // Functions that share a name after normalisation are listed in a stable order.
  for (const v of Object.values(out)) v.sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)
  return out
}

function object (n: SavedObject): Record<string, unknown> {
  const o: Record<string, unknown> = { kind: n.kind ?? null, children: n.children.map(c => [c.local_name, c.node_id]) }
  if (n.user_object !== undefined) o.identifier = n.user_object.identifier
  if (n.variable !== undefined) {
    o.variable = { name: n.variable.name, dtype: dtypeName(n.variable.dtype), shape: shapeOf(n.variable.shape), trainable: n.variable.trainable }
  }
  if (n.function !== undefined) o.functions = n.function.concrete_functions.map(functionName).sort()
  if (n.bare_concrete_function !== undefined) o.function = functionName(n.bare_concrete_function.concrete_function_name)
  if (n.asset !== undefined) o.asset = n.asset.asset_file_def_index
  if (n.constant !== undefined) o.operation = n.constant.operation
  if (n.captured_tensor !== undefined) o.captured = n.captured_tensor.name
  if (n.registered_name !== '') o.registered = n.registered_name
  return o
}

function metaGraph (mg: MetaGraphDef): Record<string, unknown> {
  const sigs = mg.signature_def
  const graph = mg.graph_def
  return {
    tags: [...(mg.meta_info_def?.tags ?? [])].sort(),
    signatures: Object.fromEntries(sortedKeys(sigs).map(k => [k, signature(sigs[k]!)])),
    graph: { nodes: graph?.node.length ?? 0, ops: histogram(graph?.node ?? []) },
    functions: functions(graph?.library?.function ?? []),
    objects: (mg.object_graph_def?.nodes ?? []).map(object),
    assets: mg.asset_file_def.map(a => a.filename).sort()
  }
}

function kerasLayers (k: KerasSavedMetadata): unknown[] {
  return k.nodes.map(n => {
    let meta: unknown = null
    try { meta = JSON.parse(n.metadata) as unknown } catch { /* not JSON: recorded without name and class */ }
    const rec = typeof meta === 'object' && meta !== null && !Array.isArray(meta) ? meta as Record<string, unknown> : {}
    return {
      path: n.node_path,
      identifier: n.identifier,
      name: typeof rec.name === 'string' ? rec.name : null,
      class: typeof rec.class_name === 'string' ? rec.class_name : null
    }
  })
}

/** The meta graph mvc describes: the one tagged 'serve', else the first. */
export function primaryMetaGraph (sm: SavedModel): MetaGraphDef {
  return sm.meta_graphs.find(m => m.meta_info_def?.tags.includes('serve') === true) ?? sm.meta_graphs[0]!
}

export interface SavedModelSummary {
  readonly topology: Record<string, unknown>
  readonly meta: Record<string, unknown>
  readonly contract: ModelContract | null
}

function contractSide (m: Record<string, TensorInfo>): TensorContract[] | null {
  const out: TensorContract[] = []
  for (const k of sortedKeys(m)) {
    const shape = shapeOf(m[k]!.tensor_shape)
    if (shape === null) return null
    out.push({ name: k, dtype: dtypeName(m[k]!.dtype), shape })
  }
  return out
}

/** The serving signature's inputs and outputs (by signature key), or null without one or with a tensor of unknown rank. */
export function contractOf (mg: MetaGraphDef): ModelContract | null {
  const s = mg.signature_def[SERVING_SIGNATURE]
  if (s === undefined) return null
  const inputs = contractSide(s.inputs)
  const outputs = contractSide(s.outputs)
  return inputs === null || outputs === null ? null : { inputs, outputs }
}

export function summarise (sm: SavedModel, keras: KerasSavedMetadata | null): SavedModelSummary {
  const primary = primaryMetaGraph(sm)
  const info = primary.meta_info_def
  return {
    topology: {
      ...metaGraph(primary),
      otherMetaGraphs: sm.meta_graphs.filter(m => m !== primary).map(metaGraph),
      keras: keras === null ? null : kerasLayers(keras)
    },
    meta: {
      schemaVersion: sm.saved_model_schema_version,
      tensorflowVersion: info?.tensorflow_version ?? '',
      tags: [...(info?.tags ?? [])].sort(),
      metaGraphs: sm.meta_graphs.length
    },
    contract: contractOf(primary)
  }
}
