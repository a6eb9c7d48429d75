/**
 * Snapshot: turns a folder (or one file) into objects — raw chunks, `mvc/file` objects, and the
 * `mvc/manifest` — streaming each file through the content-defined chunker so memory stays bounded by
 * the largest chunk. With the DRY_RUN sink it only computes CIDs (status, dirty checks).
 */
import { lstat, readdir, open } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { BigIntStats } from 'node:fs'
import { CID } from 'multiformats/cid'
import { rawCid } from '../content/block.js'
import { Chunker, DEFAULT_CHUNKING, type ChunkingParams } from '../content/chunker.js'

const READ_SIZE = 1 << 20
import { InputNotFoundError, SymlinkRefusedError, UnsupportedFileTypeError, InvalidArgumentError } from '../errors.js'
import { comparePaths, type Extent, type FileObject, type Manifest, type ManifestEntry } from '../format/objects.js'
import { MVC_DIR, unsafePathReason } from '../format/paths.js'
import type { Block } from '../content/block.js'
import { writeObject, type ObjectSink } from './objects.js'
import { planModels } from './models.js'
import type { StatCache } from './statcache.js'
import type { ObjectStore } from '../store/interface.js'

/** A regular file found by the walk. */
export interface WalkedFile {
  /** POSIX path relative to the snapshot root (for a single file: its basename). */
  readonly rel: string
  readonly abs: string
  readonly stats: BigIntStats
}

export interface Walk {
  readonly kind: 'dir' | 'file'
  readonly files: WalkedFile[]
  /** Empty folders. */
  readonly dirs: string[]
}

/** Lists a folder recursively without following symbolic links; refuses links and special files. */
export async function walk (abs: string): Promise<Walk> {
  const top = await lstat(abs, { bigint: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new InputNotFoundError(`${abs} does not exist`, { path: abs })
    throw err
  })
  if (top.isSymbolicLink()) throw new SymlinkRefusedError(`${abs} is a symbolic link; mvc stores files and folders, never links. Commit the folder it points to instead.`, { path: abs })
  if (top.isFile()) return { kind: 'file', files: [{ rel: basename(abs), abs, stats: top }], dirs: [] }
  if (!top.isDirectory()) throw new UnsupportedFileTypeError(`${abs} is neither a file nor a folder`, { path: abs })
  const files: WalkedFile[] = []
  const dirs: string[] = []
  async function visit (dirAbs: string, dirRel: string): Promise<boolean> {
    const names = await readdir(dirAbs)
    let any = false
    for (const name of names) {
      if (name === MVC_DIR) continue
      const childAbs = join(dirAbs, name)
      const rel = dirRel === '' ? name : `${dirRel}/${name}`
      const why = unsafePathReason(rel)
      if (why !== undefined) throw new InvalidArgumentError(`cannot store ${childAbs}: its name is not portable (${why})`, { path: childAbs })
      const st = await lstat(childAbs, { bigint: true })
      if (st.isSymbolicLink()) {
        throw new SymlinkRefusedError(`${childAbs} is a symbolic link; mvc never follows links (they could point outside the model). Replace it with the file it points to, or move it out of the folder.`, { path: childAbs })
      }
      if (st.isDirectory()) {
        if (!(await visit(childAbs, rel))) dirs.push(rel)
        any = true
      } else if (st.isFile()) {
        files.push({ rel, abs: childAbs, stats: st })
        any = true
      } else {
        throw new UnsupportedFileTypeError(`${childAbs} is not a regular file or folder (socket, FIFO or device); remove it from the folder to commit`, { path: childAbs })
      }
    }
    return any
  }
  await visit(abs, '')
  files.sort((a, b) => comparePaths(a.rel, b.rel))
  dirs.sort(comparePaths)
  return { kind: 'dir', files, dirs }
}

export interface SnapshotStats {
  files: number
  bytes: number
  /** Files hashed (not answered by the stat cache). */
  hashedFiles: number
  hashedBytes: number
}

/** Streams one file through the chunker into the sink; returns its file object block. */
export async function storeFile (sink: ObjectSink, file: WalkedFile, params: ChunkingParams = DEFAULT_CHUNKING): Promise<Block<FileObject>> {
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
  readonly sink: ObjectSink
  readonly abs: string
  readonly cache?: StatCache
  /** When set, a cached file CID is used only if the object is in the store (commits need that; dry runs don't). */
  readonly requireStored: boolean
  readonly chunking?: ChunkingParams
  readonly onFile?: (rel: string, size: number) => void
  /** Recognise TF.js models in a folder (default true); false hashes every file as a plain file (training data). */
  readonly detectModels?: boolean
}

/** Builds the manifest of a folder or file, storing new objects through the sink. */
export async function snapshot (options: SnapshotOptions, w?: Walk): Promise<{ manifest: Block<Manifest>, stats: SnapshotStats, walk: Walk, modelFormats: ReadonlyMap<string, string> }> {
  const tree = w ?? await walk(options.abs)
  const stats: SnapshotStats = { files: 0, bytes: 0, hashedFiles: 0, hashedBytes: 0 }
  const entries: ManifestEntry[] = []
  // TF.js models are stored tensor by tensor; their shard files come back as file objects.
  const planned = tree.kind === 'dir' && options.detectModels !== false
    ? await planModels({ store: options.store, sink: options.sink, files: tree.files, cache: options.cache, requireStored: options.requireStored })
    : undefined
  stats.hashedBytes += planned?.hashedBytes ?? 0
  for (const f of tree.files) {
    let fileCid: CID | undefined = planned?.shardFiles.get(f.rel)
    const cached = fileCid !== undefined ? undefined : await options.cache?.lookup(f.rel, f.stats)
    if (cached !== undefined) {
      const c = CID.parse(cached)
      if (!options.requireStored || await options.store.has(c)) fileCid = c
    }
    if (fileCid === undefined) {
      const block = await storeFile(options.sink, f, options.chunking)
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
  return { manifest, stats, walk: tree, modelFormats: planned?.formats ?? new Map() }
}
