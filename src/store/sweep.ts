/**
 * The store's side of gc (docs/design.md, "gc"): listing what the index holds and where, copying live
 * chunks out of mostly-dead packs into a new pack, applying the deletions in one synced batch, and
 * deleting pack files nothing names any more — unless a reader's snapshot of the index, taken before
 * the batch, may still read them. Deciding *what* is garbage is the core's (core/gc.ts): this module
 * knows packs and index entries, not object types.
 *
 * Order of writes (each step durable before the next, so a crash anywhere leaves a valid store):
 *   1. new packs holding the copied chunks are sealed (fsync, rename) — unreferenced until step 2;
 *   2. one synced LevelDB batch: index entries of removed objects deleted, moved chunks re-pointed to
 *      the new packs, stale cache entries dropped, bookkeeping (`m/gc/…`) written;
 *   3. pack files no entry names are unlinked (or, with a live reader, recorded as deferred).
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { verifyBlock } from '../content/block.js'
import type { KVOp, PackLocation } from './interface.js'
import { decodeIndex, encodeLocation, PACK_TARGET_SIZE, type LevelObjectStore } from './level-store.js'
import { DiskPacks, PACK_MAGIC, syncDir } from './packs.js'
import { faultPoint } from './faults.js'
import { hostTag, pidAlive } from './leftovers.js'
import { READ_SNAPSHOT, SNAPSHOT_DIR } from './snapshot.js'

/** Bytes a pack entry takes besides its data: u8 CID length, the 36-byte CID, u32 length. */
export const ENTRY_OVERHEAD = 1 + 36 + 4
/** A pack's header and trailer. */
export const PACK_FRAME = PACK_MAGIC.length + 24

/** One `o/` entry of the index. */
export interface IndexEntry {
  /** The CID as text. */
  readonly key: string
  /** Where a chunk is; undefined for an inline (structured) object. */
  readonly loc?: PackLocation
  /** Bytes of the object. */
  readonly size: number
}

/** Every object of the index with where it is, in key order. */
export async function * indexEntries (store: LevelObjectStore): AsyncIterable<IndexEntry> {
  for await (const [k, v] of store.kv.entries('o/')) {
    const idx = decodeIndex(v)
    const key = k.slice(2)
    if ('inline' in idx) yield { key, size: idx.inline.length }
    else yield { key, loc: idx.loc, size: idx.loc.length }
  }
}

export interface PackInfo { readonly id: string, readonly size: number, readonly mtimeMs: number }

/** Sealed packs with their sizes and seal times (a pack that vanished meanwhile is left out). */
export async function packInfos (store: LevelObjectStore): Promise<PackInfo[]> {
  const out: PackInfo[] = []
  for (const id of await store.packs.list()) {
    try {
      const s = store.packs.stat !== undefined ? await store.packs.stat(id) : { size: 0, mtimeMs: Date.now() }
      out.push({ id, ...s })
    } catch { /* removed meanwhile */ }
  }
  return out
}

/**
 * Copies chunks into new sealed packs (rolling over at PACK_TARGET_SIZE), re-hashing each as it is
 * read, and returns their new locations. The new packs are unreferenced until the caller's batch
 * re-points the index at them.
 */
export async function copyChunks (store: LevelObjectStore, chunks: ReadonlyArray<{ readonly cid: CID, readonly loc: PackLocation }>): Promise<{ moved: Map<string, PackLocation>, packs: string[] }> {
  const moved = new Map<string, PackLocation>()
  const packs: string[] = []
  let writer = chunks.length > 0 ? await store.packs.create() : undefined
  let pending: Array<[string, number, number]> = []
  const seal = async (): Promise<void> => {
    if (writer === undefined) return
    const id = await writer.seal()
    packs.push(id)
    for (const [key, offset, length] of pending) moved.set(key, { pack: id, offset, length })
    pending = []
    writer = undefined
  }
  try {
    for (const { cid, loc } of chunks) {
      const bytes = await store.packs.read(loc)
      verifyBlock(cid, bytes, `${store.packs.describe(loc.pack)} at offset ${loc.offset}`)
      writer ??= await store.packs.create()
      const at = await writer.append(cid, bytes)
      pending.push([cid.toString(), at.offset, at.length])
      if (writer.size >= PACK_TARGET_SIZE) await seal()
    }
    await seal()
  } catch (err) {
    await writer?.discard()
    for (const p of packs) await store.packs.remove?.(p).catch(() => {})
    throw err
  }
  faultPoint('gc.repacked')
  return { moved, packs }
}

/** The index value of a chunk at `loc`. */
export function locationValue (loc: PackLocation): Uint8Array {
  return encodeLocation(loc)
}

/** Applies gc's changes to the index in one synced batch, then compacts the object keys (space back now). */
export async function applyBatch (store: LevelObjectStore, ops: readonly KVOp[]): Promise<void> {
  if (ops.length === 0) return
  faultPoint('gc.batch')
  await store.kv.batch(ops, { sync: true })
  faultPoint('gc.batch.done')
}

/** Compacts the object index so the space of deleted entries is given back (best effort). */
export async function compactIndex (store: LevelObjectStore): Promise<void> {
  try { await store.kv.compact?.('o/') } catch { /* the space comes back at LevelDB's next compaction */ }
}

/**
 * Snapshot folders (`<store>/tmp/read-<pid>-<hex>`) of readers that may be alive: a live pid on this
 * host, or any pid of another host (a shared file system: its liveness cannot be told from here).
 */
export async function liveReaders (store: LevelObjectStore): Promise<string[]> {
  if (!(store.packs instanceof DiskPacks)) return []
  const dir = join(store.location, SNAPSHOT_DIR)
  let names: string[]
  try { names = await readdir(dir) } catch { return [] }
  return names.filter(n => {
    const m = READ_SNAPSHOT.exec(n)
    if (m === null) return false
    return m[2]!.slice(0, 4) !== hostTag() || pidAlive(Number(m[1]))
  }).map(n => join(dir, n))
}

/** Unlinks packs (each a fault point), then syncs the folder. Returns those removed. */
export async function removePacks (store: LevelObjectStore, ids: readonly string[]): Promise<string[]> {
  const removed: string[] = []
  for (const id of ids) {
    faultPoint('gc.unlink')
    try {
      await store.packs.remove?.(id)
      removed.push(id)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') removed.push(id) // gone already
      else throw err
    }
  }
  if (removed.length > 0 && store.packs instanceof DiskPacks) await syncDir(store.packs.dir)
  return removed
}

/** Bytes of the files in a folder (not recursive): the index (`db/`) or the packs. 0 when absent. */
export async function folderBytes (dir: string): Promise<number> {
  let total = 0
  let names: string[]
  try { names = await readdir(dir) } catch { return 0 }
  for (const n of names) {
    try {
      const s = await stat(join(dir, n))
      if (s.isFile()) total += s.size
    } catch { /* removed meanwhile */ }
  }
  return total
}
