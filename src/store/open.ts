/**
 * Opening stores: the on-disk store in `.mvc/` (LevelDB via `level` + `.mvc/packs/`), and the in-memory
 * store (memory-level + in-memory packs). Handles LevelDB's lock and the format version.
 */
import { Level } from 'level'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { IndexDamagedError, NotARepositoryError, RepositoryLockedError, UnsupportedFormatError, errnoOf, isMvcError } from '../errors.js'
import type { KV, KVOp } from './interface.js'
import { DiskPacks, MemoryPacks, syncDir } from './packs.js'
import { LevelObjectStore, type ReadOnlyMode } from './level-store.js'
import { faultPoint } from './faults.js'
import { TEMP_PACK, ownedTag, sweep } from './leftovers.js'
import { snapshotIndex } from './snapshot.js'
import { META } from '../format/keys.js'

/** The repository format this code reads and writes. Readers refuse any other. */
export const FORMAT_VERSION = 1
/**
 * Formats this code reads: 1, and 2 — format 1 plus versions of several tracked paths (commits with
 * `paths`); a store becomes format 2 when the first such version is committed or fetched into it —
 * and 3: format 2 plus deleted versions whose content gc removed (commits whose content is absent by
 * design, which an older mvc would report as damage and repair away); set by the gc that first does so.
 */
export const READABLE_FORMATS: readonly number[] = [1, 2, 3]
/** The format a store is in once gc removed a deleted version's content. */
export const PURGED_FORMAT = 3
export const FORMAT_KEY = 'format'
export const DB_DIR = 'db'
export const PACKS_DIR = 'packs'

interface LevelLike {
  get (key: string): Promise<Uint8Array | undefined>
  getMany (keys: string[]): Promise<Array<Uint8Array | undefined>>
  batch (ops: Array<{ type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }>, options: { sync?: boolean }): Promise<void>
  iterator (options: { gte: string, lt: string }): AsyncIterable<[string, Uint8Array]>
  compactRange? (start: string, end: string): Promise<void>
  close (): Promise<void>
}

/** Wraps a `level` or `memory-level` database (string keys, Uint8Array values) as a KV. */
export function levelKV (db: LevelLike): KV {
  return {
    get: async key => await db.get(key),
    getMany: async keys => await db.getMany([...keys]),
    batch: async (ops: readonly KVOp[], options) => { await db.batch([...ops], { sync: options.sync }) },
    entries: (prefix: string) => db.iterator({ gte: prefix, lt: prefix + '\uffff' }),
    ...(typeof db.compactRange === 'function' ? { compact: async (prefix: string) => { await db.compactRange!(prefix, prefix + '\uffff') } } : {}),
    close: async () => { await db.close() }
  }
}

const dbOptions = { keyEncoding: 'utf8', valueEncoding: 'view' } as const

function isLocked (err: unknown): boolean {
  const e = err as { code?: string, cause?: { code?: string } } | undefined
  return e?.code === 'LEVEL_LOCKED' || e?.cause?.code === 'LEVEL_LOCKED'
}

export interface OpenOptions {
  /** How long to wait for another process to release the repository, in ms (default 10 000, env MVC_LOCK_TIMEOUT_MS). */
  readonly lockTimeoutMs?: number
  /** Create the store, atomically, when there is none (init, a folder remote's first push, serve --init). */
  readonly create?: boolean
  /** With `create`: the new store's first content, written before it becomes visible. */
  readonly initialize?: (store: LevelObjectStore) => Promise<void>
  /** When the index cannot be opened for writing (read-only file system, no permission, full disk), open a private read-only copy (default true). */
  readonly readOnlyFallback?: boolean
  /**
   * For commands that only read: when another process holds the repository, open a consistent
   * snapshot of its index at once instead of waiting for the lock (store/snapshot.ts). Writes to such
   * a store (but caches) are REPOSITORY_LOCKED.
   */
  readonly reader?: boolean
}

export function defaultLockTimeout (): number {
  const env = Number(process.env.MVC_LOCK_TIMEOUT_MS)
  return Number.isFinite(env) && env >= 0 ? env : 10_000
}

/** What is at a store folder: nothing, a store whose creation never finished (a `db/` with no LevelDB files), or a store. */
export type StoreState = 'absent' | 'half-created' | 'present'

/** LevelDB's own files: any of them means a database was created here (possibly damaged since). */
const LEVELDB_FILE = /^(CURRENT|MANIFEST-\d+|\d+\.(ldb|sst|log))$/

export async function storeState (dir: string): Promise<StoreState> {
  const db = join(dir, DB_DIR)
  const s = await stat(db).catch(() => undefined)
  if (s === undefined || !s.isDirectory()) return 'absent'
  let names: string[]
  try { names = await readdir(db) } catch { return 'present' } // unreadable: let open say why
  return names.some(n => LEVELDB_FILE.test(n)) ? 'present' : 'half-created'
}

type OpenFailure = { kind: 'locked' } | { kind: 'damaged', detail: string } | { kind: 'errno', errno: string }

function classifyOpenError (err: unknown): OpenFailure | undefined {
  if (isMvcError(err)) return undefined // REPOSITORY_LOCKED after the wait: already typed
  if (isLocked(err)) return { kind: 'locked' }
  const errno = errnoOf(err)
  const cause = (err as { cause?: { code?: string, message?: string } } | undefined)?.cause
  const detail = cause?.message ?? (err as Error | undefined)?.message ?? String(err)
  // A missing CURRENT, MANIFEST or table is damage, not an environment problem.
  if (errno === 'ENOENT' || cause?.code === 'LEVEL_CORRUPTION' || /corrupt|does not exist|missing/i.test(detail)) return { kind: 'damaged', detail }
  if (errno !== undefined) return { kind: 'errno', errno }
  if (cause?.code !== undefined && cause.code.startsWith('LEVEL_')) return { kind: 'damaged', detail }
  return undefined
}

function damaged (path: string, detail: string, err: unknown): IndexDamagedError {
  return new IndexDamagedError(
    `the index of the repository at ${path} is damaged and cannot be opened (${detail}). ` +
    'Run `mvc repair` to rebuild it from the pack files and whatever of the index can still be read; it keeps the damaged index aside.',
    { path, detail }, { cause: err })
}

/** Opens LevelDB, waiting a bounded time while another process holds its lock. */
async function openLevel (path: string, create: boolean, timeoutMs: number): Promise<Level<string, Uint8Array>> {
  const deadline = Date.now() + timeoutMs
  let delay = 25
  for (;;) {
    const db = new Level<string, Uint8Array>(path, { ...dbOptions, createIfMissing: create })
    try {
      await db.open()
      return db
    } catch (err) {
      if (!isLocked(err)) throw err
      if (Date.now() >= deadline) {
        throw new RepositoryLockedError(
          `another mvc process is using the repository at ${path} (waited ${timeoutMs} ms for it). ` +
          'Wait for it to finish and run the command again, or raise MVC_LOCK_TIMEOUT_MS.',
          { path, timeoutMs }, { cause: err })
      }
      await sleep(delay)
      delay = Math.min(delay * 2, 250)
    }
  }
}

/** Errors of LevelDB reads and writes, typed: corruption found while reading is INDEX_DAMAGED. */
function typedKV (kv: KV, path: string): KV {
  const wrap = (err: unknown): unknown => {
    const code = (err as { code?: string, cause?: { code?: string } }).code
    const cause = (err as { cause?: { code?: string, message?: string } }).cause
    if (code === 'LEVEL_CORRUPTION' || cause?.code === 'LEVEL_CORRUPTION') return damaged(path, cause?.message ?? (err as Error).message, err)
    return err
  }
  return {
    get: async key => { try { return await kv.get(key) } catch (e) { throw wrap(e) } },
    getMany: async keys => { try { return await kv.getMany(keys) } catch (e) { throw wrap(e) } },
    batch: async (ops, options) => { try { await kv.batch(ops, options) } catch (e) { throw wrap(e) } },
    entries: prefix => ({
      async * [Symbol.asyncIterator] () {
        try { yield * kv.entries(prefix) } catch (e) { throw wrap(e) }
      }
    }),
    ...(kv.compact !== undefined ? { compact: async (prefix: string) => { try { await kv.compact!(prefix) } catch (e) { throw wrap(e) } } } : {}),
    close: async () => { await kv.close() }
  }
}

/** Metadata a read-only store may still write: caches, kept in its private copy and dropped at close. */
function cacheKey (key: string): boolean {
  return key.startsWith('stat/') || key.startsWith('model-cache/') || key.startsWith(META.logIndex)
}

/** Private copies of read-only indexes: `mvc-readonly-<pid>-<12 hex>` in the temporary folder. */
const READONLY_COPY = /^mvc-readonly-(\d+)-([0-9a-f]{12})$/

/**
 * A store whose folder this process cannot write (a read-only file system or mount, a repository of
 * another user, a full disk): LevelDB must write its LOCK and log even to read, so the index is copied
 * to a private temporary folder and opened there; packs are read in place. Every write but caches is
 * refused with READ_ONLY; the copy is removed at close (or, after a crash, by the next such open).
 */
async function openReadOnlyCopy (dir: string, reason: string): Promise<LevelObjectStore> {
  await sweep(tmpdir(), READONLY_COPY, 1, 2)
  const copy = join(tmpdir(), `mvc-readonly-${ownedTag(8)}`)
  await mkdir(copy, { recursive: true })
  try {
    const src = join(dir, DB_DIR)
    for (const name of await readdir(src)) {
      if (!LEVELDB_FILE.test(name)) continue // not LOCK or LOG: LevelDB's own bookkeeping
      await copyFile(join(src, name), join(copy, name))
    }
  } catch (err) {
    await rm(copy, { recursive: true, force: true })
    throw err
  }
  return await openCopy(dir, copy, { reason, allowMeta: cacheKey })
}

/** Opens a private copy of a store's index (removed at close, or on failure) over the store's packs. */
async function openCopy (dir: string, copy: string, mode: ReadOnlyMode): Promise<LevelObjectStore> {
  let db: Level<string, Uint8Array> | undefined
  try {
    db = new Level<string, Uint8Array>(copy, { ...dbOptions, createIfMissing: false })
    try {
      await db.open()
    } catch (err) {
      const f = classifyOpenError(err)
      if (f?.kind === 'damaged') throw damaged(dir, f.detail, err)
      throw err
    }
  } catch (err) {
    await rm(copy, { recursive: true, force: true })
    throw err
  }
  const store = new LevelObjectStore(typedKV(levelKV(db), dir), new DiskPacks(join(dir, PACKS_DIR)), dir, mode)
  store.onClose = async () => { await rm(copy, { recursive: true, force: true }) }
  return store
}

/**
 * A reader's view of a store another process holds: a consistent snapshot of the index (see
 * store/snapshot.ts), or, when none can be taken (a writer flushing without pause), undefined.
 */
async function openReaderSnapshot (dir: string): Promise<LevelObjectStore | undefined> {
  let copy: string
  try {
    copy = await snapshotIndex(dir, join(dir, DB_DIR), tmpdir())
  } catch {
    return undefined
  }
  return await openCopy(dir, copy, { reason: 'another mvc process is writing to it', allowMeta: cacheKey, lockedBy: 'another mvc process is using the repository' })
}

const READ_ONLY_REASON: Readonly<Record<string, string>> = {
  EROFS: 'the file system is read-only',
  EACCES: 'this user may not write to it',
  EPERM: 'this user may not write to it',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exceeded'
}

/** Opens the store in a `.mvc` folder (or a bare store folder). `create` creates one, atomically, when there is none. */
export async function openDiskStore (mvcDir: string, options: OpenOptions = {}): Promise<LevelObjectStore> {
  const create = options.create === true
  const state = await storeState(mvcDir)
  if (state !== 'present') {
    if (create) {
      await createDiskStore(mvcDir, { initialize: options.initialize })
    } else if (state === 'half-created') {
      throw new NotARepositoryError(`${mvcDir} holds a repository whose creation was interrupted (its index folder has no database); ` +
        'run `mvc init` (or, for a folder remote, push to it) to create it again', { path: mvcDir, state })
    } else {
      throw new NotARepositoryError(`${mvcDir} has no object database; run \`mvc init\` first`, { path: mvcDir })
    }
  }
  let db: Level<string, Uint8Array>
  try {
    if (options.reader === true) {
      // A reader does not wait for a writer: it reads a snapshot taken now (or, failing that, waits).
      try {
        db = await openLevel(join(mvcDir, DB_DIR), false, 0)
      } catch (err) {
        if (!(err instanceof RepositoryLockedError)) throw err
        const snap = await openReaderSnapshot(mvcDir)
        if (snap !== undefined) return await checked(snap, false)
        db = await openLevel(join(mvcDir, DB_DIR), false, options.lockTimeoutMs ?? defaultLockTimeout())
      }
    } else {
      db = await openLevel(join(mvcDir, DB_DIR), false, options.lockTimeoutMs ?? defaultLockTimeout())
    }
  } catch (err) {
    const f = classifyOpenError(err)
    if (f?.kind === 'damaged') throw damaged(mvcDir, f.detail, err)
    if (f?.kind === 'errno' && READ_ONLY_REASON[f.errno] !== undefined && options.readOnlyFallback !== false) {
      const store = await openReadOnlyCopy(mvcDir, READ_ONLY_REASON[f.errno]!)
      return await checked(store, false)
    }
    throw err
  }
  const store = new LevelObjectStore(typedKV(levelKV(db), mvcDir), new DiskPacks(join(mvcDir, PACKS_DIR)), mvcDir)
  await checked(store, false)
  // Temporary packs of writers that died on this host (kill -9, power loss) are never used: remove them.
  store.leftoversRemoved.push(...(await sweep(join(mvcDir, PACKS_DIR), TEMP_PACK, 1, 2)).removed)
  store.leftoversRemoved.push(...(await sweep(mvcDir, STORE_STAGING, 1, 2)).removed)
  return store
}

async function checked (store: LevelObjectStore, create: boolean): Promise<LevelObjectStore> {
  try {
    await checkFormat(store, create)
  } catch (err) {
    await store.close()
    throw err
  }
  return store
}

/** Staging folders of stores being created, inside the store folder: `.mvc-init-<pid>-<12 hex>`. */
export const STORE_STAGING = /^\.mvc-init-(\d+)-([0-9a-f]{12})$/

export interface CreateOptions {
  /** Writes the new store's first content (refs, config) before it becomes visible. */
  readonly initialize?: (store: LevelObjectStore) => Promise<void>
}

/**
 * Creates a store at `dir` atomically: the database and packs folder are built and initialised in a
 * staging folder inside `dir` (same file system), closed, and moved into place with `db/` last — the
 * rename of `db/` is the moment the store exists. A crash before it leaves no store (the staging folder
 * is removed by the next create); after it, a complete one. A `db/` left half-created by an older mvc
 * (no LevelDB files) is replaced. Returns false, changing nothing, when a store is already there.
 */
export async function createDiskStore (dir: string, options: CreateOptions = {}): Promise<boolean> {
  await mkdir(dir, { recursive: true })
  await sweep(dir, STORE_STAGING, 1, 2)
  if (await storeState(dir) === 'present') return false
  const staging = join(dir, `.mvc-init-${ownedTag(8)}`)
  await mkdir(join(staging, PACKS_DIR), { recursive: true })
  try {
    const db = await openLevel(join(staging, DB_DIR), true, 0)
    const store = new LevelObjectStore(typedKV(levelKV(db), staging), new DiskPacks(join(staging, PACKS_DIR)), dir)
    try {
      await checkFormat(store, true)
      await options.initialize?.(store)
    } finally {
      await store.close()
    }
    await syncDir(join(staging, DB_DIR))
    await syncDir(staging)
    faultPoint('create.staged')
    if (await stat(join(dir, PACKS_DIR)).catch(() => undefined) === undefined) {
      await rename(join(staging, PACKS_DIR), join(dir, PACKS_DIR))
    }
    const state = await storeState(dir)
    if (state === 'present') return false // created meanwhile by another process
    if (state === 'half-created') await rm(join(dir, DB_DIR), { recursive: true, force: true })
    faultPoint('create.rename')
    try {
      await rename(join(staging, DB_DIR), join(dir, DB_DIR))
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && await storeState(dir) === 'present') return false
      throw err
    }
    await syncDir(dir)
    return true
  } finally {
    await rm(staging, { recursive: true, force: true }).catch(() => {})
  }
}

/** An empty in-memory store, same contract as the disk store. */
export async function openMemoryStore (): Promise<LevelObjectStore> {
  const { MemoryLevel } = await import('memory-level') // loaded only by the commands and tests that use it
  const db = new MemoryLevel<string, Uint8Array>(dbOptions)
  await db.open()
  const store = new LevelObjectStore(levelKV(db), new MemoryPacks(), 'memory')
  await checkFormat(store, true)
  return store
}

async function checkFormat (store: LevelObjectStore, create: boolean): Promise<void> {
  const v = await store.readMeta(FORMAT_KEY)
  if (v === undefined) {
    if (!create) throw new NotARepositoryError(`${store.location} is not an mvc repository (no format version); run \`mvc init\``, { path: store.location })
    const tx = await store.transaction()
    tx.setMeta(FORMAT_KEY, new TextEncoder().encode(String(FORMAT_VERSION)))
    await tx.commit()
    return
  }
  const text = new TextDecoder().decode(v)
  if (!READABLE_FORMATS.map(String).includes(text)) {
    throw new UnsupportedFormatError(
      `the repository at ${store.location} uses format ${text}, but this mvc reads only formats ${READABLE_FORMATS.join(' and ')}. ` +
      'Use a version of mvc that supports it.', { found: text, supported: READABLE_FORMATS })
  }
}
