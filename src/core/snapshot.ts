/**
 * Snapshot: turns a folder (or one file) into objects — raw chunks, `mvc/file` objects, and the
 * `mvc/manifest` — streaming each file through the content-defined chunker so memory stays bounded by
 * the largest chunk. With the DRY_RUN sink it only computes CIDs (status, dirty checks).
 */
import { open } from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import { rawCid, type Block } from '../content/block.js'
import { Chunker, DEFAULT_CHUNKING, type ChunkingParams } from '../content/chunker.js'
import { InvalidArgumentError } from '../errors.js'
import { comparePaths, type Extent, type FileObject, type Manifest, type ManifestEntry } from '../format/objects.js'
import { DEFAULT_FORMATS } from '../formats/index.js'
import type { ModelFormat } from '../formats/interface.js'
import { writeObject } from './objects.js'
import type { ObjectWriter } from '../store/interface.js'
import { storeModels, type StoredModels } from './models.js'
import { walk, type Walk, type WalkedFile } from './walk.js'
import type { StatCache } from './statcache.js'
import type { ObjectStore } from '../store/interface.js'

export { walk, type Walk, type WalkedFile }

const READ_SIZE = 1 << 20

export interface SnapshotStats {
  files: number
  bytes: number
  /** Files hashed (not answered by the stat cache). */
  hashedFiles: number
  hashedBytes: number
}

/** Streams one file through the chunker into the sink; returns its file object block. */
export async function storeFile (sink: ObjectWriter, file: WalkedFile, params: ChunkingParams = DEFAULT_CHUNKING, onBytes?: (n: number) => void): Promise<Block<FileObject>> {
  const fh = await open(file.abs, 'r')
  const extents: Extent[] = []
  let size = 0
  const store = async (chunk: Uint8Array): Promise<void> => {
    const cid = rawCid(chunk)
    await sink.putRaw(cid, chunk)
    extents.push([cid, chunk.length])
    size += chunk.length
  }
  try {
    // One reused read buffer (the chunker copies its input), instead of a stream allocating per read.
    const chunker = new Chunker(params)
    const buf = new Uint8Array(READ_SIZE)
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, READ_SIZE, null)
      if (bytesRead === 0) break
      for (const chunk of chunker.feed(buf.subarray(0, bytesRead))) await store(chunk)
      onBytes?.(bytesRead)
    }
    const tail = chunker.finish()
    if (tail !== undefined) await store(tail)
  } finally {
    await fh.close()
  }
  if (size !== Number(file.stats.size)) {
    throw new InvalidArgumentError(`${file.abs} changed while it was being read (${file.stats.size} bytes at start, ${size} read); stop the process writing it and commit again`, { path: file.abs })
  }
  return await writeObject<FileObject>(sink, { type: 'mvc/file', size, extents })
}

export interface SnapshotOptions {
  readonly store: ObjectStore
  readonly sink: ObjectWriter
  readonly abs: string
  readonly cache?: StatCache
  /** When set, a cached file CID is used only if the object is in the store (commits need that; dry runs don't). */
  readonly requireStored: boolean
  readonly chunking?: ChunkingParams
  readonly onFile?: (rel: string, size: number) => void
  /** Bytes read (or answered by the stat cache) so far, for progress. */
  readonly onBytes?: (n: number) => void
  /** Recognise models in a folder (default true); false hashes every file as a plain file (training data). */
  readonly detectModels?: boolean
  /** Model format adapters, in detection order (default: every format mvc knows). */
  readonly formats?: readonly ModelFormat[]
  /** Store files that claim to be models but are invalid as plain files, with a warning, instead of failing. */
  readonly allowInvalidModels?: boolean
}

/** Builds the manifest of a folder or file, storing new objects through the sink. */
export interface SnapshotResult {
  readonly manifest: Block<Manifest>
  readonly stats: SnapshotStats
  readonly walk: Walk
  /** The models found, with their layouts and adapters, by main file path. */
  readonly models: StoredModels['layouts']
  /** Invalid model files stored as plain files (allowInvalidModels), with why. */
  readonly invalidModels: readonly string[]
}

export async function snapshot (options: SnapshotOptions, w?: Walk): Promise<SnapshotResult> {
  const tree = w ?? await walk(options.abs)
  const stats: SnapshotStats = { files: 0, bytes: 0, hashedFiles: 0, hashedBytes: 0 }
  const entries: ManifestEntry[] = []
  // Models are stored tensor by tensor; the files they cover come back as file objects.
  const planned = options.detectModels !== false
    ? await storeModels({ store: options.store, sink: options.sink, files: tree.files, formats: options.formats ?? DEFAULT_FORMATS, cache: options.cache, requireStored: options.requireStored, onBytes: options.onBytes, allowInvalidModels: options.allowInvalidModels })
    : undefined
  stats.hashedBytes += planned?.hashedBytes ?? 0
  for (const f of tree.files) {
    let fileCid: CID | undefined = planned?.coveredFiles.get(f.rel)
    const covered = fileCid !== undefined
    const cached = fileCid !== undefined ? undefined : await options.cache?.lookup(f.rel, f.stats)
    if (cached !== undefined) {
      const c = CID.parse(cached)
      if (!options.requireStored || await options.store.has(c)) fileCid = c
    }
    if (fileCid !== undefined && !covered) options.onBytes?.(Number(f.stats.size))
    if (fileCid === undefined) {
      const block = await storeFile(options.sink, f, options.chunking, options.onBytes)
      fileCid = block.cid
      stats.hashedFiles++
      stats.hashedBytes += Number(f.stats.size)
    }
    options.cache?.record(f.rel, f.stats, fileCid.toString())
    entries.push({ path: f.rel, mode: Number(f.stats.mode) & 0o777, size: Number(f.stats.size), file: fileCid })
    stats.files++
    stats.bytes += Number(f.stats.size)
    options.onFile?.(f.rel, Number(f.stats.size))
  }
  const manifest = await writeObject<Manifest>(options.sink, {
    type: 'mvc/manifest',
    kind: tree.kind,
    entries,
    dirs: tree.dirs,
    models: [...(planned?.models ?? [])].sort((a, b) => comparePaths(a.path, b.path))
  })
  return { manifest, stats, walk: tree, models: planned?.layouts ?? new Map(), invalidModels: planned?.invalid ?? [] }
}
