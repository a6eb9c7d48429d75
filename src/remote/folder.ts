/**
 * Remotes backed by an mvc object store: `StoreRemote` adapts any `LevelObjectStore` (the in-memory
 * store in tests, a bare store on disk) to the `Remote` contract, and `openFolderRemote` opens a folder
 * holding a bare store (`<dir>/db`, `<dir>/packs`: the layout of `.mvc/` without a working folder).
 *
 * Puts are verified (re-hashed) before anything is staged, then staged in one store transaction that
 * is committed every `flushBytes` (default 64 MiB), on `flush()`, before any ref moves and on `close()`.
 * A commit seals a pack and writes one synced LevelDB batch, so batching makes a push of many small
 * objects cost a few fsyncs instead of one per object. Staged objects count as present for `hasMany`
 * and `get` (a staged object is committed before it is read). Senders put objects bottom-up, so every
 * committed state of the store is closed under links (invariant I1, docs/design.md) even when a
 * transfer stops half-way.
 */
import { stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { CID } from 'multiformats/cid'
import { DAG_CBOR, RAW, verifyBlock } from '../content/block.js'
import { InvalidArgumentError, NotARepositoryError, RemoteError, isMvcError } from '../errors.js'
import type { LevelObjectStore } from '../store/level-store.js'
import type { Transaction } from '../store/interface.js'
import { openDiskStore, DB_DIR } from '../store/open.js'
import { MVC_DIR } from '../format/paths.js'
import { DEFAULT_BRANCH, HEAD, branchRef, refNameProblem, symbolicRef } from '../format/keys.js'
import type { Remote, RemoteRef } from './interface.js'

/** Default size of a batch of puts committed as one transaction. */
export const FLUSH_BYTES = 64 << 20

/** Serialises async critical sections. */
class Mutex {
  private tail: Promise<void> = Promise.resolve()
  async run<T> (fn: () => Promise<T>): Promise<T> {
    const prev = this.tail
    let release!: () => void
    this.tail = new Promise<void>(resolve => { release = resolve })
    await prev
    try { return await fn() } finally { release() }
  }
}

/** Names a remote accepts in `casRef`: the one rule of src/format/keys.ts. */
export function checkRefName (name: string): void {
  const problem = refNameProblem(name)
  if (problem !== undefined) throw new InvalidArgumentError(`invalid ref name ${JSON.stringify(name)}: ${problem}`, { name })
}

export interface StoreRemoteOptions {
  /** Commit staged puts once this many bytes are staged (default 64 MiB). */
  readonly flushBytes?: number
  /** Close the store when the remote is closed (default true). */
  readonly ownsStore?: boolean
}

/** A `Remote` over an object store. Also the adapter tests use to make an in-memory store a remote. */
export class StoreRemote implements Remote {
  private tx: Transaction | undefined
  private readonly staged = new Set<string>()
  private readonly mutex = new Mutex()
  private readonly flushBytes: number

  constructor (private storeRef: LevelObjectStore | undefined, readonly url: string, private readonly options: StoreRemoteOptions = {}) {
    this.flushBytes = options.flushBytes ?? FLUSH_BYTES
  }

  /** The underlying store (tests use it to damage objects). Reopens a closed folder remote. */
  async store (): Promise<LevelObjectStore> {
    if (this.storeRef === undefined) this.storeRef = await this.reopen()
    return this.storeRef
  }

  /** Reopens the store after `close()`; only folder remotes can. */
  protected async reopen (): Promise<LevelObjectStore> {
    throw new RemoteError(`the remote ${this.url} is closed`, { url: this.url })
  }

  async hasMany (cids: readonly CID[]): Promise<boolean[]> {
    const store = await this.store()
    const found = await store.kv.getMany(cids.map(c => 'o/' + c.toString()))
    return cids.map((c, i) => found[i] !== undefined || this.staged.has(c.toString()))
  }

  async get (cid: CID): Promise<Uint8Array> {
    if (this.staged.has(cid.toString())) await this.flush()
    // The store re-hashes what it reads: CORRUPT_OBJECT names the CID and the pack it came from.
    return await (await this.store()).get(cid)
  }

  async put (cid: CID, bytes: Uint8Array): Promise<void> {
    // Verified before anything is staged: wrong bytes are rejected (CORRUPT_OBJECT), never stored.
    verifyBlock(cid, bytes, `an object sent to ${this.url}`)
    await this.mutex.run(async () => {
      const key = cid.toString()
      if (this.staged.has(key)) return
      const store = await this.store()
      if (this.tx === undefined) this.tx = await store.transaction()
      try {
        if (cid.code === RAW) await this.tx.putRaw(cid, bytes)
        else if (cid.code === DAG_CBOR) await this.tx.putObject(cid, bytes)
        this.staged.add(key)
      } catch (err) {
        await this.abortStaged()
        throw err
      }
      if (this.tx.stagedBytes >= this.flushBytes) await this.commitStaged()
    })
  }

  async flush (): Promise<void> {
    await this.mutex.run(async () => { await this.commitStaged() })
  }

  private async commitStaged (): Promise<void> {
    const tx = this.tx
    if (tx === undefined) return
    this.tx = undefined
    try {
      await tx.commit()
    } finally {
      this.staged.clear()
    }
  }

  private async abortStaged (): Promise<void> {
    const tx = this.tx
    this.tx = undefined
    this.staged.clear()
    await tx?.abort()
  }

  async listRefs (prefix: string): Promise<RemoteRef[]> {
    const refs = await (await this.store()).listRefs(prefix)
    return refs.map(([name, value]) => ({ name, value }))
  }

  async casRef (name: string, expect: string | null, value: string | null): Promise<void> {
    checkRefName(name)
    await this.mutex.run(async () => {
      await this.commitStaged()
      const store = await this.store()
      if (value !== null && name !== HEAD) {
        // A ref moves only to an object whose closure is here (objects are put bottom-up).
        let cid: CID
        try { cid = CID.parse(value) } catch {
          throw new InvalidArgumentError(`ref ${name}: ${JSON.stringify(value)} is not a CID`, { name, value })
        }
        if (!(await store.has(cid))) {
          throw new RemoteError(`refusing to set ${name} on ${this.url} to ${value}: the remote does not have that object`, { url: this.url, name, value })
        }
      }
      const tx = await store.transaction()
      tx.setRef({ name, value, expect })
      await tx.commit() // RefConflictError when the ref moved
    })
  }

  async close (): Promise<void> {
    await this.mutex.run(async () => {
      try {
        await this.commitStaged()
      } finally {
        const s = this.storeRef
        this.storeRef = undefined
        if (s !== undefined && this.options.ownsStore !== false) await s.close()
      }
    })
  }
}

/** Where the store of a folder remote is: `<dir>` itself (bare), or `<dir>/.mvc` of a repository with a working folder. */
export async function folderStoreDir (dir: string): Promise<string | undefined> {
  const isDir = async (p: string): Promise<boolean> => (await stat(p).catch(() => undefined))?.isDirectory() === true
  if (await isDir(join(dir, DB_DIR))) return dir
  if (await isDir(join(dir, MVC_DIR, DB_DIR))) return join(dir, MVC_DIR)
  return undefined
}

/** A remote in a folder on this machine (or a mounted file system). */
export class FolderRemote extends StoreRemote {
  constructor (store: LevelObjectStore, readonly dir: string, private readonly storeDir: string, options: StoreRemoteOptions = {}) {
    super(store, dir, options)
  }

  /** Folder remotes hold LevelDB's lock while open; after `close()` the next call opens the store again. */
  protected override async reopen (): Promise<LevelObjectStore> {
    return await openDiskStore(this.storeDir)
  }
}

export interface OpenFolderOptions extends StoreRemoteOptions {
  /** Create a bare store when the folder holds none (push, clone --bare); otherwise REMOTE_ERROR. */
  readonly create?: boolean
  readonly lockTimeoutMs?: number
}

/**
 * Opens the folder remote at `dir`: a bare store (`db/`, `packs/`) or a repository (`.mvc/`). With
 * `create`, a missing or empty folder becomes a bare store whose HEAD names `main`.
 */
export async function openFolderRemote (dir: string, options: OpenFolderOptions = {}): Promise<FolderRemote> {
  const abs = resolve(dir)
  let storeDir = await folderStoreDir(abs)
  let created = false
  if (storeDir === undefined) {
    if (options.create !== true) {
      throw new RemoteError(`no mvc repository at ${abs} (a folder remote holds a bare store: db/ and packs/); push to it first, or check the URL`, { url: abs })
    }
    storeDir = abs
    created = true
  }
  let store: LevelObjectStore
  try {
    store = await openDiskStore(storeDir, { create: created, lockTimeoutMs: options.lockTimeoutMs })
  } catch (err) {
    if (isMvcError(err) && err instanceof NotARepositoryError) {
      throw new RemoteError(`${abs} is not an mvc repository: ${err.message}`, { url: abs }, { cause: err })
    }
    throw err
  }
  if (created && (await store.readRef(HEAD)) === undefined) {
    const tx = await store.transaction()
    tx.setRef({ name: HEAD, value: symbolicRef(branchRef(DEFAULT_BRANCH)), expect: null })
    await tx.commit()
  }
  return new FolderRemote(store, abs, storeDir, options)
}
