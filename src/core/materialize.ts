/**
 * Rebuilding a manifest on disk. Everything is written into a staging folder next to the target
 * (same filesystem, so the final rename is atomic), every chunk is re-hashed as it is read (on worker
 * threads, several chunks at once: `writeFiles`), every file is fsync'd, and only then is the old target moved aside and the staging content renamed into place.
 * Any failure before the swap removes the staging folder and leaves the target as it was. Between
 * staging and swapping, the caller may check the staged files (checkout verifies behaviour there, so a
 * version that fails verification never replaces the user's files).
 *
 * Manifests may come from someone else (a remote), so: every path is checked before anything is
 * written (no escapes, no control characters, no two paths that a case-insensitive or
 * normalisation-insensitive file system would merge); no write, rename or delete passes through a
 * symbolic link in any folder between the repository root and the target; only permission bits
 * (0o777) are applied; every entry's size must equal its file object's.
 */
import { mkdir, open, rename, rm, lstat, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join, relative, sep } from 'node:path'
import type { CID } from 'multiformats/cid'
import { InvalidObjectError, SymlinkRefusedError, UnsafePathError } from '../errors.js'
import type { FileObject, Manifest } from '../format/objects.js'
import { assertSafePath } from '../format/paths.js'
import type { ObjectStore } from '../store/interface.js'
import { verifyDigest } from '../content/block.js'
import { readFileObject } from './objects.js'
import { syncDir } from '../store/packs.js'
import { ownedTag } from '../store/leftovers.js'
import { BufferPool, Hasher } from './hashing.js'
import { ordered } from './pipeline.js'

export interface MaterializeOptions {
  readonly store: ObjectStore
  readonly manifest: Manifest
  /** Absolute path of the folder (or file, for a file manifest) to create or replace. */
  readonly target: string
  readonly onFile?: (path: string, size: number) => void
  /** Bytes written so far of the total, for a progress bar. */
  readonly onBytes?: (done: number, total: number) => void
  /**
   * Access and modification time (ms since epoch) to give every file written. A checkout into the
   * repository sets a time safely before now, so the stat cache can trust the files at once (see
   * core/statcache.ts, "racy files").
   */
  readonly mtimeMs?: number
}

/** Checks every path of a manifest before anything is written. */
export function checkManifestPaths (manifest: Manifest): void {
  const seen = new Set<string>()
  for (const p of [...manifest.entries.map(e => e.path), ...manifest.dirs]) {
    assertSafePath(p, 'manifest')
    if (seen.has(p)) throw new UnsafePathError(`manifest: path ${JSON.stringify(p)} appears twice`, { path: p })
    seen.add(p)
  }
  for (const p of seen) {
    // 'a' as a file and 'a/b' as another entry cannot both exist.
    const parts = p.split('/')
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/')
      if (manifest.entries.some(e => e.path === prefix)) throw new UnsafePathError(`manifest: ${JSON.stringify(prefix)} is both a file and a folder`, { path: prefix })
    }
  }
  // Two names one file system would store as one (NFC/NFD, or case on macOS and Windows) must not
  // overwrite each other at checkout.
  const folded = new Map<string, string>()
  for (const p of seen) {
    const key = p.normalize('NFC').toLowerCase()
    const other = folded.get(key)
    if (other !== undefined) throw new UnsafePathError(`manifest: ${JSON.stringify(other)} and ${JSON.stringify(p)} differ only by case or Unicode normalisation; a checkout could write one over the other`, { path: p, other })
    folded.set(key, p)
  }
  if (manifest.kind === 'file' && manifest.entries[0]!.path.includes('/')) {
    throw new UnsafePathError('manifest: a single-file snapshot has a path with folders', { path: manifest.entries[0]!.path })
  }
}

/** Writes one file object's bytes to a path, reading (and verifying) chunk by chunk. */
export async function writeFileFromObject (store: ObjectStore, fileCid: CID, path: string, mode: number, expectedSize?: number, onBytes?: (n: number) => void): Promise<number> {
  const file = await readFileObject(store, fileCid)
  if (expectedSize !== undefined && file.size !== expectedSize) {
    throw new InvalidObjectError(`file object ${fileCid.toString()} holds ${file.size} bytes but the manifest says ${expectedSize}; the repository object is corrupt or crafted`, { cid: fileCid.toString(), size: file.size, expected: expectedSize })
  }
  const fh = await open(path, 'wx', 0o600)
  try {
    let lastCid: string | undefined
    let last: Uint8Array | undefined
    // Read the next chunk while the current one is written.
    let pending: Promise<Uint8Array> | undefined
    let pendingCid: string | undefined
    for (let i = 0; i < file.extents.length; i++) {
      const [cid, length, offset = 0] = file.extents[i]!
      const key = cid.toString()
      let bytes: Uint8Array
      if (key === lastCid && last !== undefined) bytes = last
      else if (key === pendingCid && pending !== undefined) bytes = await pending
      else bytes = await store.get(cid)
      lastCid = key
      last = bytes
      const next = file.extents[i + 1]
      if (next !== undefined && next[0].toString() !== key) {
        pendingCid = next[0].toString()
        pending = store.get(next[0])
        pending.catch(() => {}) // surfaced when awaited
      }
      if (offset + length > bytes.length) throw new InvalidObjectError(`file object ${fileCid.toString()}: extent runs past the end of chunk ${key}`, { cid: fileCid.toString() })
      let done = 0
      while (done < length) done += (await fh.write(bytes, offset + done, length - done)).bytesWritten
      onBytes?.(length)
    }
    // Permission bits only: setuid, setgid and sticky bits from a manifest are never applied.
    await fh.chmod(mode & 0o777)
    await fh.sync()
    return file.size
  } finally {
    await fh.close()
  }
}

/** One chunk read for checkout, and every place it goes: file, position in the file, slice of the chunk. */
interface ChunkJob { readonly cid: CID, readonly uses: Array<{ readonly file: number, readonly position: number, readonly offset: number, readonly length: number }> }

/** Chunks read and re-hashed at once, and written per batch: 24 MiB of buffers at most. */
const READ_WINDOW = 16
const WRITE_BATCH = 8
/** Files being fsync'd and closed at once (they are synced in parallel, not one after the other). */
const SYNCS = 16

/**
 * Writes files from their file objects: chunks are read several at a time into reused buffers and
 * re-hashed on worker threads (a chunk shared by consecutive extents, within a file or across two, is
 * read once), written in order with positional writes; each file is fsync'd and closed as soon as its
 * last bytes are written, several at once. Every file is durable when this resolves. The files must
 * not exist (created with `wx`).
 */
export async function writeFiles (store: ObjectStore, files: ReadonlyArray<{ readonly path: string, readonly mode: number, readonly file: CID, readonly size?: number }>, options: { onBytes?: (n: number) => void, onFile?: (index: number) => void, mtimeMs?: number } = {}): Promise<number> {
  const objects: FileObject[] = []
  for (const f of files) {
    const file = await readFileObject(store, f.file)
    if (f.size !== undefined && file.size !== f.size) {
      throw new InvalidObjectError(`file object ${f.file.toString()} holds ${file.size} bytes but the manifest says ${f.size}; the repository object is corrupt or crafted`, { cid: f.file.toString(), size: file.size, expected: f.size })
    }
    objects.push(file)
  }
  // The reads, in file order; which job ends each file.
  const jobs: ChunkJob[] = []
  const lastJob: number[] = []
  objects.forEach((obj, fi) => {
    let position = 0
    for (const [cid, length, offset = 0] of obj.extents) {
      const prev = jobs[jobs.length - 1]
      if (prev !== undefined && prev.cid.equals(cid)) prev.uses.push({ file: fi, position, offset, length })
      else jobs.push({ cid, uses: [{ file: fi, position, offset, length }] })
      position += length
    }
    lastJob.push(obj.extents.length === 0 ? -1 : jobs.length - 1)
  })
  const hasher = new Hasher()
  const pool = new BufferPool()
  const handles = new Map<number, Promise<FileHandle>>()
  const finishing = new Set<Promise<void>>()
  let failed: unknown
  const handle = async (fi: number): Promise<FileHandle> => {
    let h = handles.get(fi)
    if (h === undefined) {
      h = open(files[fi]!.path, 'wx', 0o600)
      h.catch(() => {})
      handles.set(fi, h)
    }
    return await h
  }
  // chmod (permission bits only: setuid, setgid and sticky from a manifest are never applied), times, fsync, close.
  const finish = async (fi: number): Promise<void> => {
    const fh = await handle(fi)
    try {
      await fh.chmod(files[fi]!.mode & 0o777)
      if (options.mtimeMs !== undefined) await fh.utimes(options.mtimeMs / 1000, options.mtimeMs / 1000)
      await fh.sync()
    } finally {
      handles.delete(fi)
      await fh.close()
    }
  }
  const startFinish = async (fi: number): Promise<void> => {
    while (finishing.size >= SYNCS) await Promise.race(finishing)
    const p: Promise<void> = finish(fi).catch(err => { failed ??= err }).finally(() => { finishing.delete(p) })
    finishing.add(p)
    options.onFile?.(fi)
  }
  const check = async (cid: CID, bytes: Uint8Array, source: string): Promise<Uint8Array> => {
    const { digest, bytes: back } = await hasher.hash(bytes, true)
    verifyDigest(cid, digest, back.length, source)
    return back
  }
  try {
    // Empty files first: they have no chunk to wait for.
    for (const [fi, last] of lastJob.entries()) if (last === -1) await startFinish(fi)
    await ordered<{ bytes: Uint8Array, pooled: boolean }>({
      count: jobs.length,
      window: READ_WINDOW,
      batch: WRITE_BATCH,
      produce: async j => {
        const cid = jobs[j]!.cid
        if (store.getChecked === undefined) return { bytes: await store.get(cid), pooled: false }
        // Only buffers taken from the pool go back to it (an object kept inline comes from the index).
        let pooled = false
        const bytes = await store.getChecked(cid, n => { pooled = true; return pool.take(n) }, check)
        return { bytes, pooled }
      },
      consume: async (done, first) => {
        const items = done.map(d => d.bytes)
        if (failed !== undefined) throw failed
        const writes: Array<Promise<void>> = []
        try {
          items.forEach((bytes, k) => {
            const job = jobs[first + k]!
            for (const u of job.uses) {
              if (u.offset + u.length > bytes.length) {
                const f = files[u.file]!
                throw new InvalidObjectError(`file object ${f.file.toString()}: extent runs past the end of chunk ${job.cid.toString()}`, { cid: f.file.toString() })
              }
              writes.push((async () => {
                const fh = await handle(u.file)
                let done = 0
                while (done < u.length) done += (await fh.write(bytes, u.offset + done, u.length - done, u.position + done)).bytesWritten
                options.onBytes?.(u.length)
              })())
            }
          })
        } finally {
          await Promise.allSettled(writes)
        }
        await Promise.all(writes)
        for (const d of done) if (d.pooled) pool.give(d.bytes)
        for (let k = 0; k < items.length; k++) {
          const j = first + k
          for (const u of jobs[j]!.uses) if (lastJob[u.file] === j && handles.has(u.file)) await startFinish(u.file)
        }
      }
    })
    await Promise.all(finishing)
    if (failed !== undefined) throw failed
  } finally {
    await Promise.allSettled(finishing)
    for (const h of handles.values()) await h.then(async fh => await fh.close(), () => {})
    handles.clear()
    await hasher.close()
  }
  return objects.reduce((a, o) => a + o.size, 0)
}

/**
 * Refuses when a folder between `root` (excluded) and `target` (included) is a symbolic link, so that
 * nothing is written, renamed or deleted through one. `target` must lie inside `root`.
 */
export async function assertNoLinkedAncestors (root: string, target: string): Promise<void> {
  const rel = relative(root, target)
  if (rel === '' || rel.startsWith('..')) return
  let at = root
  for (const part of rel.split(sep)) {
    at = join(at, part)
    const st = await lstat(at).catch(() => undefined)
    if (st === undefined) return // nothing further exists: it will be created as real folders
    if (st.isSymbolicLink()) {
      throw new SymlinkRefusedError(`${at} is a symbolic link; mvc never writes through links (a checkout there could change files outside the repository). Replace the link with a folder, or check out with --to <dir>.`, { path: at })
    }
  }
}

/** Staging folder names carry the writer's pid and host tag, so leftovers of dead processes can be told apart. */
export const STAGING_PATTERN = /^\.(.+)\.mvc-(new|old)-(\d+)-[0-9a-f]{8}$/

/** A manifest written into a staging folder, not yet in place. */
export interface Staged {
  /** The folder holding the staged snapshot (the files of a single-file manifest sit inside it). */
  readonly dir: string
  readonly files: number
  readonly bytes: number
  /** Moves the staged content into place (the old target is removed only after). */
  swap (): Promise<void>
  /** Removes the staging folder; the target is untouched. */
  discard (): Promise<void>
}

/** Writes a manifest into a staging folder next to `target`. Nothing at `target` changes yet. */
export async function stage (options: MaterializeOptions & { root?: string }): Promise<Staged> {
  const { store, manifest, target } = options
  checkManifestPaths(manifest)
  const parent = dirname(target)
  if (options.root !== undefined) await assertNoLinkedAncestors(options.root, target)
  const existing = await lstat(target).catch(() => undefined)
  if (existing?.isSymbolicLink() === true) {
    throw new SymlinkRefusedError(`${target} is a symbolic link; refusing to replace it. Remove it or check out with --to <dir>.`, { path: target })
  }
  await mkdir(parent, { recursive: true })
  if (options.root !== undefined) await assertNoLinkedAncestors(options.root, target)
  const tag = ownedTag(4) // <pid>-<host tag><random>: leftovers of dead writers are recognised (store/leftovers.ts)
  const staging = join(parent, `.${basename(target)}.mvc-new-${tag}`)
  const old = join(parent, `.${basename(target)}.mvc-old-${tag}`)
  let files = 0
  let bytes = 0
  const total = manifest.entries.reduce((a, e) => a + e.size, 0)
  let written = 0
  const onBytes = options.onBytes === undefined ? undefined : (n: number): void => { written += n; options.onBytes!(written, total) }
  await mkdir(staging)
  try {
    const made = new Set<string>()
    if (manifest.kind === 'dir') {
      for (const d of manifest.dirs) await mkdir(join(staging, d), { recursive: true })
      for (const e of manifest.entries) {
        const dir = dirname(join(staging, e.path))
        if (!made.has(dir)) { await mkdir(dir, { recursive: true }); made.add(dir) }
      }
    }
    const entries = manifest.kind === 'file' ? manifest.entries.slice(0, 1) : manifest.entries
    bytes += await writeFiles(store, entries.map(e => ({ path: join(staging, e.path), mode: e.mode, file: e.file, size: e.size })), {
      onBytes,
      onFile: i => { files++; options.onFile?.(entries[i]!.path, entries[i]!.size) },
      mtimeMs: options.mtimeMs
    })
    for (const d of made) await syncDir(d)
    await syncDir(staging)
  } catch (err) {
    await rm(staging, { recursive: true, force: true })
    throw err
  }
  const content = manifest.kind === 'file' ? join(staging, manifest.entries[0]!.path) : staging
  return {
    dir: staging,
    files,
    bytes,
    async swap () {
      // Between the two renames the old content sits at `old`; a crash there leaves both, and
      // `mvc checkout` can be run again (docs/design.md, "Checkout").
      if (options.root !== undefined) await assertNoLinkedAncestors(options.root, target)
      const before = await lstat(target).catch(() => undefined)
      if (before?.isSymbolicLink() === true) throw new SymlinkRefusedError(`${target} became a symbolic link; refusing to replace it`, { path: target })
      if (before !== undefined) await rename(target, old)
      try {
        await rename(content, target)
      } catch (err) {
        if (before !== undefined) await rename(old, target)
        await rm(staging, { recursive: true, force: true })
        throw err
      }
      await syncDir(parent)
      if (before !== undefined) await rm(old, { recursive: true, force: true })
      if (content !== staging) await rm(staging, { recursive: true, force: true })
    },
    async discard () {
      await rm(staging, { recursive: true, force: true })
    }
  }
}

/** Builds a manifest into a staging folder next to `target` and swaps it into place. */
export async function materialize (options: MaterializeOptions & { root?: string }): Promise<{ files: number, bytes: number }> {
  const staged = await stage(options)
  await staged.swap()
  return { files: staged.files, bytes: staged.bytes }
}
