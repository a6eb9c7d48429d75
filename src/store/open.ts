/**
 * Opening stores: the on-disk store in `.mvc/` (LevelDB via `level` + `.mvc/packs/`), and the in-memory
 * store (memory-level + in-memory packs). Handles LevelDB's lock and the format version.
 */
import { Level } from 'level'
import { join } from 'node:path'
import { mkdir, stat } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { NotARepositoryError, RepositoryLockedError, UnsupportedFormatError } from '../errors.js'
import type { KV, KVOp } from './interface.js'
import { DiskPacks, MemoryPacks } from './packs.js'
import { LevelObjectStore } from './level-store.js'

/** The repository format this code reads and writes. Readers refuse any other. */
export const FORMAT_VERSION = 1
export const FORMAT_KEY = 'format'
export const DB_DIR = 'db'
export const PACKS_DIR = 'packs'

interface LevelLike {
  get (key: string): Promise<Uint8Array | undefined>
  getMany (keys: string[]): Promise<Array<Uint8Array | undefined>>
  batch (ops: Array<{ type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }>, options: { sync?: boolean }): Promise<void>
  iterator (options: { gte: string, lt: string }): AsyncIterable<[string, Uint8Array]>
  close (): Promise<void>
}

/** Wraps a `level` or `memory-level` database (string keys, Uint8Array values) as a KV. */
export function levelKV (db: LevelLike): KV {
  return {
    get: async key => await db.get(key),
    getMany: async keys => await db.getMany([...keys]),
    batch: async (ops: readonly KVOp[], options) => { await db.batch([...ops], { sync: options.sync }) },
    entries: (prefix: string) => db.iterator({ gte: prefix, lt: prefix + '\uffff' }),
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
  /** Create the database if missing (init only). */
  readonly create?: boolean
}

export function defaultLockTimeout (): number {
  const env = Number(process.env.MVC_LOCK_TIMEOUT_MS)
  return Number.isFinite(env) && env >= 0 ? env : 10_000
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

/** Opens the store inside a `.mvc` folder. `create` initialises an empty one. */
export async function openDiskStore (mvcDir: string, options: OpenOptions = {}): Promise<LevelObjectStore> {
  const create = options.create === true
  if (!create) {
    const s = await stat(join(mvcDir, DB_DIR)).catch(() => undefined)
    if (s === undefined || !s.isDirectory()) {
      throw new NotARepositoryError(`${mvcDir} has no object database; run \`mvc init\` first`, { path: mvcDir })
    }
  } else {
    await mkdir(join(mvcDir, PACKS_DIR), { recursive: true })
  }
  const db = await openLevel(join(mvcDir, DB_DIR), create, options.lockTimeoutMs ?? defaultLockTimeout())
  const store = new LevelObjectStore(levelKV(db), new DiskPacks(join(mvcDir, PACKS_DIR)), mvcDir)
  try {
    await checkFormat(store, create)
  } catch (err) {
    await store.close()
    throw err
  }
  return store
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
  if (text !== String(FORMAT_VERSION)) {
    throw new UnsupportedFormatError(
      `the repository at ${store.location} uses format ${text}, but this mvc reads only format ${FORMAT_VERSION}. ` +
      'Use a version of mvc that supports it.', { found: text, supported: FORMAT_VERSION })
  }
}
