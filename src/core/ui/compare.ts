/**
 * Two versions compared for the UI: the diff of src/core/diff (topology, tensors with max_abs, mean_abs
 * and rel_l2, files, params, metrics, lineage) with every tensor listed — unchanged ones too, so a
 * model can be drawn whole — and the behavioural diff: both versions' recorded outputs on the
 * reference inputs, compared where the inputs were the same. Reads only (both sides are commits, so
 * the diff never snapshots the working folder).
 */
import type { CID } from 'multiformats/cid'
import { decodeObject } from '../../content/block.js'
import { isMvcError, ObjectNotFoundError } from '../../errors.js'
import { parseModel, parseTensor, type CommitObject } from '../../format/objects.js'
import type { ModelVerification } from '../../format/verification.js'
import { adapterFor } from '../../formats/index.js'
import type { ModelFormat, StoredTensor } from '../../formats/interface.js'
import { decodeTensorData, type TensorData } from '../../formats/tensor-data.js'
import type { ObjectStore } from '../../store/interface.js'
import { diff, type DiffResult, type TensorDiff } from '../diff/index.js'
import { readCommit } from '../objects.js'
import { resolveRev } from '../refs.js'
import { compareOutputs } from '../verify/compare.js'
import { readTensorData } from '../verify/tensors.js'
import type { BehaviourDiff, CompareResponse, OutputDiff, Scalar, TensorChange } from './types.js'

const SAMPLE = 512

/** The layer (or node) a tensor belongs to, from its name: `dense_1/kernel:0` → `dense_1`. */
export function layerOf (name: string): string {
  const n = name.replace(/\/\.ATTRIBUTES\/VARIABLE_VALUE$/, '').replace(/:\d+$/, '')
  const at = n.lastIndexOf('/')
  return at <= 0 ? n : n.slice(0, at)
}

function notFound (err: unknown): boolean {
  return isMvcError(err) && err.code === ObjectNotFoundError.code
}

function scalar (v: unknown): Scalar | undefined {
  if (v === undefined) return undefined
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v)
}

interface ModelTensor { readonly cid: CID, readonly role: string, readonly name: string, readonly dtype: string, readonly shape: readonly number[], readonly size: number }

async function modelTensors (store: ObjectStore, formats: readonly ModelFormat[], model: CID): Promise<ModelTensor[]> {
  const value = decodeObject(model, await store.get(model), `model ${model.toString()}`)
  const base = parseModel(value)
  const stored: readonly StoredTensor[] = adapterFor(formats, base.format)?.readModel(value).tensors ?? base.tensors.map(t => ({ tensor: t.tensor, role: 'weights' }))
  const out: ModelTensor[] = []
  for (const t of stored) {
    const o = parseTensor(decodeObject(t.tensor, await store.get(t.tensor), `tensor ${t.tensor.toString()}`))
    out.push({ cid: t.tensor, role: t.role, name: o.name, dtype: o.dtype, shape: o.shape, size: o.size })
  }
  return out
}

function fromDiff (t: TensorDiff): TensorChange {
  const side = t.b ?? t.a!
  return {
    model: t.model,
    name: t.name,
    layer: layerOf(t.name),
    role: t.role ?? 'weights',
    status: t.status,
    kind: t.kind,
    dtype: side.dtype,
    shape: [...side.shape],
    shapeA: t.a === null ? null : [...t.a.shape],
    bytes: side.size,
    stats: t.stats === null
      ? null
      : { maxAbs: t.stats.maxAbs, meanAbs: t.stats.meanAbs, relL2: t.stats.relL2, relL2Exact: t.stats.relL2Exact, changedElements: t.stats.changedElements, elements: t.stats.elements, nonFinite: t.stats.nonFinite },
    note: t.note
  }
}

/** Every tensor of every model, in the newer version's order, changed or not; removed ones last. */
async function allTensors (store: ObjectStore, formats: readonly ModelFormat[], d: DiffResult): Promise<TensorChange[]> {
  const out: TensorChange[] = []
  for (const m of d.models) {
    const listed = d.tensors.filter(t => t.model === m.path)
    if (m.b === null) { out.push(...listed.map(fromDiff)); continue }
    const pending = new Map<string, TensorDiff[]>()
    for (const t of listed) if (t.status !== 'removed') pending.set(t.name, [...(pending.get(t.name) ?? []), t])
    const cidsA = new Set<string>()
    if (m.a !== null) for (const t of await modelTensors(store, formats, m.a)) cidsA.add(t.cid.toString())
    for (const t of await modelTensors(store, formats, m.b)) {
      const queued = pending.get(t.name)
      if (!cidsA.has(t.cid.toString()) && queued !== undefined && queued.length > 0) {
        out.push(fromDiff(queued.shift()!))
        continue
      }
      out.push({ model: m.path, name: t.name, layer: layerOf(t.name), role: t.role, status: 'unchanged', kind: null, dtype: t.dtype, shape: [...t.shape], shapeA: [...t.shape], bytes: t.size, stats: null, note: null })
    }
    out.push(...listed.filter(t => t.status === 'removed').map(fromDiff))
  }
  return out
}

function runtimeName (m: ModelVerification | undefined, backend: string): string | null {
  if (m === undefined || m.status !== 'recorded') return null
  return m.runtime === undefined ? `tfjs on ${backend}` : `${m.runtime.id} ${m.runtime.version} on ${m.runtime.backend}`
}

function numbers (t: TensorData): Float64Array | null {
  const d = decodeTensorData(t)
  if (d.kind === 'string') return null
  return Float64Array.from(d.values as ArrayLike<number>)
}

function outputDiff (a: TensorData, b: TensorData, withinTolerance: boolean): OutputDiff {
  const x = numbers(a)
  const y = numbers(b)
  const base = { name: b.name, shape: [...b.shape], dtype: b.dtype, withinTolerance }
  if (x === null || y === null) return { ...base, maxAbs: null, meanAbs: null, sampleA: [], sampleB: [], note: 'string outputs: compared byte for byte' }
  if (x.length !== y.length) return { ...base, maxAbs: null, meanAbs: null, sampleA: [], sampleB: [], note: `shapes differ: [${a.shape.join(', ')}] → [${b.shape.join(', ')}]` }
  let max = 0
  let sum = 0
  let finite = 0
  for (let i = 0; i < x.length; i++) {
    const e = Math.abs(y[i]! - x[i]!)
    if (!Number.isFinite(e)) continue
    finite++
    sum += e
    if (e > max) max = e
  }
  const n = Math.min(SAMPLE, x.length)
  return { ...base, maxAbs: max, meanAbs: finite === 0 ? 0 : sum / finite, sampleA: Array.from(x.subarray(0, n)), sampleB: Array.from(y.subarray(0, n)), note: finite < x.length ? `${x.length - finite} non-finite differences left out` : null }
}

/** Outputs of both versions on their reference inputs, per model path recorded on either side. */
async function behaviour (store: ObjectStore, a: CommitObject, b: CommitObject): Promise<BehaviourDiff[]> {
  const va = a.verification
  const vb = b.verification
  const paths = [...new Set([...(va?.models ?? []), ...(vb?.models ?? [])].map(m => m.path))].sort()
  const out: BehaviourDiff[] = []
  for (const path of paths) {
    const ma = va?.models.find(m => m.path === path)
    const mb = vb?.models.find(m => m.path === path)
    const base = { model: path, runtimeA: runtimeName(ma, va?.backend ?? ''), runtimeB: runtimeName(mb, vb?.backend ?? ''), tolerance: vb === null ? null : { ...vb.tolerance } }
    if (ma?.status !== 'recorded' || mb?.status !== 'recorded') {
      const why = (m: ModelVerification | undefined, v: number): string => m === undefined ? `v${v} recorded nothing for ${path}` : m.status === 'skipped' ? `v${v}: ${m.reason}` : ''
      out.push({ ...base, status: 'not-recorded', reason: [why(ma, a.version), why(mb, b.version)].filter(s => s !== '').join('; '), outputs: [] })
      continue
    }
    // Stored inputs by CID; generated ones (not stored) by the digests the record keeps.
    const digestsA = ma.reference?.inputDigests ?? []
    const digestsB = mb.reference?.inputDigests ?? []
    const same = ma.inputs.length === mb.inputs.length && ma.inputs.every((c, i) => c.equals(mb.inputs[i]!)) &&
      digestsA.length === digestsB.length && digestsA.every((d, i) => d === digestsB[i])
    if (!same) {
      out.push({ ...base, status: 'different-inputs', reason: `v${a.version} and v${b.version} recorded different reference inputs (the model's inputs changed, or inputs were given at commit)`, outputs: [] })
      continue
    }
    let xs: TensorData[]
    let ys: TensorData[]
    try {
      xs = []
      for (const c of ma.outputs) xs.push(await readTensorData(store, c))
      ys = []
      for (const c of mb.outputs) ys.push(await readTensorData(store, c))
    } catch (err) {
      if (!notFound(err)) throw err
      out.push({ ...base, status: 'missing', reason: 'recorded outputs are not in this repository (partial clone)', outputs: [] })
      continue
    }
    const tol = vb?.tolerance ?? { atol: 0, rtol: 0 }
    const verdicts = compareOutputs(xs, ys, tol).outputs
    const outputs = ys.map(y => {
      const x = xs.find(t => t.name === y.name)
      const pass = verdicts.find(v => v.name === y.name)?.pass ?? false
      return x === undefined
        ? { name: y.name, shape: [...y.shape], dtype: y.dtype, maxAbs: null, meanAbs: null, withinTolerance: false, sampleA: [], sampleB: [], note: `v${a.version} has no output named ${y.name}` }
        : outputDiff(x, y, pass)
    })
    out.push({ ...base, status: 'compared', reason: null, outputs })
  }
  return out
}

export async function compareVersions (args: { store: ObjectStore, root: string, formats: readonly ModelFormat[], a: string, b: string }): Promise<CompareResponse> {
  const started = Date.now()
  const { store, formats } = args
  const d = await diff({ repo: { root: args.root, store, formats }, a: args.a, b: args.b })
  const ca = await readCommit(store, d.a.cid ?? await resolveRev(store, args.a))
  const cb = await readCommit(store, d.b.cid ?? await resolveRev(store, args.b))
  const changed = (r: { added: readonly { name: string, value: unknown }[], removed: readonly { name: string, value: unknown }[], changed: readonly { name: string, a: unknown, b: unknown }[] } | null): Array<{ name: string, a: Scalar | undefined, b: Scalar | undefined }> => r === null
    ? []
    : [
        ...r.changed.map(c => ({ name: c.name, a: scalar(c.a), b: scalar(c.b) })),
        ...r.added.map(c => ({ name: c.name, a: undefined, b: scalar(c.value) })),
        ...r.removed.map(c => ({ name: c.name, a: scalar(c.value), b: undefined }))
      ].sort((x, y) => x.name.localeCompare(y.name))
  const metrics = changed(d.metrics).map(m => ({ ...m, delta: typeof m.a === 'number' && typeof m.b === 'number' ? m.b - m.a : null }))
  return {
    a: { rev: args.a, version: ca.version, cid: d.a.cid!.toString() },
    b: { rev: args.b, version: cb.version, cid: d.b.cid!.toString() },
    identical: d.identical,
    models: d.models.map(m => ({ path: m.path, status: m.status, formatA: m.format.a, formatB: m.format.b, shardsChanged: m.shards !== null })),
    topology: d.topology.flatMap(t => t.changes.map(c => ({ model: t.model, kind: c.kind, name: c.name, type: c.type, fields: [...c.fields], shapes: c.shapes.map(s => ({ ...s })) }))),
    contracts: d.contracts.map(c => ({ model: c.model, breaking: c.breaking, changes: [...c.changes] })),
    tensors: await allTensors(store, formats, d),
    files: { added: [...d.files.added], removed: [...d.files.removed], modified: d.files.modified.map(f => f.path) },
    params: changed(d.params),
    metrics,
    data: d.data === null ? null : { status: d.data.status },
    code: d.code === null ? null : { status: d.code.status },
    behaviour: await behaviour(store, ca, cb),
    ms: Date.now() - started
  }
}
