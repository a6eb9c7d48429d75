/**
 * Topology diff: layers (Keras configs) or graph nodes (GraphDefs) matched by name, with the fields and
 * shapes that changed, and changes to the other top-level fields.
 */
import type { TopologyObject } from '../../format/objects.js'
import type { ShapeChange, TopologyChange } from './types.js'
import { changedFields, deepEqual, isRecord, isShapeField, plainShape } from './values.js'

// ---------------------------------------------------------------------------------------------------
// topology

interface NamedItem { readonly name: string, readonly type: string | null, readonly value: Record<string, unknown> }

function layerList (topology: unknown): { layers: NamedItem[], rest: unknown } | null {
  if (!isRecord(topology)) return null
  // Keras-converted models nest the model under model_config; TF.js-saved ones don't.
  const nested = isRecord(topology.model_config)
  const model = nested ? topology.model_config as Record<string, unknown> : topology
  const config = model.config
  const raw = Array.isArray(config) ? config : isRecord(config) && Array.isArray(config.layers) ? config.layers : null
  if (raw === null) return null
  const layers: NamedItem[] = raw.filter(isRecord).map((l, i) => {
    const cfg = isRecord(l.config) ? l.config : {}
    const name = typeof cfg.name === 'string' ? cfg.name : typeof l.name === 'string' ? l.name : `#${i}`
    return { name, type: typeof l.class_name === 'string' ? l.class_name : null, value: l }
  })
  // The topology without its layer list, to find model-wide changes.
  const strippedModel = Array.isArray(config) ? { ...model, config: null } : { ...model, config: { ...(config as Record<string, unknown>), layers: null } }
  const rest = nested ? { ...topology, model_config: strippedModel } : strippedModel
  return { layers, rest }
}

function nodeList (topology: unknown): { nodes: NamedItem[], rest: unknown } | null {
  if (!isRecord(topology) || !Array.isArray(topology.node)) return null
  const nodes = topology.node.filter(isRecord).map((n, i) => ({
    name: typeof n.name === 'string' ? n.name : `#${i}`,
    type: typeof n.op === 'string' ? n.op : null,
    value: n
  }))
  return { nodes, rest: { ...topology, node: null } }
}

function compareItems (a: readonly NamedItem[], b: readonly NamedItem[], what: 'layer' | 'node'): TopologyChange[] {
  const out: TopologyChange[] = []
  const before = new Map(a.map(x => [x.name, x]))
  const after = new Map(b.map(x => [x.name, x]))
  for (const x of b) {
    const prev = before.get(x.name)
    if (prev === undefined) {
      out.push({ kind: what === 'layer' ? 'layer-added' : 'node-added', name: x.name, type: x.type, fields: [], shapes: [] })
      continue
    }
    if (deepEqual(prev.value, x.value)) continue
    // layers: class_name, config.<key>, inbound_nodes…; nodes: op, input, device, attr.<key>.
    const fields = changedFields(prev.value, x.value, '', 2)
    const shapes: ShapeChange[] = fields.filter(isShapeField).map(f => {
      const get = (v: Record<string, unknown>): unknown => f.split('.').reduce<unknown>((o, k) => isRecord(o) ? o[k] : undefined, v)
      return what === 'node'
        ? { field: f, a: plainShape(get(prev.value)) ?? null, b: plainShape(get(x.value)) ?? null }
        : { field: f, a: get(prev.value) ?? null, b: get(x.value) ?? null }
    })
    out.push({ kind: what === 'layer' ? 'layer-changed' : 'node-changed', name: x.name, type: x.type, fields, shapes })
  }
  for (const x of a) {
    if (!after.has(x.name)) out.push({ kind: what === 'layer' ? 'layer-removed' : 'node-removed', name: x.name, type: x.type, fields: [], shapes: [] })
  }
  if (what === 'layer') {
    const common = (list: readonly NamedItem[], other: ReadonlyMap<string, NamedItem>): string[] => list.filter(x => other.has(x.name)).map(x => x.name)
    if (!deepEqual(common(a, after), common(b, before))) out.push({ kind: 'layer-order-changed', name: null, type: null, fields: [], shapes: [] })
  }
  return out
}

/** Structural diff of two topology objects (both of the same model path). */
export function diffTopology (a: TopologyObject | null, b: TopologyObject | null): TopologyChange[] {
  if (a === null && b === null) return []
  const out: TopologyChange[] = []
  if (a === null || b === null || a.format !== b.format) {
    out.push({ kind: 'format-changed', name: null, type: null, fields: ['format'], shapes: [] })
    return out
  }
  const la = layerList(a.topology)
  const lb = layerList(b.topology)
  const na = nodeList(a.topology)
  const nb = nodeList(b.topology)
  let restA: unknown = a.topology
  let restB: unknown = b.topology
  if (la !== null && lb !== null) {
    out.push(...compareItems(la.layers, lb.layers, 'layer'))
    restA = la.rest
    restB = lb.rest
  } else if (na !== null && nb !== null) {
    out.push(...compareItems(na.nodes, nb.nodes, 'node'))
    restA = na.rest
    restB = nb.rest
  }
  const cfg = changedFields(restA, restB, '', 3)
  if (cfg.length > 0) out.push({ kind: 'config-changed', name: null, type: null, fields: cfg, shapes: [] })
  const meta = changedFields(a.meta, b.meta, '', 1)
  if (meta.length > 0) out.push({ kind: 'meta-changed', name: null, type: null, fields: meta, shapes: [] })
  return out
}
