/**
 * `ObjectStore` over an ordered key-value database (LevelDB on disk, memory-level in memory) and pack
 * files. Key space (docs/design.md, "LevelDB keys"):
 *
 *   o/<cid>   object index: 0x00 ‖ object bytes (inline dag-cbor)
 *                           0x01 ‖ pack id (32 bytes) ‖ u64be offset ‖ u32be length (raw chunk in a pack)
 *   r/<name>  ref value, UTF-8 (a CID string, or "ref: <name>" for a symbolic ref)
 *   m/<key>   metadata: format version, version counter, config, caches
 */
import { CID } from 'multiformats/cid'
import { DAG_CBOR, RAW, verifyBlock } from '../content/block.js'
import { ObjectNotFoundError, RefConflictError, InvalidObjectError, ReadOnlyError, RepositoryLockedError } from '../errors.js'
import type { KV, KVOp, ObjectStore, PackFiles, PackLocation, PackWriter, RefUpdate, Transaction } from './interface.js'
import { Mutex } from './async.js'
import { faultPoint } from './faults.js'

const OBJ = 'o/'
const REF = 'r/'
const META = 'm/'
/** Packs roll over at this size so no single file grows without bound. */
export const PACK_TARGET_SIZE = 1 << 30

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

/** How a store opened without write access behaves (open.ts opens a private copy of the index). */
export interface ReadOnlyMode {
  /** Why the repository is read-only, for messages ("the file system is read-only"). */
  readonly reason: string
  /** Metadata keys that may still be written (caches, which go to the private copy and are dropped). */
  readonly allowMeta: (key: string) => boolean
  /** Set when the store is a reader's snapshot because another process holds the repository: writes are REPOSITORY_LOCKED, not READ_ONLY. */
  readonly lockedBy?: string
}

export function encodeLocation (loc: PackLocation): Uint8Array {
  const v = new Uint8Array(1 + 32 + 8 + 4)
  v[0] = 1
  v.set(Buffer.from(loc.pack, 'hex'), 1)
  const dv = new DataView(v.buffer)
  dv.setBigUint64(33, BigInt(loc.offset))
  dv.setUint32(41, loc.length)
  return v
}

/** An object index value: inline bytes, or where a chunk is in a pack. */
export function decodeIndex (v: Uint8Array): { inline: Uint8Array } | { loc: PackLocation } {
  if (v[0] === 0) return { inline: v.subarray(1) }
  if (v[0] === 1 && v.length === 45) {
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength)
    return { loc: { pack: Buffer.from(v.subarray(1, 33)).toString('hex'), offset: Number(dv.getBigUint64(33)), length: dv.getUint32(41) } }
  }
  throw new InvalidObjectError('unreadable object index entry', { tag: v[0] })
}

export class LevelObjectStore implements ObjectStore {
  /** One transaction at a time: ref expectations are checked and applied without interleaving. */
  private readonly transactions = new Mutex()

  /** Runs after the database is closed (removes a read-only copy of the index). */
  onClose: (() => Promise<void>) | undefined

  /**
   * @param location human-readable name for messages (e.g. the `.mvc` path)
   * @param readOnly set when the store was opened without write access: every write but caches is refused
   */
  constructor (readonly kv: KV, readonly packs: PackFiles, readonly location: string, readonly readOnly?: ReadOnlyMode) {}

  /** Throws READ_ONLY, naming what was attempted, when the store is read-only. */
  refuseWrite (what: string): void {
    if (this.readOnly === undefined) return
    if (this.readOnly.lockedBy !== undefined) {
      throw new RepositoryLockedError(`cannot ${what}: ${this.readOnly.lockedBy}, and this command opened the repository at ${this.location} for reading only (a snapshot). ` +
        'Wait for the other process to finish and run the command again.', { path: this.location })
    }
    throw new ReadOnlyError(`cannot ${what}: the repository at ${this.location} is read-only here (${this.readOnly.reason}). ` +
      'Reading works (log, show, diff, status, fsck, verify, checkout --to a writable folder); to change it, make it writable or clone it.',
    { path: this.location, reason: this.readOnly.reason })
  }

  async has (cid: CID): Promise<boolean> {
    return (await this.kv.get(OBJ + cid.toString())) !== undefined
  }

  async hasMany (cids: readonly CID[]): Promise<boolean[]> {
    if (cids.length === 0) return []
    const found = await this.kv.getMany(cids.map(c => OBJ + c.toString()))
    return found.map(v => v !== undefined)
  }

  /** The index entry of an object: its bytes (inline) or where they are in a pack. */
  private async indexEntry (cid: CID): Promise<ReturnType<typeof decodeIndex>> {
    const key = cid.toString()
    const v = await this.kv.get(OBJ + key)
    if (v === undefined) {
      throw new ObjectNotFoundError(`object ${key} is not in the repository at ${this.location}`, { cid: key })
    }
    return decodeIndex(v)
  }

  async get (cid: CID): Promise<Uint8Array> {
    const idx = await this.indexEntry(cid)
    if ('inline' in idx) {
      verifyBlock(cid, idx.inline, `${this.location} (index)`)
      return idx.inline
    }
    let loc = idx.loc
    let bytes: Uint8Array
    try {
      bytes = await this.packs.read(loc)
    } catch (err) {
      // gc in this process may have moved the chunk to a new pack (repack) and deleted the old one
      // between the index read and the pack read: look the entry up once more.
      const moved = await this.movedFrom(cid.toString(), loc)
      if (moved === undefined) throw err
      loc = moved
      bytes = await this.packs.read(loc)
    }
    verifyBlock(cid, bytes, `${this.packs.describe(loc.pack)} at offset ${loc.offset}`)
    return bytes
  }

  /** The chunk's location now, when it differs from `was` (a repack moved it); undefined otherwise. */
  private async movedFrom (key: string, was: PackLocation): Promise<PackLocation | undefined> {
    const v = await this.kv.get(OBJ + key)
    if (v === undefined) return undefined
    const idx = decodeIndex(v)
    if ('inline' in idx || (idx.loc.pack === was.pack && idx.loc.offset === was.offset)) return undefined
    return idx.loc
  }

  async getChecked (cid: CID, alloc: (length: number) => Uint8Array, check: (cid: CID, bytes: Uint8Array, source: string) => Promise<Uint8Array>): Promise<Uint8Array> {
    const idx = await this.indexEntry(cid)
    if ('inline' in idx) {
      verifyBlock(cid, idx.inline, `${this.location} (index)`)
      return idx.inline
    }
    const into = alloc(idx.loc.length)
    const readAt = async (loc: PackLocation): Promise<Uint8Array> => {
      if (this.packs.readInto !== undefined) return await this.packs.readInto(loc, into)
      const read = await this.packs.read(loc)
      into.set(read)
      return into.subarray(0, read.length)
    }
    let loc = idx.loc
    let bytes: Uint8Array
    try {
      bytes = await readAt(loc)
    } catch (err) {
      const moved = await this.movedFrom(cid.toString(), loc) // see get()
      if (moved === undefined || moved.length > into.length) throw err
      loc = moved
      bytes = await readAt(loc)
    }
    return await check(cid, bytes, `${this.packs.describe(loc.pack)} at offset ${loc.offset}`)
  }

  /** Where an object lives, for fsck and tests; undefined when absent. */
  async locate (cid: CID): Promise<PackLocation | 'inline' | undefined> {
    const v = await this.kv.get(OBJ + cid.toString())
    if (v === undefined) return undefined
    const idx = decodeIndex(v)
    return 'inline' in idx ? 'inline' : idx.loc
  }

  async * cids (): AsyncIterable<CID> {
    for await (const [k] of this.kv.entries(OBJ)) yield CID.parse(k.slice(OBJ.length))
  }

  async readRef (name: string): Promise<string | undefined> {
    const v = await this.kv.get(REF + name)
    return v === undefined ? undefined : fromUtf8.decode(v)
  }

  async listRefs (prefix: string): Promise<Array<[string, string]>> {
    const out: Array<[string, string]> = []
    for await (const [k, v] of this.kv.entries(REF + prefix)) out.push([k.slice(REF.length), fromUtf8.decode(v)])
    return out
  }

  async readMeta (key: string): Promise<Uint8Array | undefined> {
    return await this.kv.get(META + key)
  }

  async listMeta (prefix: string): Promise<Array<[string, Uint8Array]>> {
    const out: Array<[string, Uint8Array]> = []
    for await (const [k, v] of this.kv.entries(META + prefix)) out.push([k.slice(META.length), v])
    return out
  }

  async transaction (): Promise<Transaction> {
    return new LevelTransaction(this, await this.transactions.acquire())
  }

  /**
   * Runs `fn` while no transaction of this store runs (gc: nothing may be stored, and no ref may move,
   * between its mark and its sweep). `fn` must not open a transaction itself.
   */
  async exclusive<T> (fn: () => Promise<T>): Promise<T> {
    const release = await this.transactions.acquire()
    try {
      return await fn()
    } finally {
      release()
    }
  }

  /** Leftovers of dead processes removed when this store was opened (temporary packs, staging folders), for gc's report. */
  leftoversRemoved: string[] = []

  async close (): Promise<void> {
    (await this.transactions.acquire())() // the last transaction has finished
    await this.packs.close()
    await this.kv.close()
    await this.onClose?.()
  }
}

class LevelTransaction implements Transaction {
  private readonly staged = new Map<string, Uint8Array>() // cid → index value
  private readonly refs = new Map<string, RefUpdate>()
  private readonly meta = new Map<string, Uint8Array | null>()
  private writer: PackWriter | undefined
  private readonly sealed: string[] = []
  private pendingPack: Array<[string, number, number]> = [] // cid, offset, length in the open pack
  private done = false
  stagedBytes = 0
  stagedObjects = 0

  constructor (private readonly store: LevelObjectStore, private readonly release: () => void) {}

  private check (): void {
    if (this.done) throw new TypeError('transaction already committed or aborted')
  }

  async has (cid: CID): Promise<boolean> {
    return !(await this.isNew(cid))
  }

  private async isNew (cid: CID): Promise<boolean> {
    const key = cid.toString()
    return !this.staged.has(key) && !this.pendingKeys.has(key) && !(await this.store.has(cid))
  }

  private readonly pendingKeys = new Set<string>()

  async putRaw (cid: CID, bytes: Uint8Array): Promise<boolean> {
    this.check()
    if (cid.code !== RAW) throw new TypeError(`putRaw takes raw CIDs, got codec 0x${cid.code.toString(16)}`)
    if (!(await this.isNew(cid))) return false
    this.store.refuseWrite('store new objects')
    if (this.writer === undefined) this.writer = await this.store.packs.create()
    const key = cid.toString()
    this.pendingKeys.add(key)
    const { offset, length } = await this.writer.append(cid, bytes)
    this.pendingPack.push([key, offset, length])
    this.stagedBytes += length
    this.stagedObjects++
    if (this.writer.size >= PACK_TARGET_SIZE) await this.sealPack()
    return true
  }

  async putRawMany (chunks: ReadonlyArray<{ readonly cid: CID, readonly bytes: Uint8Array }>): Promise<boolean[]> {
    this.check()
    for (const { cid } of chunks) if (cid.code !== RAW) throw new TypeError(`putRaw takes raw CIDs, got codec 0x${cid.code.toString(16)}`)
    const out = chunks.map(() => false)
    // Staged or earlier in this batch: not new. The rest: one index look-up for all.
    const keys = chunks.map(c => c.cid.toString())
    const ask: number[] = []
    const seen = new Set<string>()
    keys.forEach((k, i) => {
      if (this.staged.has(k) || this.pendingKeys.has(k) || seen.has(k)) return
      seen.add(k)
      ask.push(i)
    })
    if (ask.length === 0) return out
    const stored = await this.store.hasMany(ask.map(i => chunks[i]!.cid))
    const fresh = ask.filter((_, j) => stored[j] !== true)
    if (fresh.length === 0) return out
    if (this.writer === undefined) this.writer = await this.store.packs.create()
    const writer = this.writer
    for (const i of fresh) this.pendingKeys.add(keys[i]!)
    // Appends place each entry at its own offset, so the writes can run together.
    const placed = await Promise.all(fresh.map(async i => await writer.append(chunks[i]!.cid, chunks[i]!.bytes)))
    fresh.forEach((i, j) => {
      this.pendingPack.push([keys[i]!, placed[j]!.offset, placed[j]!.length])
      this.stagedBytes += placed[j]!.length
      this.stagedObjects++
      out[i] = true
    })
    if (writer.size >= PACK_TARGET_SIZE) await this.sealPack()
    return out
  }

  async putObject (cid: CID, bytes: Uint8Array): Promise<boolean> {
    this.check()
    if (cid.code !== DAG_CBOR) throw new TypeError(`putObject takes dag-cbor CIDs, got codec 0x${cid.code.toString(16)}`)
    if (!(await this.isNew(cid))) return false
    this.store.refuseWrite('store new objects')
    const v = new Uint8Array(bytes.length + 1)
    v.set(bytes, 1)
    this.staged.set(cid.toString(), v)
    this.stagedBytes += bytes.length
    this.stagedObjects++
    return true
  }

  setRef (update: RefUpdate): void {
    this.check()
    this.store.refuseWrite(`move ${update.name}`)
    this.refs.set(update.name, update)
  }

  setMeta (key: string, value: Uint8Array | null): void {
    this.check()
    if (this.store.readOnly?.allowMeta(key) !== true) this.store.refuseWrite(`change ${key}`)
    this.meta.set(key, value)
  }

  private async sealPack (): Promise<void> {
    const w = this.writer
    if (w === undefined) return
    this.writer = undefined
    const pack = await w.seal()
    this.sealed.push(pack)
    for (const [key, offset, length] of this.pendingPack) {
      this.staged.set(key, encodeLocation({ pack, offset, length }))
      this.pendingKeys.delete(key)
    }
    this.pendingPack = []
  }

  async commit (): Promise<void> {
    this.check()
    let batchTried = false
    try {
      // 1. Chunks are durable in sealed packs before anything refers to them.
      await this.sealPack()
      // 2. Compare-and-swap on refs: nobody else can write between this check and the batch
      //    (transactions are serialised, and LevelDB's lock keeps other processes out).
      for (const u of this.refs.values()) {
        if (u.expect === undefined) continue
        const current = (await this.store.readRef(u.name)) ?? null
        if (current !== u.expect) {
          throw new RefConflictError(`ref ${u.name} moved while this operation ran (expected ${u.expect ?? 'none'}, found ${current ?? 'none'}); run the command again`, { ref: u.name, expected: u.expect, actual: current })
        }
      }
      // 3. One atomic, synced batch: objects, manifest, commit, metadata and refs together.
      const ops: KVOp[] = []
      for (const [k, v] of this.staged) ops.push({ type: 'put', key: OBJ + k, value: v })
      for (const [k, v] of this.meta) ops.push(v === null ? { type: 'del', key: META + k } : { type: 'put', key: META + k, value: v })
      for (const u of this.refs.values()) ops.push(u.value === null ? { type: 'del', key: REF + u.name } : { type: 'put', key: REF + u.name, value: utf8.encode(u.value) })
      if (ops.length > 0) {
        faultPoint('batch')
        batchTried = true
        await this.store.kv.batch(ops, { sync: true })
        faultPoint('batch.done')
      }
    } catch (err) {
      await this.abortInner()
      // Packs this transaction sealed hold only objects no index entry names (putRaw skips indexed
      // ones), so before the batch was tried nothing can use them: remove them (a full disk needs the
      // space back). Once tried, a failed batch may still be applied when the log is replayed: keep them.
      if (!batchTried) for (const p of this.sealed) await this.store.packs.remove?.(p).catch(() => {})
      this.finish()
      throw err
    }
    this.finish()
  }

  async abort (): Promise<void> {
    if (this.done) return
    await this.abortInner()
    this.finish()
  }

  private async abortInner (): Promise<void> {
    // Sealed packs of an aborted transaction are unreferenced; gc removes them. Only the open one is ours to delete.
    await this.writer?.discard()
    this.writer = undefined
  }

  private finish (): void {
    this.done = true
    this.staged.clear()
    this.release()
  }
}
