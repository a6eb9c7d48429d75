/**
 * Tensor diff of one model: tensors matched by name; equal CIDs are never opened; changed values get
 * statistics (stats.ts).
 */
import type { CID } from 'multiformats/cid'
import { parseModel, parseTensor, parseTopology, type TensorObject, type TopologyObject } from '../../format/objects.js'
import { adapterFor } from '../../formats/index.js'
import type { ModelFormat, StoredModel } from '../../formats/interface.js'
import type { Side } from './sides.js'
import { compareValues, decoderFor } from './stats.js'
import type { DiffCounters, TensorChangeKind, TensorDiff, TensorMeta, TensorStats, TopologyChange } from './types.js'
import { deepEqual } from './values.js'

// ---------------------------------------------------------------------------------------------------
// models and tensors

export interface SideModel { readonly cid: CID, readonly model: StoredModel }

/** A stored model through its adapter; a format no adapter knows is read with the fields every model has. */
function readStoredModel (value: unknown, formats: readonly ModelFormat[]): StoredModel {
  const m = parseModel(value)
  const adapter = adapterFor(formats, m.format)
  if (adapter !== undefined) return adapter.readModel(value)
  return { format: m.format, path: m.path, topology: m.topology, tensors: m.tensors.map(t => ({ tensor: t.tensor, role: 'weights' })), files: [], runnable: false, contract: null, customObjects: [] }
}

export async function loadModels (side: Side, formats: readonly ModelFormat[]): Promise<Map<string, SideModel>> {
  const out = new Map<string, SideModel>()
  for (const m of side.manifest.models) out.set(m.path, { cid: m.model, model: readStoredModel(await side.objects.get(m.model), formats) })
  return out
}

function meta (t: TensorObject, cid: CID): TensorMeta {
  return { dtype: t.dtype, shape: t.shape, quantization: t.quantization, size: t.size, cid }
}

interface TensorEntry { readonly index: number, readonly cid: CID, readonly tensor: TensorObject }

async function readTensorObjects (side: Side, model: StoredModel, indexes: readonly number[]): Promise<TensorEntry[]> {
  const out: TensorEntry[] = []
  for (const index of indexes) {
    const cid = model.tensors[index]!.tensor
    out.push({ index, cid, tensor: parseTensor(await side.objects.get(cid)) })
  }
  return out
}

function sameShape (a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

export async function diffModelTensors (
  path: string, a: Side, b: Side, ma: StoredModel | null, mb: StoredModel | null, counters: DiffCounters, exactNorm: boolean
): Promise<{ tensors: TensorDiff[], unchanged: number, shapeChanges: TopologyChange[] }> {
  const cidsA = new Set((ma?.tensors ?? []).map(t => t.tensor.toString()))
  const cidsB = new Set((mb?.tensors ?? []).map(t => t.tensor.toString()))
  // Equal tensor CIDs are equal tensors (name, dtype, shape and bytes): never opened.
  const onlyA = (ma?.tensors ?? []).map((t, i) => cidsB.has(t.tensor.toString()) ? -1 : i).filter(i => i >= 0)
  const onlyB = (mb?.tensors ?? []).map((t, i) => cidsA.has(t.tensor.toString()) ? -1 : i).filter(i => i >= 0)
  const unchanged = (mb?.tensors.length ?? 0) - onlyB.length
  const ta = ma === null ? [] : await readTensorObjects(a, ma, onlyA)
  const tb = mb === null ? [] : await readTensorObjects(b, mb, onlyB)
  const roleOf = (m: StoredModel | null, index: number): string => m?.tensors[index]?.role ?? 'weights'
  const withRole = (d: TensorDiff, role: string): TensorDiff => role === 'weights' ? d : { ...d, role }
  const byNameA = new Map<string, TensorEntry[]>()
  for (const t of ta) byNameA.set(t.tensor.name, [...(byNameA.get(t.tensor.name) ?? []), t])
  const out: TensorDiff[] = []
  const shapeChanges: TopologyChange[] = []
  const matched = new Set<TensorEntry>()
  for (const eb of tb) {
    const ea = byNameA.get(eb.tensor.name)?.find(x => !matched.has(x))
    if (ea === undefined) {
      out.push(withRole({ model: path, name: eb.tensor.name, status: 'added', kind: null, a: null, b: meta(eb.tensor, eb.cid), stats: null, note: null }, roleOf(mb, eb.index)))
      continue
    }
    matched.add(ea)
    const x = ea.tensor
    const y = eb.tensor
    const shapeChanged = !sameShape(x.shape, y.shape)
    const kind: TensorChangeKind = shapeChanged ? 'shape' : x.dtype !== y.dtype ? 'dtype' : !deepEqual(x.quantization, y.quantization) ? 'quantization' : 'values'
    if (shapeChanged) shapeChanges.push({ kind: 'weight-shape-changed', name: y.name, type: null, fields: ['shape'], shapes: [{ field: 'shape', a: [...x.shape], b: [...y.shape] }] })
    let stats: TensorStats | null = null
    let note: string | null = null
    if (kind === 'values' || kind === 'quantization') {
      const da = decoderFor(x)
      const db = decoderFor(y)
      if ('reason' in da || 'reason' in db) {
        note = 'reason' in da ? da.reason : (db as { reason: string }).reason
      } else {
        const hx = await a.tensors.open(path, ea.index, ea.cid)
        const hy = await b.tensors.open(path, eb.index, eb.cid)
        stats = await compareValues(hx, hy, da, db, counters, exactNorm)
        counters.tensorsCompared++
      }
    } else {
      note = kind === 'shape' ? 'shape changed' : 'dtype changed'
    }
    out.push(withRole({ model: path, name: y.name, status: 'changed', kind, a: meta(x, ea.cid), b: meta(y, eb.cid), stats, note }, roleOf(mb, eb.index)))
  }
  for (const ea of ta) {
    if (!matched.has(ea)) out.push(withRole({ model: path, name: ea.tensor.name, status: 'removed', kind: null, a: meta(ea.tensor, ea.cid), b: null, stats: null, note: null }, roleOf(ma, ea.index)))
  }
  return { tensors: out, unchanged, shapeChanges }
}

export async function readTopology (side: Side, cid: CID | null): Promise<TopologyObject | null> {
  return cid === null ? null : parseTopology(await side.objects.get(cid))
}
