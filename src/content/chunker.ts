/**
 * Content-defined chunking: FastCDC (Xia et al., USENIX ATC 2016; IEEE TPDS 2020) with normalized
 * chunking, in pure TypeScript.
 *
 * Why content-defined: a model file split at fixed offsets would re-store everything after the first
 * inserted or removed byte. Cutting where the *content* says so (a rolling fingerprint of the last
 * 32 bytes hits a pattern) lets boundaries re-synchronise right after an edit, so unchanged regions
 * of two model versions produce identical chunks and therefore identical CIDs.
 *
 * Algorithm, for each chunk starting at offset 0 of the remaining stream (`n` bytes left):
 *   1. If n <= min, the rest is one chunk. Bytes [0, min) are never hashed: the chunk cannot end
 *      there anyway, and skipping them is where most of FastCDC's speed comes from.
 *   2. fp = 0; for i = min, min+1, ...: fp = ((fp << 1) + GEAR[byte[i]]) mod 2^32 (the Gear hash;
 *      after 32 steps the shift has pushed out everything older, so fp depends on bytes i-31..i).
 *   3. While i < avg the strict mask MASK_S is used, from avg on the loose mask MASK_L; the first i
 *      with (fp & mask) === 0 is the cut: the chunk is bytes [0, i) (as in the paper's pseudo-code,
 *      the matching byte starts the next chunk). With no match before max the chunk is [0, max).
 *   So every chunk but the final tail of a stream has min <= length <= max.
 *
 * Masks ("normalized chunking", level 2): with avg = 2^b, MASK_S has b + 2 bits set and MASK_L has
 * b - 2 bits set. A cut below avg is 4x less likely than 1/avg per byte and above avg 4x more likely,
 * which squeezes chunk sizes towards avg (fewer tiny and fewer huge chunks than plain Gear CDC) and
 * keeps deduplication good despite the min-skip. The set bits are the TOP bits of the 32-bit
 * fingerprint, because bit k of a Gear hash only depends on the last k + 1 bytes: top bits give the
 * widest window (up to 32 bytes). For the default avg = 1 MiB = 2^20:
 *   MASK_S = top 22 bits = 0xFFFFFC00, MASK_L = top 18 bits = 0xFFFFC000.
 *
 * Defaults (DEFAULT_CHUNKING): min 256 KiB, avg 1 MiB, max 4 MiB. Why these sizes:
 *   - Model weight files are large (hundreds of MiB to many GiB), and each chunk costs an index entry,
 *     a CID in the file manifest and a store object. A 1 MiB average keeps that small: a 4 GiB model
 *     is ~4096 chunks (~3500 in practice, see below). Edits to model weights (fine-tuning a layer, appending a tensor) touch whole
 *     tensors, so smaller chunks would buy little extra deduplication.
 *   - min = avg / 4: roughly a quarter of all bytes (22% on random data) are never hashed.
 *   - max = 4 * avg bounds the memory needed to hold one chunk (a Chunker holds one buffer of
 *     max + avg / 4 bytes) and the number of chunks on low-entropy data: in a run of zero bytes
 *     (zero-initialised tensors) the fingerprint never matches, so such chunks are exactly max.
 *   Normalized chunking lands the real mean a little above avg: on random data it is ~1.16 MiB
 *   (bench/chunker-bench.ts prints it).
 *
 * FORMAT STABILITY: the GEAR table, the mask construction and the cut rule above decide where chunks
 * end, hence every chunk's bytes and CID. Changing any of them (or DEFAULT_CHUNKING) changes the CID
 * of nearly every chunk ever stored and breaks deduplication against existing repositories. They are
 * versioned by the table seed "mvc-fastcdc-gear-v1"; a new scheme needs a new name, never an edit.
 */
import { createHash } from 'node:crypto'

export interface ChunkingParams {
  readonly min: number
  readonly avg: number
  readonly max: number
}

export const DEFAULT_CHUNKING = { min: 262144, avg: 1048576, max: 4194304 } as const

/** Seed prefix of the gear table; part of the on-disk format (see the file comment). */
export const GEAR_SEED = 'mvc-fastcdc-gear-v1:'

/**
 * The Gear table: entry i is the first 4 bytes, big-endian, of sha256("mvc-fastcdc-gear-v1:" + i)
 * with i in decimal. Derived instead of pasted as 256 literals so that it is reproducible from this
 * one line of spec. Frozen forever: it decides chunk boundaries and so CIDs.
 */
export const GEAR: Uint32Array = buildGear()

// The hot loop reads a private signed copy: Uint32Array elements above 2^31 come out of V8 as heap
// doubles and would push the whole fingerprint computation off the int32 fast path. Private also
// means nobody can change boundaries by writing into the exported table.
const GEAR_I32 = Int32Array.from(GEAR)

function buildGear (): Uint32Array {
  const table = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    table[i] = createHash('sha256').update(GEAR_SEED + String(i)).digest().readUInt32BE(0)
  }
  return table
}

/** Accepted avg range: the loose mask needs b - 2 >= 4 bits, and avg < max <= MAX_MAX. */
const MIN_AVG = 64
const MAX_AVG = 2 ** 28
/** Upper bound for max: the chunker allocates buffers of a little more than max. */
const MAX_MAX = 2 ** 30

interface Resolved {
  readonly min: number
  readonly avg: number
  readonly max: number
  readonly maskS: number
  readonly maskL: number
}

/** Mask with the top `bits` bits of a 32-bit word set, as an int32 (so `fp & mask` stays int32). */
function topBits (bits: number): number {
  return (-1 << (32 - bits)) | 0
}

function isInt (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v)
}

function resolve (params: ChunkingParams): Resolved {
  if (typeof params !== 'object' || params === null) {
    throw new TypeError('chunking params must be an object { min, avg, max }')
  }
  const { min, avg, max } = params
  if (!isInt(min) || !isInt(avg) || !isInt(max)) {
    throw new TypeError(`chunking params must be integers, got min=${String(min)} avg=${String(avg)} max=${String(max)}`)
  }
  if (!(min >= 1 && min < avg && avg < max)) {
    throw new TypeError(`chunking params must satisfy 1 <= min < avg < max, got min=${min} avg=${avg} max=${max}`)
  }
  if (avg < MIN_AVG || avg > MAX_AVG || (avg & (avg - 1)) !== 0) {
    throw new TypeError(`chunking avg must be a power of two between ${MIN_AVG} and ${MAX_AVG}, got ${avg}`)
  }
  if (max > MAX_MAX) {
    throw new TypeError(`chunking max must be at most ${MAX_MAX}, got ${max}`)
  }
  const bits = 31 - Math.clz32(avg)
  return { min, avg, max, maskS: topBits(bits + 2), maskL: topBits(bits - 2) }
}

const RESOLVED_DEFAULT = resolve(DEFAULT_CHUNKING)

export interface ChunkingMasks {
  /** Mask used below avg (unsigned 32-bit value) and its number of set bits. */
  readonly maskS: number
  readonly bitsS: number
  /** Mask used from avg on. */
  readonly maskL: number
  readonly bitsL: number
}

/** The two masks the given params use; exported so tools and tests can report and check them. */
export function chunkingMasks (params: ChunkingParams = DEFAULT_CHUNKING): ChunkingMasks {
  const p = resolve(params)
  const bits = 31 - Math.clz32(p.avg)
  return { maskS: p.maskS >>> 0, bitsS: bits + 2, maskL: p.maskL >>> 0, bitsL: bits - 2 }
}

function resolveOrDefault (params: ChunkingParams | undefined): Resolved {
  return params === undefined || params === DEFAULT_CHUNKING ? RESOLVED_DEFAULT : resolve(params)
}

// scan() hands its fingerprint back through this instead of returning a pair: an allocation per
// call would cost more than the module-level slot, and scanning is synchronous so it cannot race.
let scanFp = 0

// Whether an Int32Array load sees bytes in memory order low byte first; the word-at-a-time path in
// scan() depends on it and is skipped on big-endian hosts (the results are the same, only slower).
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1

/**
 * Rolls the Gear fingerprint over buf[i..end) starting from `fp`; returns the first index whose
 * fingerprint has no bit of `mask` set, or -1 (the fingerprint so far is left in scanFp).
 *
 * Shaped for V8 rather than for reading; this loop is most of the CPU time of a commit:
 * - the bulk is read 4 bytes per load through an aligned Int32Array view and split with shifts,
 *   which costs fewer instructions per byte than 4 bounds-checked byte loads (~15% faster);
 * - 16 bytes per iteration, so the loop test and bookkeeping run once per 16 bytes;
 * - a match inside a block does not return from the middle of the block but breaks out and lets
 *   the plain byte loop redo those few bytes from the block's starting state. One exit path means
 *   TurboFan has type feedback for all of it after warm-up, instead of deoptimising on each of 16
 *   never-taken `return` paths in turn (which made warm-up cost ~100 MiB of input);
 * - `GEAR[b] + (h << 1)`, in that order, compiles to a single `lea` per byte, so the fingerprint's
 *   dependency chain is one cycle per byte;
 * - it is always called with a plain Uint8Array, keeping it monomorphic.
 */
function scan (buf: Uint8Array, i: number, end: number, fp: number, mask: number): number {
  const g = GEAR_I32
  if (LITTLE_ENDIAN && end - i >= 64) {
    const base = buf.byteOffset
    for (; ((base + i) & 3) !== 0; i++) {
      fp = (g[buf[i]] + (fp << 1)) | 0
      if ((fp & mask) === 0) return i
    }
    const words = new Int32Array(buf.buffer, base + i, (end - i) >>> 2)
    const blocks = words.length - 3
    let k = 0
    while (k < blocks) {
      let h = fp
      let x = words[k]
      h = (g[x & 255] + (h << 1)) | 0; if ((h & mask) === 0) break
      h = (g[(x >>> 8) & 255] + (h << 1)) | 0; if ((h & mask) === 0) break
      h = (g[(x >>> 16) & 255] + (h << 1)) | 0; if ((h & mask) === 0) break
      h = (g[x >>> 24] + (h << 1)) | 0; if ((h & mask) === 0) break
      x = words[k + 1]
      h = (g[x & 255] + (h << 1)) | 0; if ((h & mask) === 0) break
      h = (g[(x >>> 8) & 255] + (h << 1)) | 0; if ((h & mask) === 0) break
      h = (g[(x >>> 16) & 255] + (h << 1)) | 0; if ((h & mask) === 0) break
      h = (g[x >>> 24] + (h << 1)) | 0; if ((h & mask) === 0) break
      x = words[k + 2]
      h = (g[x & 255] + (h << 1)) | 0; if ((h & mask) === 0) break
      h = (g[(x >>> 8) & 255] + (h << 1)) | 0; if ((h & mask) === 0) break
      h = (g[(x >>> 16) & 255] + (h << 1)) | 0; if ((h & mask) === 0) break
      h = (g[x >>> 24] + (h << 1)) | 0; if ((h & mask) === 0) break
      x = words[k + 3]
      h = (g[x & 255] + (h << 1)) | 0; if ((h & mask) === 0) break
      h = (g[(x >>> 8) & 255] + (h << 1)) | 0; if ((h & mask) === 0) break
      h = (g[(x >>> 16) & 255] + (h << 1)) | 0; if ((h & mask) === 0) break
      h = (g[x >>> 24] + (h << 1)) | 0; if ((h & mask) === 0) break
      fp = h
      k += 4
    }
    i += k << 2
  }
  for (; i < end; i++) {
    fp = (g[buf[i]] + (fp << 1)) | 0
    if ((fp & mask) === 0) return i
  }
  scanFp = fp
  return -1
}

// Give scan() type feedback for every path (alignment loop, block loop, break, byte loop, each with
// and without a match) before V8 first optimises it; otherwise the optimised code deopts on the
// not-yet-seen paths over and over during the first tens of MiB. Several rounds, because V8 only
// starts recording feedback after a function has been called a few times. Costs microseconds and
// cannot affect results (a zero-filled buffer never fully clears the all-ones mask).
{
  const zeros = new Uint8Array(96)
  for (let k = 0; k < 16; k++) {
    scan(zeros, 1, zeros.length, 0, 0)
    scan(zeros, 4, zeros.length, 0, 0)
    scan(zeros, 1, zeros.length, 0, -1)
    scan(zeros, 1, 8, 0, -1)
  }
}

/**
 * Boundary cut point for one buffer: returns the length of the first chunk of `buf` (buf.length if
 * no cut before max/end). `buf` is treated as the whole rest of the stream.
 */
export function cutPoint (buf: Uint8Array, params: ChunkingParams): number {
  const p = resolveOrDefault(params)
  // A plain Uint8Array view (not a Buffer subclass) keeps scan() monomorphic.
  const b = Object.getPrototypeOf(buf) === Uint8Array.prototype ? buf : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
  const n = b.length
  if (n <= p.min) return n
  const end = n < p.max ? n : p.max
  const normal = end < p.avg ? end : p.avg
  let c = scan(b, p.min, normal, 0, p.maskS)
  if (c >= 0) return c
  if (normal === end) return end
  c = scan(b, normal, end, scanFp, p.maskL)
  return c >= 0 ? c : end
}

/**
 * Incremental form: push() returns the chunks completed so far, finish() the tail (or undefined if empty).
 *
 * Input is copied once into an internal buffer of at most max + avg/4 bytes (the only memory a
 * Chunker holds), so callers may reuse their read buffers. Chunks are views into such buffers; a full one is
 * replaced by a fresh one, never overwritten, so every chunk handed out stays valid. The flip side:
 * a kept chunk pins its whole buffer, so code that keeps a few chunks for long should slice() them.
 * Not re-entrant: don't push() from inside the iteration of feed().
 */
export class Chunker {
  readonly #p: Resolved
  /** Internal buffer; bytes before #start belong to chunks already handed out and are never written again. */
  #buf: Uint8Array = new Uint8Array(0)
  /** Start of the pending (not yet emitted) chunk in #buf. */
  #start = 0
  /** End of valid data in #buf. */
  #end = 0
  /** Next index of #buf to feed to the fingerprint (>= #start + min). */
  #pos = 0
  /** Fingerprint after the bytes [#start + min, #pos). */
  #fp = 0

  constructor (params?: ChunkingParams) {
    this.#p = resolveOrDefault(params)
    this.#pos = this.#p.min
  }

  /** Feeds the next piece of the stream; returns the chunks it completed (possibly none). */
  push (data: Uint8Array): Uint8Array[] {
    return Array.from(this.feed(data))
  }

  /**
   * Like push() but yields each chunk as soon as it is cut, so a caller handing over one huge buffer
   * is not also handed a full copy of it at once. Chunks yielded remain valid after later calls.
   * Iterate it to the end before the next push()/feed()/finish(): abandoning it early drops the
   * part of `data` not consumed yet.
   */
  * feed (data: Uint8Array): Generator<Uint8Array, void, undefined> {
    if (!(data instanceof Uint8Array)) throw new TypeError('Chunker input must be a Uint8Array')
    let off = 0
    const len = data.length
    while (off < len) {
      if (this.#end === this.#buf.length) this.#roll(len - off)
      const room = this.#buf.length - this.#end
      const n = len - off < room ? len - off : room
      // Copying is what lets callers keep chunks while the source reuses its read buffer; it is one
      // memcpy per byte, far cheaper than the hashing.
      this.#buf.set(n === len ? data : data.subarray(off, off + n), this.#end)
      this.#end += n
      off += n
      yield * this.#drain()
    }
  }

  /** Ends the stream: returns the last, possibly short, chunk and resets for a new stream. */
  finish (): Uint8Array | undefined {
    const tail = this.#end > this.#start ? this.#buf.subarray(this.#start, this.#end) : undefined
    // Drop the buffer rather than reuse it: the tail and earlier chunks still view it.
    this.#buf = new Uint8Array(0)
    this.#start = 0
    this.#end = 0
    this.#pos = this.#p.min
    this.#fp = 0
    return tail
  }

  /**
   * Moves the pending bytes (< max after every drain) to a fresh buffer. The old one is abandoned,
   * never overwritten, because chunks already returned are views into it.
   * Capacity: at most max + avg/4 (at least 64 KiB of slack), which bounds memory at about max
   * while leaving enough room that pending tails are copied rarely. Below that it grows from what
   * is needed now, doubling, so that a small file does not allocate (and its one chunk pin) a
   * max-sized buffer.
   */
  #roll (incoming: number): void {
    const p = this.#p
    const pending = this.#end - this.#start
    const full = p.max + Math.max(p.avg >>> 2, 65536)
    const want = Math.max(pending + incoming, 2 * this.#buf.length, 4096)
    const next = new Uint8Array(want < full ? want : full)
    if (pending > 0) next.set(this.#buf.subarray(this.#start, this.#end))
    this.#pos -= this.#start
    this.#buf = next
    this.#start = 0
    this.#end = pending
  }

  /** Cuts every chunk whose boundary is decidable from the bytes buffered so far. */
  * #drain (): Generator<Uint8Array, void, undefined> {
    const { min, avg, max, maskS, maskL } = this.#p
    const buf = this.#buf
    const end = this.#end
    let start = this.#start
    let pos = this.#pos
    let fp = this.#fp
    for (;;) {
      if (pos >= end) break
      let cut = -1
      const normalEnd = start + avg
      if (pos < normalEnd) {
        const lim = end < normalEnd ? end : normalEnd
        cut = scan(buf, pos, lim, fp, maskS)
        if (cut < 0) {
          fp = scanFp
          pos = lim
          if (lim === end) break
        }
      }
      if (cut < 0) {
        const maxEnd = start + max
        const lim = end < maxEnd ? end : maxEnd
        cut = scan(buf, pos, lim, fp, maskL)
        if (cut < 0) {
          fp = scanFp
          pos = lim
          if (lim !== maxEnd) break
          cut = maxEnd
        }
      }
      // Save state before yielding: the consumer may stop iterating (or throw) at this point.
      const chunk = buf.subarray(start, cut)
      start = cut
      pos = cut + min
      fp = 0
      this.#start = start
      this.#pos = pos
      this.#fp = fp
      yield chunk
    }
    this.#start = start
    this.#pos = pos
    this.#fp = fp
  }
}

/** Splits a byte stream into chunks; each yielded chunk is a Uint8Array the caller may keep. */
export async function * chunkStream (source: AsyncIterable<Uint8Array>, params?: ChunkingParams): AsyncGenerator<Uint8Array> {
  const chunker = new Chunker(params)
  for await (const data of source) {
    yield * chunker.feed(data)
  }
  const tail = chunker.finish()
  if (tail !== undefined) yield tail
}
