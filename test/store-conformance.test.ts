/**
 * Runs the ObjectStore conformance suite against the on-disk store (LevelDB + pack files) and the
 * in-memory store (memory-level + in-memory packs).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDiskStore, openMemoryStore } from '../src/store/open.js'
import { corruptStoredObject, storeSuite, type StoreFixture } from './store-suite.js'

storeSuite('disk (LevelDB + packs)', async (): Promise<StoreFixture> => {
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
    destroy: async () => {
      await store.close().catch(() => {})
      await rm(dir, { recursive: true, force: true })
    }
  }
})

storeSuite('memory (memory-level + in-memory packs)', async (): Promise<StoreFixture> => {
  const store = await openMemoryStore()
  return {
    store,
    corrupt: async (cid) => { await corruptStoredObject(store, cid) },
    destroy: async () => { await store.close() }
  }
})
