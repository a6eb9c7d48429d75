/**
 * Reading a zip archive's directory through random access: the end-of-central-directory record
 * (ZIP64 too), the central directory, and each member's local header, for the offset where its data
 * starts. Nothing is decompressed here; members stored uncompressed are read in place. Every size and
 * count is bounded and checked against the file, so a hostile archive is an InvalidModelError.
 *
 * Format: PKWARE APPNOTE.TXT 6.3 (sections 4.3.7 local header, 4.3.12 central directory, 4.3.14–16
 * ZIP64 records, 4.4.2 general purpose flags, 4.5.3 ZIP64 extra field).
 */
import { InvalidModelError } from '../../errors.js'
import type { ByteSource } from '../hdf5/index.js'

export interface ZipEntry {
  readonly name: string
  /** 0 stored, 8 deflated, … */
  readonly method: number
  readonly flags: number
  readonly crc32: number
  readonly compressedSize: number
  readonly size: number
  readonly localHeaderOffset: number
}

/** Members in one archive mvc reads at most. */
const MAX_ENTRIES = 1_000_000
/** Bytes of central directory mvc reads at most. */
const MAX_DIRECTORY = 256 << 20

const EOCD = 0x06054b50
const ZIP64_LOCATOR = 0x07064b50
const ZIP64_EOCD = 0x06064b50
const CENTRAL = 0x02014b50
const LOCAL = 0x04034b50

function bad (source: ByteSource, problem: string): InvalidModelError {
  return new InvalidModelError(`${source.name}: malformed zip archive: ${problem}`, { file: source.name })
}

function u64 (dv: DataView, at: number, source: ByteSource, what: string): number {
  const v = dv.getBigUint64(at, true)
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(source, `${what} ${v} is too large`)
  return Number(v)
}

/** True when the file starts like a zip archive (a local header, or an empty archive's end record). */
export async function looksLikeZip (source: ByteSource): Promise<boolean> {
  if (source.size < 22) return false
  const b = await source.read(0, 4)
  const sig = new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true)
  return sig === LOCAL || sig === EOCD
}

export interface ZipDirectory {
  /** Members in central-directory order. */
  readonly entries: readonly ZipEntry[]
  /** Where members' data ends: the central directory's offset. */
  readonly dataEnd: number
}

/** The members of the zip archive in `source`. */
export async function readZipDirectory (source: ByteSource): Promise<ZipDirectory> {
  const size = source.size
  if (size < 22) throw bad(source, `${size} bytes is too short for a zip archive`)
  const tailLength = Math.min(size, 22 + 0xffff)
  const tail = await source.read(size - tailLength, tailLength)
  const tdv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength)
  let eocd = -1
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tdv.getUint32(i, true) === EOCD && i + 22 + tdv.getUint16(i + 20, true) === tail.length) { eocd = i; break }
  }
  if (eocd < 0) throw bad(source, 'no end of central directory record (the archive is truncated or not a zip)')
  const eocdAt = size - tailLength + eocd
  if (tdv.getUint16(eocd + 4, true) !== 0 || tdv.getUint16(eocd + 6, true) !== 0) throw bad(source, 'multi-disk archives are not supported')
  let count = tdv.getUint16(eocd + 10, true)
  let dirSize = tdv.getUint32(eocd + 12, true)
  let dirOffset = tdv.getUint32(eocd + 16, true)
  let dirEnd = eocdAt
  if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
    if (eocdAt < 20) throw bad(source, 'ZIP64 archive without a ZIP64 locator')
    const loc = await source.read(eocdAt - 20, 20)
    const ldv = new DataView(loc.buffer, loc.byteOffset, 20)
    if (ldv.getUint32(0, true) !== ZIP64_LOCATOR) throw bad(source, 'ZIP64 archive without a ZIP64 locator')
    const recAt = u64(ldv, 8, source, 'ZIP64 record offset')
    if (recAt + 56 > eocdAt - 20) throw bad(source, 'ZIP64 end record outside the archive')
    const rec = await source.read(recAt, 56)
    const rdv = new DataView(rec.buffer, rec.byteOffset, 56)
    if (rdv.getUint32(0, true) !== ZIP64_EOCD) throw bad(source, 'no ZIP64 end of central directory record where its locator says')
    count = u64(rdv, 32, source, 'entry count')
    dirSize = u64(rdv, 40, source, 'central directory size')
    dirOffset = u64(rdv, 48, source, 'central directory offset')
    dirEnd = recAt
  }
  if (count > MAX_ENTRIES) throw bad(source, `${count} members is more than mvc reads (${MAX_ENTRIES})`)
  if (dirSize > MAX_DIRECTORY || dirOffset + dirSize > dirEnd) throw bad(source, `central directory (${dirSize} bytes at ${dirOffset}) does not fit before its end record (at ${dirEnd})`)
  const dir = await source.read(dirOffset, dirSize)
  const dv = new DataView(dir.buffer, dir.byteOffset, dir.byteLength)
  const entries: ZipEntry[] = []
  let at = 0
  for (let i = 0; i < count; i++) {
    if (at + 46 > dir.length || dv.getUint32(at, true) !== CENTRAL) throw bad(source, `central directory entry ${i} is missing or damaged`)
    const flags = dv.getUint16(at + 8, true)
    const method = dv.getUint16(at + 10, true)
    const crc32 = dv.getUint32(at + 16, true)
    let compressedSize = dv.getUint32(at + 20, true)
    let entrySize = dv.getUint32(at + 24, true)
    const nameLength = dv.getUint16(at + 28, true)
    const extraLength = dv.getUint16(at + 30, true)
    const commentLength = dv.getUint16(at + 32, true)
    let localHeaderOffset = dv.getUint32(at + 42, true)
    const end = at + 46 + nameLength + extraLength + commentLength
    if (end > dir.length) throw bad(source, `central directory entry ${i} runs past the directory`)
    const name = new TextDecoder().decode(dir.subarray(at + 46, at + 46 + nameLength))
    // ZIP64 extended information: the fields whose 32-bit value is 0xffffffff, in this order.
    let x = at + 46 + nameLength
    const xEnd = x + extraLength
    while (x + 4 <= xEnd) {
      const id = dv.getUint16(x, true)
      const len = dv.getUint16(x + 2, true)
      if (x + 4 + len > xEnd) throw bad(source, `member ${JSON.stringify(name)} has a damaged extra field`)
      if (id === 0x0001) {
        let p = x + 4
        const take = (what: string): number => {
          if (p + 8 > x + 4 + len) throw bad(source, `member ${JSON.stringify(name)}: its ZIP64 field lacks the ${what}`)
          const v = u64(dv, p, source, what)
          p += 8
          return v
        }
        if (entrySize === 0xffffffff) entrySize = take('size')
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size')
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take('local header offset')
      }
      x += 4 + len
    }
    if (localHeaderOffset + 30 > dirOffset) throw bad(source, `member ${JSON.stringify(name)}: its local header offset ${localHeaderOffset} is outside the archive's data`)
    entries.push({ name, method, flags, crc32, compressedSize, size: entrySize, localHeaderOffset })
    at = end
  }
  return { entries, dataEnd: dirOffset }
}

/** Where a member's (possibly compressed) data starts, from its local header; checked against the archive. */
export async function memberDataOffset (source: ByteSource, e: ZipEntry, archiveDataEnd: number): Promise<number> {
  const head = await source.read(e.localHeaderOffset, 30)
  const dv = new DataView(head.buffer, head.byteOffset, 30)
  if (dv.getUint32(0, true) !== LOCAL) throw bad(source, `member ${JSON.stringify(e.name)} has no local header at ${e.localHeaderOffset}`)
  const start = e.localHeaderOffset + 30 + dv.getUint16(26, true) + dv.getUint16(28, true)
  if (start + e.compressedSize > archiveDataEnd) throw bad(source, `member ${JSON.stringify(e.name)} (${e.compressedSize} bytes at ${start}) runs past the archive's data`)
  return start
}
