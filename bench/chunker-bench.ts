/**
 * Micro-benchmark of the FastCDC chunker against node:crypto sha256 over the same bytes.
 *
 * sha256 is the yardstick because every chunk gets hashed for its CID anyway, so the two together
 * are the CPU cost per byte of a commit; the target for the chunker alone is >= 1 GB/s.
 * Timings are wall-clock on a possibly shared machine: run it a few times.
 *
 * Data: 512 MiB of deterministic pseudo-random bytes (xorshift32), generated 8 MiB at a time so the
 * benchmark needs little memory; generation is not timed. Each piece goes through:
 *   - a Chunker fed whole 8 MiB pieces,
 *   - a Chunker fed 64 KiB pieces (what fs.createReadStream delivers),
 *   - cutPoint() alone over the piece (fingerprinting without the Chunker's copy into its own
 *     buffers; boundaries restart per piece, so only the speed is comparable),
 *   - sha256 over the piece.
 * Usage: node dist/bench/chunker-bench.js [MiB=512]
 */
import { createHash } from 'node:crypto'
import { Chunker, DEFAULT_CHUNKING, chunkingMasks, cutPoint } from '../src/content/chunker.js'

const PIECE = 8 * 1024 * 1024
const READ = 64 * 1024
const totalMiB = Number(process.argv[2] ?? '512')
if (!Number.isInteger(totalMiB) || totalMiB < 8 || totalMiB % 8 !== 0) {
  throw new TypeError(`size must be a multiple of 8 MiB, got ${process.argv[2] ?? ''}`)
}
const pieces = totalMiB / 8

let state = 0x9e3779b9
function fill (buf: Uint8Array): void {
  const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength >>> 2)
  let x = state
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    words[i] = x
  }
  state = x
}

function seconds (from: bigint): number {
  return Number(process.hrtime.bigint() - from) / 1e9
}

const piece = new Uint8Array(PIECE)
const big = new Chunker(DEFAULT_CHUNKING)
const small = new Chunker(DEFAULT_CHUNKING)
const hash = createHash('sha256')
let tBig = 0
let tSmall = 0
let tSha = 0
let tCut = 0
let nBig = 0
let nSmall = 0
let bytesBig = 0
let minLen = Infinity
let maxLen = 0
const lengthsBig: number[] = []
const lengthsSmall: number[] = []

for (let k = 0; k < pieces; k++) {
  fill(piece)

  let t = process.hrtime.bigint()
  for (const c of big.push(piece)) {
    nBig++
    bytesBig += c.length
    lengthsBig.push(c.length)
  }
  tBig += seconds(t)

  t = process.hrtime.bigint()
  for (let off = 0; off < PIECE; off += READ) {
    for (const c of small.push(piece.subarray(off, off + READ))) {
      nSmall++
      lengthsSmall.push(c.length)
    }
  }
  tSmall += seconds(t)

  t = process.hrtime.bigint()
  for (let off = 0; off < PIECE;) off += cutPoint(piece.subarray(off), DEFAULT_CHUNKING)
  tCut += seconds(t)

  t = process.hrtime.bigint()
  hash.update(piece)
  tSha += seconds(t)
}
const tailBig = big.finish()
if (tailBig !== undefined) lengthsBig.push(tailBig.length)
const tailSmall = small.finish()
if (tailSmall !== undefined) lengthsSmall.push(tailSmall.length)
hash.digest()

if (lengthsBig.length !== lengthsSmall.length || lengthsBig.some((l, i) => l !== lengthsSmall[i])) {
  throw new Error('chunk boundaries differ between 8 MiB and 64 KiB input pieces')
}
for (const l of lengthsBig.slice(0, -1)) {
  if (l < minLen) minLen = l
  if (l > maxLen) maxLen = l
}

const bytes = totalMiB * 1024 * 1024
const mbps = (s: number): string => (bytes / s / 1e6).toFixed(0).padStart(6)
const masks = chunkingMasks(DEFAULT_CHUNKING)
console.log(`node ${process.version}, ${totalMiB} MiB pseudo-random input, params min=${DEFAULT_CHUNKING.min} avg=${DEFAULT_CHUNKING.avg} max=${DEFAULT_CHUNKING.max}`)
console.log(`masks: below avg ${masks.bitsS} bits (0x${masks.maskS.toString(16)}), above avg ${masks.bitsL} bits (0x${masks.maskL.toString(16)})`)
console.log(`chunker, 8 MiB pushes : ${mbps(tBig)} MB/s  (${tBig.toFixed(3)} s)`)
console.log(`chunker, 64 KiB pushes: ${mbps(tSmall)} MB/s  (${tSmall.toFixed(3)} s)`)
console.log(`cutPoint only, no copy: ${mbps(tCut)} MB/s  (${tCut.toFixed(3)} s)`)
console.log(`sha256 (node:crypto)  : ${mbps(tSha)} MB/s  (${tSha.toFixed(3)} s)`)
console.log(`chunks: ${lengthsBig.length} (${nBig} cut + tail), mean ${(bytes / lengthsBig.length / 1024).toFixed(0)} KiB, ` +
  `min ${(minLen / 1024).toFixed(0)} KiB, max ${(maxLen / 1024).toFixed(0)} KiB (excluding tail); ${bytesBig} bytes in cut chunks; ` +
  `64 KiB-fed run: ${nSmall} cut + tail, identical boundaries`)
