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
import { rawCid, type Block } from '../content/block.js'
import { Chunker } from '../content/chunker.js'
import { InvalidModelError } from '../errors.js'
import type { Extent, FileObject, ManifestModel, TensorObject, TopologyObject } from '../format/objects.js'
import type { FileAccess, ModelFormat, ModelLayout, SnapshotFile, TensorLayout } from '../formats/interface.js'
import { writeObject } from './objects.js'
import type { ObjectWriter } from '../store/interface.js'
import type { StatCache } from './statcache.js'
import type { WalkedFile } from './walk.js'
import type { ObjectStore } from '../store/interface.js'

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
  private readonly handles = new Map<string, FileHandle>()

  constructor (files: readonly WalkedFile[]) {
    this.walked = new Map(files.map(f => [f.rel, f]))
    this.files = new Map(files.map(f => [f.rel, { path: f.rel, size: Number(f.stats.size) }]))
  }

  private async handle (path: string): Promise<FileHandle> {
    let h = this.handles.get(path)
    if (h === undefined) {
      const f = this.walked.get(path)
      if (f === undefined) throw new InvalidModelError(`${path} is missing`, { path })
      h = await open(f.abs, 'r')
      this.handles.set(path, h)
    }
    return h
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
    for (const h of this.handles.values()) await h.close()
    this.handles.clear()
  }
}

/** A piece of a covered file: bytes [offset, offset + length) are `length` bytes of `chunk` from `inChunk`. */
interface Piece { readonly offset: number, readonly length: number, readonly chunk: CID, readonly inChunk: number }

/** Streams one tensor's bytes into row-aligned chunks, noting which file ranges each chunk covers. */
async function storeTensor (sink: ObjectWriter, access: DiskFileAccess, t: TensorLayout, pieces: Map<string, Piece[]>, scratch: Uint8Array, onBytes?: (n: number) => void): Promise<Block<TensorObject>> {
  const size = tensorChunkBytes(t)
  const chunks: Array<[CID, number]> = []
  let spanIndex = 0
  let spanStart = 0 // tensor offset where spans[spanIndex] begins
  for (let tOff = 0; tOff < t.byteLength || (t.byteLength === 0 && chunks.length === 0); tOff += size) {
    const len = Math.min(size, t.byteLength - tOff)
    // One reused buffer: sinks copy or write the bytes before putRaw resolves (a fresh 1 MiB array per
    // chunk made garbage collection a fifth of commit time).
    const buf = scratch.subarray(0, len)
    const covered: Array<{ file: string, offset: number, inChunk: number, length: number }> = []
    let filled = 0
    while (filled < len) {
      const span = t.spans[spanIndex]
      if (span === undefined) throw new InvalidModelError(`tensor ${t.name}: its layout ends early`, { tensor: t.name })
      const within = tOff + filled - spanStart
      const take = Math.min(span.length - within, len - filled)
      await access.readInto(span.file, span.offset + within, buf, filled, take)
      covered.push({ file: span.file, offset: span.offset + within, inChunk: filled, length: take })
      filled += take
      if (within + take === span.length) { spanStart += span.length; spanIndex++ }
    }
    const cid = rawCid(buf)
    await sink.putRaw(cid, buf)
    chunks.push([cid, len])
    onBytes?.(len)
    for (const c of covered) {
      const list = pieces.get(c.file) ?? []
      list.push({ offset: c.offset, length: c.length, chunk: cid, inChunk: c.inChunk })
      pieces.set(c.file, list)
    }
    if (len === 0) break
  }
  return await writeObject<TensorObject>(sink, {
    type: 'mvc/tensor',
    name: t.name,
    dtype: t.dtype,
    shape: [...t.shape],
    quantization: t.quantization === undefined ? null : JSON.parse(JSON.stringify(t.quantization ?? null)) as unknown,
    size: t.byteLength,
    chunks
  })
}

const GAP_READ = 1 << 20

/**
 * The file object of a covered file: its tensor pieces in file order, and the bytes between them
 * streamed through the content-defined chunker (one stream per file) and referenced as slices.
 */
async function storeCoveredFile (sink: ObjectWriter, access: DiskFileAccess, path: string, filePieces: readonly Piece[], onBytes?: (n: number) => void): Promise<{ block: Block<FileObject>, gapBytes: number }> {
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
  // Chunk the gap stream.
  const gapChunks: Array<{ cid: CID, start: number, length: number }> = []
  if (gapTotal > 0) {
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
  return { block: await writeObject<FileObject>(sink, { type: 'mvc/file', size, extents }), gapBytes: gapTotal }
}

/** Stores one model: its tensors, the files it covers, its topology and its model object. */
async function storeLayout (sink: ObjectWriter, layout: ModelLayout, access: DiskFileAccess, onBytes?: (n: number) => void): Promise<{ model: CID, files: Map<string, Block<FileObject>>, bytes: number }> {
  const pieces = new Map<string, Piece[]>()
  const tensors: CID[] = []
  const scratch = new Uint8Array(Math.max(1, ...layout.tensors.map(tensorChunkBytes)))
  let bytes = 0
  for (const t of layout.tensors) {
    tensors.push((await storeTensor(sink, access, t, pieces, scratch, onBytes)).cid)
    bytes += t.byteLength
  }
  const files = new Map<string, Block<FileObject>>()
  for (const f of layout.files) {
    if (files.has(f)) continue
    const stored = await storeCoveredFile(sink, access, f, pieces.get(f) ?? [], onBytes)
    files.set(f, stored.block)
    bytes += stored.gapBytes
  }
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

/** Finds the models among the walked files (every adapter in turn) and stores them tensor by tensor. */
export async function storeModels (options: StoreModelsOptions): Promise<StoredModels> {
  const { store, sink, cache } = options
  const byPath = new Map(options.files.map(f => [f.rel, f]))
  const result: StoredModels = { models: [], coveredFiles: new Map(), hashedBytes: 0, layouts: new Map(), invalid: [] }
  const access = new DiskFileAccess(options.files)
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
        // Fast path: every covered file unchanged (stat cache) and this exact model stored before.
        if (cache !== undefined) {
          const cids: string[] = []
          for (const f of layout.files) {
            const w = byPath.get(f)
            const c = w === undefined ? undefined : await cache.lookup(f, w.stats)
            if (c === undefined || (options.requireStored && !(await store.has(CID.parse(c))))) break
            cids.push(c)
          }
          if (cids.length === layout.files.length) {
            const cached = await cache.lookupModel(modelCacheKey(layout, cids))
            if (cached !== undefined && (!options.requireStored || await store.has(CID.parse(cached)))) {
              result.models.push({ path: layout.path, model: CID.parse(cached) })
              for (const f of layout.files) options.onBytes?.(access.files.get(f)?.size ?? 0)
              layout.files.forEach((f, i) => { if (!result.coveredFiles.has(f)) result.coveredFiles.set(f, CID.parse(cids[i]!)) })
              continue
            }
          }
        }
        const stored = await storeLayout(sink, layout, access, options.onBytes)
        result.hashedBytes += stored.bytes
        result.models.push({ path: layout.path, model: stored.model })
        for (const [f, block] of stored.files) {
          if (!result.coveredFiles.has(f)) result.coveredFiles.set(f, block.cid)
          const w = byPath.get(f)
          if (w !== undefined) cache?.record(f, w.stats, block.cid.toString())
        }
        cache?.recordModel(modelCacheKey(layout, layout.files.map(f => result.coveredFiles.get(f)!.toString())), stored.model.toString())
      }
    }
  } finally {
    await access.close()
  }
  return result
}
