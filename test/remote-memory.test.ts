/**
 * The remote conformance suite (test/remote-suite.ts) against the in-memory remote (`MemoryRemote`, a
 * `StoreRemote` over the in-memory store). It declares that no other process can reach it, so the CLI
 * test is reported as skipped with that reason; objects are damaged in its in-memory packs.
 */
import type { CID } from 'multiformats/cid'
import { MemoryRemote } from '../src/remote/memory.js'
import { remoteSuite, type RemoteFixture } from './remote-suite.js'
import { corruptStoredObject } from './store-suite.js'

remoteSuite({
  name: 'memory',
  supports: { corruption: true, auth: false, processes: false },
  reasons: {
    auth: 'an in-memory remote is reached only by the code holding it',
    processes: 'it lives inside this process; a child process cannot reach it by URL'
  },
  factory: async (): Promise<RemoteFixture> => {
    const remote = await MemoryRemote.create()
    return {
      remote,
      url: remote.url,
      corrupt: async (cid: CID) => {
        await remote.flush()
        await corruptStoredObject(await remote.store(), cid)
      },
      destroy: async () => { await remote.close() }
    }
  }
})
