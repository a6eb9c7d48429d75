/**
 * Folder remotes: a bare mvc store in a folder on this machine or a mounted file system (`<dir>/db`,
 * `<dir>/packs`: the layout of `.mvc/` without a working folder), or the `.mvc/` of a repository.
 * `FolderRemote` is a `StoreRemote` (store.ts) over the store opened there; while open it holds
 * LevelDB's lock, and after `close()` its next operation opens the store again.
 */
import { stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { NotARepositoryError, RemoteError, isMvcError } from '../errors.js'
import type { LevelObjectStore } from '../store/level-store.js'
import { openDiskStore, DB_DIR } from '../store/open.js'
import { MVC_DIR } from '../format/paths.js'
import { DEFAULT_BRANCH, HEAD, branchRef, symbolicRef } from '../format/keys.js'
import { StoreRemote, type StoreRemoteOptions } from './store.js'

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

async function setDefaultHead (store: LevelObjectStore): Promise<void> {
  const tx = await store.transaction()
  tx.setRef({ name: HEAD, value: symbolicRef(branchRef(DEFAULT_BRANCH)), expect: null })
  await tx.commit()
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
    // A new store is created atomically with its HEAD (store/open.ts, createDiskStore).
    store = await openDiskStore(storeDir, { create: created || options.create === true, initialize: setDefaultHead, lockTimeoutMs: options.lockTimeoutMs })
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
