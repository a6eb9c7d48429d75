/**
 * Pack files: append-only containers of raw chunks (layout in docs/design.md, "Packs").
 *
 *   header   "MVCPACK\x01"                                   8 bytes
 *   entry*   u8 cidLength | cid bytes | u32be dataLength | data
 *   trailer  "MVCPEND\x01" | u64be entryCount | u64be trailerOffset
 *
 * A pack is written under `tmp-<pid>-<host tag + random>.pack` (leftovers.ts), fsync'd, then renamed to `<id>.pack`, where id is the
 * sha-256 (hex) of the entries' CIDs in order — cheap to compute and unique per content. Entries are
 * self-describing, so the index in LevelDB can be rebuilt by scanning packs.
 */
import { open, rename, readdir, unlink, mkdir, stat, type FileHandle } from 'node:fs/promises'
import { createHash, type Hash } from 'node:crypto'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { ObjectNotFoundError } from '../errors.js'
import type { PackFiles, PackLocation, PackWriter } from './interface.js'
import { faultPoint } from './faults.js'
import { ownedTag } from './leftovers.js'

export const PACK_MAGIC = new Uint8Array([0x4d, 0x56, 0x43, 0x50, 0x41, 0x43, 0x4b, 0x01]) // "MVCPACK\x01"
export const PACK_END_MAGIC = new Uint8Array([0x4d, 0x56, 0x43, 0x50, 0x45, 0x4e, 0x44, 0x01]) // "MVCPEND\x01"
export const PACK_NAME = /^[0-9a-f]{64}\.pack$/

function entryHeader (cid: CID, length: number): Uint8Array {
  const c = cid.bytes
  const h = new Uint8Array(1 + c.length + 4)
  h[0] = c.length
  h.set(c, 1)
  new DataView(h.buffer).setUint32(1 + c.length, length)
  return h
}

function trailer (count: number, offset: number): Uint8Array {
  const t = new Uint8Array(24)
  t.set(PACK_END_MAGIC, 0)
  const v = new DataView(t.buffer)
  v.setBigUint64(8, BigInt(count))
  v.setBigUint64(16, BigInt(offset))
  return t
}

/** Shared bookkeeping of both writers: offsets, counts and the pack id hash. */
class PackAccounting {
  size = PACK_MAGIC.length
  count = 0
  private readonly idHash: Hash = createHash('sha256')
  next (cid: CID, length: number): { header: Uint8Array, offset: number } {
    const header = entryHeader(cid, length)
    const offset = this.size + header.length
    this.size = offset + length
    this.count++
    this.idHash.update(cid.bytes)
    return { header, offset }
  }

  id (): string { return this.idHash.digest('hex') }
}

/** How many pack files stay open for reading; a long-running server may see thousands of packs. */
export const OPEN_PACKS = 64

interface OpenPack { readonly handle: Promise<FileHandle>, users: number, closing?: boolean }

/** Packs in a folder on disk (`.mvc/packs`). */
export class DiskPacks implements PackFiles {
  /** Open read handles, least recently used first; only idle ones are closed when over OPEN_PACKS. */
  private readonly handles = new Map<string, OpenPack>()
  constructor (readonly dir: string) {}

  async create (): Promise<PackWriter> {
    await mkdir(this.dir, { recursive: true })
    const tmp = join(this.dir, `tmp-${ownedTag(8)}.pack`)
    faultPoint('pack.create')
    const fh = await open(tmp, 'wx')
    try {
      await fh.write(PACK_MAGIC)
    } catch (err) {
      await fh.close().catch(() => {})
      await unlink(tmp).catch(() => {})
      throw err
    }
    return new DiskPackWriter(this.dir, tmp, fh)
  }

  describe (pack: string): string { return join(this.dir, `${pack}.pack`) }

  private acquire (pack: string): OpenPack {
    let h = this.handles.get(pack)
    if (h === undefined) {
      h = { handle: open(this.describe(pack), 'r'), users: 0 }
      h.handle.catch(() => this.handles.delete(pack))
    } else {
      this.handles.delete(pack) // re-inserted below as most recently used
    }
    this.handles.set(pack, h)
    h.users++
    for (const [name, old] of this.handles) {
      if (this.handles.size <= OPEN_PACKS) break
      if (old.users > 0) continue
      this.handles.delete(name)
      old.handle.then(async fh => await fh.close(), () => {})
    }
    return h
  }

  async read (loc: PackLocation): Promise<Uint8Array> {
    const h = this.acquire(loc.pack)
    try {
      return await this.readFrom(h, loc)
    } finally {
      this.release(h)
    }
  }

  async readInto (loc: PackLocation, into: Uint8Array): Promise<Uint8Array> {
    if (into.length < loc.length) throw new TypeError(`readInto: a buffer of ${into.length} bytes cannot hold ${loc.length}`)
    const h = this.acquire(loc.pack)
    try {
      return await this.readFrom(h, loc, into.subarray(0, loc.length))
    } finally {
      this.release(h)
    }
  }

  /** A read is done with a handle; a handle of a removed pack is closed by its last reader. */
  private release (h: OpenPack): void {
    h.users--
    if (h.closing === true && h.users === 0) h.handle.then(async fh => await fh.close(), () => {})
  }

  private async readFrom (h: OpenPack, loc: PackLocation, into?: Uint8Array): Promise<Uint8Array> {
    let fh: FileHandle
    try {
      fh = await h.handle
    } catch (err) {
      throw new ObjectNotFoundError(`pack ${this.describe(loc.pack)} is missing`, { pack: loc.pack }, { cause: err })
    }
    const buf = into ?? new Uint8Array(loc.length)
    let done = 0
    while (done < loc.length) {
      const { bytesRead } = await fh.read(buf, done, loc.length - done, loc.offset + done)
      if (bytesRead === 0) {
        throw new ObjectNotFoundError(`pack ${this.describe(loc.pack)} is truncated: ${loc.length} bytes expected at offset ${loc.offset}`, { pack: loc.pack, offset: loc.offset })
      }
      done += bytesRead
    }
    return buf
  }

  async remove (pack: string): Promise<void> {
    // A handle opened for reading must not keep the file (and its space) alive.
    const h = this.handles.get(pack)
    if (h !== undefined) {
      this.handles.delete(pack)
      // Reads in flight keep their handle (an unlinked file stays readable through it); the last closes it.
      if (h.users === 0) await h.handle.then(async fh => await fh.close(), () => {})
      else h.closing = true
    }
    await unlink(this.describe(pack))
  }

  async stat (pack: string): Promise<{ size: number, mtimeMs: number }> {
    const s = await stat(this.describe(pack))
    return { size: s.size, mtimeMs: s.mtimeMs }
  }

  async list (): Promise<string[]> {
    let names: string[]
    try { names = await readdir(this.dir) } catch { return [] }
    return names.filter(n => PACK_NAME.test(n)).map(n => n.slice(0, -5)).sort()
  }

  async close (): Promise<void> {
    const hs = [...this.handles.values()]
    this.handles.clear()
    await Promise.all(hs.map(async h => { try { await (await h.handle).close() } catch { /* already failed to open */ } }))
  }
}

class DiskPackWriter implements PackWriter {
  private readonly acct = new PackAccounting()
  constructor (private readonly dir: string, private readonly tmp: string, private readonly fh: FileHandle) {}
  get size (): number { return this.acct.size }
  get count (): number { return this.acct.count }

  /**
   * Each entry is written at the offset reserved for it (positional writes), so several appends may
   * run at once; `seal` is called only once they have all resolved.
   */
  async append (cid: CID, bytes: Uint8Array): Promise<{ offset: number, length: number }> {
    const { header, offset } = this.acct.next(cid, bytes.length)
    faultPoint('pack.append')
    await writeAllAt(this.fh, [header, bytes], offset - header.length)
    return { offset, length: bytes.length }
  }

  async seal (): Promise<string> {
    faultPoint('pack.trailer')
    await writeAllAt(this.fh, [trailer(this.acct.count, this.acct.size)], this.acct.size)
    faultPoint('pack.fsync')
    await this.fh.sync()
    await this.fh.close()
    const id = this.acct.id()
    faultPoint('pack.rename')
    await rename(this.tmp, join(this.dir, `${id}.pack`))
    await syncDir(this.dir)
    return id
  }

  async discard (): Promise<void> {
    try { await this.fh.close() } catch { /* closed by a failed seal */ }
    try { await unlink(this.tmp) } catch { /* never created */ }
  }
}

/** Writes every byte of `parts` at `position` (positional: the file offset is not used or moved). */
async function writeAllAt (fh: FileHandle, parts: Uint8Array[], position: number): Promise<void> {
  let left = parts.reduce((a, p) => a + p.length, 0)
  let at = position
  let bufs = parts
  while (left > 0) {
    const { bytesWritten } = await fh.writev(bufs, at)
    // A full disk writes what fits, then nothing: report it as the ENOSPC it is.
    if (bytesWritten <= 0) throw Object.assign(new Error(`no space left on device, write at offset ${at} of a pack file`), { code: 'ENOSPC', syscall: 'write' })
    left -= bytesWritten
    at += bytesWritten
    // Drop what was written; continue with the rest (a short write is rare: signals, full disks).
    let skip = bytesWritten
    const rest: Uint8Array[] = []
    for (const b of bufs) {
      if (skip >= b.length) { skip -= b.length; continue }
      rest.push(skip > 0 ? b.subarray(skip) : b)
      skip = 0
    }
    bufs = rest
  }
}

/** fsync a directory so a rename in it survives a crash (POSIX). */
export async function syncDir (dir: string): Promise<void> {
  faultPoint('dir.fsync')
  let fh: FileHandle | undefined
  try {
    fh = await open(dir, 'r')
    await fh.sync()
  } catch {
    // Some platforms can't fsync directories; the rename is still atomic.
  } finally {
    await fh?.close()
  }
}

/** Packs held in memory: the same contract, for the in-memory store and tests. */
export class MemoryPacks implements PackFiles {
  readonly packs = new Map<string, Uint8Array>()
  private readonly sealedAt = new Map<string, number>()

  async create (): Promise<PackWriter> {
    const parts: Uint8Array[] = [PACK_MAGIC]
    const acct = new PackAccounting()
    const packs = this.packs
    const sealedAt = this.sealedAt
    return {
      get size () { return acct.size },
      get count () { return acct.count },
      async append (cid, bytes) {
        const { header, offset } = acct.next(cid, bytes.length)
        parts.push(header, bytes.slice())
        return { offset, length: bytes.length }
      },
      async seal () {
        parts.push(trailer(acct.count, acct.size))
        const id = acct.id()
        packs.set(id, Buffer.concat(parts))
        sealedAt.set(id, Date.now())
        return id
      },
      async discard () { parts.length = 0 }
    }
  }

  describe (pack: string): string { return `memory pack ${pack}` }

  async read (loc: PackLocation): Promise<Uint8Array> {
    const p = this.packs.get(loc.pack)
    if (p === undefined || loc.offset + loc.length > p.length) {
      throw new ObjectNotFoundError(`${this.describe(loc.pack)} is missing or truncated`, { pack: loc.pack })
    }
    return p.slice(loc.offset, loc.offset + loc.length)
  }

  async readInto (loc: PackLocation, into: Uint8Array): Promise<Uint8Array> {
    const bytes = await this.read(loc)
    into.set(bytes)
    return into.subarray(0, bytes.length)
  }

  async list (): Promise<string[]> { return [...this.packs.keys()].sort() }
  async remove (pack: string): Promise<void> { this.packs.delete(pack); this.sealedAt.delete(pack) }
  async stat (pack: string): Promise<{ size: number, mtimeMs: number }> {
    const p = this.packs.get(pack)
    if (p === undefined) throw new ObjectNotFoundError(`${this.describe(pack)} is missing`, { pack })
    return { size: p.length, mtimeMs: this.sealedAt.get(pack) ?? Date.now() }
  }
  async close (): Promise<void> {}
}

/** One entry of a pack, as found by `scanPack`. */
export interface PackEntry { readonly cid: CID, readonly offset: number, readonly length: number }

export interface PackScan {
  readonly entries: PackEntry[]
  /** True when a valid trailer ends the pack and its count and offset match the entries read. */
  readonly sealed: boolean
  /** Why the scan stopped early (a truncated or damaged pack), or undefined when it read to the trailer. */
  readonly problem?: string
}

/**
 * Reads a pack file's entries without the index (packs are self-describing): header, then entries until
 * the trailer. A damaged or truncated pack yields the entries before the damage and says where it
 * stopped. The bytes of the entries are not hashed here (the caller re-hashes what it keeps).
 */
export async function scanPack (path: string): Promise<PackScan> {
  const fh = await open(path, 'r')
  try {
    const size = (await fh.stat()).size
    const entries: PackEntry[] = []
    const head = new Uint8Array(8)
    if (size < 8 || (await fh.read(head, 0, 8, 0)).bytesRead < 8 || !equalBytes(head, PACK_MAGIC)) {
      return { entries, sealed: false, problem: 'no pack header' }
    }
    let at = 8
    const buf = new Uint8Array(1 + 255 + 4)
    for (;;) {
      if (at + 24 <= size) {
        const t = new Uint8Array(24)
        await fh.read(t, 0, 24, at)
        if (equalBytes(t.subarray(0, 8), PACK_END_MAGIC)) {
          const v = new DataView(t.buffer)
          const count = Number(v.getBigUint64(8))
          const offset = Number(v.getBigUint64(16))
          const sealed = count === entries.length && offset === at && at + 24 === size
          return sealed ? { entries, sealed } : { entries, sealed, problem: `trailer at offset ${at} does not match the entries (count ${count}, offset ${offset}, ${size - at - 24} bytes after it)` }
        }
      }
      if (at === size) return { entries, sealed: false, problem: 'no trailer (the pack was never sealed)' }
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - at), at)
      const cidLength = buf[0]!
      if (bytesRead < 1 + cidLength + 4 || cidLength === 0) return { entries, sealed: false, problem: `truncated or damaged entry header at offset ${at}` }
      let cid: CID
      try { cid = CID.decode(buf.slice(1, 1 + cidLength)) } catch { return { entries, sealed: false, problem: `unreadable CID at offset ${at}` } }
      const length = new DataView(buf.buffer, buf.byteOffset).getUint32(1 + cidLength)
      const offset = at + 1 + cidLength + 4
      if (offset + length > size) return { entries, sealed: false, problem: `entry at offset ${at} runs past the end of the file` }
      entries.push({ cid, offset, length })
      at = offset + length
    }
  } finally {
    await fh.close()
  }
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}
