/**
 * The remote conformance suite (test/remote-suite.ts) against the folder remote: a bare store in a
 * temporary folder, reached by its path. Objects are damaged on disk for the corruption test.
 */
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { openFolderRemote } from '../src/remote/folder.js'
import { removeDir, tmpdir } from './helpers.js'
import { remoteSuite, type RemoteFixture } from './remote-suite.js'
import { corruptStoredObject } from './store-suite.js'

remoteSuite({
  name: 'folder',
  supports: { corruption: true, auth: false, processes: true },
  reasons: { auth: 'a folder remote is guarded by file permissions, not credentials' },
  factory
})

async function factory (): Promise<RemoteFixture> {
  const dir = await tmpdir('mvc-folder-remote-')
  const path = join(dir, 'remote.mvc')
  const remote = await openFolderRemote(path, { create: true })
  return {
    remote,
    url: path,
    corrupt: async (cid: CID) => {
      await remote.flush()
      await corruptStoredObject(await remote.store(), cid)
    },
    destroy: async () => {
      await remote.close()
      await removeDir(dir)
    }
  }

}
