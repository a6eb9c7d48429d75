/**
 * Runs the ObjectStore conformance suite against the on-disk store (LevelDB + pack files) and the
 * in-memory store (memory-level + in-memory packs).
 */
import { mkdtemp, rm, open } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { openDiskStore, openMemoryStore } from '../src/store/open.js'
import type { LevelObjectStore } from '../src/store/level-store.js'
import { MemoryPacks } from '../src/store/packs.js'
import { storeSuite, type StoreFixture } from './store-suite.js'

/** Flips a byte of an inline object by rewriting its index entry through the KV. */
async function corruptInline (store: LevelObjectStore, cid: CID): Promise<void> {
  const key = 'o/' + cid.toString()
  const v = await store.kv.get(key)
  if (v === undefined) throw new Error('no such object')
  const copy = v.slice()
  copy[copy.length - 1] ^= 0xff
  await store.kv.batch([{ type: 'put', key, value: copy }], { sync: true })
}

storeSuite('disk (LevelDB + packs)', async (): Promise<StoreFixture> => {
  const dir = await mkdtemp(join(tmpdir(), 'mvc-store-'))
  let store = await openDiskStore(dir, { create: true })
  return {
    get store () { return store },
    corrupt: async (cid) => {
      const loc = await store.locate(cid)
      if (loc === 'inline') return await corruptInline(store, cid)
      if (loc === undefined) throw new Error('no such object')
      const fh = await open(store.packs.describe(loc.pack), 'r+')
      try {
        const b = new Uint8Array(1)
        const at = loc.offset + Math.floor(loc.length / 2)
        await fh.read(b, 0, 1, at)
        b[0] = b[0]! ^ 0x01
        await fh.write(b, 0, 1, at)
      } finally { await fh.close() }
    },
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
    corrupt: async (cid) => {
      const loc = await store.locate(cid)
      if (loc === 'inline') return await corruptInline(store, cid)
      if (loc === undefined) throw new Error('no such object')
      const pack = (store.packs as MemoryPacks).packs.get(loc.pack)!
      pack[loc.offset + Math.floor(loc.length / 2)] ^= 0x01
    },
    destroy: async () => { await store.close() }
  }
})
