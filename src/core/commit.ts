/**
 * Committing a path: snapshot → commit object → branch, version and baseline refs, all staged in one
 * transaction so the repository moves from one valid state to the next in a single synced batch.
 */
import type { CID } from 'multiformats/cid'
import { relative, resolve, sep } from 'node:path'
import { InvalidArgumentError, UsageError } from '../errors.js'
import type { Author, CommitObject, Manifest } from '../format/objects.js'
import { MVC_DIR, isWithin } from '../format/paths.js'
import type { Repo } from './repo.js'
import { headBranch, headCommit, nextVersion, setNextVersion, VERSIONS } from './refs.js'
import { readCommit, writeObject } from './objects.js'
import { snapshot, walk, type SnapshotStats } from './snapshot.js'
import { StatCache } from './statcache.js'
import type { Transaction } from '../store/interface.js'
import { META, utf8, worktreeKey } from '../format/keys.js'


/** Lineage fields a commit may carry (filled by later layers: data, code, params, …). */
export interface Lineage {
  readonly data?: unknown
  readonly code?: unknown
  readonly params?: Readonly<Record<string, unknown>>
  readonly metrics?: Readonly<Record<string, unknown>>
  readonly environment?: unknown
  readonly verification?: unknown
}

export interface CommitOptions {
  readonly repo: Repo
  /** Absolute path to commit; undefined = the last committed path. */
  readonly path?: string
  readonly message: string
  readonly author: Author
  readonly timestamp: number
  readonly allowEmpty?: boolean
  readonly lineage?: Lineage
  readonly onFile?: (rel: string, size: number) => void
  /** Computes the verification record once the snapshot is staged (objects go to the same transaction). */
  readonly verify?: (ctx: { tx: Transaction, manifest: Manifest, abs: string, modelFormats: ReadonlyMap<string, string> }) => Promise<unknown>
  /**
   * Computes lineage once the snapshot and verification are staged and a commit will be made (objects it
   * keeps, like a data manifest, go to the same transaction). Its defined fields override `lineage`'s.
   */
  readonly recordLineage?: (ctx: { tx: Transaction, manifest: Manifest, abs: string, verification: unknown }) => Promise<Lineage>
}

export interface CommitResult {
  readonly committed: boolean
  readonly cid?: CID
  readonly version?: number
  readonly parent?: CID
  /** Repository-relative path that was committed. */
  readonly path: string
  readonly manifest: CID
  readonly stats: SnapshotStats
  /** Objects and bytes added to the store. */
  readonly newObjects: number
  readonly newBytes: number
  /** The verification record stored in the commit (null when none). */
  readonly verification?: unknown
}

/** Repository-relative POSIX form of an absolute path inside the repository. */
export function repoRelative (root: string, abs: string): string {
  const rel = relative(root, abs)
  if (rel === '') return '.'
  if (!isWithin(root, abs)) {
    throw new InvalidArgumentError(`${abs} is outside the repository at ${root}; mvc commits paths inside the folder that holds .mvc`, { path: abs, root })
  }
  const posix = rel.split(sep).join('/')
  if (posix.split('/')[0] === MVC_DIR) throw new InvalidArgumentError('cannot commit the .mvc folder itself', { path: abs })
  return posix
}

export async function lastPath (repo: Repo): Promise<string | undefined> {
  const v = await repo.store.readMeta(META.lastPath)
  return v === undefined ? undefined : utf8.decode(v)
}

/** The commit the working copy at a path was last committed from or checked out to. */
export async function worktreeBase (repo: Repo, rel: string): Promise<string | undefined> {
  const v = await repo.store.readMeta(worktreeKey(rel))
  return v === undefined ? undefined : utf8.decode(v)
}

export function setWorktreeBase (tx: Transaction, rel: string, commit: CID): void {
  tx.setMeta(worktreeKey(rel), utf8.encode(commit.toString()))
}

export async function resolveCommitPath (repo: Repo, path: string | undefined): Promise<{ abs: string, rel: string }> {
  if (path !== undefined) {
    const abs = resolve(path)
    return { abs, rel: repoRelative(repo.root, abs) }
  }
  const last = await lastPath(repo)
  if (last === undefined) throw new UsageError('no path given and nothing has been committed yet: run `mvc commit <path> -m <message>`', {})
  return { abs: resolve(repo.root, last), rel: last }
}

export async function commitPath (options: CommitOptions): Promise<CommitResult> {
  const { repo } = options
  const { abs, rel } = await resolveCommitPath(repo, options.path)
  if (rel === '.') {
    throw new InvalidArgumentError('committing the repository root itself is not supported: checkout could not swap a folder that holds .mvc. Put the model in a sub-folder (e.g. `model/`) and commit that.', { path: abs })
  }
  const tree = await walk(abs)
  const store = repo.store
  const branch = await headBranch(store)
  const parent = await headCommit(store)
  const tx = await store.transaction()
  try {
    const cache = StatCache.for(store, rel)
    const snap = await snapshot({ store, sink: tx, abs, cache, requireStored: true, onFile: options.onFile }, tree)
    const manifest = snap.manifest.cid
    const base = { path: rel, manifest, stats: snap.stats }
    if (parent !== undefined && options.allowEmpty !== true) {
      const p = await readCommit(store, parent)
      if (p.model.equals(manifest) && p.path === rel) {
        cache.flush(tx)
        tx.setMeta(META.lastPath, utf8.encode(rel))
        await tx.commit()
        return { committed: false, ...base, parent, newObjects: 0, newBytes: 0 }
      }
    }
    const version = await nextVersion(store)
    const given = options.lineage ?? {}
    const verification = options.verify !== undefined
      ? await options.verify({ tx, manifest: snap.manifest.value, abs, modelFormats: snap.modelFormats })
      : given.verification ?? null
    const recorded = options.recordLineage !== undefined ? await options.recordLineage({ tx, manifest: snap.manifest.value, abs, verification }) : {}
    const l: Lineage = { ...given, ...Object.fromEntries(Object.entries(recorded).filter(([, v]) => v !== undefined)) }
    const commit = await writeObject<CommitObject>(tx, {
      type: 'mvc/commit',
      version,
      parents: parent === undefined ? [] : [parent],
      model: manifest,
      path: rel,
      message: options.message,
      author: options.author,
      timestamp: options.timestamp,
      data: l.data ?? null,
      code: l.code ?? null,
      params: l.params ?? {},
      metrics: l.metrics ?? {},
      environment: l.environment ?? null,
      verification
    })
    const newObjects = tx.stagedObjects
    const newBytes = tx.stagedBytes
    cache.flush(tx)
    tx.setRef({ name: branch, value: commit.cid.toString(), expect: parent?.toString() ?? null })
    tx.setRef({ name: VERSIONS + String(version), value: commit.cid.toString(), expect: null })
    setNextVersion(tx, version + 1)
    tx.setMeta(META.lastPath, utf8.encode(rel))
    setWorktreeBase(tx, rel, commit.cid)
    await tx.commit()
    return { committed: true, cid: commit.cid, version, parent, ...base, newObjects, newBytes, verification }
  } catch (err) {
    await tx.abort()
    throw err
  }
}
