/**
 * Numeric statistics of a changed tensor (max/mean abs difference, relative L2), streamed one chunk per
 * side at a time; chunks with equal CIDs at equal offsets are skipped.
 */
import type { CID } from 'multiformats/cid'
import { InvalidModelError } from '../../errors.js'
import type { TensorObject } from '../../format/objects.js'
import { isRecord } from './values.js'
import type { TensorHandle } from './sources.js'
import type { DiffCounters, TensorStats } from './types.js'

// ---------------------------------------------------------------------------------------------------
// numeric comparison

interface Decoder {
  /** Stored bytes per element. */
  readonly bytes: number
  /** Two sides with the same key decode equal bytes to equal values (so identical chunks can be skipped). */
  readonly key: string
  readonly complex: boolean
  /** Decodes `count` elements of `src` into re (and im for complex64). */
  decode (src: Uint8Array, count: number, re: Float64Array, im: Float64Array): void
}

function view (src: Uint8Array): DataView {
  return new DataView(src.buffer, src.byteOffset, src.byteLength)
}

function float16 (h: number): number {
  const s = (h & 0x8000) !== 0 ? -1 : 1
  const e = (h >> 10) & 0x1f
  const f = h & 0x3ff
  if (e === 0) return s * f * 2 ** -24
  if (e === 31) return f === 0 ? s * Infinity : NaN
  return s * (1 + f / 1024) * 2 ** (e - 15)
}

/** bfloat16 is the top half of a float32. */
function bfloat16 (h: number): number {
  BF16_U32[0] = h << 16
  return BF16_F32[0]!
}
const BF16_U32 = new Uint32Array(1)
const BF16_F32 = new Float32Array(BF16_U32.buffer)

/** How to read a tensor's stored elements as numbers, or why that is not done. */
export function decoderFor (t: TensorObject): Decoder | { readonly reason: string } {
  const q = t.quantization
  if (q !== null && q !== undefined) {
    const rec = isRecord(q) ? q : {}
    const qd = rec.dtype
    const round = t.dtype === 'int32'
    if ((qd === 'uint8' || qd === 'uint16') && typeof rec.scale === 'number' && typeof rec.min === 'number') {
      const scale = rec.scale
      const min = rec.min
      const bytes = qd === 'uint8' ? 1 : 2
      return {
        bytes,
        key: `${qd}:${scale}:${min}:${t.dtype}`,
        complex: false,
        decode: (src, n, re) => {
          const dv = view(src)
          for (let i = 0; i < n; i++) {
            const v = (bytes === 1 ? src[i]! : dv.getUint16(2 * i, true)) * scale + min
            re[i] = round ? Math.round(v) : v
          }
        }
      }
    }
    if (qd === 'float16') {
      return { bytes: 2, key: 'float16', complex: false, decode: (src, n, re) => { const dv = view(src); for (let i = 0; i < n; i++) re[i] = float16(dv.getUint16(2 * i, true)) } }
    }
    return { reason: 'quantized: bytes differ' }
  }
  switch (t.dtype) {
    case 'float32':
      return { bytes: 4, key: 'float32', complex: false, decode: (src, n, re) => { const dv = view(src); for (let i = 0; i < n; i++) re[i] = dv.getFloat32(4 * i, true) } }
    case 'int32':
      return { bytes: 4, key: 'int32', complex: false, decode: (src, n, re) => { const dv = view(src); for (let i = 0; i < n; i++) re[i] = dv.getInt32(4 * i, true) } }
    case 'bool':
      return { bytes: 1, key: 'bool', complex: false, decode: (src, n, re) => { for (let i = 0; i < n; i++) re[i] = src[i] !== 0 ? 1 : 0 } }
    case 'complex64':
      return {
        bytes: 8,
        key: 'complex64',
        complex: true,
        decode: (src, n, re, im) => { const dv = view(src); for (let i = 0; i < n; i++) { re[i] = dv.getFloat32(8 * i, true); im[i] = dv.getFloat32(8 * i + 4, true) } }
      }
    case 'float64':
      return { bytes: 8, key: 'float64', complex: false, decode: (src, n, re) => { const dv = view(src); for (let i = 0; i < n; i++) re[i] = dv.getFloat64(8 * i, true) } }
    case 'float16':
      return { bytes: 2, key: 'float16', complex: false, decode: (src, n, re) => { const dv = view(src); for (let i = 0; i < n; i++) re[i] = float16(dv.getUint16(2 * i, true)) } }
    case 'bfloat16':
      return { bytes: 2, key: 'bfloat16', complex: false, decode: (src, n, re) => { const dv = view(src); for (let i = 0; i < n; i++) re[i] = bfloat16(dv.getUint16(2 * i, true)) } }
    case 'int8':
      return { bytes: 1, key: 'int8', complex: false, decode: (src, n, re) => { const dv = view(src); for (let i = 0; i < n; i++) re[i] = dv.getInt8(i) } }
    case 'uint8':
      return { bytes: 1, key: 'uint8', complex: false, decode: (src, n, re) => { for (let i = 0; i < n; i++) re[i] = src[i]! } }
    case 'int16':
      return { bytes: 2, key: 'int16', complex: false, decode: (src, n, re) => { const dv = view(src); for (let i = 0; i < n; i++) re[i] = dv.getInt16(2 * i, true) } }
    case 'uint16':
      return { bytes: 2, key: 'uint16', complex: false, decode: (src, n, re) => { const dv = view(src); for (let i = 0; i < n; i++) re[i] = dv.getUint16(2 * i, true) } }
    case 'uint32':
      return { bytes: 4, key: 'uint32', complex: false, decode: (src, n, re) => { const dv = view(src); for (let i = 0; i < n; i++) re[i] = dv.getUint32(4 * i, true) } }
    // 64-bit integers are compared as doubles: exact below 2^53, which covers step counters and ids
    // in practice; larger values lose low bits in the statistics only (equality is still by bytes).
    case 'int64':
      return { bytes: 8, key: 'int64', complex: false, decode: (src, n, re) => { const dv = view(src); for (let i = 0; i < n; i++) re[i] = Number(dv.getBigInt64(8 * i, true)) } }
    case 'uint64':
      return { bytes: 8, key: 'uint64', complex: false, decode: (src, n, re) => { const dv = view(src); for (let i = 0; i < n; i++) re[i] = Number(dv.getBigUint64(8 * i, true)) } }
    case 'complex128':
      return {
        bytes: 16,
        key: 'complex128',
        complex: true,
        decode: (src, n, re, im) => { const dv = view(src); for (let i = 0; i < n; i++) { re[i] = dv.getFloat64(16 * i, true); im[i] = dv.getFloat64(16 * i + 8, true) } }
      }
    case 'string':
      return { reason: 'string tensor: bytes differ' }
    default:
      return { reason: `${t.dtype}: bytes differ` }
  }
}

/** Reads one side's elements in order, one chunk in memory at a time. */
class ElementReader {
  private ci = 0
  private bo = 0
  private buf: Uint8Array | null = null
  constructor (private readonly h: TensorHandle, private readonly elem: number, private readonly counters: DiffCounters, private readonly local: { read: number }) {
    this.normalize()
  }

  private get chunks (): TensorObject['chunks'] { return this.h.tensor.chunks }
  get chunkLength (): number { return this.chunks[this.ci]?.[1] ?? 0 }
  get chunkCid (): CID | undefined { return this.chunks[this.ci]?.[0] }
  get atChunkStart (): boolean { return this.bo === 0 && this.ci < this.chunks.length }
  /** Whole elements left in the current chunk. */
  get wholeElements (): number { return Math.floor((this.chunkLength - this.bo) / this.elem) }

  private normalize (): void {
    while (this.ci < this.chunks.length && this.bo >= this.chunkLength) { this.ci++; this.bo = 0; this.buf = null }
  }

  async load (): Promise<Uint8Array> {
    if (this.buf === null) {
      this.buf = await this.h.readChunk(this.ci)
      if (this.buf.length !== this.chunkLength) throw new InvalidModelError(`tensor ${this.h.tensor.name}: chunk ${this.ci} has ${this.buf.length} bytes, its object says ${this.chunkLength}`, { tensor: this.h.tensor.name })
      this.counters.chunksRead++
      this.counters.bytesRead += this.buf.length
      this.local.read++
    }
    return this.buf
  }

  skipChunk (): void { this.bo = this.chunkLength; this.normalize() }

  /** The next `n` bytes (a view when they lie in one chunk). */
  async take (n: number): Promise<Uint8Array> {
    if (this.bo + n <= this.chunkLength) {
      const b = await this.load()
      const v = b.subarray(this.bo, this.bo + n)
      this.bo += n
      this.normalize()
      return v
    }
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      if (this.ci >= this.chunks.length) throw new InvalidModelError(`tensor ${this.h.tensor.name}: chunks end early`, { tensor: this.h.tensor.name })
      const b = await this.load()
      const k = Math.min(this.chunkLength - this.bo, n - filled)
      out.set(b.subarray(this.bo, this.bo + k), filled)
      this.bo += k
      filled += k
      this.normalize()
    }
    return out
  }
}

/** Streams both tensors chunk by chunk and accumulates the statistics. */
export async function compareValues (ha: TensorHandle, hb: TensorHandle, da: Decoder, db: Decoder, counters: DiffCounters, exactNorm: boolean): Promise<TensorStats> {
  const elements = ha.tensor.shape.reduce((x, y) => x * y, 1)
  const local = { read: 0 }
  const ra = new ElementReader(ha, da.bytes, counters, local)
  const rb = new ElementReader(hb, db.bytes, counters, local)
  const sameDecoding = da.key === db.key
  let skipped = 0
  let normOnly = 0
  let maxAbs = 0
  let sumAbs = 0
  let sumSqDiff = 0
  let sumSqA = 0
  let changedElements = 0
  let nonFinite = 0
  let cap = 0
  let are = new Float64Array(0); let aim = new Float64Array(0); let bre = new Float64Array(0); let bim = new Float64Array(0)
  const ensure = (n: number): void => {
    if (n <= cap) return
    cap = n
    are = new Float64Array(n); aim = new Float64Array(n); bre = new Float64Array(n); bim = new Float64Array(n)
  }
  const addNorm = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const x = are[i]!; const y = da.complex ? aim[i]! : 0
      if (Number.isFinite(x) && Number.isFinite(y)) sumSqA += x * x + y * y
    }
  }
  let done = 0
  while (done < elements) {
    if (sameDecoding && ra.atChunkStart && rb.atChunkStart && ra.chunkLength === rb.chunkLength &&
        ra.chunkLength % da.bytes === 0 && ra.chunkCid !== undefined && rb.chunkCid !== undefined && ra.chunkCid.equals(rb.chunkCid)) {
      const n = Math.min(ra.chunkLength / da.bytes, elements - done)
      if (exactNorm) {
        const bytes = await ra.load()
        normOnly++
        ensure(n)
        da.decode(bytes, n, are, aim)
        addNorm(n)
      }
      ra.skipChunk()
      rb.skipChunk()
      skipped++
      counters.chunksSkipped++
      done += n
      continue
    }
    const m = Math.min(Math.max(1, ra.wholeElements), Math.max(1, rb.wholeElements), elements - done)
    const ba = await ra.take(m * da.bytes)
    const bb = await rb.take(m * db.bytes)
    ensure(m)
    da.decode(ba, m, are, aim)
    db.decode(bb, m, bre, bim)
    const complex = da.complex || db.complex
    for (let i = 0; i < m; i++) {
      const ar = are[i]!; const br = bre[i]!
      const ai = da.complex ? aim[i]! : 0; const bi = db.complex ? bim[i]! : 0
      if (Number.isFinite(ar) && Number.isFinite(br) && Number.isFinite(ai) && Number.isFinite(bi)) {
        sumSqA += ar * ar + ai * ai
        const dr = br - ar
        const di = bi - ai
        if (dr === 0 && di === 0) continue
        const d = complex ? Math.hypot(dr, di) : Math.abs(dr)
        changedElements++
        if (d > maxAbs) maxAbs = d
        sumAbs += d
        sumSqDiff += dr * dr + di * di
      } else if (!(Object.is(ar, br) || (Number.isNaN(ar) && Number.isNaN(br))) || !(Object.is(ai, bi) || (Number.isNaN(ai) && Number.isNaN(bi)))) {
        if (Number.isFinite(ar) && Number.isFinite(ai)) sumSqA += ar * ar + ai * ai
        nonFinite++
        changedElements++
      }
    }
    done += m
  }
  counters.normChunksRead += normOnly
  const relL2Exact = skipped === 0 || exactNorm
  const normA = Math.sqrt(sumSqA)
  const normD = Math.sqrt(sumSqDiff)
  const relL2 = normD === 0 ? 0 : normA === 0 ? null : normD / normA
  return {
    elements,
    changedElements,
    maxAbs,
    meanAbs: elements === 0 ? 0 : sumAbs / elements,
    relL2,
    relL2Exact,
    nonFinite,
    chunks: Math.max(ha.tensor.chunks.length, hb.tensor.chunks.length),
    chunksRead: local.read,
    chunksSkipped: skipped
  }
}
