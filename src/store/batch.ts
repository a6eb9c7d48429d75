/**
 * `BatchWriter`: the one place where objects arriving one by one (a fetch receiving from a remote, a
 * folder or in-memory remote receiving a push, the HTTP server receiving PUTs) are verified and stored
 * in batches. One store transaction (a sealed pack and one synced LevelDB batch) per batch instead of
 * per object makes storing many small objects cost a few fsyncs.
 *
 *   const writer = new BatchWriter(store, { source: 'the remote http://…' })
 *   await writer.put(cid, bytes)   // re-hashed (CORRUPT_OBJECT naming `source`), then staged
 *   await writer.flush()           // commits what is staged
 *
 * Contract:
 * - Every put is verified against its CID before anything is staged; wrong bytes are never stored.
 * - Puts are staged in one transaction, committed once `flushBytes` are staged, on `flush()`, before
 *   `flushed(fn)` runs `fn` (callers move refs there) and on `close()`.
 * - Staged objects count as present for `has`/`hasMany`, and `get` commits a staged object before reading it.
 * - With `durable`, a put resolves only once the transaction holding it has committed (group commit:
 *   puts that arrive while one batch commits are committed together in the next), so an acknowledged
 *   object is durable and visible. Without it, a put resolves once staged.
 * - A failure while staging aborts the batch (every object staged in it is dropped, and durable puts
 *   waiting for it fail); senders put objects bottom-up and re-run what is missing, so every committed
 *   state stays closed under links (invariant I1, docs/design.md).
 */
import type { CID } from 'multiformats/cid'
import { RAW, verifyBlock } from '../content/block.js'
import { Mutex } from './async.js'
import type { ObjectStore, Transaction } from './interface.js'

/** Default size of a batch, in staged bytes. */
export const FLUSH_BYTES = 64 << 20

export interface BatchWriterOptions {
  /** Where the bytes come from, named in CORRUPT_OBJECT errors ("the remote http://…"). */
  readonly source: string
  /** Commit once this many bytes are staged (default 64 MiB). */
  readonly flushBytes?: number
  /** Resolve each put only once it is committed (group commit). Default false. */
  readonly durable?: boolean
}

interface Batch {
  readonly tx: Transaction
  /** CIDs staged in this batch. */
  readonly keys: Set<string>
  /** Settles when the batch is committed (or fails when it is aborted). */
  readonly done: Promise<void>
  readonly settle: (err?: unknown) => void
}

export class BatchWriter {
  private batch: Batch | undefined
  private readonly mutex = new Mutex()
  private readonly source: string
  private readonly flushBytes: number
  private readonly durable: boolean

  constructor (readonly store: ObjectStore, options: BatchWriterOptions) {
    this.source = options.source
    this.flushBytes = options.flushBytes ?? FLUSH_BYTES
    this.durable = options.durable === true
  }

  /** Stored or staged. */
  async has (cid: CID): Promise<boolean> {
    return (await this.hasMany([cid]))[0]!
  }

  /** Stored or staged, for each CID (order kept). */
  async hasMany (cids: readonly CID[]): Promise<boolean[]> {
    const found = await this.store.hasMany(cids)
    const staged = this.batch?.keys
    return staged === undefined || staged.size === 0 ? found : found.map((f, i) => f || staged.has(cids[i]!.toString()))
  }

  /** Verified bytes; a staged object is committed first. */
  async get (cid: CID): Promise<Uint8Array> {
    if (this.batch?.keys.has(cid.toString()) === true) await this.flush()
    return await this.store.get(cid)
  }

  /**
   * Verifies and stages one object (raw chunk or dag-cbor object, by its CID's codec). Returns true when
   * it was new: neither stored nor staged before.
   */
  async put (cid: CID, bytes: Uint8Array): Promise<boolean> {
    // Bytes that don't match their CID are rejected here, named, and never stored.
    verifyBlock(cid, bytes, this.source)
    if (this.batch?.keys.has(cid.toString()) !== true && await this.store.has(cid)) return false
    const { isNew, batch } = await this.mutex.run(async () => await this.stage(cid, bytes))
    if (this.durable && batch !== undefined) {
      await this.mutex.run(async () => { if (this.batch === batch) await this.commit() })
      await batch.done
    }
    return isNew
  }

  /** Commits what is staged. */
  async flush (): Promise<void> {
    await this.mutex.run(async () => { await this.commit() })
  }

  /** Commits what is staged, then runs `fn` while no put can stage: the place to move refs. */
  async flushed<T> (fn: () => Promise<T>): Promise<T> {
    return await this.mutex.run(async () => {
      await this.commit()
      return await fn()
    })
  }

  /**
   * Commits what is staged, then runs `finalize` (whether or not the commit succeeded) while no put can
   * stage: owners close their store there.
   */
  async close (finalize?: () => Promise<void>): Promise<void> {
    await this.mutex.run(async () => {
      try { await this.commit() } finally { await finalize?.() }
    })
  }

  // Called holding the mutex.
  private async stage (cid: CID, bytes: Uint8Array): Promise<{ isNew: boolean, batch: Batch | undefined }> {
    const key = cid.toString()
    if (this.batch === undefined) {
      const tx = await this.store.transaction()
      let settle!: (err?: unknown) => void
      const done = new Promise<void>((resolve, reject) => { settle = err => { if (err === undefined) resolve(); else reject(err) } })
      done.catch(() => {}) // only durable puts wait for it; they see the error
      this.batch = { tx, keys: new Set(), done, settle }
    }
    const batch = this.batch
    if (batch.keys.has(key)) return { isNew: false, batch }
    let isNew: boolean
    try {
      isNew = cid.code === RAW ? await batch.tx.putRaw(cid, bytes) : await batch.tx.putObject(cid, bytes)
    } catch (err) {
      this.batch = undefined
      await batch.tx.abort().catch(() => {})
      batch.settle(err)
      throw err
    }
    // Not new: stored already (committed since the check in put) — nothing to wait for.
    if (!isNew) return { isNew, batch: undefined }
    batch.keys.add(key)
    if (batch.tx.stagedBytes >= this.flushBytes) await this.commit()
    return { isNew, batch }
  }

  // Called holding the mutex.
  private async commit (): Promise<void> {
    const batch = this.batch
    if (batch === undefined) return
    this.batch = undefined
    try {
      await batch.tx.commit()
    } catch (err) {
      batch.settle(err)
      throw err
    }
    batch.settle()
  }
}
