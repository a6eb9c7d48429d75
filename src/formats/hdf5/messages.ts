/**
 * Decoding the object header messages mvc needs: datatype (0x0003), dataspace (0x0001), data layout
 * (0x0008), filter pipeline (0x000B), attribute (0x000C, its header part), link (0x0006), link info
 * (0x0002) and attribute info (0x0015). Pure: each works on a Cursor over the message's bytes.
 *
 * Source: the HDF5 File Format Specification, version 3.0 (section IV.A.2), cross-checked against the
 * files h5py 3.14 (HDF5 1.14) and h5py 3.8 (HDF5 1.12) write.
 */
import { bytesFor, type Cursor, LIMITS } from './source.js'

/** A dataset's or attribute's element type, as far as mvc cares. */
export type Hdf5DType =
  | { readonly class: 'int', readonly size: number, readonly signed: boolean, readonly littleEndian: boolean }
  | { readonly class: 'float', readonly size: number, readonly littleEndian: boolean, readonly bfloat16?: boolean }
  | { readonly class: 'bool', readonly size: number }
  | { readonly class: 'complex', readonly size: number, readonly littleEndian: boolean }
  | { readonly class: 'string', readonly size: number, readonly vlen: false, readonly padding: number, readonly utf8: boolean }
  | { readonly class: 'string', readonly size: number, readonly vlen: true, readonly utf8: boolean }
  | { readonly class: 'other', readonly size: number, readonly description: string }

const CLASS_NAMES = ['fixed-point', 'floating-point', 'time', 'string', 'bitfield', 'opaque', 'compound', 'reference', 'enum', 'variable-length', 'array', 'complex']

/** Reads one datatype (recursively for enum/array/vlen/compound members) and leaves the cursor after it. */
export function readDatatype (c: Cursor, depth = 0): Hdf5DType {
  if (depth > LIMITS.typeDepth) throw c.error(`datatype nested more than ${LIMITS.typeDepth} deep`)
  const start = c.pos
  const cv = c.u8()
  const cls = cv & 0x0f
  const version = cv >> 4
  const b0 = c.u8()
  const b1 = c.u8()
  c.u8()
  const size = c.u32()
  if (version < 1 || version > 5) throw c.error(`datatype version ${version} is not one HDF5 defines`, start)
  const other = (description: string): Hdf5DType => ({ class: 'other', size, description })
  switch (cls) {
    case 0: { // fixed-point
      const bitOffset = c.u16()
      const precision = c.u16()
      const littleEndian = (b0 & 1) === 0
      if (bitOffset !== 0 || precision !== size * 8 || ![1, 2, 4, 8].includes(size)) return other(`${size}-byte integer with ${precision} bits at offset ${bitOffset}`)
      return { class: 'int', size, signed: (b0 & 8) !== 0, littleEndian }
    }
    case 1: { // floating-point
      c.u16() // bit offset
      const precision = c.u16()
      c.u8() // exponent location
      const expSize = c.u8()
      c.u8() // mantissa location
      const mantSize = c.u8()
      c.u32() // exponent bias
      const vax = (b0 & 0x41) === 0x41
      if (vax) return other('VAX-order float')
      const littleEndian = (b0 & 1) === 0
      if (precision !== size * 8) return other(`${size}-byte float with ${precision} bits`)
      if (size === 2 && expSize === 8 && mantSize === 7) return { class: 'float', size, littleEndian, bfloat16: true }
      if ((size === 2 && expSize === 5 && mantSize === 10) || (size === 4 && expSize === 8 && mantSize === 23) || (size === 8 && expSize === 11 && mantSize === 52)) {
        return { class: 'float', size, littleEndian }
      }
      return other(`${size}-byte float (exponent ${expSize} bits, mantissa ${mantSize} bits)`)
    }
    case 2: // time
      c.u16()
      return other('time')
    case 3: // string
      return { class: 'string', size, vlen: false, padding: b0 & 0x0f, utf8: ((b0 >> 4) & 0x0f) === 1 }
    case 4: // bitfield
      c.u16(); c.u16()
      return other('bitfield')
    case 5: { // opaque: an ASCII tag, NUL-padded to a multiple of 8 (its length is in the bit field)
      c.skip(b0)
      return other('opaque')
    }
    case 6: { // compound
      const members = b0 | (b1 << 8)
      const fields: Array<{ name: string, type: Hdf5DType }> = []
      for (let i = 0; i < members; i++) {
        const nameStart = c.pos
        const name = cString(c)
        if (version < 3) c.skip(pad8(c.pos - nameStart) - (c.pos - nameStart))
        if (version === 1) {
          c.u32(); const rank = c.u8(); c.skip(3); c.u32(); c.u32(); c.skip(16)
          if (rank > 4) throw c.error(`compound member of rank ${rank}`)
        } else if (version === 2) {
          c.u32()
        } else {
          c.uint(bytesFor(size))
        }
        fields.push({ name, type: readDatatype(c, depth + 1) })
      }
      const [re, im] = fields
      if (fields.length === 2 && re !== undefined && im !== undefined && re.type.class === 'float' && im.type.class === 'float' &&
          re.type.size === im.type.size && re.type.size * 2 === size && /^r(eal)?$/i.test(re.name) && /^i(mag)?$/i.test(im.name)) {
        return { class: 'complex', size, littleEndian: re.type.littleEndian }
      }
      return other(`compound of ${members} members`)
    }
    case 7: // reference
      return other('reference')
    case 8: { // enum
      const members = b0 | (b1 << 8)
      const base = readDatatype(c, depth + 1)
      const names: string[] = []
      for (let i = 0; i < members; i++) {
        const nameStart = c.pos
        names.push(cString(c))
        if (version < 3) c.skip(pad8(c.pos - nameStart) - (c.pos - nameStart))
      }
      const values = c.take(members * base.size)
      // h5py writes numpy bool as an enum of int8 { FALSE = 0, TRUE = 1 }.
      if (base.class === 'int' && base.size === 1 && members === 2 && names[0] === 'FALSE' && names[1] === 'TRUE' && values[0] === 0 && values[1] === 1) {
        return { class: 'bool', size: 1 }
      }
      return other(`enum of ${members} members`)
    }
    case 9: { // variable-length
      const isString = (b0 & 0x0f) === 1
      const utf8 = (b1 & 0x0f) === 1
      const base = readDatatype(c, depth + 1)
      if (isString) return { class: 'string', size, vlen: true, utf8 }
      return other(`variable-length sequence of ${base.class}`)
    }
    case 10: { // array
      const rank = c.u8()
      if (version < 3) c.skip(3)
      if (rank > LIMITS.rank) throw c.error(`array datatype of rank ${rank}`)
      c.skip(4 * rank)
      if (version < 3) c.skip(4 * rank)
      readDatatype(c, depth + 1)
      return other('array')
    }
    case 11: { // complex (HDF5 2.0)
      const base = readDatatype(c, depth + 1)
      if (base.class === 'float' && base.size * 2 === size) return { class: 'complex', size, littleEndian: base.littleEndian }
      return other('complex')
    }
    default:
      throw c.error(`datatype class ${cls} is not one HDF5 defines`, start)
  }
}

function pad8 (n: number): number { return Math.ceil(n / 8) * 8 }

/** A NUL-terminated string (the NUL is consumed). */
function cString (c: Cursor): string {
  const start = c.pos
  while (true) {
    if (c.u8() === 0) break
  }
  return new TextDecoder().decode(c.bytes.subarray(start, c.pos - 1))
}

/** A human description of a dtype, for warnings. */
export function describeDType (t: Hdf5DType): string {
  switch (t.class) {
    case 'int': return `${t.signed ? 'int' : 'uint'}${t.size * 8}${t.littleEndian ? '' : ' (big-endian)'}`
    case 'float': return `${t.bfloat16 === true ? 'bfloat16' : `float${t.size * 8}`}${t.littleEndian ? '' : ' (big-endian)'}`
    case 'bool': return 'bool'
    case 'complex': return `complex${t.size * 8}${t.littleEndian ? '' : ' (big-endian)'}`
    case 'string': return t.vlen ? 'variable-length string' : `${t.size}-byte string`
    case 'other': return t.description
  }
}

/** The class name of an HDF5 datatype class number, for messages. */
export function className (cls: number): string { return CLASS_NAMES[cls] ?? `class ${cls}` }

/** A dataspace: null for the null dataspace (no elements, e.g. an empty attribute). */
export interface Dataspace { readonly shape: number[] | null }

export function readDataspace (c: Cursor, sizeOfLengths: number): Dataspace {
  const version = c.u8()
  const rank = c.u8()
  const flags = c.u8()
  let kind = rank === 0 ? 0 : 1
  if (version === 1) {
    c.skip(5)
  } else if (version === 2) {
    kind = c.u8()
  } else {
    throw c.error(`dataspace version ${version} is not 1 or 2`)
  }
  if (rank > LIMITS.rank) throw c.error(`dataspace of rank ${rank}`)
  if (kind === 2) return { shape: null }
  if (kind !== 0 && kind !== 1) throw c.error(`dataspace type ${kind} is not scalar, simple or null`)
  const shape: number[] = []
  for (let i = 0; i < rank; i++) shape.push(c.uint(sizeOfLengths))
  if (kind === 0 && rank !== 0) throw c.error('scalar dataspace with dimensions')
  let count = 1
  for (const d of shape) {
    count *= d
    if (!Number.isSafeInteger(count)) throw c.error(`dataspace [${shape.join(', ')}] has too many elements`)
  }
  // Maximum dimensions (flags bit 0) and a permutation (bit 1) may follow; mvc needs neither.
  void flags
  return { shape }
}

/** Where and how a dataset's elements are stored. Offsets are relative to the start of the HDF5 file. */
export type Hdf5Storage =
  | { readonly kind: 'contiguous', readonly offset: number, readonly size: number }
  | { readonly kind: 'unallocated' }
  | { readonly kind: 'compact', readonly offset: number, readonly size: number }
  | { readonly kind: 'chunked', readonly chunkShape: readonly number[], readonly layoutVersion: number, readonly index?: number }
  | { readonly kind: 'virtual' }
  | { readonly kind: 'unsupported', readonly reason: string }

/**
 * The data layout message. `base` is the file's base address (added to addresses);
 * `elementsBytes` the dataspace's element count times the element size (layout versions 1 and 2
 * store no size for contiguous data).
 */
export function readLayout (c: Cursor, sizeOfOffsets: number, sizeOfLengths: number, base: number, elementsBytes: number): Hdf5Storage {
  const version = c.u8()
  if (version === 1 || version === 2) {
    const rank = c.u8()
    const cls = c.u8()
    c.skip(5)
    if (rank > LIMITS.rank + 1) throw c.error(`layout of rank ${rank}`)
    const address = cls === 0 ? undefined : c.address(sizeOfOffsets)
    const dims: number[] = []
    for (let i = 0; i < rank; i++) dims.push(c.u32())
    if (cls === 0) {
      const size = c.u32()
      const offset = c.at
      c.skip(size)
      return { kind: 'compact', offset, size }
    }
    if (cls === 1) return address === undefined ? { kind: 'unallocated' } : { kind: 'contiguous', offset: base + address, size: elementsBytes }
    if (cls === 2) return { kind: 'chunked', chunkShape: dims.slice(0, -1), layoutVersion: version, ...(address === undefined ? {} : { index: base + address }) }
    throw c.error(`layout class ${cls} is not compact, contiguous or chunked`)
  }
  if (version === 3 || version === 4 || version === 5) {
    const cls = c.u8()
    if (cls === 0) {
      const size = c.u16()
      const offset = c.at
      c.skip(size)
      return { kind: 'compact', offset, size }
    }
    if (cls === 1) {
      const address = c.address(sizeOfOffsets)
      const size = c.uint(sizeOfLengths)
      return address === undefined ? { kind: 'unallocated' } : { kind: 'contiguous', offset: base + address, size }
    }
    if (cls === 2) {
      if (version === 3) {
        const rank = c.u8()
        if (rank < 1 || rank > LIMITS.rank + 1) throw c.error(`chunked layout of rank ${rank}`)
        const address = c.address(sizeOfOffsets)
        const dims: number[] = []
        for (let i = 0; i < rank; i++) dims.push(c.u32())
        return { kind: 'chunked', chunkShape: dims.slice(0, -1), layoutVersion: version, ...(address === undefined ? {} : { index: base + address }) }
      }
      c.u8() // flags
      const rank = c.u8()
      const enc = c.u8()
      if (rank < 1 || rank > LIMITS.rank + 1 || enc < 1 || enc > 8) throw c.error(`chunked layout of rank ${rank} with ${enc}-byte dimensions`)
      const dims: number[] = []
      for (let i = 0; i < rank; i++) dims.push(c.uint(enc))
      return { kind: 'chunked', chunkShape: dims.slice(0, -1), layoutVersion: version }
    }
    if (cls === 3) return { kind: 'virtual' }
    throw c.error(`layout class ${cls} is not compact, contiguous, chunked or virtual`)
  }
  return { kind: 'unsupported', reason: `data layout message version ${version}` }
}

/** HDF5's predefined filters, by id. */
const FILTER_NAMES: ReadonlyMap<number, string> = new Map([
  [1, 'deflate'], [2, 'shuffle'], [3, 'fletcher32'], [4, 'szip'], [5, 'nbit'], [6, 'scaleoffset'],
  [32000, 'lzf'], [32001, 'blosc'], [32004, 'lz4'], [32008, 'bitshuffle'], [32015, 'zstd']
])

export interface Hdf5Filter { readonly id: number, readonly name: string, readonly clientData: readonly number[] }

export function readFilterPipeline (c: Cursor): Hdf5Filter[] {
  const version = c.u8()
  const n = c.u8()
  if (version === 1) c.skip(6)
  else if (version !== 2) throw c.error(`filter pipeline version ${version} is not 1 or 2`)
  const out: Hdf5Filter[] = []
  for (let i = 0; i < n; i++) {
    const id = c.u16()
    const nameLength = version === 1 || id >= 256 ? c.u16() : 0
    c.u16() // flags
    const values = c.u16()
    let name = FILTER_NAMES.get(id) ?? `filter ${id}`
    if (nameLength > 0) {
      const raw = c.take(version === 1 ? pad8(nameLength) : nameLength)
      const end = raw.indexOf(0)
      const text = new TextDecoder().decode(raw.subarray(0, end < 0 ? raw.length : end))
      if (text.length > 0 && !FILTER_NAMES.has(id)) name = text
    }
    const clientData: number[] = []
    for (let k = 0; k < values; k++) clientData.push(c.u32())
    if (version === 1 && values % 2 === 1) c.skip(4)
    out.push({ id, name, clientData })
  }
  return out
}

/** The fixed part of an attribute message: its name and where its datatype, dataspace and value are. */
export interface AttributeHeader {
  readonly name: string
  readonly datatype: Cursor | undefined
  readonly dataspace: Cursor | undefined
  /** Why the value cannot be read (a shared datatype or dataspace), if so. */
  readonly unsupported?: string
  readonly value: Cursor
}

export function readAttributeHeader (c: Cursor): AttributeHeader {
  const version = c.u8()
  if (version < 1 || version > 3) throw c.error(`attribute message version ${version} is not 1 to 3`)
  const flags = c.u8()
  const nameSize = c.u16()
  const typeSize = c.u16()
  const spaceSize = c.u16()
  if (version === 3) c.u8() // name character set
  const padded = (n: number): number => version === 1 ? pad8(n) : n
  const nameBytes = c.take(padded(nameSize)).subarray(0, nameSize)
  const end = nameBytes.indexOf(0)
  const name = new TextDecoder().decode(nameBytes.subarray(0, end < 0 ? nameBytes.length : end))
  const datatype = c.sub(padded(typeSize), `${c.what}, attribute ${JSON.stringify(name)} datatype`)
  const dataspace = c.sub(padded(spaceSize), `${c.what}, attribute ${JSON.stringify(name)} dataspace`)
  const value = c.sub(c.remaining, `${c.what}, attribute ${JSON.stringify(name)} value`)
  if ((flags & 3) !== 0) return { name, datatype: undefined, dataspace: undefined, unsupported: 'its datatype or dataspace is shared', value }
  return { name, datatype: datatype.sub(typeSize), dataspace: dataspace.sub(spaceSize), value }
}

/** A link of a group (link message, or a record of a dense group's fractal heap). */
export type Hdf5Link =
  | { readonly name: string, readonly kind: 'hard', readonly address: number }
  | { readonly name: string, readonly kind: 'soft' | 'external' | 'other' }

export function readLink (c: Cursor, sizeOfOffsets: number): Hdf5Link {
  const version = c.u8()
  if (version !== 1) throw c.error(`link message version ${version} is not 1`)
  const flags = c.u8()
  const type = (flags & 0x08) !== 0 ? c.u8() : 0
  if ((flags & 0x04) !== 0) c.skip(8)
  if ((flags & 0x10) !== 0) c.u8()
  const nameLength = c.uint(1 << (flags & 3))
  if (nameLength === 0) throw c.error('link with an empty name')
  const name = new TextDecoder().decode(c.take(nameLength))
  if (type === 0) {
    const address = c.address(sizeOfOffsets)
    if (address === undefined) throw c.error(`hard link ${JSON.stringify(name)} has no address`)
    return { name, kind: 'hard', address }
  }
  return { name, kind: type === 1 ? 'soft' : type === 64 ? 'external' : 'other' }
}

/** Link info (0x0002) and attribute info (0x0015) messages: where a dense group/attribute set lives. */
export interface DenseInfo { readonly heap: number | undefined, readonly nameIndex: number | undefined }

export function readDenseInfo (c: Cursor, sizeOfOffsets: number, attribute: boolean): DenseInfo {
  const version = c.u8()
  if (version !== 0) throw c.error(`${attribute ? 'attribute' : 'link'} info message version ${version} is not 0`)
  const flags = c.u8()
  if ((flags & 1) !== 0) c.skip(attribute ? 2 : 8)
  const heap = c.address(sizeOfOffsets)
  const nameIndex = c.address(sizeOfOffsets)
  return { heap, nameIndex }
}
