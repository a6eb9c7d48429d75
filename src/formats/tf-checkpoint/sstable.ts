/**
 * A reader for the SSTable files TensorFlow writes as a checkpoint's `.index` (tensorflow/core/lib/io/
 * table*.cc, block*.cc, format.cc — LevelDB's table format): pure, from the file's bytes, with every
 * offset and length checked before it is used.
 *
 * Layout, from the end of the file:
 * - footer (48 bytes): the metaindex and index block handles (varint64 offset + varint64 size each),
 *   zero padding to 40 bytes, then the magic 0xdb4775248b80fb57 as a little-endian fixed64;
 * - blocks: `size` bytes of entries and restart points, then a 5-byte trailer — a compression type
 *   (0: none; TensorFlow's bundle writer never compresses) and the masked CRC-32C of the block and
 *   that type byte;
 * - a block's entries: varint32 shared key bytes, varint32 unshared key bytes, varint32 value length,
 *   the unshared key bytes, the value; then uint32 restart offsets and their uint32 count;
 * - the index block maps a key ≥ every key of a data block to that block's handle.
 *
 * Errors are thrown as `SSTableError` with a message the caller prefixes with the file's name.
 */

/** A malformed table; `message` says what and where (byte offsets into the file). */
export class SSTableError extends Error {}

export const TABLE_MAGIC = 0xdb4775248b80fb57n
export const FOOTER_LENGTH = 48
const BLOCK_TRAILER = 5
/** Compression types of a block trailer (table_format.h). */
const COMPRESSION_NAMES: Readonly<Record<number, string>> = { 0: 'none', 1: 'snappy' }

// ---------------------------------------------------------------------------------------------------
// CRC-32C (Castagnoli), as LevelDB masks it

const CRC_TABLE = ((): Uint32Array => {
  const t = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    t[i] = c >>> 0
  }
  return t
})()

/** CRC-32C of `bytes`, continuing from `crc` (0 to start). */
export function crc32c (bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}

/** LevelDB's masked CRC (crc32c.h `Mask`): stored CRCs are masked so that CRCs of CRCs stay useful. */
export function maskCrc (crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0
}

// ---------------------------------------------------------------------------------------------------
// varints

/** A cursor over bytes that refuses to read past `end`. */
export class Cursor {
  constructor (readonly bytes: Uint8Array, public pos: number, readonly end: number, private readonly where: string) {}

  /** A varint of at most `maxBytes` bytes (5 for varint32, 10 for varint64), as a safe integer. */
  varint (maxBytes: number, what: string): number {
    let result = 0n
    for (let i = 0; i < maxBytes; i++) {
      if (this.pos >= this.end) throw new SSTableError(`${this.where}: ${what} runs past the end (at byte ${this.pos})`)
      const b = this.bytes[this.pos++]!
      result |= BigInt(b & 0x7f) << BigInt(7 * i)
      if ((b & 0x80) === 0) {
        if (result > BigInt(Number.MAX_SAFE_INTEGER)) throw new SSTableError(`${this.where}: ${what} ${result} is too large`)
        return Number(result)
      }
    }
    throw new SSTableError(`${this.where}: ${what} is not a valid varint (more than ${maxBytes} bytes, at byte ${this.pos})`)
  }

  take (n: number, what: string): Uint8Array {
    if (n > this.end - this.pos) throw new SSTableError(`${this.where}: ${what} (${n} bytes at ${this.pos}) runs past the end (${this.end})`)
    const out = this.bytes.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
}

// ---------------------------------------------------------------------------------------------------
// footer, blocks, entries

export interface BlockHandle { readonly offset: number, readonly size: number }

export interface Footer {
  readonly metaindex: BlockHandle
  readonly index: BlockHandle
}

function readHandle (c: Cursor, what: string): BlockHandle {
  return { offset: c.varint(10, `${what} offset`), size: c.varint(10, `${what} size`) }
}

/** True when `bytes` (at least the last 8 bytes of a file) end with the table magic. */
export function endsWithMagic (bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false
  const dv = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 8, 8)
  return dv.getBigUint64(0, true) === TABLE_MAGIC
}

/** Decodes the 48-byte footer at the end of `file`. */
export function readFooter (file: Uint8Array): Footer {
  if (file.length < FOOTER_LENGTH) throw new SSTableError(`the file has ${file.length} bytes, fewer than a table footer (${FOOTER_LENGTH}): it is truncated`)
  if (!endsWithMagic(file)) throw new SSTableError('the file does not end with the table magic 0xdb4775248b80fb57: it is truncated or not a checkpoint index')
  const start = file.length - FOOTER_LENGTH
  const c = new Cursor(file, start, file.length - 8, 'footer')
  const metaindex = readHandle(c, 'metaindex handle')
  const index = readHandle(c, 'index handle')
  return { metaindex, index }
}

/** The contents of the block at `handle` (without its trailer), after checking bounds, compression and CRC. */
export function readBlock (file: Uint8Array, handle: BlockHandle, what: string): Uint8Array {
  const limit = file.length - FOOTER_LENGTH
  if (handle.offset > limit || handle.size > limit - handle.offset || BLOCK_TRAILER > limit - handle.offset - handle.size) {
    throw new SSTableError(`${what} (offset ${handle.offset}, ${handle.size} bytes + ${BLOCK_TRAILER}-byte trailer) lies outside the file's ${limit} bytes before the footer`)
  }
  const end = handle.offset + handle.size
  const type = file[end]!
  if (type !== 0) {
    const name = COMPRESSION_NAMES[type]
    throw new SSTableError(`${what} at ${handle.offset} is ${name === undefined ? `compressed with unknown type ${type}` : `${name}-compressed`}; mvc reads uncompressed checkpoint indexes only (TensorFlow writes them uncompressed)`)
  }
  const stored = new DataView(file.buffer, file.byteOffset + end + 1, 4).getUint32(0, true)
  const actual = maskCrc(crc32c(file.subarray(handle.offset, end + 1)))
  if (stored !== actual) {
    throw new SSTableError(`${what} at ${handle.offset} fails its checksum (stored ${stored.toString(16)}, computed ${actual.toString(16)}): the file is damaged`)
  }
  return file.subarray(handle.offset, end)
}

export interface TableEntry {
  readonly key: Uint8Array
  readonly value: Uint8Array
}

/** The entries of one block, in order, with prefix-compressed keys expanded. */
export function blockEntries (block: Uint8Array, what: string): TableEntry[] {
  if (block.length < 4) throw new SSTableError(`${what} has ${block.length} bytes, too few for its restart count`)
  const dv = new DataView(block.buffer, block.byteOffset, block.length)
  const numRestarts = dv.getUint32(block.length - 4, true)
  const maxRestarts = Math.floor((block.length - 4) / 4)
  if (numRestarts > maxRestarts) throw new SSTableError(`${what} claims ${numRestarts} restart points, more than its ${block.length} bytes can hold`)
  const dataEnd = block.length - 4 - 4 * numRestarts
  for (let i = 0; i < numRestarts; i++) {
    const r = dv.getUint32(dataEnd + 4 * i, true)
    if (r > dataEnd) throw new SSTableError(`${what}: restart point ${i} (${r}) lies past its entries (${dataEnd})`)
  }
  const out: TableEntry[] = []
  const c = new Cursor(block, 0, dataEnd, what)
  let prev: Uint8Array = new Uint8Array(0)
  while (c.pos < dataEnd) {
    const at = c.pos
    const shared = c.varint(5, 'shared key length')
    const unshared = c.varint(5, 'unshared key length')
    const valueLength = c.varint(5, 'value length')
    if (shared > prev.length) throw new SSTableError(`${what}: the entry at ${at} shares ${shared} key bytes with a ${prev.length}-byte previous key`)
    const suffix = c.take(unshared, `key of the entry at ${at}`)
    const value = c.take(valueLength, `value of the entry at ${at}`)
    const key = new Uint8Array(shared + unshared)
    key.set(prev.subarray(0, shared), 0)
    key.set(suffix, shared)
    out.push({ key, value })
    prev = key
  }
  return out
}

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/**
 * Every entry of the table in key order (the index block's data blocks, one after the other). Checks
 * that keys strictly increase and that each data block's keys do not pass its index separator.
 */
export function readTable (file: Uint8Array): TableEntry[] {
  const footer = readFooter(file)
  const index = blockEntries(readBlock(file, footer.index, 'the index block'), 'the index block')
  const out: TableEntry[] = []
  for (const [i, ie] of index.entries()) {
    const c = new Cursor(ie.value, 0, ie.value.length, `index entry ${i}`)
    const handle = readHandle(c, 'data block handle')
    const what = `data block ${i}`
    for (const e of blockEntries(readBlock(file, handle, what), what)) {
      const last = out[out.length - 1]
      if (last !== undefined && compareBytes(last.key, e.key) >= 0) throw new SSTableError(`${what}: keys are not in increasing order`)
      if (compareBytes(e.key, ie.key) > 0) throw new SSTableError(`${what}: holds a key beyond its index separator`)
      out.push(e)
    }
  }
  return out
}
