/**
 * The structure of an HDF5 file — groups, datasets, attributes — read without reading any dataset's
 * data: superblock (versions 0–3), object headers (versions 1 and 2, with continuation blocks),
 * groups as symbol tables (v1 B-tree + local heap + symbol table nodes), as link messages, or dense
 * (fractal heap + v2 B-tree name index), attributes compact or dense, variable-length strings from
 * the global heap, committed (shared) datatypes.
 *
 * Every structure is read through MetaReader (bounds-checked, budgeted) and every count, depth and
 * cycle is bounded (LIMITS), so a hostile file gives an InvalidModelError, never a hang or a crash.
 */
import {
  readAttributeHeader, readDataspace, readDatatype, readDenseInfo, readFilterPipeline, readLayout, readLink,
  type AttributeHeader, type Hdf5DType, type Hdf5Filter, type Hdf5Link, type Hdf5Storage
} from './messages.js'
import { bytesFor, Cursor, LIMITS, log2, malformed, MetaReader, type ByteSource } from './source.js'

export type Hdf5Scalar = string | number | boolean
export type Hdf5Value = Hdf5Scalar | Hdf5Scalar[] | null

export interface Hdf5Attribute {
  readonly name: string
  readonly dtype: Hdf5DType | null
  /** null for a null dataspace; [] for a scalar. */
  readonly shape: readonly number[] | null
  /** A scalar for a scalar dataspace, a flat array otherwise; null when unreadable (see `unsupported`). */
  readonly value: Hdf5Value
  readonly unsupported?: string
}

export interface Hdf5Dataset {
  /** Path from the root, '/'-separated, without a leading '/' ("model_weights/dense/dense/kernel:0"). */
  readonly path: string
  /** Address of its object header (identifies the object; hard links to it share it). */
  readonly objectAddress: number
  readonly dtype: Hdf5DType
  /** [] for a scalar; null for a null dataspace. */
  readonly shape: readonly number[] | null
  readonly storage: Hdf5Storage
  /** Filters of a chunked dataset's pipeline (compression, shuffle, checksums), in order. */
  readonly filters: readonly Hdf5Filter[]
  readonly attributes: ReadonlyMap<string, Hdf5Attribute>
}

export interface Hdf5Group {
  readonly path: string
  readonly attributes: ReadonlyMap<string, Hdf5Attribute>
  /** Names of its links, in byte order of the names (h5py's order). */
  readonly links: readonly string[]
}

export interface Hdf5File {
  readonly superblockVersion: number
  /** Where the superblock is (0 unless the file starts with a user block). */
  readonly superblockOffset: number
  /** Groups by path ('' is the root). */
  readonly groups: ReadonlyMap<string, Hdf5Group>
  /** Every dataset once, in depth-first order of sorted link names (h5py's visititems order). */
  readonly datasets: readonly Hdf5Dataset[]
  /** Links mvc did not follow (soft, external), as "path: what". */
  readonly skippedLinks: readonly string[]
  /** True when only the root group was read (ReadOptions.accept said no): `datasets` is then empty. */
  readonly rootOnly: boolean
}

export interface ReadOptions {
  /**
   * Looks at the root group (its attributes and link names) before anything else is read; returning
   * false stops there (rootOnly). Lets a caller that wants only some files skip the rest of a large
   * HDF5 file that is not one of them.
   */
  readonly accept?: (root: Hdf5Group) => boolean
}

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]

/** Offset of the HDF5 superblock signature (0, 512, 1024, 2048, …), or undefined when the bytes are not HDF5. */
export async function findSuperblock (source: ByteSource): Promise<number | undefined> {
  for (let off = 0; off + SIGNATURE.length <= source.size; off = off === 0 ? 512 : off * 2) {
    const b = await source.read(off, SIGNATURE.length)
    if (SIGNATURE.every((v, i) => b[i] === v)) return off
  }
  return undefined
}

const MSG = {
  dataspace: 0x01, linkInfo: 0x02, datatype: 0x03, link: 0x06, external: 0x07, layout: 0x08, groupInfo: 0x0a,
  filters: 0x0b, attribute: 0x0c, continuation: 0x10, symbolTable: 0x11, attributeInfo: 0x15
} as const

interface Message {
  readonly type: number
  readonly flags: number
  /** The message's bytes; `body` gives a fresh cursor over them each time (headers are cached and shared). */
  readonly raw: Cursor
}

function body (m: Message): Cursor {
  return new Cursor(m.raw.source, m.raw.bytes, m.raw.base, m.raw.what)
}

interface ObjectHeader {
  readonly address: number
  readonly messages: readonly Message[]
}

const utf8 = new TextDecoder()

class Reader {
  readonly meta: MetaReader
  so = 8
  sl = 8
  base = 0
  private readonly headers = new Map<number, Promise<ObjectHeader>>()
  private readonly globalHeaps = new Map<number, Promise<Map<number, Uint8Array>>>()
  private objects = 0

  constructor (readonly source: ByteSource) {
    this.meta = new MetaReader(source)
  }

  error (what: string, offset: number | undefined, problem: string): Error {
    return malformed(this.source, what, offset, problem)
  }

  /** Absolute offset of a file address. */
  abs (address: number): number { return this.base + address }

  countObject (what: string): void {
    if (++this.objects > LIMITS.objects) throw this.error(what, undefined, `more than ${LIMITS.objects} objects`)
  }

  // -------------------------------------------------------------------------------------------------
  // superblock

  async superblock (at: number): Promise<{ version: number, root: number }> {
    const what = 'superblock'
    const c = await this.meta.cursor(at, Math.min(this.source.size - at, 128), what)
    c.skip(8)
    const version = c.u8()
    let root: number | undefined
    let eof: number | undefined
    if (version === 0 || version === 1) {
      c.skip(4) // free-space, root group symbol table entry and shared header message versions, reserved
      this.so = c.u8()
      this.sl = c.u8()
      this.checkSizes(c)
      c.skip(1 + 2 + 2 + 4) // reserved, group leaf/internal node K, consistency flags
      if (version === 1) c.skip(4)
      c.address(this.so) // base address: the library requires it to be the superblock's own address
      c.address(this.so) // free-space info
      eof = c.address(this.so)
      c.address(this.so) // driver info
      c.address(this.so) // root entry: link name offset
      root = c.address(this.so)
    } else if (version === 2 || version === 3) {
      this.so = c.u8()
      this.sl = c.u8()
      this.checkSizes(c)
      c.u8() // consistency flags
      c.address(this.so) // base address
      c.address(this.so) // superblock extension
      eof = c.address(this.so)
      root = c.address(this.so)
    } else {
      throw this.error(what, at, `superblock version ${version} is not 0 to 3`)
    }
    this.base = at
    if (root === undefined) throw this.error(what, at, 'the root group has no address')
    // The end-of-file address counts from the start of the file (a user block included), as HDF5 writes it.
    if (eof !== undefined && eof > this.source.size) {
      throw this.error(what, at, `the file is truncated: its superblock says it ends at byte ${eof} but it has ${this.source.size} bytes`)
    }
    return { version, root }
  }

  private checkSizes (c: Cursor): void {
    if (![2, 4, 8].includes(this.so) || ![2, 4, 8].includes(this.sl)) throw c.error(`sizes of offsets ${this.so} and lengths ${this.sl} are not 2, 4 or 8`)
  }

  // -------------------------------------------------------------------------------------------------
  // object headers

  header (address: number): Promise<ObjectHeader> {
    let p = this.headers.get(address)
    if (p === undefined) {
      p = this.readHeader(address)
      this.headers.set(address, p)
    }
    return p
  }

  private async readHeader (address: number): Promise<ObjectHeader> {
    const at = this.abs(address)
    const what = `object header at address ${address}`
    const first = await this.meta.cursor(at, Math.min(this.source.size - at, 8), what)
    const messages: Message[] = []
    const blocks: Array<{ start: number, length: number }> = []
    const seen = new Set<number>()
    const addBlock = (c: Cursor, start: number | undefined, length: number): void => {
      if (start === undefined) throw c.error('continuation message without an address')
      if (seen.has(start)) throw c.error(`continuation block at ${start} is listed twice`)
      if (seen.size >= LIMITS.continuations) throw c.error(`more than ${LIMITS.continuations} continuation blocks`)
      seen.add(start)
      blocks.push({ start, length })
    }
    const push = (m: Message): void => {
      if (messages.length >= LIMITS.messages) m.raw.fail(`more than ${LIMITS.messages} header messages`)
      if (m.type === MSG.continuation) {
        const c = body(m)
        const off = c.address(this.so)
        const len = c.uint(this.sl)
        addBlock(c, off === undefined ? undefined : this.abs(off), len)
      }
      messages.push(m)
    }

    if (first.bytes[0] === 1) {
      const c = await this.meta.cursor(at, 16, what)
      c.u8(); c.u8()
      const count = c.u16()
      c.u32() // reference count
      const size = c.u32()
      blocks.push({ start: at + 16, length: size })
      seen.add(at + 16)
      for (let b = 0; b < blocks.length && messages.length < count; b++) {
        const block = blocks[b]!
        const bc = await this.meta.cursor(block.start, block.length, what)
        while (bc.remaining >= 8 && messages.length < count) {
          const type = bc.u16()
          const size = bc.u16()
          const flags = bc.u8()
          bc.skip(3)
          push({ type, flags, raw: bc.sub(size, `${what}, message type ${type}`) })
        }
      }
      return { address, messages }
    }

    if (first.bytes[0] === 0x4f /* 'O' */) {
      const pre = await this.meta.cursor(at, 6, what)
      pre.signature('OHDR')
      const version = pre.u8()
      if (version !== 2) throw pre.error(`object header version ${version} is not 2`)
      const flags = pre.u8()
      const prefix = 6 + ((flags & 0x20) !== 0 ? 16 : 0) + ((flags & 0x10) !== 0 ? 4 : 0)
      const sizeBytes = 1 << (flags & 3)
      const c = await this.meta.cursor(at + prefix, sizeBytes, what)
      const size = c.uint(sizeBytes)
      const orderBytes = (flags & 0x04) !== 0 ? 2 : 0
      const read = (bc: Cursor): void => {
        while (bc.remaining >= 4 + orderBytes) {
          const type = bc.u8()
          const size = bc.u16()
          const mflags = bc.u8()
          bc.skip(orderBytes)
          push({ type, flags: mflags, raw: bc.sub(size, `${what}, message type ${type}`) })
        }
      }
      read(await this.meta.cursor(at + prefix + sizeBytes, size, what))
      for (let b = 0; b < blocks.length; b++) {
        const block = blocks[b]!
        if (block.length < 8) throw this.error(what, block.start, `continuation block of ${block.length} bytes`)
        const bc = await this.meta.cursor(block.start, block.length - 4, what)
        bc.signature('OCHK')
        read(bc.sub(bc.remaining))
      }
      return { address, messages }
    }
    throw first.error(`not an object header (first byte ${first.bytes[0] ?? 'missing'})`, 0)
  }

  /** The message body, following a shared message to the committed object it lives in. */
  private async resolved (m: Message, depth = 0): Promise<Cursor> {
    if ((m.flags & 0x02) === 0) return body(m)
    if (depth > 4) m.raw.fail('shared message chain too long')
    const c = body(m)
    const version = c.u8()
    const type = c.u8()
    if (version === 1) c.skip(6)
    if ((version === 3 && type !== 2) || (version < 3 && type !== 0 && type !== 2)) {
      throw c.error('the message is in the shared message heap, which mvc does not read')
    }
    const address = c.address(this.so)
    if (address === undefined) throw c.error('shared message without an address')
    const other = await this.header(address)
    const target = other.messages.find(x => x.type === m.type)
    if (target === undefined) throw c.error(`the object at ${address} holds no message of type ${m.type}`)
    return await this.resolved(target, depth + 1)
  }

  // -------------------------------------------------------------------------------------------------
  // heaps

  private async localHeap (address: number): Promise<Uint8Array> {
    const what = `local heap at address ${address}`
    const c = await this.meta.cursor(this.abs(address), 8 + 2 * this.sl + this.so, what)
    c.signature('HEAP')
    c.u8(); c.skip(3)
    const size = c.uint(this.sl)
    c.uint(this.sl) // free list
    const data = c.address(this.so)
    if (data === undefined) throw c.error('no data segment')
    return await this.meta.bytes(this.abs(data), size, what)
  }

  private globalHeap (address: number): Promise<Map<number, Uint8Array>> {
    let p = this.globalHeaps.get(address)
    if (p === undefined) {
      p = (async () => {
        const what = `global heap collection at address ${address}`
        const head = await this.meta.cursor(this.abs(address), 8 + this.sl, what)
        head.signature('GCOL')
        head.u8(); head.skip(3)
        const size = head.uint(this.sl)
        if (size < 8 + this.sl) throw head.error(`collection size ${size} is too small`)
        const c = await this.meta.cursor(this.abs(address), size, what)
        c.skip(8 + this.sl)
        const objects = new Map<number, Uint8Array>()
        while (c.remaining >= 8 + this.sl) {
          const index = c.u16()
          c.u16(); c.skip(4)
          const n = c.uint(this.sl)
          if (index === 0) break // free space to the end of the collection
          const data = c.take(n)
          c.skip(Math.min(c.remaining, (8 - (n % 8)) % 8))
          objects.set(index, data)
        }
        return objects
      })()
      this.globalHeaps.set(address, p)
    }
    return p
  }

  /** Resolves the fractal heap at `address` and returns a lookup of heap IDs. */
  private async fractalHeap (address: number): Promise<(id: Uint8Array, what: string) => Promise<Uint8Array>> {
    const what = `fractal heap at address ${address}`
    const so = this.so
    const sl = this.sl
    const fixed = 4 + 1 + 2 + 2 + 1 + 4 + sl + so + sl + so + 4 * sl + 4 * sl + 2 + sl + sl + 2 + 2 + so + 2
    const c = await this.meta.cursor(this.abs(address), fixed, what)
    c.signature('FRHP')
    const version = c.u8()
    if (version !== 0) throw c.error(`fractal heap version ${version} is not 0`)
    c.u16() // heap ID length
    const filterLength = c.u16()
    const flags = c.u8()
    const maxManaged = c.u32()
    c.uint(sl); c.address(so); c.uint(sl); c.address(so)
    c.uint(sl); c.uint(sl); c.uint(sl); c.uint(sl)
    c.uint(sl); c.uint(sl); c.uint(sl); c.uint(sl)
    const width = c.u16()
    const start = c.uint(sl)
    const maxDirect = c.uint(sl)
    const maxHeapBits = c.u16()
    c.u16() // starting rows
    const root = c.address(so)
    const rows = c.u16()
    if (filterLength > 0) throw c.error('its blocks are filtered (compressed), which mvc does not read')
    const logStart = log2(start)
    const logMax = log2(maxDirect)
    const logWidth = log2(width)
    if (logStart === undefined || logMax === undefined || logWidth === undefined || logMax < logStart || maxHeapBits < 1 || maxHeapBits > 64 || width > 4096) {
      throw c.error(`inconsistent table (width ${width}, starting block ${start}, largest direct block ${maxDirect}, heap ${maxHeapBits} bits)`)
    }
    const offsetSize = Math.ceil(maxHeapBits / 8)
    const lengthSize = Math.min(Math.ceil(logMax / 8), bytesFor(maxManaged))
    const checksummed = (flags & 0x02) !== 0
    const maxDirectRows = logMax - logStart + 2
    const rowSize = (r: number): number => r < 2 ? start : start * 2 ** (r - 1)

    const blocks: Array<{ offset: number, size: number, address: number }> = []
    const seen = new Set<number>()
    const walkIndirect = async (addr: number, nrows: number, depth: number): Promise<void> => {
      if (depth > LIMITS.treeDepth) throw this.error(what, this.abs(addr), 'indirect blocks nested too deep')
      if (seen.has(addr)) throw this.error(what, this.abs(addr), 'an indirect block is reached twice')
      seen.add(addr)
      if (nrows > 64) throw this.error(what, this.abs(addr), `${nrows} rows in an indirect block`)
      const direct = Math.min(nrows, maxDirectRows) * width
      const indirect = nrows > maxDirectRows ? (nrows - maxDirectRows) * width : 0
      const ic = await this.meta.cursor(this.abs(addr), 5 + so + offsetSize + (direct + indirect) * so, what)
      ic.signature('FHIB')
      ic.u8()
      ic.address(so)
      let blockOffset = ic.uint(offsetSize)
      for (let i = 0; i < direct; i++) {
        const row = Math.floor(i / width)
        const a = ic.address(so)
        if (a !== undefined) blocks.push({ offset: blockOffset, size: rowSize(row), address: a })
        blockOffset += rowSize(row)
      }
      for (let j = 0; j < indirect; j++) {
        const row = maxDirectRows + Math.floor(j / width)
        const a = ic.address(so)
        if (a !== undefined) {
          const childRows = (log2(rowSize(row)) ?? 0) - (logStart + logWidth) + 1
          await walkIndirect(a, childRows, depth + 1)
        }
      }
    }
    if (root !== undefined) {
      if (rows === 0) blocks.push({ offset: 0, size: start, address: root })
      else await walkIndirect(root, rows, 0)
    }
    const checked = new Set<number>()
    return async (id: Uint8Array, objWhat: string): Promise<Uint8Array> => {
      const ic = new Cursor(this.source, id, 0, `${objWhat}: heap ID`)
      const b0 = ic.u8()
      if ((b0 >> 6) !== 0) throw ic.error(`heap ID version ${b0 >> 6} is not 0`)
      const type = (b0 >> 4) & 3
      if (type === 2) {
        const n = (b0 & 0x0f) + 1
        return ic.take(n)
      }
      if (type !== 0) throw ic.error('the object is a "huge" heap object, which mvc does not read')
      const off = ic.uint(offsetSize)
      const len = ic.uint(lengthSize)
      const block = blocks.find(b => b.offset <= off && off + len <= b.offset + b.size)
      if (block === undefined) throw ic.error(`no direct block holds heap offset ${off} (+${len})`)
      if (!checked.has(block.address)) {
        const hc = await this.meta.cursor(this.abs(block.address), 5 + so + offsetSize, what)
        hc.signature('FHDB')
        hc.u8()
        hc.address(so)
        const stored = hc.uint(offsetSize)
        if (stored !== block.offset) throw hc.error(`direct block says it holds heap offset ${stored}, its parent says ${block.offset}`)
        checked.add(block.address)
      }
      const header = 5 + so + offsetSize + (checksummed ? 4 : 0)
      if (off - block.offset < header) throw ic.error(`heap offset ${off} points into a block header`)
      return await this.meta.bytes(this.abs(block.address) + (off - block.offset), len, objWhat)
    }
  }

  /** Every record of the v2 B-tree at `address` (of the given record type). */
  private async btree2 (address: number, recordType: number): Promise<Uint8Array[]> {
    const what = `v2 B-tree at address ${address}`
    const so = this.so
    const c = await this.meta.cursor(this.abs(address), 4 + 1 + 1 + 4 + 2 + 2 + 1 + 1 + so + 2 + this.sl + 4, what)
    c.signature('BTHD')
    if (c.u8() !== 0) throw c.error('version is not 0')
    const type = c.u8()
    if (type !== recordType) throw c.error(`record type ${type}, expected ${recordType}`)
    const nodeSize = c.u32()
    const recordSize = c.u16()
    const depth = c.u16()
    c.u8(); c.u8()
    const root = c.address(so)
    const rootRecords = c.u16()
    if (recordSize < 1 || nodeSize < 10 + recordSize || depth > LIMITS.treeDepth) throw c.error(`node size ${nodeSize}, record size ${recordSize}, depth ${depth}`)
    if (root === undefined) return []
    // Node geometry as HDF5 computes it (H5B2hdr.c): records per node and the sizes of child counts.
    const maxRec: number[] = [Math.floor((nodeSize - 10) / recordSize)]
    const cum: number[] = [maxRec[0]!]
    const cumSize: number[] = [0]
    const countSize = bytesFor(maxRec[0]!)
    const pointerSize = (d: number): number => so + countSize + (d > 1 ? cumSize[d - 1]! : 0)
    for (let d = 1; d <= depth; d++) {
      const p = pointerSize(d)
      maxRec.push(Math.floor((nodeSize - (10 + p)) / (recordSize + p)))
      cum.push(Math.min(Number.MAX_SAFE_INTEGER, (maxRec[d]! + 1) * cum[d - 1]! + maxRec[d]!))
      cumSize.push(bytesFor(cum[d]!))
    }
    const out: Uint8Array[] = []
    const seen = new Set<number>()
    const walk = async (addr: number, n: number, level: number): Promise<void> => {
      if (seen.has(addr)) throw this.error(what, this.abs(addr), 'a node is reached twice')
      seen.add(addr)
      if (n > maxRec[level]!) throw this.error(what, this.abs(addr), `${n} records in a node that holds at most ${maxRec[level]!}`)
      const nc = await this.meta.cursor(this.abs(addr), nodeSize, what)
      nc.signature(level > 0 ? 'BTIN' : 'BTLF')
      nc.u8()
      if (nc.u8() !== recordType) throw nc.error('node of another record type')
      const records: Uint8Array[] = []
      for (let i = 0; i < n; i++) records.push(nc.take(recordSize))
      if (level === 0) {
        out.push(...records)
      } else {
        for (let i = 0; i <= n; i++) {
          const child = nc.address(so)
          const childN = nc.uint(countSize)
          if (level > 1) nc.uint(cumSize[level - 1]!)
          if (child === undefined) throw nc.error('child node without an address')
          await walk(child, childN, level - 1)
          if (i < n) out.push(records[i]!)
        }
      }
      if (out.length > LIMITS.objects) throw this.error(what, undefined, `more than ${LIMITS.objects} records`)
    }
    await walk(root, rootRecords, depth)
    return out
  }

  // -------------------------------------------------------------------------------------------------
  // groups

  async links (oh: ObjectHeader, path: string): Promise<Hdf5Link[]> {
    const what = `group ${JSON.stringify('/' + path)}`
    const links: Hdf5Link[] = []
    const symbolTable = oh.messages.find(m => m.type === MSG.symbolTable)
    if (symbolTable !== undefined) {
      const c = body(symbolTable)
      const btree = c.address(this.so)
      const heap = c.address(this.so)
      if (btree === undefined || heap === undefined) throw c.error('symbol table without a B-tree or a heap')
      const names = await this.localHeap(heap)
      await this.symbolTableNode(btree, undefined, names, links, new Set(), 0, what)
    }
    for (const m of oh.messages) {
      if (m.type === MSG.link) links.push(readLink(body(m), this.so))
      if (m.type === MSG.linkInfo) {
        const info = readDenseInfo(body(m), this.so, false)
        if (info.heap !== undefined && info.nameIndex !== undefined) {
          const heap = await this.fractalHeap(info.heap)
          for (const rec of await this.btree2(info.nameIndex, 5)) {
            const obj = await heap(rec.subarray(4), `${what}, dense link`)
            links.push(readLink(new Cursor(this.source, obj, 0, `${what}, dense link`), this.so))
          }
        }
      }
    }
    if (links.length > LIMITS.objects) throw this.error(what, undefined, `more than ${LIMITS.objects} links`)
    return links
  }

  private async symbolTableNode (address: number, level: number | undefined, names: Uint8Array, out: Hdf5Link[], seen: Set<number>, depth: number, what: string): Promise<void> {
    if (depth > LIMITS.treeDepth) throw this.error(what, this.abs(address), 'B-tree nested too deep')
    if (seen.has(address)) throw this.error(what, this.abs(address), 'a B-tree node is reached twice')
    seen.add(address)
    const so = this.so
    const sl = this.sl
    const head = await this.meta.cursor(this.abs(address), 8 + 2 * so, `${what}, B-tree node`)
    head.signature('TREE')
    if (head.u8() !== 0) throw head.error('not a group B-tree node (type 1 is for chunks)')
    const nodeLevel = head.u8()
    const used = head.u16()
    if (level !== undefined && nodeLevel !== level) throw head.error(`node level ${nodeLevel}, expected ${level}`)
    const c = await this.meta.cursor(this.abs(address) + 8 + 2 * so, used * (sl + so) + sl, `${what}, B-tree node`)
    const children: number[] = []
    for (let i = 0; i < used; i++) {
      c.uint(sl)
      const child = c.address(so)
      if (child === undefined) throw c.error('child without an address')
      children.push(child)
    }
    for (const child of children) {
      if (nodeLevel > 0) {
        await this.symbolTableNode(child, nodeLevel - 1, names, out, seen, depth + 1, what)
        continue
      }
      const sc = await this.meta.cursor(this.abs(child), 8, `${what}, symbol table node`)
      sc.signature('SNOD')
      sc.u8(); sc.u8()
      const n = sc.u16()
      const entry = 2 * so + 24
      const ec = await this.meta.cursor(this.abs(child) + 8, n * entry, `${what}, symbol table node`)
      for (let i = 0; i < n; i++) {
        const nameOffset = ec.uint(so)
        const objectAddress = ec.address(so)
        const cacheType = ec.u32()
        ec.skip(20)
        if (nameOffset >= names.length) throw ec.error(`name offset ${nameOffset} is outside the group's heap (${names.length} bytes)`)
        const end = names.indexOf(0, nameOffset)
        if (end < 0) throw ec.error('name is not NUL-terminated')
        const name = utf8.decode(names.subarray(nameOffset, end))
        if (name.length === 0) throw ec.error('empty link name')
        if (cacheType === 2) { out.push({ name, kind: 'soft' }); continue }
        if (objectAddress === undefined) throw ec.error(`link ${JSON.stringify(name)} has no object address`)
        out.push({ name, kind: 'hard', address: objectAddress })
      }
      if (out.length > LIMITS.objects) throw this.error(what, undefined, `more than ${LIMITS.objects} links`)
    }
  }

  // -------------------------------------------------------------------------------------------------
  // attributes

  async attributes (oh: ObjectHeader, what: string): Promise<Map<string, Hdf5Attribute>> {
    const out = new Map<string, Hdf5Attribute>()
    const add = async (h: AttributeHeader): Promise<void> => {
      const a = await this.attributeValue(h)
      out.set(a.name, a)
    }
    for (const m of oh.messages) {
      if (m.type === MSG.attribute) await add(readAttributeHeader(body(m)))
      if (m.type === MSG.attributeInfo) {
        const info = readDenseInfo(body(m), this.so, true)
        if (info.heap !== undefined && info.nameIndex !== undefined) {
          const heap = await this.fractalHeap(info.heap)
          for (const rec of await this.btree2(info.nameIndex, 8)) {
            if ((rec[8]! & 0x02) !== 0) m.raw.fail('a dense attribute is a shared message, which mvc does not read')
            const obj = await heap(rec.subarray(0, 8), `${what}, dense attribute`)
            await add(readAttributeHeader(new Cursor(this.source, obj, 0, `${what}, dense attribute`)))
          }
        }
      }
    }
    return out
  }

  private async attributeValue (h: AttributeHeader): Promise<Hdf5Attribute> {
    if (h.datatype === undefined || h.dataspace === undefined) {
      return { name: h.name, dtype: null, shape: null, value: null, unsupported: h.unsupported ?? 'unreadable' }
    }
    const dtype = readDatatype(h.datatype)
    const shape = readDataspace(h.dataspace, this.sl).shape
    const count = shape === null ? 0 : shape.reduce((a, b) => a * b, 1)
    if (count > 1 << 24) h.value.fail(`attribute ${JSON.stringify(h.name)} has ${count} elements`)
    const c = h.value
    const values: Hdf5Scalar[] = []
    const unsupported = (why: string): Hdf5Attribute => ({ name: h.name, dtype, shape, value: null, unsupported: why })
    switch (dtype.class) {
      case 'string':
        for (let i = 0; i < count; i++) {
          if (dtype.vlen) {
            const e = c.sub(dtype.size)
            const length = e.u32()
            const collection = e.address(this.so)
            const index = e.u32()
            if (collection === undefined || length === 0) { values.push(''); continue }
            const heap = await this.globalHeap(collection)
            const obj = heap.get(index)
            if (obj === undefined) throw e.error(`variable-length string refers to object ${index} of the global heap at ${collection}, which is not there`)
            if (obj.length < length) throw e.error(`variable-length string of ${length} bytes, but its heap object has ${obj.length}`)
            values.push(utf8.decode(obj.subarray(0, length)))
          } else {
            values.push(fixedString(c.take(dtype.size), dtype.padding))
          }
        }
        break
      case 'int':
      case 'float':
      case 'bool': {
        const bytes = c.take(count * dtype.size)
        const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        for (let i = 0; i < count; i++) values.push(numberAt(dv, i * dtype.size, dtype))
        break
      }
      default:
        return unsupported(`its type (${dtype.class === 'other' ? dtype.description : dtype.class}) is not read by mvc`)
    }
    const value: Hdf5Value = shape === null ? null : shape.length === 0 ? values[0] ?? null : values
    return { name: h.name, dtype, shape, value }
  }

  // -------------------------------------------------------------------------------------------------
  // objects

  async dataset (oh: ObjectHeader, path: string): Promise<Hdf5Dataset | undefined> {
    const find = (type: number): Message | undefined => oh.messages.find(m => m.type === type)
    const layoutMsg = find(MSG.layout)
    const typeMsg = find(MSG.datatype)
    const spaceMsg = find(MSG.dataspace)
    if (layoutMsg === undefined || typeMsg === undefined || spaceMsg === undefined) return undefined
    const dtype = readDatatype(await this.resolved(typeMsg))
    const shape = readDataspace(await this.resolved(spaceMsg), this.sl).shape
    const count = shape === null ? 0 : shape.reduce((a, b) => a * b, 1)
    const elementsBytes = count * dtype.size
    if (!Number.isSafeInteger(elementsBytes)) spaceMsg.raw.fail(`dataset ${JSON.stringify(path)} is too large to be real`)
    let storage = readLayout(body(layoutMsg), this.so, this.sl, this.base, elementsBytes)
    if (find(MSG.external) !== undefined) storage = { kind: 'unsupported', reason: 'its data is in external files' }
    if (storage.kind === 'contiguous' && storage.offset + storage.size > this.source.size) {
      layoutMsg.raw.fail(`dataset ${JSON.stringify('/' + path)}: its ${storage.size} bytes at offset ${storage.offset} run past the end of the file (${this.source.size} bytes); the file is truncated`)
    }
    const filtersMsg = find(MSG.filters)
    const filters = filtersMsg === undefined ? [] : readFilterPipeline(await this.resolved(filtersMsg))
    const attributes = await this.attributes(oh, `dataset ${JSON.stringify('/' + path)}`)
    return { path, objectAddress: oh.address, dtype, shape, storage, filters, attributes }
  }

  isGroup (oh: ObjectHeader): boolean {
    return oh.messages.some(m => m.type === MSG.symbolTable || m.type === MSG.link || m.type === MSG.linkInfo || m.type === MSG.groupInfo)
  }
}

function fixedString (raw: Uint8Array, padding: number): string {
  let end = raw.length
  if (padding === 2) {
    while (end > 0 && raw[end - 1] === 0x20) end--
  } else {
    const nul = raw.indexOf(0)
    if (nul >= 0) end = nul
  }
  return utf8.decode(raw.subarray(0, end))
}

function halfToNumber (h: number): number {
  const sign = (h & 0x8000) !== 0 ? -1 : 1
  const exp = (h >> 10) & 0x1f
  const frac = h & 0x3ff
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024)
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN
  return sign * 2 ** (exp - 15) * (1 + frac / 1024)
}

function numberAt (dv: DataView, at: number, t: Hdf5DType): Hdf5Scalar {
  if (t.class === 'bool') return dv.getUint8(at) !== 0
  if (t.class === 'float') {
    if (t.bfloat16 === true) {
      const f = new DataView(new ArrayBuffer(4))
      f.setUint32(0, dv.getUint16(at, t.littleEndian) << 16)
      return f.getFloat32(0)
    }
    if (t.size === 2) return halfToNumber(dv.getUint16(at, t.littleEndian))
    if (t.size === 4) return dv.getFloat32(at, t.littleEndian)
    return dv.getFloat64(at, t.littleEndian)
  }
  if (t.class !== 'int') return NaN
  switch (t.size) {
    case 1: return t.signed ? dv.getInt8(at) : dv.getUint8(at)
    case 2: return t.signed ? dv.getInt16(at, t.littleEndian) : dv.getUint16(at, t.littleEndian)
    case 4: return t.signed ? dv.getInt32(at, t.littleEndian) : dv.getUint32(at, t.littleEndian)
    default: return Number(t.signed ? dv.getBigInt64(at, t.littleEndian) : dv.getBigUint64(at, t.littleEndian))
  }
}

/**
 * Reads the structure of the HDF5 file in `source`: every group with its attributes and every
 * dataset with its type, shape, storage (contiguous offset and size, compact, chunked) and filters.
 * No dataset data is read. Throws InvalidModelError (naming `source.name`) when the file is not HDF5,
 * is truncated or is malformed.
 */
export async function readHdf5 (source: ByteSource, options: ReadOptions = {}): Promise<Hdf5File> {
  const at = await findSuperblock(source)
  if (at === undefined) throw malformed(source, 'superblock', undefined, 'no HDF5 signature at 0, 512, 1024, … (not an HDF5 file)')
  const r = new Reader(source)
  const { version, root } = await r.superblock(at)
  const groups = new Map<string, Hdf5Group>()
  const datasets: Hdf5Dataset[] = []
  const skippedLinks: string[] = []
  const visited = new Set<number>()
  let rootOnly = false

  const visit = async (address: number, path: string, depth: number): Promise<void> => {
    if (depth > LIMITS.depth) throw r.error(`group ${JSON.stringify('/' + path)}`, undefined, `groups nested more than ${LIMITS.depth} deep`)
    r.countObject(path)
    const oh = await r.header(address)
    const ds = path === '' ? undefined : await r.dataset(oh, path)
    if (ds !== undefined) {
      datasets.push(ds)
      return
    }
    if (path !== '' && !r.isGroup(oh)) return // a committed datatype, or something else that is not a group
    const attributes = await r.attributes(oh, `group ${JSON.stringify('/' + path)}`)
    const links = (await r.links(oh, path)).sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
    const group: Hdf5Group = { path, attributes, links: links.map(l => l.name) }
    groups.set(path, group)
    if (path === '' && options.accept !== undefined && !options.accept(group)) {
      rootOnly = true
      return
    }
    for (const link of links) {
      const child = path === '' ? link.name : `${path}/${link.name}`
      if (link.kind !== 'hard') {
        skippedLinks.push(`${child}: ${link.kind} link`)
        continue
      }
      if (visited.has(link.address)) continue // a second hard link to an object already visited
      visited.add(link.address)
      await visit(link.address, child, depth + 1)
    }
  }
  visited.add(root)
  await visit(root, '', 0)
  return { superblockVersion: version, superblockOffset: at, groups, datasets, skippedLinks, rootOnly }
}
