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
import { readCommit } from '../objects.js'
import { combineParts, versionFiles } from '../version.js'
import type { ModelLayout } from '../../formats/interface.js'
import type { WalkedFile } from '../walk.js'
import type { ObjectWriter } from '../../store/interface.js'
import { resolveRev } from '../refs.js'
import { requireContent } from '../lifecycle.js'
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

/**
 * A commit as a side: its files as one manifest — a single path's as it is, or (`prefixed`, or a
 * version of several paths) combined under the paths; `only` narrows to some tracked paths.
 */
export async function commitSide (repo: Repo, rev: string, options: { only?: readonly string[], prefixed?: boolean } = {}): Promise<Side> {
  const cid = await resolveRev(repo.store, rev)
  await requireContent(repo.store, cid, rev)
  const commit = await readCommit(repo.store, cid)
  const files = await versionFiles(repo.store, commit, options)
  const objects = storeReader(repo.store)
  const label = files.parts.map(p => p.path).join(', ')
  return {
    endpoint: { rev, cid, version: commit.version, path: label, manifest: files.parts.length === 1 ? files.parts[0]!.cid : null, worktree: false, exists: true },
    manifest: files.manifest,
    objects,
    tensors: storeTensorSource(repo.store, objects),
    commit
  }
}

/**
 * The two sides of a diff, named alike: versions of several paths (after narrowing to `only`) are
 * compared under their paths, and so is a single path against several; a single path against a single
 * path is compared as it is. `b` absent: the working folder at a's paths.
 */
export async function diffSides (repo: Repo, a: string, b: string | undefined, only?: readonly string[]): Promise<{ a: Side, b: Side, prefixed: boolean }> {
  const count = async (rev: string): Promise<number> => (await readCommit(repo.store, await resolveRev(repo.store, rev))).paths.filter(p => only === undefined || only.includes(p.path)).length
  const countA = await count(a)
  const countB = b === undefined ? countA : await count(b)
  const prefixed = countA > 1 || countB > 1
  const sideA = await commitSide(repo, a, { ...(only !== undefined ? { only } : {}), prefixed })
  const trackedA = sideA.commit!.paths.map(p => p.path).filter(p => only === undefined || only.includes(p))
  const sideB = b === undefined ? await worktreeSide(repo, trackedA, prefixed) : await commitSide(repo, b, { ...(only !== undefined ? { only } : {}), prefixed })
  return { a: sideA, b: sideB, prefixed }
}

/**
 * A model's name in the combined view of a version (`model/model.json`, or `classifier.keras` for a
 * tracked file), from the name one side gives it: under its path already when the side is `prefixed`,
 * else relative to the side's single path `part`.
 */
export function fullName (name: string, prefixed: boolean, part: { readonly path: string, readonly kind: 'dir' | 'file' }): string {
  if (prefixed) return name
  return part.kind === 'file' ? part.path : `${part.path}/${name}`
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

/** One path of the working folder, snapshotted without storing chunks. */
async function snapshotPath (repo: Repo, rel: string): Promise<{ manifest: Manifest, cid: CID, objects: Map<string, Uint8Array>, files: Map<string, WalkedFile>, layouts: Map<string, ModelLayout> } | undefined> {
  const abs = join(repo.root, rel)
  if (rel === '.' || (await lstat(abs).catch(() => undefined)) === undefined) return undefined
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
  return {
    manifest: snap.manifest.value,
    cid: snap.manifest.cid,
    objects: sink.objects,
    files: new Map(tree.files.map(f => [f.rel, f])),
    layouts: new Map([...snap.models].map(([p, m]) => [p, m.layout]))
  }
}

/** A layout whose tensor spans name files under `prefix` (for a combined view of several paths). */
function underPrefix (layout: ModelLayout, prefix: (p: string) => string): ModelLayout {
  return { ...layout, tensors: layout.tensors.map(t => ({ ...t, spans: t.spans.map(sp => ({ ...sp, file: prefix(sp.file) })) })) }
}

/** The working folder at some tracked paths as a side (combined under the paths when `prefixed`). */
export async function worktreeSide (repo: Repo, rels: readonly string[], prefixed = rels.length !== 1): Promise<Side> {
  const label = rels.join(', ')
  const parts: Array<{ rel: string, snap: NonNullable<Awaited<ReturnType<typeof snapshotPath>>> }> = []
  for (const rel of rels) {
    const snap = await snapshotPath(repo, rel)
    if (snap !== undefined) parts.push({ rel, snap })
  }
  const stored = storeReader(repo.store)
  if (parts.length === 0) {
    return {
      endpoint: { rev: null, cid: null, version: null, path: label, manifest: null, worktree: true, exists: false },
      manifest: EMPTY_MANIFEST,
      objects: stored,
      tensors: storeTensorSource(repo.store),
      commit: null
    }
  }
  const captured = new Map<string, Uint8Array>()
  for (const p of parts) for (const [k, v] of p.snap.objects) captured.set(k, v)
  const objects: ObjectReader = {
    get: async cid => {
      const bytes = captured.get(cid.toString())
      return bytes === undefined ? await stored.get(cid) : decodeObject(cid, bytes, `working folder object ${cid.toString()}`)
    }
  }
  const files = new Map<string, WalkedFile>()
  const layouts = new Map<string, ModelLayout>()
  for (const p of parts) {
    const name = (x: string): string => !prefixed ? x : p.snap.manifest.kind === 'file' ? p.rel : `${p.rel}/${x}`
    for (const [k, f] of p.snap.files) files.set(name(k), f)
    for (const [k, l] of p.snap.layouts) layouts.set(name(k), prefixed ? underPrefix(l, name) : l)
  }
  const manifest = !prefixed && parts.length === 1 ? parts[0]!.snap.manifest : combineParts(parts.map(p => ({ path: p.rel, manifest: p.snap.manifest })))
  return {
    endpoint: { rev: null, cid: null, version: null, path: label, manifest: parts.length === 1 ? parts[0]!.snap.cid : null, worktree: true, exists: true },
    manifest,
    objects,
    tensors: new WorktreeTensorSource(files, layouts, objects),
    commit: null
  }
}
