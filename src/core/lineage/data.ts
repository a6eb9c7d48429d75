/**
 * Data lineage: the training data a model was made from, hashed with the same scheme as models
 * (chunks → `mvc/file` → `mvc/manifest`) but never stored. Only the manifest object goes into the
 * repository, so that diff can list which data files changed; chunks and file objects are computed
 * through the DRY_RUN sink and dropped. A stat cache scoped to the data path makes re-hashing an
 * unchanged dataset cost one `lstat` (and one index read) per file.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path'
import type { Block } from '../../content/block.js'
import { InvalidArgumentError } from '../../errors.js'
import type { DataLineage } from '../../format/lineage.js'
import type { Manifest } from '../../format/objects.js'
import type { ObjectStore, Transaction } from '../../store/interface.js'
import { DRY_RUN } from '../objects.js'
import { snapshot, type SnapshotStats } from '../snapshot.js'
import { StatCache } from '../statcache.js'

export interface HashDataOptions {
  readonly store: ObjectStore
  /** The data folder or file (resolved against the current folder when relative). */
  readonly path: string
  /** Repository root: a data path inside it is recorded relative to it, others absolutely. */
  readonly root?: string
  /** Stat cache key scope (default `data:<absolute path>`). */
  readonly scope?: string
}

export interface HashedData {
  readonly lineage: DataLineage & { readonly kind: 'snapshot' }
  /** The manifest block: the one object to store with the commit. */
  readonly manifest: Block<Manifest>
  readonly stats: SnapshotStats
  /** Stat cache updates, to flush into the commit transaction. */
  readonly cache: StatCache
}

/** How the data path is recorded: repository-relative POSIX inside the repository, else absolute. */
export function recordedDataPath (abs: string, root: string | undefined): string {
  if (root === undefined) return abs
  const rel = relative(root, abs)
  if (rel === '') return '.'
  if (rel.startsWith('..') || isAbsolute(rel)) return abs
  return rel.split(sep).join('/')
}

/** Hashes a data folder or file without storing its contents. Plain files only: TF.js models in it are not recognised. */
export async function hashData (options: HashDataOptions): Promise<HashedData> {
  const abs = resolve(options.path)
  const cache = StatCache.for(options.store, options.scope ?? `data:${abs}`)
  const snap = await snapshot({ store: options.store, sink: DRY_RUN, abs, cache, requireStored: false, detectModels: false })
  return {
    lineage: { kind: 'snapshot', manifest: snap.manifest.cid, path: recordedDataPath(abs, options.root), files: snap.stats.files, bytes: snap.stats.bytes },
    manifest: snap.manifest,
    stats: snap.stats,
    cache
  }
}

/** Stages what a commit keeps of hashed data: the manifest object and the stat cache entries. */
export async function stageData (tx: Transaction, hashed: HashedData): Promise<void> {
  await tx.putObject(hashed.manifest.cid, hashed.manifest.bytes)
  hashed.cache.flush(tx)
}

/** `--data-ref <text>`: an external identifier recorded as given. */
export function dataRef (ref: string): DataLineage & { readonly kind: 'ref' } {
  if (typeof ref !== 'string' || ref.trim() === '') throw new InvalidArgumentError('--data-ref needs a non-empty identifier (e.g. s3://bucket/key?versionId=…)', { ref })
  return { kind: 'ref', ref }
}
