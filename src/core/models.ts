/**
 * Tensor-level storage of the models found in a snapshot, for every format (src/formats/).
 *
 * Each adapter lays its models out as tensors — byte ranges in the snapshot's files — and topology.
 * Here, each tensor is read through its spans and stored as its own `mvc/tensor` whose bytes are split
 * into row-aligned raw chunks (`tensorChunkBytes`), so identical weights dedup across versions and
 * across formats. Every file a model covers is then stored as an `mvc/file` whose extents are, in file
 * order, slices of those tensor chunks and of the chunks of the bytes between tensors (a container's
 * headers, indexes and metadata: streamed through the content-defined chunker as one stream per
 * file). Checkout rebuilds such files byte for byte like any other file, and re-sharding the same
 * weights stores no tensor bytes. The topology goes into a canonical `mvc/topology` object (for diff)
 * and the adapter's `mvc/model` object ties it together; it is listed in the manifest.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { decodeObject, encodeObject, rawCid, rawCidFromDigest, type Block } from '../content/block.js'
import { Chunker } from '../content/chunker.js'
import { InvalidModelError } from '../errors.js'
import { parseModel, type Extent, type FileObject, type Manifest, type ManifestModel, type TensorObject, type TopologyObject } from '../format/objects.js'
import type { FileAccess, ModelFormat, ModelLayout, SnapshotFile, TensorLayout } from '../formats/interface.js'
import { writeObject } from './objects.js'
import type { ObjectWriter } from '../store/interface.js'
import type { FilePieces, StatCache } from './statcache.js'
import type { WalkedFile } from './walk.js'
import type { ObjectReader, ObjectStore } from '../store/interface.js'
import { BufferPool, Hasher } from './hashing.js'
import { ordered } from './pipeline.js'

/** Target size of a tensor chunk: whole rows up to about 1 MiB (docs/design.md, "Models"). */
export const TENSOR_CHUNK_TARGET = 1 << 20

/** Bytes per tensor chunk: whole rows, about TENSOR_CHUNK_TARGET; rows larger than that are split. */
export function tensorChunkBytes (plan: { readonly byteLength: number, readonly rowBytes: number }): number {
  if (plan.byteLength <= TENSOR_CHUNK_TARGET) return Math.max(1, plan.byteLength)
  if (plan.rowBytes <= 0 || plan.rowBytes >= TENSOR_CHUNK_TARGET) return TENSOR_CHUNK_TARGET
  return Math.floor(TENSOR_CHUNK_TARGET / plan.rowBytes) * plan.rowBytes
}

/** Reads the working folder's files for adapters and for tensor storage (handles kept open, closed by `close`). */
export class DiskFileAccess implements FileAccess {
  readonly files: ReadonlyMap<string, SnapshotFile>
  private readonly walked: ReadonlyMap<string, WalkedFile>
  private readonly handles = new Map<string, Promise<FileHandle>>()

  constructor (files: readonly WalkedFile[]) {
    this.walked = new Map(files.map(f => [f.rel, f]))
    this.files = new Map(files.map(f => [f.rel, { path: f.rel, size: Number(f.stats.size) }]))
  }

  private async handle (path: string): Promise<FileHandle> {
    let h = this.handles.get(path)
    if (h === undefined) {
      const f = this.walked.get(path)
      if (f === undefined) throw new InvalidModelError(`${path} is missing`, { path })
      // The promise is kept, so reads running at once share one handle.
      h = open(f.abs, 'r')
      this.handles.set(path, h)
    }
    return await h
  }

  /** Fills `into[at, at + length)` from the file at `offset`. */
  async readInto (path: string, offset: number, into: Uint8Array, at: number, length: number): Promise<void> {
    const fh = await this.handle(path)
    let done = 0
    while (done < length) {
      const { bytesRead } = await fh.read(into, at + done, length - done, offset + done)
      if (bytesRead === 0) throw new InvalidModelError(`${path} changed while it was being read (short read at ${offset + done})`, { path })
      done += bytesRead
    }
  }

  async read (path: string, offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length)
    await this.readInto(path, offset, out, 0, length)
    return out
  }

  async readAll (path: string): Promise<Uint8Array> {
    return await this.read(path, 0, this.files.get(path)?.size ?? 0)
  }

  async close (): Promise<void> {
    const hs = [...this.handles.values()]
    this.handles.clear()
    for (const h of hs) await h.then(async fh => await fh.close(), () => {})
  }
}

/** A piece of a covered file: bytes [offset, offset + length) are `length` bytes of `chunk` from `inChunk`. */
interface Piece { readonly offset: number, readonly length: number, readonly chunk: CID, readonly inChunk: number, readonly chunkLength: number }

/** One tensor chunk to store: which file ranges fill it, and its CID when known without reading. */
interface ChunkPlan {
  readonly tensor: number
  readonly length: number
  readonly covered: ReadonlyArray<{ readonly file: string, readonly offset: number, readonly inChunk: number, readonly length: number }>
  reuse?: CID
}

/** Every chunk of every tensor, in order: whole rows of about TENSOR_CHUNK_TARGET, read through the spans. */
function planChunks (layout: ModelLayout): ChunkPlan[] {
  const plans: ChunkPlan[] = []
  layout.tensors.forEach((t, ti) => {
    const size = tensorChunkBytes(t)
    let spanIndex = 0
    let spanStart = 0 // tensor offset where spans[spanIndex] begins
    let first = true
    for (let tOff = 0; tOff < t.byteLength || (t.byteLength === 0 && first); tOff += size) {
      first = false
      const len = Math.min(size, t.byteLength - tOff)
      const covered: Array<{ file: string, offset: number, inChunk: number, length: number }> = []
      let filled = 0
      while (filled < len) {
        const span = t.spans[spanIndex]
        if (span === undefined) throw new InvalidModelError(`tensor ${t.name}: its layout ends early`, { tensor: t.name })
        const within = tOff + filled - spanStart
        const take = Math.min(span.length - within, len - filled)
        covered.push({ file: span.file, offset: span.offset + within, inChunk: filled, length: take })
        filled += take
        if (within + take === span.length) { spanStart += span.length; spanIndex++ }
      }
      plans.push({ tensor: ti, length: len, covered })
      if (len === 0) break
    }
  })
  return plans
}

/**
 * Chunks whose bytes all lie in unchanged files keep their CIDs: each file range of the chunk must be
 * a piece the file produced before (same offset, length and place in the same chunk, of the same
 * length). The file's bytes are unchanged (stat cache), so the chunk's bytes are that chunk's bytes.
 */
function reuseChunks (plans: ChunkPlan[], reuse: ReadonlyMap<string, FilePieces>): number {
  if (reuse.size === 0) return 0
  const byOffset = new Map<string, Map<number, FilePieces['pieces'][number]>>()
  for (const [file, fp] of reuse) byOffset.set(file, new Map(fp.pieces.map(p => [p[0], p])))
  let reused = 0
  for (const plan of plans) {
    let cid: string | undefined
    let ok = plan.covered.length > 0
    for (const c of plan.covered) {
      const p = byOffset.get(c.file)?.get(c.offset)
      if (p === undefined || p[1] !== c.length || p[3] !== c.inChunk || p[4] !== plan.length || (cid !== undefined && p[2] !== cid)) { ok = false; break }
      cid = p[2]
    }
    if (ok && cid !== undefined) {
      plan.reuse = CID.parse(cid)
      reused += plan.length
    }
  }
  return reused
}

/** Memory and threads of one storing run: chunk buffers are reused, hashing runs on other threads. */
export interface StoreContext {
  readonly hasher: Hasher
  readonly pool: BufferPool
  /** Which objects the store holds already (one look-up for many), when storing for real. */
  readonly stored?: (cids: readonly CID[]) => Promise<boolean[]>
}

/**
 * Writes structured objects, skipping those the store holds (found with one look-up for all, instead
 * of one per object inside putObject): a fine-tune rewrites a model's hundreds of tensor and file
 * objects, nearly all of them unchanged.
 */
async function putObjects (sink: ObjectWriter, blocks: ReadonlyArray<Block<unknown>>, ctx: StoreContext): Promise<void> {
  const known = ctx.stored === undefined ? blocks.map(() => false) : await ctx.stored(blocks.map(b => b.cid))
  for (const [i, b] of blocks.entries()) if (known[i] !== true) await sink.putObject(b.cid, b.bytes)
}

/** Chunks read (and hashed) at once, and handed to the store per batch: 24 MiB of buffers at most. */
const READ_WINDOW = 16
const WRITE_BATCH = 8

/**
 * Stores every planned chunk: reads run several at a time, hashing runs on worker threads, and the
 * store gets the chunks in order, a batch at a time (one index look-up per batch, writes together).
 * Returns each plan's CID.
 */
async function storeChunks (sink: ObjectWriter, access: DiskFileAccess, plans: readonly ChunkPlan[], ctx: StoreContext, onBytes?: (n: number) => void): Promise<CID[]> {
  const cids: CID[] = new Array<CID>(plans.length)
  interface Done { readonly cid: CID, readonly bytes: Uint8Array | undefined, readonly length: number }
  await ordered<Done>({
    count: plans.length,
    window: READ_WINDOW,
    batch: WRITE_BATCH,
    produce: async i => {
      const plan = plans[i]!
      if (plan.reuse !== undefined) return { cid: plan.reuse, bytes: undefined, length: plan.length }
      const buf = ctx.pool.take(plan.length)
      try {
        await Promise.all(plan.covered.map(async c => await access.readInto(c.file, c.offset, buf, c.inChunk, c.length)))
      } catch (err) {
        ctx.pool.give(buf)
        throw err
      }
      const { digest, bytes } = await ctx.hasher.hash(buf, true)
      return { cid: rawCidFromDigest(digest), bytes, length: plan.length }
    },
    consume: async (items, first) => {
      const put = items.filter(d => d.bytes !== undefined) as Array<{ cid: CID, bytes: Uint8Array }>
      try {
        if (put.length > 0) {
          if (sink.putRawMany !== undefined) await sink.putRawMany(put)
          else for (const d of put) await sink.putRaw(d.cid, d.bytes)
        }
      } finally {
        for (const d of put) ctx.pool.give(d.bytes)
      }
      items.forEach((d, j) => { cids[first + j] = d.cid; onBytes?.(d.length) })
    }
  })
  return cids
}

const GAP_READ = 1 << 20

/**
 * The file object of a covered file: its tensor pieces in file order, and the bytes between them
 * streamed through the content-defined chunker (one stream per file) and referenced as slices.
 */
async function storeCoveredFile (sink: ObjectWriter, access: DiskFileAccess, path: string, filePieces: readonly Piece[], before: FilePieces | undefined, onBytes?: (n: number) => void): Promise<{ block: Block<FileObject>, gapBytes: number, pieces: FilePieces }> {
  const size = access.files.get(path)?.size ?? 0
  const sorted = [...filePieces].sort((a, b) => a.offset - b.offset)
  // Gaps in file order, and the file's layout as tensor pieces and gap ranges (offsets into the gap stream).
  type Part = { kind: 'piece', piece: Piece } | { kind: 'gap', at: number, length: number }
  const parts: Part[] = []
  const gaps: Array<{ offset: number, length: number }> = []
  let pos = 0
  let gapTotal = 0
  for (const p of sorted) {
    if (p.offset < pos) throw new InvalidModelError(`${path}: two tensors claim the same bytes at offset ${p.offset}`, { path, offset: p.offset })
    if (p.offset > pos) {
      gaps.push({ offset: pos, length: p.offset - pos })
      parts.push({ kind: 'gap', at: gapTotal, length: p.offset - pos })
      gapTotal += p.offset - pos
    }
    if (p.length > 0) parts.push({ kind: 'piece', piece: p })
    pos = p.offset + p.length
  }
  if (pos > size) throw new InvalidModelError(`${path} has ${size} bytes but its tensors reach ${pos}`, { path, size, reach: pos })
  if (pos < size) {
    gaps.push({ offset: pos, length: size - pos })
    parts.push({ kind: 'gap', at: gapTotal, length: size - pos })
    gapTotal += size - pos
  }
  // Chunk the gap stream, unless the file is unchanged and its gaps are where they were.
  const gapChunks: Array<{ cid: CID, start: number, length: number }> = []
  let gapRead = 0
  const sameGaps = before !== undefined && before.gaps.length === gaps.length && before.gaps.every((g, i) => g[0] === gaps[i]!.offset && g[1] === gaps[i]!.length) &&
    before.gapChunks.reduce((a, c) => a + c[1], 0) === gapTotal
  if (sameGaps) {
    let start = 0
    for (const [cid, length] of before.gapChunks) { gapChunks.push({ cid: CID.parse(cid), start, length }); start += length }
    onBytes?.(gapTotal)
  } else if (gapTotal > 0) {
    gapRead = gapTotal
    const chunker = new Chunker()
    let streamed = 0
    const keep = async (chunk: Uint8Array): Promise<void> => {
      const cid = rawCid(chunk)
      await sink.putRaw(cid, chunk)
      gapChunks.push({ cid, start: streamed, length: chunk.length })
      streamed += chunk.length
    }
    const buf = new Uint8Array(Math.min(GAP_READ, gapTotal))
    for (const g of gaps) {
      for (let off = 0; off < g.length; off += buf.length) {
        const n = Math.min(buf.length, g.length - off)
        await access.readInto(path, g.offset + off, buf, 0, n)
        for (const c of chunker.feed(buf.subarray(0, n))) await keep(c)
        onBytes?.(n)
      }
    }
    const tail = chunker.finish()
    if (tail !== undefined) await keep(tail)
  }
  const extents: Extent[] = []
  let gi = 0
  for (const part of parts) {
    if (part.kind === 'piece') {
      const p = part.piece
      extents.push(p.inChunk === 0 ? [p.chunk, p.length] : [p.chunk, p.length, p.inChunk])
      continue
    }
    let at = part.at
    let left = part.length
    while (left > 0) {
      while (gapChunks[gi]!.start + gapChunks[gi]!.length <= at) gi++
      const c = gapChunks[gi]!
      const within = at - c.start
      const take = Math.min(left, c.length - within)
      extents.push(within === 0 ? [c.cid, take] : [c.cid, take, within])
      at += take
      left -= take
    }
  }
  const total = extents.reduce((a, e) => a + e[1], 0)
  if (total !== size) throw new InvalidModelError(`${path} has ${size} bytes but its layout covers ${total}`, { path })
  const pieces: FilePieces = {
    pieces: sorted.filter(p => p.length > 0).map(p => [p.offset, p.length, p.chunk.toString(), p.inChunk, p.chunkLength]),
    gaps: gaps.map(g => [g.offset, g.length]),
    gapChunks: gapChunks.map(c => [c.cid.toString(), c.length])
  }
  // Written by the caller, with the model's other objects, after one look-up for all of them.
  return { block: encodeObject<FileObject>({ type: 'mvc/file', size, extents }), gapBytes: gapRead, pieces }
}

/** Stores one model: its tensors, the files it covers, its topology and its model object. */
async function storeLayout (sink: ObjectWriter, layout: ModelLayout, access: DiskFileAccess, ctx: StoreContext, reuse: ReadonlyMap<string, FilePieces>, onBytes?: (n: number) => void): Promise<{ model: CID, files: Map<string, { block: Block<FileObject>, pieces: FilePieces }>, bytes: number }> {
  const plans = planChunks(layout)
  const reused = reuseChunks(plans, reuse)
  const cids = await storeChunks(sink, access, plans, ctx, onBytes)
  const pieces = new Map<string, Piece[]>()
  const chunksOf: Array<Array<[CID, number]>> = layout.tensors.map(() => [])
  plans.forEach((plan, i) => {
    const cid = cids[i]!
    chunksOf[plan.tensor]!.push([cid, plan.length])
    for (const c of plan.covered) {
      const list = pieces.get(c.file) ?? []
      list.push({ offset: c.offset, length: c.length, chunk: cid, inChunk: c.inChunk, chunkLength: plan.length })
      pieces.set(c.file, list)
    }
  })
  let bytes = -reused
  const tensorBlocks = layout.tensors.map((t, i) => {
    bytes += t.byteLength
    return encodeObject<TensorObject>({
      type: 'mvc/tensor',
      name: t.name,
      dtype: t.dtype,
      shape: [...t.shape],
      quantization: t.quantization === undefined ? null : JSON.parse(JSON.stringify(t.quantization ?? null)) as unknown,
      size: t.byteLength,
      chunks: chunksOf[i]!
    })
  })
  const tensors = tensorBlocks.map(b => b.cid)
  const files = new Map<string, { block: Block<FileObject>, pieces: FilePieces }>()
  for (const f of layout.files) {
    if (files.has(f)) continue
    const stored = await storeCoveredFile(sink, access, f, pieces.get(f) ?? [], reuse.get(f), onBytes)
    files.set(f, stored)
    bytes += stored.gapBytes
  }
  await putObjects(sink, [...tensorBlocks, ...[...files.values()].map(f => f.block)], ctx)
  const topology = layout.topology === null
    ? null
    : (await writeObject<TopologyObject>(sink, { type: 'mvc/topology', format: layout.topology.format, topology: layout.topology.topology, meta: layout.topology.meta })).cid
  const model = await writeObject(sink, layout.modelObject({ tensors, topology }))
  return { model: model.cid, files, bytes }
}

function modelCacheKey (layout: ModelLayout, fileCids: readonly string[]): string {
  const h = createHash('sha256').update(layout.format).update('\0').update(layout.path).update('\0').update(layout.fingerprint)
  for (const c of fileCids) h.update('\0' + c)
  return h.digest('hex')
}

export interface StoredModels {
  readonly models: ManifestModel[]
  /** File object CIDs of the files the models cover, by relative path. */
  readonly coveredFiles: Map<string, CID>
  /** Bytes read from covered files to store them. */
  hashedBytes: number
  /** Each model's layout and adapter, by main file path. */
  readonly layouts: Map<string, { readonly layout: ModelLayout, readonly adapter: ModelFormat }>
  /** Files that looked like models but were invalid, stored as plain files (`allowInvalidModels`), with why. */
  readonly invalid: string[]
}

export interface StoreModelsOptions {
  readonly store: ObjectStore
  readonly sink: ObjectWriter
  readonly files: readonly WalkedFile[]
  readonly formats: readonly ModelFormat[]
  readonly cache?: StatCache
  readonly requireStored: boolean
  /** Bytes read so far, for progress (covered files answered by the cache count whole). */
  readonly onBytes?: (n: number) => void
  /** Store a file that claims to be a model but is invalid as a plain file (with a warning) instead of failing. */
  readonly allowInvalidModels?: boolean
}

/** The file an InvalidModelError names, when it names one of the snapshot's files. */
function invalidModelFile (err: unknown, files: ReadonlyMap<string, unknown>): string | undefined {
  if (!(err instanceof InvalidModelError)) return undefined
  const f = err.data.file ?? err.data.path
  return typeof f === 'string' && files.has(f) ? f : undefined
}

/**
 * Finds the models among the walked files (every adapter in turn) and stores them tensor by tensor.
 * What the stat cache says is unchanged is not read again: a model whose every covered file is
 * unchanged is answered whole by the model cache; otherwise each tensor chunk whose bytes all lie in
 * unchanged files keeps its CID (the pieces cache, `StatCache.lookupPieces`), so a fine-tune reads the
 * files it changed and little else.
 */
export async function storeModels (options: StoreModelsOptions): Promise<StoredModels> {
  const { store, sink, cache } = options
  const byPath = new Map(options.files.map(f => [f.rel, f]))
  const result: StoredModels = { models: [], coveredFiles: new Map(), hashedBytes: 0, layouts: new Map(), invalid: [] }
  const access = new DiskFileAccess(options.files)
  const ctx: StoreContext = { hasher: new Hasher(), pool: new BufferPool(), ...(options.requireStored ? { stored: async (cids: readonly CID[]) => await store.hasMany(cids) } : {}) }
  try {
    const claimed = new Set<string>()
    for (const adapter of options.formats) {
      let layouts: ModelLayout[]
      for (;;) {
        try {
          layouts = await adapter.detect(access, claimed)
          break
        } catch (err) {
          // With allowInvalidModels, the invalid file is set aside (claimed) and detection runs again.
          const file = options.allowInvalidModels === true ? invalidModelFile(err, access.files) : undefined
          if (file === undefined || claimed.has(file)) throw err
          claimed.add(file)
          result.invalid.push(`${(err as Error).message} — committed as a plain file because of --allow-invalid-models; it will not be verified`)
        }
      }
      for (const layout of layouts) {
        claimed.add(layout.path)
        for (const f of layout.files) claimed.add(f)
        result.layouts.set(layout.path, { layout, adapter })
        // Covered files the stat cache says are unchanged, with their file objects (stored, for a commit).
        const known = new Map<string, string>()
        if (cache !== undefined) {
          for (const f of new Set(layout.files)) {
            const w = byPath.get(f)
            const c = w === undefined ? undefined : await cache.lookup(f, w.stats)
            if (c !== undefined) known.set(f, c)
          }
          if (options.requireStored && known.size > 0) {
            const entries = [...known]
            const stored = await store.hasMany(entries.map(([, c]) => CID.parse(c)))
            entries.forEach(([f], i) => { if (stored[i] !== true) known.delete(f) })
          }
        }
        // Fast path: every covered file unchanged and this exact model stored before.
        if (cache !== undefined && layout.files.every(f => known.has(f))) {
          const cids = layout.files.map(f => known.get(f)!)
          const cached = await cache.lookupModel(modelCacheKey(layout, cids))
          if (cached !== undefined && (!options.requireStored || await store.has(CID.parse(cached)))) {
            result.models.push({ path: layout.path, model: CID.parse(cached) })
            for (const f of layout.files) options.onBytes?.(access.files.get(f)?.size ?? 0)
            layout.files.forEach((f, i) => { if (!result.coveredFiles.has(f)) result.coveredFiles.set(f, CID.parse(cids[i]!)) })
            continue
          }
        }
        const reuse = new Map<string, FilePieces>()
        for (const [f, c] of known) {
          const p = await cache?.lookupPieces(c)
          if (p !== undefined) reuse.set(f, p)
        }
        const stored = await storeLayout(sink, layout, access, ctx, reuse, options.onBytes)
        result.hashedBytes += stored.bytes
        result.models.push({ path: layout.path, model: stored.model })
        for (const [f, { block, pieces }] of stored.files) {
          if (!result.coveredFiles.has(f)) result.coveredFiles.set(f, block.cid)
          const w = byPath.get(f)
          if (w !== undefined) cache?.record(f, w.stats, block.cid.toString())
          cache?.recordPieces(block.cid.toString(), pieces)
        }
        cache?.recordModel(modelCacheKey(layout, layout.files.map(f => result.coveredFiles.get(f)!.toString())), stored.model.toString())
      }
    }
  } finally {
    await ctx.hasher.close()
    await access.close()
  }
  return result
}

/**
 * After a checkout: remembers, in the model cache, which model object each checked-out model is, so
 * that status and the next commit answer it from the stat cache without reading a tensor. The files
 * were just rebuilt from the version's (verified) file objects, so the adapters lay them out as they
 * did at commit; a model whose format or path differs from the stored model object is skipped.
 */
export async function rememberModels (options: { readonly store: ObjectReader, readonly files: readonly WalkedFile[], readonly formats: readonly ModelFormat[], readonly manifest: Manifest, readonly cache: StatCache }): Promise<void> {
  const { store, manifest, cache } = options
  if (manifest.models.length === 0) return
  const fileCids = new Map(manifest.entries.map(e => [e.path, e.file.toString()]))
  const models = new Map(manifest.models.map(m => [m.path, m.model]))
  const access = new DiskFileAccess(options.files)
  try {
    const claimed = new Set<string>()
    for (const adapter of options.formats) {
      for (const layout of await adapter.detect(access, claimed)) {
        claimed.add(layout.path)
        for (const f of layout.files) claimed.add(f)
        const model = models.get(layout.path)
        const cids = layout.files.map(f => fileCids.get(f))
        if (model === undefined || cids.some(c => c === undefined)) continue
        const stored = parseModel(decodeObject(model, await store.get(model), `model ${model.toString()}`))
        if (stored.format !== layout.format || stored.path !== layout.path || stored.tensors.length !== layout.tensors.length) continue
        cache.recordModel(modelCacheKey(layout, cids as string[]), model.toString())
      }
    }
  } finally {
    await access.close()
  }
}
