/**
 * NumPy inputs: `.npy` (one array) and `.npz` (a zip of `.npy` files, stored or deflated, as
 * `numpy.savez` / `savez_compressed` write them). Pure parsing into TensorData; Node's zlib inflates.
 *
 * .npy (numpy/lib/format.py): the magic `\x93NUMPY`, a major and minor version byte, the header
 * length (uint16 LE for 1.0, uint32 LE for 2.0 and 3.0), an ASCII (3.0: UTF-8) Python dict literal
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, then the data. Arrays become the
 * dtypes mvc's runtimes take: float16/32/64 → float32, (u)int8/16/32/64 → int32 (values must fit),
 * bool → bool; anything else (objects, strings, complex, structured) is refused.
 */
import { inflateRawSync } from 'node:zlib'
import { InvalidArgumentError } from '../../errors.js'
import { numElements, numericBytes, type TensorData } from '../../formats/tensor-data.js'

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]

export function isNpy (b: Uint8Array): boolean {
  return b.length >= 6 && MAGIC.every((x, i) => b[i] === x)
}

export function isZip (b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04
}

function bad (where: string, msg: string): InvalidArgumentError {
  return new InvalidArgumentError(`${where}: ${msg}`, { file: where })
}

interface Header { descr: string, fortran: boolean, shape: number[] }

function parseHeader (text: string, where: string): Header {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1]
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1]
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1]
  if (descr === undefined || fortran === undefined || shape === undefined) throw bad(where, `not a .npy header: ${JSON.stringify(text.slice(0, 120))}`)
  const dims = shape.split(',').map(s => s.trim()).filter(s => s.length > 0).map(s => Number(s.replace(/L$/, '')))
  if (!dims.every(d => Number.isSafeInteger(d) && d >= 0)) throw bad(where, `bad shape (${shape})`)
  return { descr, fortran: fortran === 'True', shape: dims }
}

/** Parses one .npy file into a tensor named `name`. */
export function parseNpy (b: Uint8Array, name: string, where = 'inputs file'): TensorData {
  if (!isNpy(b) || b.length < 10) throw bad(where, 'not a .npy file (no \\x93NUMPY magic)')
  const major = b[6]!
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  let headerLen: number; let at: number
  if (major === 1) { headerLen = dv.getUint16(8, true); at = 10 } else if (major === 2 || major === 3) {
    if (b.length < 12) throw bad(where, 'truncated .npy header')
    headerLen = dv.getUint32(8, true); at = 12
  } else throw bad(where, `.npy format version ${major} is not supported (1, 2 and 3 are)`)
  if (at + headerLen > b.length) throw bad(where, 'truncated .npy header')
  const header = parseHeader(new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(b.subarray(at, at + headerLen)), where)
  const data = b.subarray(at + headerLen)
  const m = /^([<>|=])([fiub])(\d+)$/.exec(header.descr)
  if (m === null) throw bad(where, `dtype ${header.descr} is not supported (float, int, uint and bool arrays are)`)
  const little = m[1] !== '>'
  const kind = m[2]!
  const size = Number(m[3])
  const n = numElements(header.shape)
  if (data.length < n * size) throw bad(where, `holds ${data.length} bytes of data; shape [${header.shape.join(', ')}] of ${header.descr} needs ${n * size}`)
  const ddv = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const read = (i: number): number => {
    const o = i * size
    switch (`${kind}${size}`) {
      case 'f2': return half(ddv.getUint16(o, little))
      case 'f4': return ddv.getFloat32(o, little)
      case 'f8': return ddv.getFloat64(o, little)
      case 'i1': return ddv.getInt8(o)
      case 'u1': case 'b1': return ddv.getUint8(o)
      case 'i2': return ddv.getInt16(o, little)
      case 'u2': return ddv.getUint16(o, little)
      case 'i4': return ddv.getInt32(o, little)
      case 'u4': return ddv.getUint32(o, little)
      case 'i8': return Number(ddv.getBigInt64(o, little))
      case 'u8': return Number(ddv.getBigUint64(o, little))
      default: throw bad(where, `dtype ${header.descr} is not supported`)
    }
  }
  // Fortran order: element i of the C-order result is at the column-major position of its index.
  const order = header.fortran ? fortranOrder(header.shape) : undefined
  const at_ = (i: number): number => read(order === undefined ? i : order[i]!)
  const shape = header.shape
  if (kind === 'b') {
    const v = new Uint8Array(n)
    for (let i = 0; i < n; i++) v[i] = at_(i) === 0 ? 0 : 1
    return { name, dtype: 'bool', shape, data: v }
  }
  if (kind === 'f') {
    const v = new Float32Array(n)
    for (let i = 0; i < n; i++) v[i] = at_(i)
    return { name, dtype: 'float32', shape, data: numericBytes(v) }
  }
  const v = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const x = at_(i)
    if (x < -(2 ** 31) || x > 2 ** 31 - 1) throw bad(where, `element ${i} (${x}) does not fit in int32`)
    v[i] = x
  }
  return { name, dtype: 'int32', shape, data: numericBytes(v) }
}

function half (h: number): number {
  const s = (h & 0x8000) !== 0 ? -1 : 1
  const e = (h >> 10) & 0x1f
  const f = h & 0x3ff
  if (e === 0) return s * f * 2 ** -24
  if (e === 31) return f === 0 ? s * Infinity : NaN
  return s * (1 + f / 1024) * 2 ** (e - 15)
}

function fortranOrder (shape: readonly number[]): Uint32Array {
  const n = numElements(shape)
  const out = new Uint32Array(n)
  const idx = new Array<number>(shape.length).fill(0)
  for (let i = 0; i < n; i++) {
    let f = 0; let stride = 1
    for (let k = 0; k < shape.length; k++) { f += idx[k]! * stride; stride *= shape[k]! }
    out[i] = f
    for (let k = shape.length - 1; k >= 0; k--) { if (++idx[k]! < shape[k]!) break; idx[k] = 0 }
  }
  return out
}

/**
 * The members of a zip archive (local file headers found through the central directory; stored or
 * deflated; ZIP64 sizes and offsets understood).
 */
export function unzip (b: Uint8Array, where = 'inputs file'): Array<{ name: string, data: Uint8Array }> {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  let eocd = -1
  for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 65535); i--) if (dv.getUint32(i, true) === 0x06054b50) { eocd = i; break }
  if (eocd < 0) throw bad(where, 'not a zip archive (no end of central directory)')
  let count = dv.getUint16(eocd + 10, true)
  let cdOffset = dv.getUint32(eocd + 16, true)
  if (cdOffset === 0xffffffff || count === 0xffff) {
    const loc = eocd - 20
    if (loc < 0 || dv.getUint32(loc, true) !== 0x07064b50) throw bad(where, 'ZIP64 archive without its locator')
    const z = Number(dv.getBigUint64(loc + 8, true))
    if (z + 56 > b.length || dv.getUint32(z, true) !== 0x06064b50) throw bad(where, 'ZIP64 end of central directory not found')
    count = Number(dv.getBigUint64(z + 32, true))
    cdOffset = Number(dv.getBigUint64(z + 48, true))
  }
  const out: Array<{ name: string, data: Uint8Array }> = []
  let p = cdOffset
  for (let k = 0; k < count; k++) {
    if (p + 46 > b.length || dv.getUint32(p, true) !== 0x02014b50) throw bad(where, 'damaged zip central directory')
    const method = dv.getUint16(p + 10, true)
    let csize = dv.getUint32(p + 20, true)
    let usize = dv.getUint32(p + 24, true)
    const nameLen = dv.getUint16(p + 28, true)
    const extraLen = dv.getUint16(p + 30, true)
    const commentLen = dv.getUint16(p + 32, true)
    let local = dv.getUint32(p + 42, true)
    const name = new TextDecoder().decode(b.subarray(p + 46, p + 46 + nameLen))
    // ZIP64 extra field: the 64-bit values of the fields that are 0xFFFFFFFF, in this order.
    let e = p + 46 + nameLen
    const end = e + extraLen
    while (e + 4 <= end) {
      const id = dv.getUint16(e, true); const len = dv.getUint16(e + 2, true)
      if (id === 0x0001) {
        let q = e + 4
        if (usize === 0xffffffff) { usize = Number(dv.getBigUint64(q, true)); q += 8 }
        if (csize === 0xffffffff) { csize = Number(dv.getBigUint64(q, true)); q += 8 }
        if (local === 0xffffffff) { local = Number(dv.getBigUint64(q, true)) }
      }
      e += 4 + len
    }
    p = end + commentLen
    if (local + 30 > b.length || dv.getUint32(local, true) !== 0x04034b50) throw bad(where, `damaged zip entry ${name}`)
    const start = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true)
    if (start + csize > b.length) throw bad(where, `zip entry ${name} is truncated`)
    const raw = b.subarray(start, start + csize)
    let data: Uint8Array
    if (method === 0) data = raw
    else if (method === 8) {
      try { data = inflateRawSync(raw) } catch (err) { throw bad(where, `zip entry ${name} does not inflate: ${err instanceof Error ? err.message : String(err)}`) }
    } else throw bad(where, `zip entry ${name} uses compression method ${method} (stored and deflated are supported)`)
    if (data.length !== usize) throw bad(where, `zip entry ${name} has ${data.length} bytes, its header says ${usize}`)
    out.push({ name, data })
  }
  return out
}

/**
 * The arrays of an .npz file, in archive order. `x.npy` is named `x`; numpy's positional names
 * (`arr_0`, `arr_1`, … from `savez(f, a, b)`) become unnamed inputs bound by position.
 */
export function parseNpz (b: Uint8Array, where = 'inputs file'): TensorData[] {
  return unzip(b, where).filter(m => m.name.endsWith('.npy')).map((m, i) => {
    const base = m.name.slice(0, -4)
    const name = /^arr_\d+$/.test(base) ? `#${i}` : base
    return parseNpy(m.data, name, `${where} (${m.name})`)
  })
}
