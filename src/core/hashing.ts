/**
 * Hashing off the main thread, for the bulk paths (commit, checkout): a small pool of worker threads
 * computing SHA-256 (`HASH_ALGORITHM` of content/block.ts, which still decides what a CID is) of
 * buffers lent to them by transfer — no copy — and handed back with the digest.
 *
 * - The pool starts lazily: the first `INLINE_BYTES` are hashed on the calling thread, so a small commit
 *   or a fine-tune (a few MiB) pays no thread start-up; bulk work then moves to `threads` workers.
 * - A buffer given to `hash` is detached while a worker holds it: use the `bytes` returned instead
 *   (same memory, new view). Buffers come from a `BufferPool` so they are reused, not re-allocated
 *   (a fresh 1 MiB array per chunk made garbage collection a fifth of commit and checkout time).
 * - Workers are unref'd: an open pool never keeps the process alive; `close` ends them.
 *
 * Environment: MVC_HASH_THREADS=n (0 hashes everything on the main thread).
 */
import { Worker } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { createHash } from 'node:crypto'
import { HASH_ALGORITHM } from '../content/block.js'

/** Bytes hashed inline before the workers are started. */
export const INLINE_BYTES = 48 << 20

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
parentPort.on('message', m => {
  let digest = null
  let error = null
  try {
    digest = new Uint8Array(createHash(m.alg).update(new Uint8Array(m.buf, m.off, m.len)).digest())
  } catch (err) {
    error = String(err && err.message || err)
  }
  parentPort.postMessage({ id: m.id, buf: m.buf, digest, error }, [m.buf])
})
`

interface Pending { resolve: (r: Hashed) => void, reject: (e: Error) => void, off: number, len: number }
interface Slot { worker: Worker, busy: number }

export interface Hashed {
  /** SHA-256 of the bytes. */
  readonly digest: Uint8Array
  /** The bytes hashed: the same memory as the input, through a new view when it travelled to a worker. */
  readonly bytes: Uint8Array
}

export interface HasherOptions {
  /** Worker threads (default: MVC_HASH_THREADS, else the cores available, at most 4). */
  readonly threads?: number
  /** Bytes hashed on the calling thread before workers start (default INLINE_BYTES). */
  readonly inlineBytes?: number
}

/** A lazily started pool of SHA-256 worker threads. */
export class Hasher {
  private slots: Slot[] | undefined
  private readonly pending = new Map<number, Pending>()
  private nextId = 0
  private inlineLeft: number
  private readonly threads: number
  private closed = false

  constructor (options: HasherOptions = {}) {
    const env = process.env.MVC_HASH_THREADS
    const fromEnv = env !== undefined && /^\d+$/.test(env) ? Number(env) : undefined
    this.threads = Math.max(0, Math.min(8, options.threads ?? fromEnv ?? Math.min(4, availableParallelism())))
    this.inlineLeft = options.inlineBytes ?? INLINE_BYTES
  }

  /**
   * SHA-256 of `bytes`. With `lend`, the caller owns the whole ArrayBuffer under `bytes` (a BufferPool
   * buffer) and touches it through no other view until this resolves: it may travel to a worker and
   * come back through the returned `bytes`. Without, the bytes are hashed on this thread.
   */
  async hash (bytes: Uint8Array, lend = false): Promise<Hashed> {
    if (this.closed) throw new TypeError('hasher closed')
    if (!lend || this.threads === 0 || this.inlineLeft > 0 || bytes.byteLength < 4096 || !(bytes.buffer instanceof ArrayBuffer)) {
      this.inlineLeft -= bytes.byteLength
      return { digest: digestOf(bytes), bytes }
    }
    const slots = this.slots ?? this.start()
    let slot = slots[0]!
    for (const s of slots) if (s.busy < slot.busy) slot = s
    slot.busy++
    const id = this.nextId++
    const off = bytes.byteOffset
    const len = bytes.byteLength
    return await new Promise<Hashed>((resolve, reject) => {
      this.pending.set(id, {
        resolve: r => { slot.busy--; resolve(r) },
        reject: e => { slot.busy--; reject(e) },
        off,
        len
      })
      slot.worker.postMessage({ id, buf: bytes.buffer, off, len, alg: HASH_ALGORITHM }, [bytes.buffer as ArrayBuffer])
    })
  }

  private start (): Slot[] {
    this.slots = []
    for (let i = 0; i < this.threads; i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true })
      worker.unref()
      worker.on('message', (m: { id: number, buf: ArrayBuffer, digest: Uint8Array | null, error: string | null }) => {
        const p = this.pending.get(m.id)
        if (p === undefined) return
        this.pending.delete(m.id)
        if (m.digest === null) p.reject(new Error(`hashing thread failed: ${m.error ?? 'unknown error'}`))
        else p.resolve({ digest: m.digest, bytes: new Uint8Array(m.buf, p.off, p.len) })
      })
      worker.on('error', err => { this.failAll(err) })
      this.slots.push({ worker, busy: 0 })
    }
    return this.slots
  }

  private failAll (err: Error): void {
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
  }

  /** Ends the workers (pending hashes are rejected). */
  async close (): Promise<void> {
    this.closed = true
    const slots = this.slots ?? []
    this.slots = undefined
    this.failAll(new Error('hasher closed'))
    await Promise.all(slots.map(async s => await s.worker.terminate()))
  }
}

function digestOf (bytes: Uint8Array): Uint8Array {
  const d = createHash(HASH_ALGORITHM).update(bytes).digest()
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
}

/**
 * Reusable byte buffers, each its own ArrayBuffer (so it can be lent to a hashing thread), in
 * power-of-two size classes. `take(n)` returns a view of exactly n bytes; `give` returns it.
 */
export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>()
  /** Buffers handed out and not yet given back, and the bytes they hold: bounded by the callers' windows. */
  out = 0

  take (n: number): Uint8Array {
    const size = sizeClass(n)
    const list = this.free.get(size)
    const ab = list?.pop() ?? new ArrayBuffer(size)
    this.out++
    return new Uint8Array(ab, 0, n)
  }

  give (bytes: Uint8Array): void {
    this.out--
    const ab = bytes.buffer
    if (!(ab instanceof ArrayBuffer) || ab.byteLength === 0 || ab.byteLength !== sizeClass(ab.byteLength)) return
    const list = this.free.get(ab.byteLength) ?? []
    if (list.length < 64) list.push(ab)
    this.free.set(ab.byteLength, list)
  }
}

function sizeClass (n: number): number {
  let s = 4096
  while (s < n) s *= 2
  return s
}
