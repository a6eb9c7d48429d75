/**
 * Object storage.
 *
 * Glossary:
 * - object: an IPLD block named by its CID. Raw chunks (codec raw) live in packs; structured objects
 *   (codec dag-cbor) live inline in the index.
 * - pack: an append-only file of raw chunks, sealed (fsync + rename) before it is referenced.
 * - index: LevelDB keys `o/<cid>` saying where each object is.
 * - ref: a name (`HEAD`, `refs/heads/main`, `refs/tags/v3`) whose value is a CID or `ref: <name>`.
 * - meta: other LevelDB keys (`m/…`): format version, counters, config, caches.
 * - transaction: staged writes made visible by one atomic, synced batch.
 * - reader / writer: `ObjectReader` (has, get) and `ObjectWriter` (putRaw, putObject), the two halves
 *   that stores, transactions and the dry-run writer implement.
 * - batch writer: verifies objects arriving one by one and commits them in batches (batch.ts).
 */
export type { ObjectReader, ObjectWriter, ObjectStore, Transaction, RefUpdate, KV, KVOp, PackFiles, PackWriter, PackLocation } from './interface.js'
export { BatchWriter, FLUSH_BYTES } from './batch.js'
export type { BatchWriterOptions } from './batch.js'
export { pool, Mutex, ByteBudget } from './async.js'
export type { PoolBudget } from './async.js'
export { LevelObjectStore, PACK_TARGET_SIZE } from './level-store.js'
export { DiskPacks, MemoryPacks, PACK_MAGIC, PACK_END_MAGIC } from './packs.js'
export { openDiskStore, openMemoryStore, levelKV, FORMAT_VERSION, FORMAT_KEY, DB_DIR, PACKS_DIR, defaultLockTimeout } from './open.js'
