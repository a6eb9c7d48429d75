/**
 * Bounded reading of an HDF5 file's metadata: a byte source (a file, or a member of a zip read in
 * place), a small page cache, a budget on how much metadata may be read, and a cursor whose every
 * read is bounds-checked. Anything out of bounds is an InvalidModelError naming the file, the object
 * being read and its offset — never a RangeError, a hang or a huge allocation.
 */
import { InvalidModelError } from '../../errors.js'

/** Random access to the bytes of one HDF5 file. */
export interface ByteSource {
  /** How the file is named in messages ("model.h5", "model.keras!model.weights.h5"). */
  readonly name: string
  readonly size: number
  /** Exactly `length` bytes at `offset` (0 ≤ offset, offset + length ≤ size). */
  read (offset: number, length: number): Promise<Uint8Array>
}

/** Limits that keep a hostile file from making the reader loop, recurse or allocate without end. */
export const LIMITS = {
  /** Group nesting below the root. */
  depth: 64,
  /** Objects (groups, datasets) in one file. */
  objects: 1_000_000,
  /** Messages in one object header, over all its blocks. */
  messages: 1 << 16,
  /** Continuation blocks of one object header. */
  continuations: 4096,
  /** Levels of a B-tree (v1 or v2) or of a fractal heap's indirect blocks. */
  treeDepth: 32,
  /** Bytes of metadata read from one file (headers, heaps, trees, attribute values). */
  metadataBytes: 1 << 30,
  /** Bytes of one structure read in one piece (a heap's data segment, an attribute's value). */
  blockBytes: 64 << 20,
  /** Nesting of datatypes (arrays of compounds of …). */
  typeDepth: 16,
  /** Rank of a dataspace. */
  rank: 32
} as const

const PAGE = 16 << 10
const MAX_PAGES = 512

/** Raised for a malformed file: the adapter names the model file around it. */
export function malformed (source: ByteSource, what: string, offset: number | undefined, problem: string): InvalidModelError {
  const at = offset === undefined ? '' : ` at offset ${offset}`
  return new InvalidModelError(`${source.name}: malformed HDF5 file: ${what}${at}: ${problem}`, { file: source.name, object: what, ...(offset === undefined ? {} : { offset }) })
}

/** Reads through a page cache and counts what it read against LIMITS.metadataBytes. */
export class MetaReader {
  private readonly pages = new Map<number, Uint8Array>()
  private spent = 0

  constructor (readonly source: ByteSource) {}

  /** `length` bytes at absolute `offset`, checked against the file's size. */
  async bytes (offset: number, length: number, what: string): Promise<Uint8Array> {
    const size = this.source.size
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
      throw malformed(this.source, what, offset, `${length} bytes needed but the file has ${size} bytes (truncated or a bad address)`)
    }
    if (length > LIMITS.blockBytes) throw malformed(this.source, what, offset, `${length} bytes in one structure is more than mvc reads (${LIMITS.blockBytes})`)
    this.spent += length
    if (this.spent > LIMITS.metadataBytes) throw malformed(this.source, what, offset, `more than ${LIMITS.metadataBytes} bytes of metadata; refusing to read further`)
    if (length === 0) return new Uint8Array(0)
    const first = Math.floor(offset / PAGE)
    const last = Math.floor((offset + length - 1) / PAGE)
    if (last - first >= 4) return await this.source.read(offset, length)
    if (first === last) {
      const p = await this.page(first)
      const at = offset - first * PAGE
      return p.subarray(at, at + length)
    }
    const out = new Uint8Array(length)
    let done = 0
    for (let i = first; i <= last; i++) {
      const p = await this.page(i)
      const from = i === first ? offset - first * PAGE : 0
      const n = Math.min(p.length - from, length - done)
      out.set(p.subarray(from, from + n), done)
      done += n
    }
    return out
  }

  private async page (index: number): Promise<Uint8Array> {
    let p = this.pages.get(index)
    if (p === undefined) {
      const start = index * PAGE
      p = await this.source.read(start, Math.min(PAGE, this.source.size - start))
      if (this.pages.size >= MAX_PAGES) this.pages.clear()
      this.pages.set(index, p)
    }
    return p
  }

  /** A cursor over `length` bytes at `offset`. */
  async cursor (offset: number, length: number, what: string): Promise<Cursor> {
    return new Cursor(this.source, await this.bytes(offset, length, what), offset, what)
  }
}

const UNDEFINED_U64 = (1n << 64n) - 1n

/** Sequential, bounds-checked little-endian reads over bytes that sit at `base` in the file. */
export class Cursor {
  pos = 0
  private readonly view: DataView

  constructor (readonly source: ByteSource, readonly bytes: Uint8Array, readonly base: number, readonly what: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  get remaining (): number { return this.bytes.length - this.pos }

  fail (problem: string, at = this.pos): never {
    throw this.error(problem, at)
  }

  /** The error for a problem at `at` (for `throw c.error(…)`, which narrows types where `fail` cannot). */
  error (problem: string, at = this.pos): Error {
    return malformed(this.source, this.what, this.base + at, problem)
  }

  need (n: number): void {
    if (n < 0 || this.pos + n > this.bytes.length) this.fail(`needs ${n} more bytes but only ${this.remaining} are left`)
  }

  skip (n: number): void { this.need(n); this.pos += n }

  u8 (): number { this.need(1); return this.view.getUint8(this.pos++) }
  u16 (): number { this.need(2); const v = this.view.getUint16(this.pos, true); this.pos += 2; return v }
  u32 (): number { this.need(4); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v }

  /** An unsigned little-endian integer of `n` (1..8) bytes; throws beyond 2^53. */
  uint (n: number): number {
    const v = this.big(n)
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`value ${v} is too large`, this.pos - n)
    return Number(v)
  }

  /** An address of `n` bytes: undefined for the "undefined address" (all bits set). */
  address (n: number): number | undefined {
    const v = this.big(n)
    if (v === (n === 8 ? UNDEFINED_U64 : (1n << BigInt(8 * n)) - 1n)) return undefined
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`address ${v} is too large`, this.pos - n)
    return Number(v)
  }

  private big (n: number): bigint {
    if (n < 1 || n > 8) this.fail(`integer size ${n} is not 1 to 8 bytes`)
    this.need(n)
    let v = 0n
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.bytes[this.pos + i]!)
    this.pos += n
    return v
  }

  take (n: number): Uint8Array { this.need(n); const b = this.bytes.subarray(this.pos, this.pos + n); this.pos += n; return b }

  /** A cursor over the next `n` bytes (advancing this one past them). */
  sub (n: number, what = this.what): Cursor {
    const at = this.pos
    return new Cursor(this.source, this.take(n), this.base + at, what)
  }

  /** Checks a 4-byte signature. */
  signature (sig: string): void {
    const got = this.take(4)
    const want = new TextEncoder().encode(sig)
    if (!want.every((b, i) => got[i] === b)) this.fail(`expected signature ${JSON.stringify(sig)}, found ${JSON.stringify(String.fromCharCode(...got))}`, this.pos - 4)
  }

  /** Absolute file offset of the current position. */
  get at (): number { return this.base + this.pos }
}

/** Bytes needed to encode values up to `max` (at least 1). */
export function bytesFor (max: number): number {
  let n = 1
  let v = Math.floor(max / 256)
  while (v > 0) { n++; v = Math.floor(v / 256) }
  return n
}

/** log2 of a power of two, or undefined. */
export function log2 (v: number): number | undefined {
  if (!Number.isSafeInteger(v) || v < 1) return undefined
  let n = 0
  while (2 ** n < v) n++
  return 2 ** n === v ? n : undefined
}
