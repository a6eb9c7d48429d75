/**
 * The storage contracts (docs/architecture.md, "Storage vocabulary"):
 *
 * - `ObjectReader` (`has`, `get`): verified reads by CID. A store implements it.
 * - `ObjectWriter` (`putRaw`, `putObject`): where new objects go. A `Transaction` implements it, and so
 *   does the dry-run writer of the core (which stores nothing and only lets CIDs be computed).
 * - `ObjectStore`: an `ObjectReader` with refs, metadata and `Transaction`s. The on-disk store (LevelDB +
 *   pack files) and the in-memory store (memory-level + in-memory packs) implement it and run one
 *   conformance suite (test/store-suite.ts).
 * - `Transaction`: an `ObjectWriter` whose writes, refs and metadata become visible together.
 *
 * `KV` and `PackFiles` below are not object interfaces: they are the two seams of `LevelObjectStore`
 * (the ordered key-value database and the pack files), so one store implementation serves disk and
 * memory. Batching puts into transactions is `BatchWriter` (batch.ts); remotes are src/remote/.
 */
import type { CID } from 'multiformats/cid'

/** Verified reads by CID. */
export interface ObjectReader {
  /** True when the object is stored. */
  has (cid: CID): Promise<boolean>
  /** Verified bytes of an object. ObjectNotFoundError when absent, CorruptObjectError when bytes don't match. */
  get (cid: CID): Promise<Uint8Array>
}

/** Where new objects go. Both return true when the object is new (neither stored nor already put). */
export interface ObjectWriter {
  /** A raw chunk (codec raw); TypeError for another codec. */
  putRaw (cid: CID, bytes: Uint8Array): Promise<boolean>
  /** A structured object (codec dag-cbor); TypeError for another codec. */
  putObject (cid: CID, bytes: Uint8Array): Promise<boolean>
  /**
   * Optional: `putRaw` for several chunks at once, in order (one index look-up for the batch, the
   * writes issued together); the same result as calling putRaw for each in turn. The bytes may be
   * reused by the caller once this resolves.
   */
  putRawMany? (chunks: ReadonlyArray<{ readonly cid: CID, readonly bytes: Uint8Array }>): Promise<boolean[]>
}

// ---------------------------------------------------------------------- seams of LevelObjectStore

/** Minimal ordered key-value contract over LevelDB (level) or memory-level. Keys are UTF-8 strings. */
export interface KV {
  get (key: string): Promise<Uint8Array | undefined>
  getMany (keys: readonly string[]): Promise<Array<Uint8Array | undefined>>
  /** Applies every operation or none; with `sync` the batch is on disk when the promise resolves. */
  batch (ops: readonly KVOp[], options: { sync: boolean }): Promise<void>
  /** Entries whose key starts with `prefix`, in key order. */
  entries (prefix: string): AsyncIterable<[string, Uint8Array]>
  /** Optional: compacts the keys under `prefix` so deleted entries free their space now (LevelDB's compactRange). */
  compact? (prefix: string): Promise<void>
  close (): Promise<void>
}
export type KVOp = { readonly type: 'put', readonly key: string, readonly value: Uint8Array } | { readonly type: 'del', readonly key: string }

/** Where a raw chunk lives inside the pack files. */
export interface PackLocation { readonly pack: string, readonly offset: number, readonly length: number }

/** Append-only pack files holding raw chunks. */
export interface PackFiles {
  /** Starts a new (temporary, invisible) pack. */
  create (): Promise<PackWriter>
  /** Reads `length` bytes at `offset` of a sealed pack. Missing pack or short read → ObjectNotFoundError. */
  read (loc: PackLocation): Promise<Uint8Array>
  /** Optional: `read` into the caller's buffer (`into.length >= loc.length`); returns the bytes read, a view of `into`. */
  readInto? (loc: PackLocation, into: Uint8Array): Promise<Uint8Array>
  /** Names of sealed packs. */
  list (): Promise<string[]>
  /** Human-readable location of a pack, for error messages. */
  describe (pack: string): string
  /** Deletes a sealed pack nothing refers to (a transaction that failed before its batch, gc). */
  remove? (pack: string): Promise<void>
  /** Optional: a sealed pack's size in bytes and when it was sealed (ms; gc's age of its chunks). */
  stat? (pack: string): Promise<{ size: number, mtimeMs: number }>
  close (): Promise<void>
}
export interface PackWriter {
  /** Appends one entry; returns where its data will be once the pack is sealed. */
  append (cid: CID, bytes: Uint8Array): Promise<{ offset: number, length: number }>
  readonly size: number
  readonly count: number
  /** Writes the trailer, flushes to stable storage and makes the pack visible under its final name. */
  seal (): Promise<string>
  /** Deletes the temporary pack. */
  discard (): Promise<void>
}

/** A reference update checked at commit time: the ref must currently equal `expect` (null = absent). */
export interface RefUpdate { readonly name: string, readonly value: string | null, readonly expect?: string | null }

// ---------------------------------------------------------------------------------- the store

/**
 * An object store: objects by CID, refs, metadata, and transactions. `has` and `hasMany` count committed
 * objects only (staged objects of open transactions don't count).
 */
export interface ObjectStore extends ObjectReader {
  /** `has` for many CIDs at once (order kept). */
  hasMany (cids: readonly CID[]): Promise<boolean[]>
  /** Every stored CID (for fsck, gc and remotes). */
  cids (): AsyncIterable<CID>
  /** Value of a ref (`HEAD`, `refs/heads/main`, …), or undefined. */
  readRef (name: string): Promise<string | undefined>
  /** Refs whose name starts with `prefix`, sorted by name. */
  listRefs (prefix: string): Promise<Array<[string, string]>>
  readMeta (key: string): Promise<Uint8Array | undefined>
  listMeta (prefix: string): Promise<Array<[string, Uint8Array]>>
  /**
   * Optional: `get` through the caller's memory and hashing (checkout's pipeline hashes on other
   * threads). `alloc(n)` gives a buffer of n bytes to read a chunk into; `check` must re-hash the bytes
   * against the CID and throw CorruptObjectError when they differ, and returns them (possibly through a
   * new view of the same memory). Like `get`, it never returns bytes that were not checked.
   */
  getChecked? (cid: CID, alloc: (length: number) => Uint8Array, check: (cid: CID, bytes: Uint8Array, source: string) => Promise<Uint8Array>): Promise<Uint8Array>
  /** Opens a write transaction. Transactions of one store run one at a time, in order. */
  transaction (): Promise<Transaction>
  close (): Promise<void>
}

/**
 * Staged writes, made visible together by `commit()`: raw chunks are appended to a temporary pack
 * which is sealed (fsync, rename) first; then one LevelDB batch with `sync: true` adds the pack index
 * entries, structured objects, metadata and ref updates. A crash before the batch leaves only an
 * unreferenced pack file, which fsck reports and gc deletes.
 */
export interface Transaction extends ObjectWriter {
  // putRaw stages a raw chunk (pack), putObject a dag-cbor object (inline in LevelDB); duplicate puts
  // (stored or staged) are skipped and return false.
  /** True if stored or staged in this transaction. */
  has (cid: CID): Promise<boolean>
  setRef (update: RefUpdate): void
  setMeta (key: string, value: Uint8Array | null): void
  /** Bytes of new objects staged so far. */
  readonly stagedBytes: number
  readonly stagedObjects: number
  /** Checks ref expectations (RefConflictError) and applies everything atomically. */
  commit (): Promise<void>
  abort (): Promise<void>
}
