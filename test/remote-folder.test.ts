/**
 * The remote conformance suite (test/remote-suite.ts) against the folder remote: a bare store in a
 * temporary folder, reached by its path. Objects are damaged on disk for the corruption test.
 */
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { openFolderRemote } from '../src/remote/folder.js'
import { removeDir, tmpdir } from './helpers.js'
import { remoteSuite, type RemoteFixture } from './remote-suite.js'

remoteSuite('folder', async (): Promise<RemoteFixture> => {
  const dir = await tmpdir('mvc-folder-remote-')
  const path = join(dir, 'remote.mvc')
  const remote = await openFolderRemote(path, { create: true })
  return {
    remote,
    url: path,
    corrupt: async (cid: CID) => {
      await remote.flush()
      const store = await remote.store()
      const loc = await store.locate(cid)
      if (loc === undefined) throw new Error(`the remote has no ${cid.toString()}`)
      if (loc === 'inline') {
        const key = 'o/' + cid.toString()
        const v = (await store.kv.get(key))!.slice()
        v[v.length - 1] ^= 0xff
        await store.kv.batch([{ type: 'put', key, value: v }], { sync: true })
        return
      }
      const fh = await open(store.packs.describe(loc.pack), 'r+')
      try {
        const b = new Uint8Array(1)
        const at = loc.offset + Math.floor(loc.length / 2)
        await fh.read(b, 0, 1, at)
        b[0] = b[0]! ^ 0x01
        await fh.write(b, 0, 1, at)
      } finally { await fh.close() }
    },
    destroy: async () => {
      await remote.close()
      await removeDir(dir)
    }
  }
})
