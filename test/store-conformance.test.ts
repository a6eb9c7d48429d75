/**
 * Runs the ObjectStore conformance suite against the on-disk store (LevelDB + pack files) and the
 * in-memory store (memory-level + in-memory packs), each declaring what it supports.
 */
import { test } from 'node:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDiskStore, openMemoryStore } from '../src/store/open.js'
import { corruptStoredObject, suite, type StoreFixture } from './store-suite.js'

suite({
  name: 'disk (LevelDB + packs)',
  test,
  supports: { persistence: true, locking: true, corruption: true },
  factory: async (): Promise<StoreFixture> => {
    const dir = await mkdtemp(join(tmpdir(), 'mvc-store-'))
    let store = await openDiskStore(dir, { create: true })
    return {
      get store () { return store },
      corrupt: async (cid) => { await corruptStoredObject(store, cid) },
      reopen: async () => {
        await store.close()
        store = await openDiskStore(dir)
        return store
      },
      openAgain: async (lockTimeoutMs) => await openDiskStore(dir, { lockTimeoutMs }),
      destroy: async () => {
        await store.close().catch(() => {})
        await rm(dir, { recursive: true, force: true })
      }
    }
  }
})

suite({
  name: 'memory (memory-level + in-memory packs)',
  test,
  supports: { persistence: false, locking: false, corruption: true },
  factory: async (): Promise<StoreFixture> => {
    const store = await openMemoryStore()
    return {
      store,
      corrupt: async (cid) => { await corruptStoredObject(store, cid) },
      destroy: async () => { await store.close() }
    }
  }
})
