/**
 * Tensor-level storage of TF.js models found in a snapshot.
 *
 * For every JSON file that is a TF.js model (src/model/tfjs.ts decides), each weight is read from the
 * shards in manifest order — across shard boundaries — and stored as its own `mvc/tensor` object whose
 * bytes are split into row-aligned raw chunks. Each shard file is then stored as an `mvc/file` whose
 * extents are slices of those tensor chunks, so checkout rebuilds it byte for byte, and re-sharding the
 * same weights stores no tensor bytes. The topology goes into a canonical `mvc/topology` object (for
 * diff) and everything is tied together by an `mvc/model` object listed in the manifest. The model
 * JSON file itself is stored as an ordinary file (its original bytes).
 */
import { open, readFile, type FileHandle } from 'node:fs/promises'
import { readSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { rawCid, type Block } from '../content/block.js'
import { InvalidModelError } from '../errors.js'
import { parseModelJson, planTensors, type ModelDescriptor, type TensorPlan } from '../format/tfjs.js'
import type { Extent, FileObject, ManifestModel, ModelObject, TensorObject, TopologyObject } from '../format/objects.js'
import { writeObject, type ObjectSink } from './objects.js'
import type { StatCache } from './statcache.js'
import type { WalkedFile } from './snapshot.js'
import type { ObjectStore } from '../store/interface.js'

/** Target size of a tensor chunk: whole rows up to about 1 MiB (docs/design.md, "Models"). */
export const TENSOR_CHUNK_TARGET = 1 << 20
/** JSON files larger than this are not examined as models. */
export const MAX_MODEL_JSON = 64 << 20

export interface ModelPlanResult {
  readonly models: ManifestModel[]
  /** File object CIDs of the shard files the models cover, by relative path. */
  readonly shardFiles: Map<string, CID>
  /** Bytes read from shards to store tensors. */
  hashedBytes: number
  /** Format of each model, by JSON path. */
  readonly formats: Map<string, ModelDescriptor['format']>
}

/** Bytes per tensor chunk: whole rows, about TENSOR_CHUNK_TARGET; rows larger than that are split. */
export function tensorChunkBytes (plan: TensorPlan): number {
  if (plan.byteLength <= TENSOR_CHUNK_TARGET) return Math.max(1, plan.byteLength)
  if (plan.rowBytes <= 0 || plan.rowBytes >= TENSOR_CHUNK_TARGET) return TENSOR_CHUNK_TARGET
  return Math.floor(TENSOR_CHUNK_TARGET / plan.rowBytes) * plan.rowBytes
}

class ShardReader {
  private readonly handles = new Map<string, FileHandle>()
  constructor (private readonly files: ReadonlyMap<string, WalkedFile>) {}

  private async handle (shard: string): Promise<FileHandle> {
    let h = this.handles.get(shard)
    if (h === undefined) {
      const f = this.files.get(shard)
      if (f === undefined) throw new InvalidModelError(`weight shard ${shard} is missing`, { shard })
      h = await open(f.abs, 'r')
      this.handles.set(shard, h)
    }
    return h
  }

  async read (shard: string, offset: number, into: Uint8Array, at: number, length: number): Promise<void> {
    const fh = await this.handle(shard)
    let done = 0
    while (done < length) {
      const { bytesRead } = await fh.read(into, at + done, length - done, offset + done)
      if (bytesRead === 0) throw new InvalidModelError(`weight shard ${shard} changed while it was being read (short read at ${offset + done})`, { shard })
      done += bytesRead
    }
  }

  /** Synchronous read, for string tensors whose length is found by walking their bytes. */
  readSync (shard: string, offset: number, length: number): Uint8Array {
    const f = this.files.get(shard)
    if (f === undefined) throw new InvalidModelError(`weight shard ${shard} is missing`, { shard })
    const h = this.handles.get(shard)
    const buf = new Uint8Array(length)
    if (h === undefined) throw new TypeError('readSync before the shard was opened')
    let done = 0
    while (done < length) {
      const n = readSync(h.fd, buf, done, length - done, offset + done)
      if (n === 0) break
      done += n
    }
    return buf.subarray(0, done)
  }

  async openAll (shards: readonly string[]): Promise<void> {
    for (const s of shards) await this.handle(s)
  }

  async close (): Promise<void> {
    for (const h of this.handles.values()) await h.close()
    this.handles.clear()
  }
}

/** Streams one tensor's bytes into row-aligned chunks; returns the chunks and per-shard extents. */
async function storeTensor (sink: ObjectSink, reader: ShardReader, plan: TensorPlan, shardExtents: Map<string, Extent[]>, scratch: Uint8Array): Promise<Block<TensorObject>> {
  const size = tensorChunkBytes(plan)
  const chunks: Array<[CID, number]> = []
  // Tensor offset ranges → shard positions, in order.
  let spanIndex = 0
  let spanStart = 0 // tensor offset where spans[spanIndex] begins
  for (let tOff = 0; tOff < plan.byteLength || (plan.byteLength === 0 && chunks.length === 0); tOff += size) {
    const len = Math.min(size, plan.byteLength - tOff)
    // One reused buffer: sinks copy or write the bytes before putRaw resolves (a fresh 1 MiB array per
    // chunk made garbage collection a fifth of commit time).
    const buf = scratch.subarray(0, len)
    // Fill from spans, and note which shard slices this chunk covers.
    const pieces: Array<{ shard: string, offsetInChunk: number, length: number }> = []
    let filled = 0
    while (filled < len) {
      const span = plan.spans[spanIndex]
      if (span === undefined) throw new InvalidModelError(`tensor ${plan.spec.name}: shard layout ends early`, { tensor: plan.spec.name })
      const within = tOff + filled - spanStart
      const take = Math.min(span.length - within, len - filled)
      await reader.read(span.shard, span.offset + within, buf, filled, take)
      pieces.push({ shard: span.shard, offsetInChunk: filled, length: take })
      filled += take
      if (within + take === span.length) { spanStart += span.length; spanIndex++ }
    }
    const cid = rawCid(buf)
    await sink.putRaw(cid, buf)
    chunks.push([cid, len])
    for (const p of pieces) {
      const list = shardExtents.get(p.shard) ?? []
      list.push(p.offsetInChunk === 0 ? [cid, p.length] : [cid, p.length, p.offsetInChunk])
      shardExtents.set(p.shard, list)
    }
    if (len === 0) break
  }
  const q = plan.spec.quantization
  return await writeObject<TensorObject>(sink, {
    type: 'mvc/tensor',
    name: plan.spec.name,
    dtype: plan.spec.dtype,
    shape: [...plan.spec.shape],
    quantization: q === undefined ? null : jsonValue(q),
    size: plan.byteLength,
    chunks
  })
}

/** A JSON value made safe for dag-cbor (no undefined; integers stay integers). */
function jsonValue (v: unknown): unknown {
  return JSON.parse(JSON.stringify(v ?? null)) as unknown
}

async function storeModel (sink: ObjectSink, desc: ModelDescriptor, files: ReadonlyMap<string, WalkedFile>): Promise<{ model: Block<ModelObject>, shards: Map<string, Block<FileObject>>, bytes: number }> {
  const sizes = new Map<string, number>()
  for (const s of desc.shards) {
    const f = files.get(s)
    if (f === undefined) {
      throw new InvalidModelError(`${desc.jsonPath}: weight shard ${s} is listed in weightsManifest but is not in the folder; copy the shard next to the model or fix the paths`, { file: desc.jsonPath, shard: s })
    }
    sizes.set(s, Number(f.stats.size))
  }
  const reader = new ShardReader(files)
  try {
    await reader.openAll(desc.shards)
    const plans = planTensors(desc, sizes, (shard, offset, length) => reader.readSync(shard, offset, length))
    const shardExtents = new Map<string, Extent[]>()
    const tensors: Array<{ group: number, tensor: CID }> = []
    const scratch = new Uint8Array(Math.max(1, ...plans.map(tensorChunkBytes)))
    let bytes = 0
    for (const plan of plans) {
      const t = await storeTensor(sink, reader, plan, shardExtents, scratch)
      tensors.push({ group: plan.spec.group, tensor: t.cid })
      bytes += plan.byteLength
    }
    const shards = new Map<string, Block<FileObject>>()
    for (const s of desc.shards) {
      if (shards.has(s)) continue
      const extents = shardExtents.get(s) ?? []
      const size = extents.reduce((a, e) => a + e[1], 0)
      if (size !== sizes.get(s)) {
        throw new InvalidModelError(`${desc.jsonPath}: shard ${s} has ${sizes.get(s) ?? 0} bytes but its weights cover ${size}`, { file: desc.jsonPath, shard: s })
      }
      shards.set(s, await writeObject<FileObject>(sink, { type: 'mvc/file', size, extents }))
    }
    const topology = desc.topology === null
      ? null
      : (await writeObject<TopologyObject>(sink, { type: 'mvc/topology', format: desc.format, topology: jsonValue(desc.topology), meta: jsonValue(desc.meta) as Record<string, unknown> })).cid
    const model = await writeObject<ModelObject>(sink, {
      type: 'mvc/model',
      format: desc.format,
      path: desc.jsonPath,
      topology,
      groups: desc.weightsManifest.map(g => [...g.paths]),
      shards: [...desc.shards],
      tensors
    })
    return { model, shards, bytes }
  } finally {
    await reader.close()
  }
}

function modelCacheKey (jsonBytes: Uint8Array, shardCids: readonly string[]): string {
  const h = createHash('sha256').update(jsonBytes)
  for (const c of shardCids) h.update('\0' + c)
  return h.digest('hex')
}

export interface PlanModelsOptions {
  readonly store: ObjectStore
  readonly sink: ObjectSink
  readonly files: readonly WalkedFile[]
  readonly cache?: StatCache
  readonly requireStored: boolean
}

/** Finds the TF.js models among the walked files and stores them tensor by tensor. */
export async function planModels (options: PlanModelsOptions): Promise<ModelPlanResult> {
  const { store, sink, cache } = options
  const byPath = new Map(options.files.map(f => [f.rel, f]))
  const result: ModelPlanResult = { models: [], shardFiles: new Map(), hashedBytes: 0, formats: new Map() }
  for (const f of options.files) {
    if (!f.rel.toLowerCase().endsWith('.json') || Number(f.stats.size) > MAX_MODEL_JSON) continue
    const bytes = await readFile(f.abs)
    const desc = parseModelJson(f.rel, bytes)
    if (desc === null) continue
    result.formats.set(f.rel, desc.format)
    // Fast path: every shard unchanged (stat cache) and this exact model stored before.
    if (cache !== undefined) {
      const cids: string[] = []
      for (const s of desc.shards) {
        const w = byPath.get(s)
        const c = w === undefined ? undefined : await cache.lookup(s, w.stats)
        if (c === undefined || (options.requireStored && !(await store.has(CID.parse(c))))) break
        cids.push(c)
      }
      if (cids.length === desc.shards.length) {
        const key = modelCacheKey(bytes, cids)
        const cached = await cache.lookupModel(key)
        if (cached !== undefined && (!options.requireStored || await store.has(CID.parse(cached)))) {
          result.models.push({ path: f.rel, model: CID.parse(cached) })
          desc.shards.forEach((s, i) => result.shardFiles.set(s, CID.parse(cids[i]!)))
          continue
        }
      }
    }
    const stored = await storeModel(sink, desc, byPath)
    result.hashedBytes += stored.bytes
    result.models.push({ path: f.rel, model: stored.model.cid })
    for (const [s, block] of stored.shards) {
      if (!result.shardFiles.has(s)) result.shardFiles.set(s, block.cid)
      const w = byPath.get(s)
      if (w !== undefined) cache?.record(s, w.stats, block.cid.toString())
    }
    cache?.recordModel(modelCacheKey(bytes, desc.shards.map(s => result.shardFiles.get(s)!.toString())), stored.model.cid.toString())
  }
  return result
}
