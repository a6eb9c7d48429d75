/**
 * The two sides of a diff: a commit (objects from the store), or the working folder at a commit's path
 * (snapshotted without storing chunks; its small objects are kept in memory).
 */
import { lstat } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { decodeObject } from '../../content/block.js'
import type { CommitObject, Manifest } from '../../format/objects.js'
import type { Repo } from '../repo.js'
import { readCommit, readManifest } from '../objects.js'
import type { ObjectWriter } from '../../store/interface.js'
import { resolveRev } from '../refs.js'
import { snapshot, walk } from '../snapshot.js'
import { StatCache } from '../statcache.js'
import { WorktreeTensorSource, storeReader, storeTensorSource, type ObjectReader, type TensorSource } from './sources.js'
import type { DiffEndpoint } from './types.js'

// ---------------------------------------------------------------------------------------------------
// sides

export interface Side {
  readonly endpoint: DiffEndpoint
  readonly manifest: Manifest
  readonly objects: ObjectReader
  readonly tensors: TensorSource
  readonly commit: CommitObject | null
}

const EMPTY_MANIFEST: Manifest = { type: 'mvc/manifest', kind: 'dir', entries: [], dirs: [], models: [] }

export async function commitSide (repo: Repo, rev: string): Promise<Side> {
  const cid = await resolveRev(repo.store, rev)
  const commit = await readCommit(repo.store, cid)
  const manifest = await readManifest(repo.store, commit.model)
  const objects = storeReader(repo.store)
  return {
    endpoint: { rev, cid, version: commit.version, path: commit.path, manifest: commit.model, worktree: false, exists: true },
    manifest,
    objects,
    tensors: storeTensorSource(repo.store, objects),
    commit
  }
}

/** A sink that stores no chunk (like DRY_RUN) but keeps the structured objects, which are small. */
class CaptureSink implements ObjectWriter {
  readonly objects = new Map<string, Uint8Array>()
  async putRaw (): Promise<boolean> { return true }
  async putObject (cid: CID, bytes: Uint8Array): Promise<boolean> {
    this.objects.set(cid.toString(), bytes)
    return true
  }
}

export async function worktreeSide (repo: Repo, rel: string): Promise<Side> {
  const abs = join(repo.root, rel)
  const none = (): Side => ({
    endpoint: { rev: null, cid: null, version: null, path: rel, manifest: null, worktree: true, exists: false },
    manifest: EMPTY_MANIFEST,
    objects: storeReader(repo.store),
    tensors: storeTensorSource(repo.store),
    commit: null
  })
  if (rel === '.' || (await lstat(abs).catch(() => undefined)) === undefined) return none()
  const tree = await walk(abs, { repoRoot: repo.root })
  const cache = StatCache.for(repo.store, rel)
  let sink = new CaptureSink()
  let snap = await snapshot({ store: repo.store, sink, abs, cache, requireStored: false, formats: repo.formats }, tree)
  // The model cache may answer with a model an earlier dry run computed but never stored: then there is
  // nothing to read its tensors from, so hash the folder again without the cache.
  for (const m of snap.manifest.value.models) {
    if (!sink.objects.has(m.model.toString()) && !(await repo.store.has(m.model))) {
      sink = new CaptureSink()
      snap = await snapshot({ store: repo.store, sink, abs, requireStored: false, formats: repo.formats }, tree)
      break
    }
  }
  if (cache.pending > 0) {
    const tx = await repo.store.transaction()
    cache.flush(tx)
    await tx.commit()
  }
  const captured = sink.objects
  const stored = storeReader(repo.store)
  const objects: ObjectReader = {
    get: async cid => {
      const bytes = captured.get(cid.toString())
      return bytes === undefined ? await stored.get(cid) : decodeObject(cid, bytes, `working folder object ${cid.toString()}`)
    }
  }
  const files = new Map(tree.files.map(f => [f.rel, f]))
  const layouts = new Map([...snap.models].map(([p, m]) => [p, m.layout]))
  return {
    endpoint: { rev: null, cid: null, version: null, path: rel, manifest: snap.manifest.cid, worktree: true, exists: true },
    manifest: snap.manifest.value,
    objects,
    tensors: new WorktreeTensorSource(files, layouts, objects),
    commit: null
  }
}
