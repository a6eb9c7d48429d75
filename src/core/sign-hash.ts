/**
 * Whole-file SHA-256 digests on a second core. mvc stores files as chunks named by their own hashes, so
 * a file's SHA-256 (what OpenSSF model signing lists) must be computed from its bytes; the main thread
 * already re-hashes every chunk it reads from the store, so the file digests are computed in a worker
 * thread that gets the bytes as they are read (bounded: at most `maxInFlight` bytes queued), and for
 * files on disk the worker reads the file itself.
 */
import { Worker } from 'node:worker_threads'

const WORKER = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const { createReadStream } = require('node:fs')
const hashes = new Map()
parentPort.on('message', m => {
  if (m.op === 'update') {
    let h = hashes.get(m.id)
    if (h === undefined) { h = createHash('sha256'); hashes.set(m.id, h) }
    h.update(m.bytes)
    parentPort.postMessage({ op: 'ack', bytes: m.bytes.byteLength })
  } else if (m.op === 'digest') {
    const h = hashes.get(m.id) ?? createHash('sha256')
    hashes.delete(m.id)
    parentPort.postMessage({ op: 'digest', id: m.id, hex: h.digest('hex') })
  } else if (m.op === 'file') {
    const h = createHash('sha256')
    let size = 0
    createReadStream(m.path, { highWaterMark: 1 << 20 })
      .on('data', b => { h.update(b); size += b.length })
      .on('error', e => parentPort.postMessage({ op: 'digest', id: m.id, error: e.message }))
      .on('end', () => parentPort.postMessage({ op: 'digest', id: m.id, hex: h.digest('hex'), size }))
  }
})
`

interface Pending { resolve: (r: { hex: string, size: number }) => void, reject: (e: Error) => void }

/** A pool of hashing workers. Close it when done. */
export class HashWorkers {
  private readonly workers: Worker[]
  private readonly pending = new Map<number, Pending>()
  private inFlight = 0
  private waiters: Array<() => void> = []
  private nextId = 1
  private next = 0
  private failed: Error | undefined

  constructor (count = 1, private readonly maxInFlight = 64 << 20) {
    this.workers = Array.from({ length: Math.max(1, count) }, () => {
      const w = new Worker(WORKER, { eval: true })
      w.on('message', (m: { op: string, id?: number, hex?: string, size?: number, bytes?: number, error?: string }) => {
        if (m.op === 'ack') {
          this.inFlight -= m.bytes ?? 0
          if (this.inFlight < this.maxInFlight) { const ws = this.waiters; this.waiters = []; ws.forEach(f => f()) }
          return
        }
        const p = this.pending.get(m.id!)
        if (p === undefined) return
        this.pending.delete(m.id!)
        if (m.error !== undefined) p.reject(new Error(m.error))
        else p.resolve({ hex: m.hex!, size: m.size ?? 0 })
      })
      w.on('error', e => { this.failed = e; for (const p of this.pending.values()) p.reject(e); this.pending.clear() })
      return w
    })
  }

  /** A streaming digest on one worker: `update` bytes (copied), then `digest`. */
  stream (): { update: (bytes: Uint8Array) => Promise<void>, digest: () => Promise<string> } {
    const id = this.nextId++
    const w = this.workers[this.next++ % this.workers.length]!
    return {
      update: async (bytes: Uint8Array) => {
        if (this.failed !== undefined) throw this.failed
        while (this.inFlight >= this.maxInFlight) await new Promise<void>(resolve => this.waiters.push(resolve))
        this.inFlight += bytes.byteLength
        w.postMessage({ op: 'update', id, bytes })
      },
      digest: async () => await new Promise<string>((resolve, reject) => {
        this.pending.set(id, { resolve: r => resolve(r.hex), reject })
        w.postMessage({ op: 'digest', id })
      })
    }
  }

  /** SHA-256 of a file on disk, read and hashed by a worker. */
  async file (path: string): Promise<{ hex: string, size: number }> {
    const id = this.nextId++
    const w = this.workers[this.next++ % this.workers.length]!
    return await new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      w.postMessage({ op: 'file', id, path })
    })
  }

  async close (): Promise<void> {
    await Promise.all(this.workers.map(async w => await w.terminate()))
  }
}
