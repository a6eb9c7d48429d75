/**
 * Diff of two versions, or of a version and the working folder (issue #4).
 *
 * Sections: models (by JSON path), topology (layers or graph nodes by name, shapes, top-level fields),
 * tensors (by weight name, with numeric statistics for changed values), other files, params, metrics,
 * data and code lineage.
 *
 * Cost: equal model CIDs are never opened further, equal tensor CIDs are never read, and inside a
 * changed tensor a chunk with the same CID at the same offset on both sides is skipped (its difference
 * is zero). Tensor bytes are streamed one chunk per side at a time through a `TensorSource`: from the
 * store by chunk CID, or from the working folder's shard files by the spans `planTensors` lays out.
 *
 * The working folder is snapshotted like `status` does: chunks go nowhere (the DRY_RUN behaviour), and
 * only the small structured objects (manifest, file, model, tensor and topology objects) are kept in
 * memory, so its tensors have chunk CIDs to compare without anything being stored.
 */
import { lstat, open, readFile, type FileHandle } from 'node:fs/promises'
import { closeSync, openSync, readSync } from 'node:fs'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { decodeObject, rawCid } from '../content/block.js'
import { InvalidArgumentError, InvalidModelError } from '../errors.js'
import {
  parseModel, parseTensor, parseTopology,
  type CommitObject, type Manifest, type ModelObject, type TensorObject, type TopologyObject
} from '../format/objects.js'
import { parseCodeLineage, parseDataLineage } from '../format/lineage.js'
import { parseModelJson, planNeedsBytes, planTensors, type TensorPlan } from '../format/tfjs.js'
import type { ObjectStore } from '../store/interface.js'
import type { Repo } from './repo.js'
import { readCommit, readManifest, type ObjectSink } from './objects.js'
import { resolveRev } from './refs.js'
import { snapshot, walk, type WalkedFile } from './snapshot.js'
import { StatCache } from './statcache.js'
import { compareManifests } from './worktree.js'

// ---------------------------------------------------------------------------------------------------
// result shapes (documented in docs/cli.md, "mvc diff")

export interface DiffEndpoint {
  /** The revision as given; null for the working folder. */
  readonly rev: string | null
  readonly cid: CID | null
  readonly version: number | null
  /** Repository-relative path of the commit (or of the working folder compared). */
  readonly path: string
  /** Manifest CID (for the working folder: what a commit would produce); null when it does not exist. */
  readonly manifest: CID | null
  readonly worktree: boolean
  readonly exists: boolean
}

export type ModelStatus = 'added' | 'removed' | 'modified' | 'unchanged'

export interface ModelDiff {
  /** Path of the model JSON, relative to the committed root. */
  readonly path: string
  readonly status: ModelStatus
  readonly format: { readonly a: string | null, readonly b: string | null }
  /** `mvc/model` CIDs. */
  readonly a: CID | null
  readonly b: CID | null
  /** Shard files of each side, only when they differ (re-sharding); null otherwise. */
  readonly shards: { readonly a: readonly string[], readonly b: readonly string[] } | null
  /** The model JSON file's bytes differ (for a modified model; may be formatting only). */
  readonly jsonChanged: boolean
}

export type TopologyChangeKind =
  | 'layer-added' | 'layer-removed' | 'layer-changed' | 'layer-order-changed'
  | 'node-added' | 'node-removed' | 'node-changed'
  | 'weight-shape-changed' | 'config-changed' | 'meta-changed' | 'format-changed'

export interface ShapeChange { readonly field: string, readonly a: unknown, readonly b: unknown }

export interface TopologyChange {
  readonly kind: TopologyChangeKind
  /** Layer, node or weight name; null for model-wide changes. */
  readonly name: string | null
  /** Layer class_name or node op (b's when both exist); null when not applicable. */
  readonly type: string | null
  /** Changed fields, dotted (`config.units`, `attr.T`, `input`, `generatedBy`); [] when not applicable. */
  readonly fields: readonly string[]
  /** Shape changes among those fields (and a weight's shape). */
  readonly shapes: readonly ShapeChange[]
}

export interface ModelTopologyDiff {
  readonly model: string
  readonly changes: readonly TopologyChange[]
}

export interface TensorMeta {
  readonly dtype: string
  readonly shape: readonly number[]
  readonly quantization: unknown
  readonly size: number
  readonly cid: CID
}

export interface TensorStats {
  /** Elements of the tensor (all of them, including skipped chunks). */
  readonly elements: number
  /** Elements whose values differ. */
  readonly changedElements: number
  /** max |b - a| over finite pairs. */
  readonly maxAbs: number
  /** Σ|b - a| / elements. */
  readonly meanAbs: number
  /** ||b - a|| / ||a||; 0 when both are 0; null when ||a|| = 0 but b ≠ a. */
  readonly relL2: number | null
  /** False when identical chunks were skipped: ||a|| then covers only the chunks read, so relL2 is an upper bound. */
  readonly relL2Exact: boolean
  /** Element pairs where a value is NaN or ±Infinity and the two differ (left out of max, sums and norms). */
  readonly nonFinite: number
  readonly chunks: number
  /** Chunks read, both sides together (including reads for the norm with exactNorm). */
  readonly chunksRead: number
  /** Chunk pairs skipped because both sides had the same chunk CID at the same offset. */
  readonly chunksSkipped: number
}

export type TensorChangeKind = 'values' | 'shape' | 'dtype' | 'quantization'

export interface TensorDiff {
  readonly model: string
  readonly name: string
  readonly status: 'changed' | 'added' | 'removed'
  /** For changed tensors: what changed (shape wins over dtype); null for added/removed. */
  readonly kind: TensorChangeKind | null
  readonly a: TensorMeta | null
  readonly b: TensorMeta | null
  /** Numeric comparison; null when not computed (added/removed, shape or dtype change, strings, unsupported quantization). */
  readonly stats: TensorStats | null
  /** Why there are no stats for a changed tensor (e.g. 'quantized: bytes differ'); null otherwise. */
  readonly note: string | null
}

export interface FileModified {
  readonly path: string
  /** The bytes differ (file CIDs differ). */
  readonly content: boolean
  /** Permission bits on each side when they differ, else null. */
  readonly mode: { readonly a: number, readonly b: number } | null
}

export interface FilesDiff {
  readonly added: readonly string[]
  readonly removed: readonly string[]
  readonly modified: readonly FileModified[]
  readonly dirsAdded: readonly string[]
  readonly dirsRemoved: readonly string[]
}

export interface ValueEntry { readonly name: string, readonly value: unknown }
export interface ChangedEntry { readonly name: string, readonly a: unknown, readonly b: unknown }
export interface MetricChange extends ChangedEntry {
  /** b - a when both are numbers, else null. */
  readonly delta: number | null
}

export interface ParamsDiff {
  readonly added: readonly ValueEntry[]
  readonly removed: readonly ValueEntry[]
  readonly changed: readonly ChangedEntry[]
}
export interface MetricsDiff {
  readonly added: readonly ValueEntry[]
  readonly removed: readonly ValueEntry[]
  readonly changed: readonly MetricChange[]
}

export type LineageStatus = 'none' | 'same' | 'changed' | 'added' | 'removed'

export interface DataDiff {
  readonly status: LineageStatus
  /** The recorded `data` values. */
  readonly a: unknown
  readonly b: unknown
  /** When both are snapshots whose manifests are stored: data files added, modified, removed. */
  readonly files: { readonly added: readonly string[], readonly modified: readonly string[], readonly removed: readonly string[] } | null
}

export interface CodeDiff {
  readonly status: LineageStatus
  readonly a: unknown
  readonly b: unknown
}

export interface DiffCounts { readonly added: number, readonly removed: number, readonly changed: number }

export interface DiffSummary {
  readonly models: { readonly added: number, readonly removed: number, readonly modified: number, readonly unchanged: number }
  readonly topology: { readonly added: number, readonly removed: number, readonly changed: number, readonly shapes: number }
  readonly tensors: { readonly changed: number, readonly added: number, readonly removed: number, readonly unchanged: number }
  readonly files: { readonly added: number, readonly removed: number, readonly modified: number }
  readonly params: DiffCounts | null
  readonly metrics: DiffCounts | null
  readonly data: LineageStatus | null
  readonly code: LineageStatus | null
}

export interface DiffCounters {
  /** Changed tensors whose values were compared numerically. */
  tensorsCompared: number
  /** Tensor chunks read, both sides together. */
  chunksRead: number
  bytesRead: number
  /** Chunk pairs skipped as identical. */
  chunksSkipped: number
  /** Of chunksRead: chunks read only for ||a|| (exactNorm). */
  normChunksRead: number
}

export interface DiffResult {
  readonly a: DiffEndpoint
  readonly b: DiffEndpoint
  /** True when no section has a difference. */
  readonly identical: boolean
  readonly models: readonly ModelDiff[]
  readonly topology: readonly ModelTopologyDiff[]
  readonly tensors: readonly TensorDiff[]
  readonly files: FilesDiff
  /** null when b is the working folder (it has no lineage). */
  readonly params: ParamsDiff | null
  readonly metrics: MetricsDiff | null
  readonly data: DataDiff | null
  readonly code: CodeDiff | null
  readonly summary: DiffSummary
  readonly stats: DiffCounters
}

export interface DiffOptions {
  readonly repo: Repo
  readonly a: string
  /** A revision, or undefined for the working folder at a's committed path. */
  readonly b?: string
  /** Also read the skipped chunks of a, so that relL2 is exact (costs reading a's changed tensors whole). */
  readonly exactNorm?: boolean
}

// ---------------------------------------------------------------------------------------------------
// tensor sources

/** One tensor of one side: its object and a way to read its chunks. */
export interface TensorHandle {
  readonly tensor: TensorObject
  /** Verified bytes of chunk `index` (length `tensor.chunks[index][1]`). */
  readChunk (index: number): Promise<Uint8Array>
}

/** Yields the tensors of a side's models: from the store, or from the working folder's shard files. */
export interface TensorSource {
  /** The `index`-th tensor (manifest order) of the model whose JSON is at `modelPath`. */
  open (modelPath: string, index: number, cid: CID): Promise<TensorHandle>
  close (): Promise<void>
}

/** Decoded objects of one side. */
interface ObjectReader {
  get (cid: CID): Promise<unknown>
}

function storeReader (store: ObjectStore): ObjectReader {
  return { get: async cid => decodeObject(cid, await store.get(cid), `object ${cid.toString()}`) }
}

/** Chunks from the store, by CID (the store re-hashes every chunk it returns). */
export function storeTensorSource (store: ObjectStore, objects: ObjectReader = storeReader(store)): TensorSource {
  return {
    open: async (_model, _index, cid) => {
      const tensor = parseTensor(await objects.get(cid))
      return {
        tensor,
        readChunk: async i => {
          const [c, len] = tensor.chunks[i]!
          const bytes = await store.get(c)
          return bytes.subarray(0, len)
        }
      }
    },
    close: async () => {}
  }
}

/**
 * Chunks from the working folder: each chunk's byte range of the tensor is read from the shard files
 * through the tensor's spans (planTensors), then re-hashed against the chunk CID the snapshot computed,
 * so a file changed between the snapshot and the read is caught rather than compared.
 */
class WorktreeTensorSource implements TensorSource {
  private readonly plans = new Map<string, TensorPlan[]>()
  private readonly handles = new Map<string, FileHandle>()
  constructor (private readonly files: ReadonlyMap<string, WalkedFile>, private readonly objects: ObjectReader) {}

  private async plansFor (modelPath: string): Promise<TensorPlan[]> {
    let p = this.plans.get(modelPath)
    if (p !== undefined) return p
    const json = this.files.get(modelPath)
    if (json === undefined) throw changed(modelPath)
    const desc = parseModelJson(modelPath, await readFile(json.abs))
    if (desc === null) throw changed(modelPath)
    const sizes = new Map<string, number>()
    for (const s of desc.shards) {
      const f = this.files.get(s)
      if (f !== undefined) sizes.set(s, Number(f.stats.size))
    }
    p = planTensors(desc, sizes, planNeedsBytes(desc) ? (shard, offset, length) => this.readSync(shard, offset, length) : undefined)
    this.plans.set(modelPath, p)
    return p
  }

  private readSync (shard: string, offset: number, length: number): Uint8Array {
    const f = this.files.get(shard)
    if (f === undefined) throw changed(shard)
    const fd = openSync(f.abs, 'r')
    try {
      const buf = new Uint8Array(length)
      let done = 0
      while (done < length) {
        const n = readSync(fd, buf, done, length - done, offset + done)
        if (n === 0) break
        done += n
      }
      return buf.subarray(0, done)
    } finally { closeSync(fd) }
  }

  private async handle (shard: string): Promise<FileHandle> {
    let h = this.handles.get(shard)
    if (h === undefined) {
      const f = this.files.get(shard)
      if (f === undefined) throw changed(shard)
      h = await open(f.abs, 'r')
      this.handles.set(shard, h)
    }
    return h
  }

  private async readRange (plan: TensorPlan, offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length)
    let filled = 0
    let spanStart = 0
    for (const span of plan.spans) {
      if (filled === length) break
      const spanEnd = spanStart + span.length
      const at = offset + filled
      if (at < spanEnd) {
        const within = at - spanStart
        const take = Math.min(span.length - within, length - filled)
        const fh = await this.handle(span.shard)
        let done = 0
        while (done < take) {
          const { bytesRead } = await fh.read(out, filled + done, take - done, span.offset + within + done)
          if (bytesRead === 0) throw changed(span.shard)
          done += bytesRead
        }
        filled += take
      }
      spanStart = spanEnd
    }
    if (filled !== length) throw changed(plan.spec.name)
    return out
  }

  async open (modelPath: string, index: number, cid: CID): Promise<TensorHandle> {
    const tensor = parseTensor(await this.objects.get(cid))
    const plan = (await this.plansFor(modelPath))[index]
    if (plan === undefined || plan.spec.name !== tensor.name || plan.byteLength !== tensor.size) throw changed(modelPath)
    const offsets: number[] = []
    let at = 0
    for (const [, len] of tensor.chunks) { offsets.push(at); at += len }
    return {
      tensor,
      readChunk: async i => {
        const [c, len] = tensor.chunks[i]!
        const bytes = await this.readRange(plan, offsets[i]!, len)
        if (!rawCid(bytes).equals(c)) throw changed(`${modelPath} (tensor ${tensor.name})`)
        return bytes
      }
    }
  }

  async close (): Promise<void> {
    for (const h of this.handles.values()) await h.close()
    this.handles.clear()
  }
}

function changed (what: string): InvalidArgumentError {
  return new InvalidArgumentError(`${what} changed while mvc diff was reading it; run the diff again once nothing is writing to the folder`, { path: what })
}

// ---------------------------------------------------------------------------------------------------
// sides

interface Side {
  readonly endpoint: DiffEndpoint
  readonly manifest: Manifest
  readonly objects: ObjectReader
  readonly tensors: TensorSource
  readonly commit: CommitObject | null
}

const EMPTY_MANIFEST: Manifest = { type: 'mvc/manifest', kind: 'dir', entries: [], dirs: [], models: [] }

async function commitSide (repo: Repo, rev: string): Promise<Side> {
  const cid = await resolveRev(repo.store, rev)
  const commit = await readCommit(repo.store, cid)
  const manifest = await readManifest(repo.store, commit.model)
  const objects = storeReader(repo.store)
  return {
    endpoint: { rev, cid, version: commit.version, path: commit.path, manifest: commit.model, worktree: false, exists: true },
    manifest,
    objects,
    tensors: storeTensorSource(repo.store, objects),
    commit
  }
}

/** A sink that stores no chunk (like DRY_RUN) but keeps the structured objects, which are small. */
class CaptureSink implements ObjectSink {
  readonly objects = new Map<string, Uint8Array>()
  async putRaw (): Promise<boolean> { return true }
  async putObject (cid: CID, bytes: Uint8Array): Promise<boolean> {
    this.objects.set(cid.toString(), bytes)
    return true
  }
}

async function worktreeSide (repo: Repo, rel: string): Promise<Side> {
  const abs = join(repo.root, rel)
  const none = (): Side => ({
    endpoint: { rev: null, cid: null, version: null, path: rel, manifest: null, worktree: true, exists: false },
    manifest: EMPTY_MANIFEST,
    objects: storeReader(repo.store),
    tensors: storeTensorSource(repo.store),
    commit: null
  })
  if (rel === '.' || (await lstat(abs).catch(() => undefined)) === undefined) return none()
  const tree = await walk(abs)
  const cache = StatCache.for(repo.store, rel)
  let sink = new CaptureSink()
  let snap = await snapshot({ store: repo.store, sink, abs, cache, requireStored: false }, tree)
  // The model cache may answer with a model an earlier dry run computed but never stored: then there is
  // nothing to read its tensors from, so hash the folder again without the cache.
  for (const m of snap.manifest.value.models) {
    if (!sink.objects.has(m.model.toString()) && !(await repo.store.has(m.model))) {
      sink = new CaptureSink()
      snap = await snapshot({ store: repo.store, sink, abs, requireStored: false }, tree)
      break
    }
  }
  if (cache.pending > 0) {
    const tx = await repo.store.transaction()
    cache.flush(tx)
    await tx.commit()
  }
  const captured = sink.objects
  const stored = storeReader(repo.store)
  const objects: ObjectReader = {
    get: async cid => {
      const bytes = captured.get(cid.toString())
      return bytes === undefined ? await stored.get(cid) : decodeObject(cid, bytes, `working folder object ${cid.toString()}`)
    }
  }
  const files = new Map(tree.files.map(f => [f.rel, f]))
  return {
    endpoint: { rev: null, cid: null, version: null, path: rel, manifest: snap.manifest.cid, worktree: true, exists: true },
    manifest: snap.manifest.value,
    objects,
    tensors: new WorktreeTensorSource(files, objects),
    commit: null
  }
}

// ---------------------------------------------------------------------------------------------------
// generic value helpers

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !isCid(v)
}

function isCid (v: unknown): v is CID {
  return typeof v === 'object' && v !== null && (v as { asCID?: unknown }).asCID === v
}

/** Structural equality of decoded dag-cbor / JSON values. */
export function deepEqual (a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b)
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (isCid(a) || isCid(b)) return isCid(a) && isCid(b) && a.equals(b)
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i])
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  }
  const ra = a as Record<string, unknown>
  const rb = b as Record<string, unknown>
  const ka = Object.keys(ra).filter(k => ra[k] !== undefined)
  const kb = Object.keys(rb).filter(k => rb[k] !== undefined)
  return ka.length === kb.length && ka.every(k => Object.prototype.hasOwnProperty.call(rb, k) && deepEqual(ra[k], rb[k]))
}

/** Dotted paths of the fields that differ, descending into maps up to `depth` levels. */
function changedFields (a: unknown, b: unknown, prefix: string, depth: number): string[] {
  if (deepEqual(a, b)) return []
  if (depth <= 0 || !isRecord(a) || !isRecord(b)) return [prefix]
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
  return keys.flatMap(k => changedFields(a[k], b[k], prefix === '' ? k : `${prefix}.${k}`, depth - 1))
}

function isShapeField (key: string): boolean {
  const last = key.split('.').pop() ?? key
  return /(^|_)shapes?$/i.test(last)
}

/** A GraphDef shape attr (`{ shape: { dim: [{ size: '-1' }] } }`, `{ list: { shape: [...] } }`) as plain arrays. */
function plainShape (v: unknown): unknown {
  if (!isRecord(v)) return v
  if (isRecord(v.shape)) return plainShape(v.shape)
  if (isRecord(v.list) && Array.isArray(v.list.shape)) return v.list.shape.map(plainShape)
  if (v.unknownRank === true) return null
  if (Array.isArray(v.dim)) return v.dim.map(d => isRecord(d) ? Number(d.size ?? -1) : d)
  // A TensorShapeProto with no dims is a scalar.
  return Object.keys(v).length === 0 ? [] : v
}

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

// ---------------------------------------------------------------------------------------------------
// numeric comparison

interface Decoder {
  /** Stored bytes per element. */
  readonly bytes: number
  /** Two sides with the same key decode equal bytes to equal values (so identical chunks can be skipped). */
  readonly key: string
  readonly complex: boolean
  /** Decodes `count` elements of `src` into re (and im for complex64). */
  decode (src: Uint8Array, count: number, re: Float64Array, im: Float64Array): void
}

function view (src: Uint8Array): DataView {
  return new DataView(src.buffer, src.byteOffset, src.byteLength)
}

function float16 (h: number): number {
  const s = (h & 0x8000) !== 0 ? -1 : 1
  const e = (h >> 10) & 0x1f
  const f = h & 0x3ff
  if (e === 0) return s * f * 2 ** -24
  if (e === 31) return f === 0 ? s * Infinity : NaN
  return s * (1 + f / 1024) * 2 ** (e - 15)
}

/** How to read a tensor's stored elements as numbers, or why that is not done. */
function decoderFor (t: TensorObject): Decoder | { readonly reason: string } {
  const q = t.quantization
  if (q !== null && q !== undefined) {
    const rec = isRecord(q) ? q : {}
    const qd = rec.dtype
    const round = t.dtype === 'int32'
    if ((qd === 'uint8' || qd === 'uint16') && typeof rec.scale === 'number' && typeof rec.min === 'number') {
      const scale = rec.scale
      const min = rec.min
      const bytes = qd === 'uint8' ? 1 : 2
      return {
        bytes,
        key: `${qd}:${scale}:${min}:${t.dtype}`,
        complex: false,
        decode: (src, n, re) => {
          const dv = view(src)
          for (let i = 0; i < n; i++) {
            const v = (bytes === 1 ? src[i]! : dv.getUint16(2 * i, true)) * scale + min
            re[i] = round ? Math.round(v) : v
          }
        }
      }
    }
    if (qd === 'float16') {
      return { bytes: 2, key: 'float16', complex: false, decode: (src, n, re) => { const dv = view(src); for (let i = 0; i < n; i++) re[i] = float16(dv.getUint16(2 * i, true)) } }
    }
    return { reason: 'quantized: bytes differ' }
  }
  switch (t.dtype) {
    case 'float32':
      return { bytes: 4, key: 'float32', complex: false, decode: (src, n, re) => { const dv = view(src); for (let i = 0; i < n; i++) re[i] = dv.getFloat32(4 * i, true) } }
    case 'int32':
      return { bytes: 4, key: 'int32', complex: false, decode: (src, n, re) => { const dv = view(src); for (let i = 0; i < n; i++) re[i] = dv.getInt32(4 * i, true) } }
    case 'bool':
      return { bytes: 1, key: 'bool', complex: false, decode: (src, n, re) => { for (let i = 0; i < n; i++) re[i] = src[i] !== 0 ? 1 : 0 } }
    case 'complex64':
      return {
        bytes: 8,
        key: 'complex64',
        complex: true,
        decode: (src, n, re, im) => { const dv = view(src); for (let i = 0; i < n; i++) { re[i] = dv.getFloat32(8 * i, true); im[i] = dv.getFloat32(8 * i + 4, true) } }
      }
    case 'string':
      return { reason: 'string tensor: bytes differ' }
    default:
      return { reason: `${t.dtype}: bytes differ` }
  }
}

/** Reads one side's elements in order, one chunk in memory at a time. */
class ElementReader {
  private ci = 0
  private bo = 0
  private buf: Uint8Array | null = null
  constructor (private readonly h: TensorHandle, private readonly elem: number, private readonly counters: DiffCounters, private readonly local: { read: number }) {
    this.normalize()
  }

  private get chunks (): TensorObject['chunks'] { return this.h.tensor.chunks }
  get chunkLength (): number { return this.chunks[this.ci]?.[1] ?? 0 }
  get chunkCid (): CID | undefined { return this.chunks[this.ci]?.[0] }
  get atChunkStart (): boolean { return this.bo === 0 && this.ci < this.chunks.length }
  /** Whole elements left in the current chunk. */
  get wholeElements (): number { return Math.floor((this.chunkLength - this.bo) / this.elem) }

  private normalize (): void {
    while (this.ci < this.chunks.length && this.bo >= this.chunkLength) { this.ci++; this.bo = 0; this.buf = null }
  }

  async load (): Promise<Uint8Array> {
    if (this.buf === null) {
      this.buf = await this.h.readChunk(this.ci)
      if (this.buf.length !== this.chunkLength) throw new InvalidModelError(`tensor ${this.h.tensor.name}: chunk ${this.ci} has ${this.buf.length} bytes, its object says ${this.chunkLength}`, { tensor: this.h.tensor.name })
      this.counters.chunksRead++
      this.counters.bytesRead += this.buf.length
      this.local.read++
    }
    return this.buf
  }

  skipChunk (): void { this.bo = this.chunkLength; this.normalize() }

  /** The next `n` bytes (a view when they lie in one chunk). */
  async take (n: number): Promise<Uint8Array> {
    if (this.bo + n <= this.chunkLength) {
      const b = await this.load()
      const v = b.subarray(this.bo, this.bo + n)
      this.bo += n
      this.normalize()
      return v
    }
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      if (this.ci >= this.chunks.length) throw new InvalidModelError(`tensor ${this.h.tensor.name}: chunks end early`, { tensor: this.h.tensor.name })
      const b = await this.load()
      const k = Math.min(this.chunkLength - this.bo, n - filled)
      out.set(b.subarray(this.bo, this.bo + k), filled)
      this.bo += k
      filled += k
      this.normalize()
    }
    return out
  }
}

/** Streams both tensors chunk by chunk and accumulates the statistics. */
async function compareValues (ha: TensorHandle, hb: TensorHandle, da: Decoder, db: Decoder, counters: DiffCounters, exactNorm: boolean): Promise<TensorStats> {
  const elements = ha.tensor.shape.reduce((x, y) => x * y, 1)
  const local = { read: 0 }
  const ra = new ElementReader(ha, da.bytes, counters, local)
  const rb = new ElementReader(hb, db.bytes, counters, local)
  const sameDecoding = da.key === db.key
  let skipped = 0
  let normOnly = 0
  let maxAbs = 0
  let sumAbs = 0
  let sumSqDiff = 0
  let sumSqA = 0
  let changedElements = 0
  let nonFinite = 0
  let cap = 0
  let are = new Float64Array(0); let aim = new Float64Array(0); let bre = new Float64Array(0); let bim = new Float64Array(0)
  const ensure = (n: number): void => {
    if (n <= cap) return
    cap = n
    are = new Float64Array(n); aim = new Float64Array(n); bre = new Float64Array(n); bim = new Float64Array(n)
  }
  const addNorm = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const x = are[i]!; const y = da.complex ? aim[i]! : 0
      if (Number.isFinite(x) && Number.isFinite(y)) sumSqA += x * x + y * y
    }
  }
  let done = 0
  while (done < elements) {
    if (sameDecoding && ra.atChunkStart && rb.atChunkStart && ra.chunkLength === rb.chunkLength &&
        ra.chunkLength % da.bytes === 0 && ra.chunkCid !== undefined && rb.chunkCid !== undefined && ra.chunkCid.equals(rb.chunkCid)) {
      const n = Math.min(ra.chunkLength / da.bytes, elements - done)
      if (exactNorm) {
        const bytes = await ra.load()
        normOnly++
        ensure(n)
        da.decode(bytes, n, are, aim)
        addNorm(n)
      }
      ra.skipChunk()
      rb.skipChunk()
      skipped++
      counters.chunksSkipped++
      done += n
      continue
    }
    const m = Math.min(Math.max(1, ra.wholeElements), Math.max(1, rb.wholeElements), elements - done)
    const ba = await ra.take(m * da.bytes)
    const bb = await rb.take(m * db.bytes)
    ensure(m)
    da.decode(ba, m, are, aim)
    db.decode(bb, m, bre, bim)
    const complex = da.complex || db.complex
    for (let i = 0; i < m; i++) {
      const ar = are[i]!; const br = bre[i]!
      const ai = da.complex ? aim[i]! : 0; const bi = db.complex ? bim[i]! : 0
      if (Number.isFinite(ar) && Number.isFinite(br) && Number.isFinite(ai) && Number.isFinite(bi)) {
        sumSqA += ar * ar + ai * ai
        const dr = br - ar
        const di = bi - ai
        if (dr === 0 && di === 0) continue
        const d = complex ? Math.hypot(dr, di) : Math.abs(dr)
        changedElements++
        if (d > maxAbs) maxAbs = d
        sumAbs += d
        sumSqDiff += dr * dr + di * di
      } else if (!(Object.is(ar, br) || (Number.isNaN(ar) && Number.isNaN(br))) || !(Object.is(ai, bi) || (Number.isNaN(ai) && Number.isNaN(bi)))) {
        if (Number.isFinite(ar) && Number.isFinite(ai)) sumSqA += ar * ar + ai * ai
        nonFinite++
        changedElements++
      }
    }
    done += m
  }
  counters.normChunksRead += normOnly
  const relL2Exact = skipped === 0 || exactNorm
  const normA = Math.sqrt(sumSqA)
  const normD = Math.sqrt(sumSqDiff)
  const relL2 = normD === 0 ? 0 : normA === 0 ? null : normD / normA
  return {
    elements,
    changedElements,
    maxAbs,
    meanAbs: elements === 0 ? 0 : sumAbs / elements,
    relL2,
    relL2Exact,
    nonFinite,
    chunks: Math.max(ha.tensor.chunks.length, hb.tensor.chunks.length),
    chunksRead: local.read,
    chunksSkipped: skipped
  }
}

// ---------------------------------------------------------------------------------------------------
// models and tensors

interface LoadedModel { readonly cid: CID, readonly model: ModelObject }

async function loadModels (side: Side): Promise<Map<string, LoadedModel>> {
  const out = new Map<string, LoadedModel>()
  for (const m of side.manifest.models) out.set(m.path, { cid: m.model, model: parseModel(await side.objects.get(m.model)) })
  return out
}

function meta (t: TensorObject, cid: CID): TensorMeta {
  return { dtype: t.dtype, shape: t.shape, quantization: t.quantization, size: t.size, cid }
}

interface TensorEntry { readonly index: number, readonly cid: CID, readonly tensor: TensorObject }

async function readTensorObjects (side: Side, model: ModelObject, indexes: readonly number[]): Promise<TensorEntry[]> {
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

async function diffModelTensors (
  path: string, a: Side, b: Side, ma: ModelObject | null, mb: ModelObject | null, counters: DiffCounters, exactNorm: boolean
): Promise<{ tensors: TensorDiff[], unchanged: number, shapeChanges: TopologyChange[] }> {
  const cidsA = new Set((ma?.tensors ?? []).map(t => t.tensor.toString()))
  const cidsB = new Set((mb?.tensors ?? []).map(t => t.tensor.toString()))
  // Equal tensor CIDs are equal tensors (name, dtype, shape and bytes): never opened.
  const onlyA = (ma?.tensors ?? []).map((t, i) => cidsB.has(t.tensor.toString()) ? -1 : i).filter(i => i >= 0)
  const onlyB = (mb?.tensors ?? []).map((t, i) => cidsA.has(t.tensor.toString()) ? -1 : i).filter(i => i >= 0)
  const unchanged = (mb?.tensors.length ?? 0) - onlyB.length
  const ta = ma === null ? [] : await readTensorObjects(a, ma, onlyA)
  const tb = mb === null ? [] : await readTensorObjects(b, mb, onlyB)
  const byNameA = new Map<string, TensorEntry[]>()
  for (const t of ta) byNameA.set(t.tensor.name, [...(byNameA.get(t.tensor.name) ?? []), t])
  const out: TensorDiff[] = []
  const shapeChanges: TopologyChange[] = []
  const matched = new Set<TensorEntry>()
  for (const eb of tb) {
    const ea = byNameA.get(eb.tensor.name)?.find(x => !matched.has(x))
    if (ea === undefined) {
      out.push({ model: path, name: eb.tensor.name, status: 'added', kind: null, a: null, b: meta(eb.tensor, eb.cid), stats: null, note: null })
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
    out.push({ model: path, name: y.name, status: 'changed', kind, a: meta(x, ea.cid), b: meta(y, eb.cid), stats, note })
  }
  for (const ea of ta) {
    if (!matched.has(ea)) out.push({ model: path, name: ea.tensor.name, status: 'removed', kind: null, a: meta(ea.tensor, ea.cid), b: null, stats: null, note: null })
  }
  return { tensors: out, unchanged, shapeChanges }
}

async function readTopology (side: Side, cid: CID | null): Promise<TopologyObject | null> {
  return cid === null ? null : parseTopology(await side.objects.get(cid))
}

// ---------------------------------------------------------------------------------------------------
// lineage

function diffRecords (a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): { added: ValueEntry[], removed: ValueEntry[], changed: ChangedEntry[] } {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
  const added: ValueEntry[] = []
  const removed: ValueEntry[] = []
  const changedList: ChangedEntry[] = []
  for (const name of names) {
    const inA = Object.prototype.hasOwnProperty.call(a, name)
    const inB = Object.prototype.hasOwnProperty.call(b, name)
    if (inA && !inB) removed.push({ name, value: a[name] })
    else if (!inA && inB) added.push({ name, value: b[name] })
    else if (!deepEqual(a[name], b[name])) changedList.push({ name, a: a[name], b: b[name] })
  }
  return { added, removed, changed: changedList }
}

function lineageStatus (a: unknown, b: unknown, same: boolean): LineageStatus {
  const na = a === null || a === undefined
  const nb = b === null || b === undefined
  if (na && nb) return 'none'
  if (na) return 'added'
  if (nb) return 'removed'
  return same ? 'same' : 'changed'
}

async function diffData (store: ObjectStore, a: unknown, b: unknown): Promise<DataDiff> {
  const pa = parseDataLineage(a)
  const pb = parseDataLineage(b)
  let same: boolean
  if (pa !== null && pb !== null) {
    same = pa.kind === 'snapshot' && pb.kind === 'snapshot' ? pa.manifest.equals(pb.manifest) : pa.kind === 'ref' && pb.kind === 'ref' ? pa.ref === pb.ref : false
  } else {
    same = deepEqual(a, b)
  }
  const status = lineageStatus(a, b, same)
  let files: DataDiff['files'] = null
  if (status === 'changed' && pa?.kind === 'snapshot' && pb?.kind === 'snapshot' && await store.has(pa.manifest) && await store.has(pb.manifest)) {
    files = compareManifests(await readManifest(store, pa.manifest), await readManifest(store, pb.manifest))
  }
  return { status, a: a ?? null, b: b ?? null, files }
}

function diffCode (a: unknown, b: unknown): CodeDiff {
  const pa = parseCodeLineage(a)
  const pb = parseCodeLineage(b)
  const same = pa !== null && pb !== null && pa.kind === 'git' && pb.kind === 'git'
    ? pa.oid === pb.oid && pa.dirty === pb.dirty && deepEqual(pa.dirtyPaths, pb.dirtyPaths)
    : deepEqual(a, b)
  return { status: lineageStatus(a, b, same), a: a ?? null, b: b ?? null }
}

// ---------------------------------------------------------------------------------------------------
// the diff

export async function diff (options: DiffOptions): Promise<DiffResult> {
  const { repo } = options
  const a = await commitSide(repo, options.a)
  const b = options.b === undefined ? await worktreeSide(repo, a.endpoint.path) : await commitSide(repo, options.b)
  try {
    return await compareSides(repo.store, a, b, options.exactNorm === true)
  } finally {
    await a.tensors.close()
    await b.tensors.close()
  }
}

async function compareSides (store: ObjectStore, a: Side, b: Side, exactNorm: boolean): Promise<DiffResult> {
  const counters: DiffCounters = { tensorsCompared: 0, chunksRead: 0, bytesRead: 0, chunksSkipped: 0, normChunksRead: 0 }
  const modelsA = await loadModels(a)
  const modelsB = await loadModels(b)
  const fileA = new Map(a.manifest.entries.map(e => [e.path, e]))
  const fileB = new Map(b.manifest.entries.map(e => [e.path, e]))
  const paths = [...new Set([...modelsA.keys(), ...modelsB.keys()])].sort()

  const models: ModelDiff[] = []
  const topology: ModelTopologyDiff[] = []
  const tensors: TensorDiff[] = []
  let unchangedTensors = 0
  const modelFiles = new Set<string>()
  for (const path of paths) {
    const ma = modelsA.get(path)
    const mb = modelsB.get(path)
    modelFiles.add(path)
    for (const s of [...(ma?.model.shards ?? []), ...(mb?.model.shards ?? [])]) modelFiles.add(s)
    const jsonA = fileA.get(path)
    const jsonB = fileB.get(path)
    const jsonChanged = ma !== undefined && mb !== undefined && !(jsonA !== undefined && jsonB !== undefined && jsonA.file.equals(jsonB.file))
    const sameModel = ma !== undefined && mb !== undefined && ma.cid.equals(mb.cid)
    const status: ModelStatus = ma === undefined ? 'added' : mb === undefined ? 'removed' : sameModel && !jsonChanged ? 'unchanged' : 'modified'
    const shardsDiffer = ma !== undefined && mb !== undefined && !deepEqual(ma.model.shards, mb.model.shards)
    models.push({
      path,
      status,
      format: { a: ma?.model.format ?? null, b: mb?.model.format ?? null },
      a: ma?.cid ?? null,
      b: mb?.cid ?? null,
      shards: shardsDiffer ? { a: [...ma.model.shards], b: [...mb.model.shards] } : null,
      jsonChanged
    })
    if (sameModel) { unchangedTensors += mb.model.tensors.length; continue }
    const t = await diffModelTensors(path, a, b, ma?.model ?? null, mb?.model ?? null, counters, exactNorm)
    tensors.push(...t.tensors)
    unchangedTensors += t.unchanged
    if (ma !== undefined && mb !== undefined) {
      const ca = ma.model.topology
      const cb = mb.model.topology
      const changes = ca !== null && cb !== null && ca.equals(cb)
        ? []
        : diffTopology(await readTopology(a, ca), await readTopology(b, cb))
      if (ma.model.format !== mb.model.format && !changes.some(c => c.kind === 'format-changed')) {
        changes.unshift({ kind: 'format-changed', name: null, type: null, fields: ['format'], shapes: [] })
      }
      changes.push(...t.shapeChanges)
      if (changes.length > 0) topology.push({ model: path, changes })
    }
  }

  // Other files.
  const d = compareManifests(
    { ...a.manifest, entries: a.manifest.entries.filter(e => !modelFiles.has(e.path)) },
    { ...b.manifest, entries: b.manifest.entries.filter(e => !modelFiles.has(e.path)) })
  const files: FilesDiff = {
    added: d.added,
    removed: d.removed,
    modified: d.modified.map(p => {
      const x = fileA.get(p)!
      const y = fileB.get(p)!
      return { path: p, content: !x.file.equals(y.file), mode: x.mode === y.mode ? null : { a: x.mode, b: y.mode } }
    }),
    dirsAdded: b.manifest.dirs.filter(x => !a.manifest.dirs.includes(x)),
    dirsRemoved: a.manifest.dirs.filter(x => !b.manifest.dirs.includes(x))
  }

  // Lineage: only between two commits.
  let params: ParamsDiff | null = null
  let metrics: MetricsDiff | null = null
  let data: DataDiff | null = null
  let code: CodeDiff | null = null
  if (a.commit !== null && b.commit !== null) {
    params = diffRecords(a.commit.params, b.commit.params)
    const m = diffRecords(a.commit.metrics, b.commit.metrics)
    metrics = {
      added: m.added,
      removed: m.removed,
      changed: m.changed.map(c => ({ ...c, delta: typeof c.a === 'number' && typeof c.b === 'number' ? c.b - c.a : null }))
    }
    data = await diffData(store, a.commit.data, b.commit.data)
    code = diffCode(a.commit.code, b.commit.code)
  }

  const count = <T>(xs: readonly T[], f: (x: T) => boolean): number => xs.reduce((n, x) => n + (f(x) ? 1 : 0), 0)
  const allChanges = topology.flatMap(t => t.changes)
  const summary: DiffSummary = {
    models: {
      added: count(models, m => m.status === 'added'),
      removed: count(models, m => m.status === 'removed'),
      modified: count(models, m => m.status === 'modified'),
      unchanged: count(models, m => m.status === 'unchanged')
    },
    topology: {
      added: count(allChanges, c => c.kind === 'layer-added' || c.kind === 'node-added'),
      removed: count(allChanges, c => c.kind === 'layer-removed' || c.kind === 'node-removed'),
      changed: count(allChanges, c => c.kind === 'layer-changed' || c.kind === 'node-changed'),
      shapes: allChanges.reduce((n, c) => n + c.shapes.length, 0)
    },
    tensors: {
      changed: count(tensors, t => t.status === 'changed'),
      added: count(tensors, t => t.status === 'added'),
      removed: count(tensors, t => t.status === 'removed'),
      unchanged: unchangedTensors
    },
    files: { added: files.added.length, removed: files.removed.length, modified: files.modified.length },
    params: params === null ? null : { added: params.added.length, removed: params.removed.length, changed: params.changed.length },
    metrics: metrics === null ? null : { added: metrics.added.length, removed: metrics.removed.length, changed: metrics.changed.length },
    data: data?.status ?? null,
    code: code?.status ?? null
  }
  const lineageDiffers = (s: LineageStatus | null): boolean => s !== null && s !== 'none' && s !== 'same'
  const identical =
    models.every(m => m.status === 'unchanged') && topology.length === 0 && tensors.length === 0 &&
    files.added.length + files.removed.length + files.modified.length + files.dirsAdded.length + files.dirsRemoved.length === 0 &&
    (summary.params === null || summary.params.added + summary.params.removed + summary.params.changed === 0) &&
    (summary.metrics === null || summary.metrics.added + summary.metrics.removed + summary.metrics.changed === 0) &&
    !lineageDiffers(summary.data) && !lineageDiffers(summary.code) &&
    (a.endpoint.exists === b.endpoint.exists) && a.manifest.kind === b.manifest.kind
  return { a: a.endpoint, b: b.endpoint, identical, models, topology, tensors, files, params, metrics, data, code, summary, stats: counters }
}
