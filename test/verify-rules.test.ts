/**
 * The comparison rules, pure (no runtime): how a rule and tolerance are chosen at commit from what is
 * known then (dtype, magnitude, a second backend's outputs, a discrete op upstream), how outputs are
 * checked against a reference (bit-identical on the recording runtime; allclose, set or not at all
 * elsewhere; sampled outputs with their sums), and the record's on-disk shape (old records still read).
 * Expected values are computed here from the literals, independently of the code under test.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { FALLBACK, FLOOR, SAFETY, checkOutput, deriveCheck, keepOf, samplePositions, setDiff, statsOf } from '../src/core/verify/index.js'
import { encodeVerificationRecord, parseVerificationRecord, type OutputReference, type VerificationRecord } from '../src/format/verification.js'
import type { TensorData } from '../src/formats/tensor-data.js'

const f32 = (name: string, shape: number[], v: number[]): TensorData => ({ name, dtype: 'float32', shape, data: new Uint8Array(new Float32Array(v).buffer) })
const i32 = (name: string, shape: number[], v: number[]): TensorData => ({ name, dtype: 'int32', shape, data: new Uint8Array(new Int32Array(v).buffer) })
const hex = (t: TensorData): string => createHash('sha256').update(t.data).digest('hex')
const fr = Math.fround
/** Rounded up to 3 significant digits, as records keep tolerances. */
const up3 = (x: number): number => { const r = Number(x.toPrecision(3)); return r >= x ? r : Number((x * 1.001).toPrecision(3)) }

async function cidOf (bytes: Uint8Array): Promise<CID> {
  return CID.create(1, 0x55, await sha256.digest(bytes))
}

/** A reference as record.ts makes it (whole output kept), with the given check. */
function ref (t: TensorData, check: OutputReference['check'], kept: CID): OutputReference {
  return { name: t.name, dtype: t.dtype, shape: [...t.shape], sha256: hex(t), kept, sample: null, stats: statsOf(t), check }
}

test('sample positions: seeded, sorted, distinct, the same on every call; all positions when the sample is not smaller', () => {
  const p = samplePositions(1000, 64, 7)
  assert.equal(p.length, 64)
  for (let i = 1; i < p.length; i++) assert.ok(p[i]! > p[i - 1]!, 'sorted and distinct')
  assert.ok(p[p.length - 1]! < 1000)
  assert.deepEqual([...samplePositions(1000, 64, 7)], [...p])
  assert.notDeepEqual([...samplePositions(1000, 64, 8)], [...p], 'another seed, other positions')
  assert.deepEqual([...samplePositions(5, 10, 1)], [0, 1, 2, 3, 4])
})

test('what is kept: small outputs whole, large ones as a sample of their own elements', () => {
  const values = Array.from({ length: 300 }, (_, i) => i * 0.5)
  const t = f32('y', [3, 100], values)
  assert.equal(keepOf(t, 300, 1).sample, null)
  const k = keepOf(t, 50, 1)
  assert.deepEqual(k.sample, { seed: 1, count: 50 })
  assert.deepEqual(k.tensor.shape, [50])
  const kept = [...new Float32Array(k.tensor.data.slice().buffer)]
  assert.deepEqual(kept, [...samplePositions(300, 50, 1)].map(i => i * 0.5))
})

test('statistics of a float output leave non-finite values out and count them', () => {
  const s = statsOf(f32('y', [5], [1, -3, NaN, 2, Infinity]))!
  assert.deepEqual(s, { finite: 3, sum: 0, sumsq: 14, min: -3, max: 2, nonFinite: 2 })
  assert.equal(statsOf(i32('n', [1], [3])), null)
})

test('rules at commit: integers exact; floats from the second backend (SAFETY × measured, at least FLOOR × scale) or FALLBACK × scale', () => {
  assert.equal(SAFETY, 10)
  const ints = deriveCheck(i32('n', [2], [1, 2]))
  assert.deepEqual([ints.rule, ints.atol, ints.rtol, ints.basis], ['exact', 0, 0, 'dtype'])

  const y = f32('y', [3], [0.5, -2, 1])
  const fb = deriveCheck(y)
  assert.deepEqual([fb.rule, fb.basis, fb.measured], ['allclose', 'fallback', null])
  assert.equal(fb.atol, up3(FALLBACK * 2))

  // The second backend differs by 3e-5 on one element: 10 × that exceeds FLOOR × 2.
  const other = f32('y', [3], [0.5, -2 + 3e-5, 1])
  const d = Math.abs(fr(-2 + 3e-5) - -2)
  const m = deriveCheck(y, { measured: { backend: 'cpu', output: other } })
  assert.deepEqual([m.rule, m.basis, m.rtol], ['allclose', 'measured', 0])
  assert.equal(m.atol, up3(Math.max(SAFETY * d, FLOOR * 2)))
  assert.deepEqual(m.measured, { backend: 'cpu', maxAbsDiff: d })

  // Identical on both backends: the floor still leaves room for a third implementation.
  const same = deriveCheck(y, { measured: { backend: 'cpu', output: y } })
  assert.equal(same.atol, up3(FLOOR * 2))

  const given = deriveCheck(y, { given: { atol: 0.25, rtol: 0.5 }, measured: { backend: 'cpu', output: other } })
  assert.deepEqual([given.rule, given.atol, given.rtol, given.basis], ['allclose', 0.25, 0.5, 'given'])
})

test('rules at commit for discrete outputs: rounding only → allclose, rows reordered → set, membership changed → none', () => {
  const boxes = f32('boxes', [1, 3, 4], [0, 0, 1, 1, 0.2, 0.2, 0.6, 0.6, 0.5, 0.5, 0.9, 0.9])
  const noisy = f32('boxes', [1, 3, 4], [0, 0, 1, 1, 0.2, 0.2, 0.6, 0.6, 0.5, 0.5, 0.9, 0.9 + 1e-6])
  const swapped = f32('boxes', [1, 3, 4], [0.2, 0.2, 0.6, 0.6, 0, 0, 1, 1, 0.5, 0.5, 0.9, 0.9])
  const other = f32('boxes', [1, 3, 4], [0, 0, 1, 1, 0.2, 0.2, 0.6, 0.6, 0.1, 0.1, 0.3, 0.3])
  const op = 'NonMaxSuppressionV5'
  assert.equal(deriveCheck(boxes, { discrete: op, measured: { backend: 'cpu', output: noisy } }).rule, 'allclose')
  const s = deriveCheck(boxes, { discrete: op, measured: { backend: 'cpu', output: swapped } })
  assert.equal(s.rule, 'set')
  assert.match(s.note ?? '', /NonMaxSuppressionV5/)
  const n = deriveCheck(boxes, { discrete: op, measured: { backend: 'cpu', output: other } })
  assert.equal(n.rule, 'none')
  assert.equal(deriveCheck(boxes, { discrete: op }).rule, 'none', 'no second backend: a discrete output is not compared elsewhere')
  assert.equal(deriveCheck(boxes, { measured: { backend: 'cpu', output: f32('boxes', [2, 3, 4], new Array(24).fill(0)) } }).rule, 'none', 'shape differed')
  const counts = i32('n', [2], [3, 5])
  assert.equal(deriveCheck(counts, { measured: { backend: 'cpu', output: i32('n', [2], [5, 3]) } }).rule, 'set')
  assert.equal(deriveCheck(counts, { measured: { backend: 'cpu', output: i32('n', [2], [3, 4]) } }).rule, 'none')
})

test('set comparison matches rows one to one within the tolerance, per batch item', () => {
  const a = f32('b', [2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8])
  assert.equal(setDiff(a, f32('b', [2, 2, 2], [3, 4, 1, 2, 7, 8, 5, 6]), { atol: 0, rtol: 0 }).unmatched, 0)
  assert.equal(setDiff(a, f32('b', [2, 2, 2], [5, 6, 3, 4, 1, 2, 7, 8]), { atol: 0, rtol: 0 }).unmatched, 2, 'rows moved between batch items do not match')
  assert.equal(setDiff(a, f32('b', [2, 2, 2], [1, 2, 1, 2, 5, 6, 7, 8]), { atol: 0, rtol: 0 }).unmatched, 1, 'one to one: a duplicate row matches once')
  assert.equal(setDiff(a, f32('b', [2, 2, 2], [1, 2, 3, 4.01, 5, 6, 7, 8]), { atol: 0.02, rtol: 0 }).unmatched, 0)
})

test('checking: bit-identical on the recording runtime, by the recorded rule elsewhere, or by a given tolerance', async () => {
  const e = f32('y', [4], [1, 2, 3, 4])
  const kept = await cidOf(e.data)
  const r = ref(e, { rule: 'allclose', atol: 1e-3, rtol: 0, basis: 'measured', measured: { backend: 'cpu', maxAbsDiff: 1e-4 }, note: null }, kept)
  const ulp = f32('y', [4], [1, 2, 3, 4 + 2 ** -21])
  const same = checkOutput(r, e, e, true)
  assert.deepEqual([same.pass, same.rule, same.identical, same.maxAbsDiff], [true, 'exact (same runtime)', true, 0])
  const oneUlp = checkOutput(r, e, ulp, true)
  assert.deepEqual([oneUlp.pass, oneUlp.maxAbsDiff], [false, 2 ** -21], 'one ulp fails on the recording runtime')
  const elsewhere = checkOutput(r, e, ulp, false)
  assert.deepEqual([elsewhere.pass, elsewhere.rule, elsewhere.atol], [true, 'allclose', 1e-3])
  assert.equal(elsewhere.relDiff, 2 ** -21 / 4)
  const far = checkOutput(r, e, f32('y', [4], [1, 2, 3, 4.01]), false)
  assert.equal(far.pass, false)
  assert.ok(far.maxAllowedExcess > 0)
  const given = checkOutput(r, e, f32('y', [4], [1, 2, 3, 4.01]), true, { atol: 0.1, rtol: 0 })
  assert.deepEqual([given.pass, given.rule, given.atol], [true, 'allclose', 0.1], 'a given tolerance overrides even the exact rule')
  const shape = checkOutput(r, e, f32('y', [2, 2], [1, 2, 3, 4]), false)
  assert.deepEqual([shape.pass, shape.shapeMismatch], [false, { expected: [4], actual: [2, 2] }])
  const none = checkOutput({ ...r, check: { ...r.check, rule: 'none', note: 'differed at commit' } }, e, f32('y', [4], [9, 9, 9, 9]), false)
  assert.deepEqual([none.pass, none.skipped, none.note], [true, true, 'differed at commit'])
  const setRef = ref(f32('b', [1, 2, 2], [1, 2, 3, 4]), { rule: 'set', atol: 0, rtol: 0, basis: 'measured', measured: null, note: null }, kept)
  assert.equal(checkOutput(setRef, f32('b', [1, 2, 2], [1, 2, 3, 4]), f32('b', [1, 2, 2], [3, 4, 1, 2]), false).pass, true)
  assert.equal(checkOutput(setRef, f32('b', [1, 2, 2], [1, 2, 3, 4]), f32('b', [1, 2, 2], [3, 4, 1, 3]), false).pass, false)
})

test('a sampled output: a change at a kept position fails by value, elsewhere by the sum, and on the recording runtime by the digest', async () => {
  const n = 1000
  const values = Array.from({ length: n }, (_, i) => Math.sin(i))
  const e = f32('y', [n], values)
  const keep = keepOf(e, 64, 99)
  const r: OutputReference = { name: 'y', dtype: 'float32', shape: [n], sha256: hex(e), kept: await cidOf(keep.tensor.data), sample: keep.sample, stats: statsOf(e), check: { rule: 'allclose', atol: 1e-4, rtol: 0, basis: 'measured', measured: null, note: null } }
  const positions = new Set(samplePositions(n, 64, 99))
  const outside = [...Array(n).keys()].find(i => !positions.has(i))!
  const inside = [...positions][10]!
  const moved = (i: number, by: number): TensorData => { const v = [...values]; v[i] = v[i]! + by; return f32('y', [n], v) }
  assert.equal(checkOutput(r, keep.tensor, e, false).pass, true)
  assert.equal(checkOutput(r, keep.tensor, moved(inside, 0.5), false).pass, false)
  const bySum = checkOutput(r, keep.tensor, moved(outside, 0.5), false)
  assert.equal(bySum.pass, false, 'a shift larger than n × atol shows in the sum')
  assert.match(bySum.note ?? '', /sum/)
  assert.equal(checkOutput(r, keep.tensor, moved(outside, 1e-5), false).pass, true, 'within n × atol a change outside the sample is not seen elsewhere')
  const digest = checkOutput(r, keep.tensor, moved(outside, 1e-5), true)
  assert.equal(digest.pass, false, 'but on the recording runtime the digest sees any change')
  assert.equal(digest.maxAbsDiff, 0)
})

test('the record: recorded2 round-trips through dag-cbor; mvc 0.1 records read as before; unknown statuses make the record unreadable, not misread', async () => {
  const c = await cidOf(new Uint8Array([1, 2, 3]))
  const y = f32('y', [2], [1, 2])
  const record: VerificationRecord = {
    backend: 'wasm',
    tfjsVersion: '4.22.0',
    tolerance: { atol: 1e-5, rtol: 1e-5 },
    models: [
      {
        path: 'model.json',
        status: 'recorded',
        inputs: [],
        outputs: [c],
        runtime: { id: 'tfjs', version: '4.22.0', backend: 'wasm', fingerprint: 'tfjs 4.22.0 wasm simd=1 threads=1' },
        reference: {
          generated: { generator: 'mulberry32/1', seed: 7, specs: [{ name: 'x', dtype: 'float32', shape: [2, 3] }, { name: 't', dtype: 'int32', shape: [2, 4], indexBound: 5 }] },
          inputDigests: ['aa', 'bb'],
          outputs: [ref(y, { rule: 'allclose', atol: 0.001, rtol: 0, basis: 'measured', measured: { backend: 'cpu', maxAbsDiff: 1e-5 }, note: null }, c)]
        }
      },
      { path: 'w.json', status: 'skipped', reason: 'weights only' }
    ]
  }
  const onDisk = encodeVerificationRecord(record)
  assert.equal((onDisk.models as Array<{ status: string }>)[0]!.status, 'recorded2')
  const back = parseVerificationRecord(dagCbor.decode(dagCbor.encode(onDisk)))
  assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(record)))

  const legacy = { backend: 'cpu', tfjsVersion: '4.22.0', tolerance: { atol: 1e-5, rtol: 1e-5 }, models: [{ path: 'model.json', status: 'recorded', inputs: [c], outputs: [c] }] }
  const l = parseVerificationRecord(dagCbor.decode(dagCbor.encode(legacy)))!
  assert.deepEqual(l.models[0], { path: 'model.json', status: 'recorded', inputs: [c], outputs: [c] })
  assert.deepEqual(encodeVerificationRecord(l), legacy, 'an old record is written back as it was')
  assert.equal(parseVerificationRecord({ ...legacy, models: [{ path: 'm', status: 'recorded3' }] }), null)
})
