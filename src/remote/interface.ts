/**
 * The remote contract. A remote is another object store reached over some transport: a folder holding
 * a bare mvc store, an in-memory store, an `mvc serve` HTTP server, or an S3 bucket. Transfers
 * (src/core/transfer.ts) only ever talk to this interface, and one conformance suite
 * (test/remote-suite.ts) runs against every implementation. Wrappers implement it too: `RetryingRemote`
 * (retry.ts) retries another remote's transient failures.
 *
 * Rules every implementation follows:
 * - Objects are immutable and named by CID. `put` of an object that exists is a no-op.
 * - Bytes are verified by the receiver: `put` implementations on the remote side re-hash before storing
 *   (the HTTP server does, S3 can't, so the S3 client re-hashes on `get`); `get` callers re-hash too.
 * - Refs move only by compare-and-swap (`casRef`), and a push moves a ref only after every object
 *   reachable from the new value is on the remote.
 * - Remotes that can keep closures themselves (store remotes, `mvc serve` from protocol feature
 *   `complete-has` on) say so with `keepsClosures()`: their `hasMany` is true only for objects whose
 *   whole closure is stored, and their `casRef` refuses a value whose closure is incomplete. For the
 *   others (S3, older servers) `hasMany` means "stored", and the pushing client checks closures itself
 *   (docs/design.md, "Complete objects").
 */
import type { CID } from 'multiformats/cid'

export interface RemoteRef { readonly name: string, readonly value: string }

export interface Remote {
  /** Human-readable location for messages (URL or path). */
  readonly url: string
  /** For each CID, whether the remote has it (batched; order preserved). */
  hasMany (cids: readonly CID[]): Promise<boolean[]>
  /** The object's bytes, verified against the CID (CorruptObjectError naming the CID and the remote otherwise; ObjectNotFoundError when absent). */
  get (cid: CID): Promise<Uint8Array>
  /** Stores an object. The implementation or the server re-hashes it; wrong bytes are rejected, never stored. */
  put (cid: CID, bytes: Uint8Array): Promise<void>
  /** Refs under a prefix (e.g. 'refs/'), sorted by name. */
  listRefs (prefix: string): Promise<RemoteRef[]>
  /** Sets `name` to `value` (null deletes) iff it currently equals `expect` (null = absent). RefConflictError otherwise. */
  casRef (name: string, expect: string | null, value: string | null): Promise<void>
  /**
   * Optional: makes every `put` that resolved so far durable. Implementations that batch puts (the
   * store remotes — folder, in-memory — stage them in one store transaction, committed every few MiB) need a point where
   * the batch is committed; transfers call it before moving refs and when a transfer fails, so a re-run
   * sends only what is still missing. Write-through implementations (HTTP, S3) may omit it.
   */
  flush? (): Promise<void>
  /**
   * Optional: true when `hasMany` answers for complete closures (not mere presence) and `casRef` refuses
   * a ref to an object whose closure is incomplete. Absent or false: the client must not prune its walk
   * at an object only because the remote has it.
   */
  keepsClosures? (): Promise<boolean>
  /**
   * Optional (remote gc, docs/design.md "gc of remotes"): runs gc on the remote's own store and returns
   * its report (`mvc serve` with a write token). The grace periods are as `mvc gc` takes them.
   */
  collectGarbage? (request: RemoteGcRequest): Promise<unknown>
  /** Optional (remote gc of a remote that cannot run it itself: S3): every stored object, its size and when it was stored (ms). */
  listObjects? (): AsyncIterable<StoredObject>
  /** Optional (with `listObjects`): deletes stored objects; an absent one is not an error. */
  deleteObjects? (cids: readonly CID[]): Promise<void>
  close (): Promise<void>
}

/** What `collectGarbage` is asked to do. */
export interface RemoteGcRequest { readonly dryRun?: boolean, readonly prune?: string, readonly pruneUnreferenced?: string }

/** An object as a remote stores it. */
export interface StoredObject { readonly cid: CID, readonly size: number, readonly storedAt: number }
