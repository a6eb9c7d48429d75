/**
 * `mvc diff` reads every little-endian number type the format adapters store (float16/bfloat16/64,
 * signed and unsigned integers, complex128) as numbers; the expected values are written as bit
 * patterns or typed arrays here, not taken from the decoder.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decoderFor } from '../src/core/diff/stats.js'
import type { TensorObject } from '../src/format/objects.js'

function decode (dtype: string, bytes: Uint8Array, count: number): { re: number[], im: number[] } {
  const t: TensorObject = { type: 'mvc/tensor', name: 'w', dtype, shape: [count], quantization: null, size: bytes.byteLength, chunks: [] }
  const d = decoderFor(t)
  if ('reason' in d) throw new Error(`${dtype}: ${d.reason}`)
  assert.equal(d.bytes * count, bytes.byteLength, `${dtype}: bytes per element`)
  const re = new Float64Array(count)
  const im = new Float64Array(count)
  d.decode(bytes, count, re, im)
  return { re: [...re], im: [...im] }
}

const u8 = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
const le16 = (...v: number[]): Uint8Array => u8(new Uint16Array(v))

test('diff decoders: float16 and bfloat16 from their bit patterns', () => {
  // float16: 1, -2, 65504 (max), 2^-24 (smallest subnormal), +inf
  const h = decode('float16', le16(0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00), 5).re
  assert.deepEqual(h, [1, -2, 65504, 2 ** -24, Infinity])
  assert.ok(Number.isNaN(decode('float16', le16(0x7e00), 1).re[0]))
  // bfloat16: 1, -3, 0.5, the top half of float32 pi (3.140625)
  assert.deepEqual(decode('bfloat16', le16(0x3f80, 0xc040, 0x3f00, 0x4049), 4).re, [1, -3, 0.5, 3.140625])
})

test('diff decoders: float64, integers of every width, complex128', () => {
  assert.deepEqual(decode('float64', u8(new Float64Array([0.1, -1e300])), 2).re, [0.1, -1e300])
  assert.deepEqual(decode('int8', u8(new Int8Array([-128, 127, -1])), 3).re, [-128, 127, -1])
  assert.deepEqual(decode('uint8', u8(new Uint8Array([0, 255])), 2).re, [0, 255])
  assert.deepEqual(decode('int16', u8(new Int16Array([-32768, 5])), 2).re, [-32768, 5])
  assert.deepEqual(decode('uint16', u8(new Uint16Array([65535, 7])), 2).re, [65535, 7])
  assert.deepEqual(decode('uint32', u8(new Uint32Array([4294967295])), 1).re, [4294967295])
  assert.deepEqual(decode('int64', u8(new BigInt64Array([-5n, 2n ** 40n])), 2).re, [-5, 2 ** 40])
  assert.deepEqual(decode('uint64', u8(new BigUint64Array([2n ** 50n])), 1).re, [2 ** 50])
  const c = decode('complex128', u8(new Float64Array([1.5, -2.5, 0, 3])), 2)
  assert.deepEqual(c.re, [1.5, 0])
  assert.deepEqual(c.im, [-2.5, 3])
})

test('diff decoders: strings and unknown types say why they are compared by bytes only', () => {
  for (const dtype of ['string', 'qint8', 'variant']) {
    const t: TensorObject = { type: 'mvc/tensor', name: 'w', dtype, shape: [1], quantization: null, size: 1, chunks: [] }
    const d = decoderFor(t)
    assert.ok('reason' in d, dtype)
    assert.match(d.reason, /bytes differ/)
  }
})
