/**
 * The in-memory remote: a `StoreRemote` over the in-memory store (memory-level + in-memory packs). It
 * runs the whole remote conformance suite (test/remote-memory.test.ts) except what needs another
 * process to reach it, and serves tests and embedders that want a remote without a folder or a server.
 * It lives as long as the object: `close()` discards it.
 *
 *   const remote = await MemoryRemote.create()
 *   await repo.push({ transport: remote })
 */
import { randomBytes } from 'node:crypto'
import type { LevelObjectStore } from '../store/level-store.js'
import { openMemoryStore } from '../store/open.js'
import { DEFAULT_BRANCH, HEAD, branchRef, symbolicRef } from '../format/keys.js'
import { StoreRemote, type StoreRemoteOptions } from './store.js'

export class MemoryRemote extends StoreRemote {
  private constructor (store: LevelObjectStore, url: string, options: StoreRemoteOptions) {
    super(store, url, options)
  }

  /** A new, empty in-memory remote whose HEAD names `main` (like a folder remote made by a push). */
  static async create (options: StoreRemoteOptions & { readonly url?: string } = {}): Promise<MemoryRemote> {
    const store = await openMemoryStore()
    const tx = await store.transaction()
    tx.setRef({ name: HEAD, value: symbolicRef(branchRef(DEFAULT_BRANCH)), expect: null })
    await tx.commit()
    return new MemoryRemote(store, options.url ?? `memory://${randomBytes(6).toString('hex')}`, options)
  }
}
