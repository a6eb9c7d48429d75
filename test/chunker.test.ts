import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Chunker, DEFAULT_CHUNKING, GEAR, chunkStream, chunkingMasks, cutPoint } from '../src/content/chunker.js'
import type { ChunkingParams } from '../src/content/chunker.js'

const SMALL: ChunkingParams = { min: 2048, avg: 8192, max: 32768 }

/** mulberry32: tiny seeded PRNG so every run sees the same bytes. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}

function randomBytes (n: number, seed: number): Uint8Array {
  const next = prng(seed)
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i += 4) {
    const v = next()
    out[i] = v & 255
    if (i + 1 < n) out[i + 1] = (v >>> 8) & 255
    if (i + 2 < n) out[i + 2] = (v >>> 16) & 255
    if (i + 3 < n) out[i + 3] = v >>> 24
  }
  return out
}

function concat (parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0))
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/**
 * Input mixing the cases that matter: random data (content-defined cuts), zero runs (no match ever,
 * so forced cuts at max), a short repeating pattern, and an odd-sized random tail.
 */
function mixedInput (params: ChunkingParams, seed: number): Uint8Array {
  const pattern = new Uint8Array(3 * params.max + 17)
  for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 7) % 13
  return concat([
    randomBytes(40 * params.avg + 123, seed),
    new Uint8Array(2 * params.max + 5),
    randomBytes(10 * params.avg, seed + 1),
    pattern,
    randomBytes(7 * params.avg + 4321, seed + 2)
  ])
}

/**
 * Independent reference: FastCDC with normalized chunking written the slow, obvious way, straight
 * from the paper's pseudo-code (Xia et al. 2020, Algorithm 2) and the rules documented in
 * chunker.ts: fingerprint kept as a plain non-negative number reduced mod 2^32, and "the top k bits
 * are zero" tested as fp < 2^(32 - k) instead of with bit masks. Returns the first chunk's length.
 */
function referenceCut (src: Uint8Array, off: number, length: number, p: ChunkingParams): number {
  const bits = Math.round(Math.log2(p.avg))
  const belowS = 2 ** (32 - (bits + 2))
  const belowL = 2 ** (32 - (bits - 2))
  let n = length
  if (n <= p.min) return n
  let normal = p.avg
  if (n >= p.max) n = p.max
  else if (n <= normal) normal = n
  let fp = 0
  let i = p.min
  for (; i < normal; i++) {
    fp = (fp * 2 + GEAR[src[off + i]]) % 4294967296
    if (fp < belowS) return i
  }
  for (; i < n; i++) {
    fp = (fp * 2 + GEAR[src[off + i]]) % 4294967296
    if (fp < belowL) return i
  }
  return n
}

function referenceLengths (data: Uint8Array, p: ChunkingParams): number[] {
  const out: number[] = []
  for (let off = 0; off < data.length;) {
    const len = referenceCut(data, off, data.length - off, p)
    out.push(len)
    off += len
  }
  return out
}

/** Feeds `data` to a Chunker in pieces of the given sizes (cycled); checks no returned chunk changes later. */
function chunkInPieces (data: Uint8Array, p: ChunkingParams, sizes: () => number): Uint8Array[] {
  const chunker = new Chunker(p)
  const chunks: Uint8Array[] = []
  const copies: Uint8Array[] = []
  const take = (c: Uint8Array): void => {
    chunks.push(c)
    copies.push(c.slice())
  }
  for (let off = 0; off < data.length;) {
    const n = Math.min(sizes(), data.length - off)
    for (const c of chunker.push(data.subarray(off, off + n))) take(c)
    off += n
  }
  const tail = chunker.finish()
  if (tail !== undefined) take(tail)
  // Chunks handed out earlier must not have been overwritten by later input.
  assert.deepEqual(chunks, copies)
  return chunks
}

function cutPointLengths (data: Uint8Array, p: ChunkingParams): number[] {
  const out: number[] = []
  for (let off = 0; off < data.length;) {
    const len = cutPoint(data.subarray(off), p)
    out.push(len)
    off += len
  }
  return out
}

async function * pieces (data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < data.length; off += size) yield data.subarray(off, off + size)
}

async function collect (source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const c of source) out.push(c)
  return out
}

const lengthsOf = (chunks: readonly Uint8Array[]): number[] => chunks.map(c => c.length)
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

test('GEAR is sha256("mvc-fastcdc-gear-v1:" + i), first 4 bytes big-endian', () => {
  assert.ok(GEAR instanceof Uint32Array)
  assert.equal(GEAR.length, 256)
  for (let i = 0; i < 256; i++) {
    const d = createHash('sha256').update(`mvc-fastcdc-gear-v1:${i}`).digest()
    const expected = ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0
    assert.equal(GEAR[i], expected, `GEAR[${i}]`)
  }
  assert.equal(new Set(GEAR).size, 256)
})

test('masks: avg 2^b uses the top b+2 bits below avg and the top b-2 bits above', () => {
  assert.deepEqual(DEFAULT_CHUNKING, { min: 262144, avg: 1048576, max: 4194304 })
  assert.deepEqual(chunkingMasks(), { maskS: 0xfffffc00, bitsS: 22, maskL: 0xffffc000, bitsL: 18 })
  assert.deepEqual(chunkingMasks(SMALL), { maskS: 0xfffe0000, bitsS: 15, maskL: 0xffe00000, bitsL: 11 })
})

test('golden: boundaries equal an independent byte-by-byte FastCDC reference (small params)', async () => {
  const data = mixedInput(SMALL, 1)
  const golden = referenceLengths(data, SMALL)
  // Sanity of the fixture itself: several content-defined cuts and some forced cuts at max.
  assert.ok(golden.length > 50)
  assert.ok(golden.filter(l => l === SMALL.max).length >= 2)
  assert.ok(golden.filter(l => l > SMALL.min && l < SMALL.avg).length >= 3)
  assert.ok(golden.filter(l => l > SMALL.avg && l < SMALL.max).length >= 3)

  assert.deepEqual(cutPointLengths(data, SMALL), golden)
  assert.deepEqual(lengthsOf(chunkInPieces(data, SMALL, () => data.length)), golden)
  assert.deepEqual(lengthsOf(await collect(chunkStream(pieces(data, 65536), SMALL))), golden)
})

test('golden: boundaries equal the reference with the default params', async () => {
  const data = concat([randomBytes(20 * 1024 * 1024 + 99, 7), new Uint8Array(9 * 1024 * 1024), randomBytes(3 * 1024 * 1024, 8)])
  const golden = referenceLengths(data, DEFAULT_CHUNKING)
  assert.ok(golden.length > 20)
  assert.ok(golden.filter(l => l === DEFAULT_CHUNKING.max).length >= 2)
  assert.deepEqual(lengthsOf(await collect(chunkStream(pieces(data, 65536)))), golden)
  assert.deepEqual(cutPointLengths(data, DEFAULT_CHUNKING), golden)
})

test('golden: off-by-one spots (cut exactly at min, at avg, at max) match the reference', () => {
  // Tiny params make the rare cases common: a cut exactly at offset min (first hashed byte), exactly
  // at avg (first byte under the loose mask) and within the first 32 hashed bytes (fingerprint
  // reset) each happen many times in a few MiB, so a one-off in any of them shows up here. A cut at
  // exactly min needs a GEAR entry with the top b+2 bits clear, hence the very small avg of 128.
  const sets: ChunkingParams[] = [{ min: 128, avg: 512, max: 2048 }, { min: 32, avg: 128, max: 512 }]
  for (const p of sets) {
    const data = concat([randomBytes(3 * 1024 * 1024, 77), new Uint8Array(5000), randomBytes(100000, 78)])
    const golden = referenceLengths(data, p)
    const count = (pred: (l: number) => boolean): number => golden.filter(pred).length
    assert.ok(count(l => l === p.avg) >= 5, 'fixture has cuts at avg')
    assert.ok(count(l => l === p.avg - 1) >= 2, 'fixture has cuts just before avg')
    assert.ok(count(l => l > p.min && l < p.min + 32) >= 10, 'fixture has cuts in the first 32 hashed bytes')
    assert.ok(count(l => l === p.max) >= 2, 'fixture has cuts at max')
    if (p.avg === 128) assert.ok(count(l => l === p.min) >= 10, 'fixture has cuts at min')
    const rnd = prng(5)
    assert.deepEqual(lengthsOf(chunkInPieces(data, p, () => 1 + (rnd() % 999))), golden)
    assert.deepEqual(cutPointLengths(data, p), golden)
  }
})

test('cutPoint agrees with the reference at every alignment and on Buffers', () => {
  const data = Buffer.from(randomBytes(6 * SMALL.max, 3))
  for (let off = 0; off < 64; off++) {
    const view = data.subarray(off)
    assert.equal(cutPoint(view, SMALL), referenceCut(data, off, data.length - off, SMALL), `offset ${off}`)
  }
  for (const n of [0, 1, SMALL.min - 1, SMALL.min, SMALL.min + 1, SMALL.avg, SMALL.max, SMALL.max + 1]) {
    assert.equal(cutPoint(data.subarray(5, 5 + n), SMALL), referenceCut(data, 5, n, SMALL), `length ${n}`)
  }
})

test('chunks respect min and max, and concatenate back to the input', () => {
  const data = mixedInput(SMALL, 11)
  const chunks = chunkInPieces(data, SMALL, () => 4096)
  assert.ok(chunks.length > 1)
  chunks.forEach((c, i) => {
    assert.ok(c.length <= SMALL.max, `chunk ${i} longer than max: ${c.length}`)
    assert.ok(c.length > 0, `chunk ${i} is empty`)
    if (i < chunks.length - 1) assert.ok(c.length >= SMALL.min, `chunk ${i} shorter than min: ${c.length}`)
  })
  assert.deepEqual(concat(chunks), data)

  const withShortTail = data.subarray(0, data.length - (data.length % 1000) + 7)
  const tailChunks = chunkInPieces(withShortTail, SMALL, () => 65536)
  assert.deepEqual(concat(tailChunks), withShortTail)
})

test('boundaries do not depend on how the input is split', async () => {
  const small = mixedInput({ min: 256, avg: 1024, max: 4096 }, 5)
  const smallParams: ChunkingParams = { min: 256, avg: 1024, max: 4096 }
  const smallGolden = referenceLengths(small, smallParams)
  assert.deepEqual(lengthsOf(chunkInPieces(small, smallParams, () => 1)), smallGolden, '1-byte pieces')

  const data = mixedInput(SMALL, 21)
  const expected = referenceLengths(data, SMALL)
  const expectedHashes = chunkInPieces(data, SMALL, () => data.length).map(sha)
  const rnd = prng(99)
  const splits: Array<[string, () => number]> = [
    ['1000', () => 1000],
    ['65536', () => 65536],
    ['whole', () => data.length],
    ['random 1..100000', () => 1 + (rnd() % 100000)],
    ['random 1..40', () => 1 + (rnd() % 40)]
  ]
  for (const [name, sizes] of splits) {
    const chunks = chunkInPieces(data, SMALL, sizes)
    assert.deepEqual(lengthsOf(chunks), expected, name)
    assert.deepEqual(chunks.map(sha), expectedHashes, name)
  }
  assert.deepEqual(lengthsOf(await collect(chunkStream(pieces(data, 1000), SMALL))), expected, 'chunkStream 1000')
})

test('yielded chunks stay valid when the source reuses its read buffer', async () => {
  const data = mixedInput(SMALL, 31)
  // Like a loop of fileHandle.read() into one buffer: each piece overwrites the previous one.
  async function * reusingSource (): AsyncGenerator<Uint8Array> {
    const buf = new Uint8Array(5000)
    for (let off = 0; off < data.length; off += buf.length) {
      const n = Math.min(buf.length, data.length - off)
      buf.set(data.subarray(off, off + n))
      yield buf.subarray(0, n)
    }
  }
  const chunks = await collect(chunkStream(reusingSource(), SMALL))
  assert.deepEqual(lengthsOf(chunks), referenceLengths(data, SMALL))
  assert.deepEqual(concat(chunks), data)
})

test('an insertion near the start only changes the first chunk or two', () => {
  const original = randomBytes(2 * 1024 * 1024, 42)
  const inserted = concat([original.subarray(0, 100), Uint8Array.of(1, 2, 3, 4, 5), original.subarray(100)])
  const before = new Set(chunkInPieces(original, SMALL, () => 65536).map(sha))
  const after = chunkInPieces(inserted, SMALL, () => 65536).map(sha)
  assert.ok(after.length > 200)
  const changed = after.map((h, i) => before.has(h) ? -1 : i).filter(i => i >= 0)
  assert.ok(changed.length >= 1 && changed.length <= 2, `changed chunks: ${changed.join(', ')}`)
  assert.ok(changed.every(i => i < 2), `changed chunks: ${changed.join(', ')}`)

  // And in the middle: the damage stays local too.
  const mid = 1024 * 1024 + 333
  const editedMid = concat([original.subarray(0, mid), Uint8Array.of(9, 9, 9), original.subarray(mid + 10)])
  const afterMid = chunkInPieces(editedMid, SMALL, () => 65536).map(sha)
  const changedMid = afterMid.filter(h => !before.has(h))
  assert.ok(changedMid.length >= 1 && changedMid.length <= 2, `changed chunks: ${changedMid.length}`)
})

test('edge cases: empty input, input shorter than min, reuse after finish, Buffer input', async () => {
  const c = new Chunker(SMALL)
  assert.deepEqual(c.push(new Uint8Array(0)), [])
  assert.equal(c.finish(), undefined)
  assert.deepEqual(await collect(chunkStream(pieces(new Uint8Array(0), 10), SMALL)), [])

  const short = randomBytes(SMALL.min - 1, 4)
  assert.deepEqual(c.push(short), [])
  const shortChunk = c.finish()
  assert.deepEqual(shortChunk, short)
  // A small file must not allocate (and its only chunk pin) a max-sized buffer.
  assert.ok(shortChunk !== undefined && shortChunk.buffer.byteLength < SMALL.max)

  const data = mixedInput(SMALL, 6)
  const first = chunkInPieces(data, SMALL, () => 3000).map(sha)
  const again: Uint8Array[] = [...c.push(Buffer.from(data))]
  const tail = c.finish()
  if (tail !== undefined) again.push(tail)
  assert.deepEqual(again.map(sha), first)

  assert.throws(() => c.push('not bytes' as unknown as Uint8Array), TypeError)
})

test('internal buffers stay bounded even when one push is huge', () => {
  const data = randomBytes(64 * SMALL.max, 8)
  const chunks = new Chunker(SMALL).push(data)
  assert.ok(chunks.length > 100)
  for (const c of chunks) assert.ok(c.buffer.byteLength <= SMALL.max + 65536 + SMALL.avg, `buffer of ${c.buffer.byteLength} bytes`)
})

test('invalid params throw TypeError', async () => {
  const bad: unknown[] = [
    { min: 8192, avg: 8192, max: 32768 },
    { min: 9000, avg: 8192, max: 32768 },
    { min: 2048, avg: 10000, max: 32768 },
    { min: 2048, avg: 8192, max: 8192 },
    { min: 2048, avg: 32768, max: 8192 },
    { min: 0, avg: 8192, max: 32768 },
    { min: -1, avg: 8192, max: 32768 },
    { min: 2048.5, avg: 8192, max: 32768 },
    { min: Number.NaN, avg: 8192, max: 32768 },
    { min: 2048, avg: 8192, max: Number.POSITIVE_INFINITY },
    { min: '2048', avg: 8192, max: 32768 },
    { min: 2048, avg: 8192 },
    { min: 8, avg: 16, max: 64 },
    null
  ]
  for (const p of bad) {
    const params = p as ChunkingParams
    assert.throws(() => new Chunker(params), TypeError, JSON.stringify(p))
    assert.throws(() => cutPoint(new Uint8Array(10), params), TypeError, JSON.stringify(p))
    await assert.rejects(collect(chunkStream(pieces(new Uint8Array(10), 5), params)), TypeError, JSON.stringify(p))
  }
  assert.doesNotThrow(() => new Chunker({ min: 1, avg: 64, max: 65 }))
})
