/**
 * Rebuilding a manifest on disk. Everything is written into a staging folder next to the target
 * (same filesystem, so the final rename is atomic), every chunk is re-hashed as it is read, every file
 * is fsync'd, and only then is the old target moved aside and the staging folder renamed into place.
 * Any failure before the swap removes the staging folder and leaves the target as it was.
 */
import { mkdir, open, rename, rm, lstat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { SymlinkRefusedError, UnsafePathError } from '../errors.js'
import type { Manifest } from '../format/objects.js'
import { assertSafePath } from '../format/paths.js'
import type { ObjectStore } from '../store/interface.js'
import { readFileObject } from './objects.js'
import { syncDir } from '../store/packs.js'

export interface MaterializeOptions {
  readonly store: ObjectStore
  readonly manifest: Manifest
  /** Absolute path of the folder (or file, for a file manifest) to create or replace. */
  readonly target: string
  readonly onFile?: (path: string, size: number) => void
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
  if (manifest.kind === 'file' && manifest.entries[0]!.path.includes('/')) {
    throw new UnsafePathError('manifest: a single-file snapshot has a path with folders', { path: manifest.entries[0]!.path })
  }
}

/** Writes one file object's bytes to a path, reading (and verifying) chunk by chunk. */
export async function writeFileFromObject (store: ObjectStore, fileCid: CID, path: string, mode: number): Promise<number> {
  const file = await readFileObject(store, fileCid)
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
      if (offset + length > bytes.length) throw new UnsafePathError(`file object ${fileCid.toString()}: extent runs past the end of chunk ${key}`, { cid: fileCid.toString() })
      let done = 0
      while (done < length) done += (await fh.write(bytes, offset + done, length - done)).bytesWritten
    }
    await fh.chmod(mode)
    await fh.sync()
    return file.size
  } finally {
    await fh.close()
  }
}

/** Builds a manifest into a staging path next to `target` and swaps it into place. */
export async function materialize (options: MaterializeOptions): Promise<{ files: number, bytes: number }> {
  const { store, manifest, target } = options
  checkManifestPaths(manifest)
  const existing = await lstat(target).catch(() => undefined)
  if (existing?.isSymbolicLink() === true) {
    throw new SymlinkRefusedError(`${target} is a symbolic link; refusing to replace it. Remove it or check out with --to <dir>.`, { path: target })
  }
  const parent = dirname(target)
  await mkdir(parent, { recursive: true })
  const tag = randomBytes(4).toString('hex')
  const staging = join(parent, `.${basename(target)}.mvc-new-${tag}`)
  const old = join(parent, `.${basename(target)}.mvc-old-${tag}`)
  let files = 0
  let bytes = 0
  try {
    if (manifest.kind === 'file') {
      const e = manifest.entries[0]!
      bytes += await writeFileFromObject(store, e.file, staging, e.mode)
      files++
      options.onFile?.(e.path, e.size)
    } else {
      await mkdir(staging)
      for (const d of manifest.dirs) await mkdir(join(staging, d), { recursive: true })
      const made = new Set<string>()
      for (const e of manifest.entries) {
        const dir = dirname(join(staging, e.path))
        if (!made.has(dir)) { await mkdir(dir, { recursive: true }); made.add(dir) }
        bytes += await writeFileFromObject(store, e.file, join(staging, e.path), e.mode)
        files++
        options.onFile?.(e.path, e.size)
      }
      for (const d of made) await syncDir(d)
    }
  } catch (err) {
    await rm(staging, { recursive: true, force: true })
    throw err
  }
  // Swap. Between the two renames the old content sits at `old`; a crash there leaves both folders,
  // and `mvc checkout` can be run again (docs/design.md, "Checkout").
  if (existing !== undefined) await rename(target, old)
  try {
    await rename(staging, target)
  } catch (err) {
    if (existing !== undefined) await rename(old, target)
    await rm(staging, { recursive: true, force: true })
    throw err
  }
  await syncDir(parent)
  if (existing !== undefined) await rm(old, { recursive: true, force: true })
  return { files, bytes }
}
