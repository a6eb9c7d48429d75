/**
 * A version's files: each tracked path's manifest, and the version as one manifest. A version of one
 * path is its manifest as it is (paths relative to the committed folder, as in format 1); a version of
 * several paths combines them under their repository-relative paths (`model/model.json`,
 * `encoder/saved_model.pb`), which is also how its verification record names models.
 */
import type { CID } from 'multiformats/cid'
import type { CommitObject, Manifest, ManifestEntry, ManifestModel } from '../format/objects.js'
import { comparePaths } from '../format/objects.js'
import type { ObjectStore } from '../store/interface.js'
import { readManifest } from './objects.js'

export interface VersionPart {
  /** Repository-relative path of the tracked folder or file. */
  readonly path: string
  readonly cid: CID
  readonly manifest: Manifest
}

export interface VersionFiles {
  readonly parts: readonly VersionPart[]
  /** True when the version tracks one path (its manifest is used as it is). */
  readonly single: boolean
  /** The whole version as one manifest (combined under the parts' paths when `prefixed`). */
  readonly manifest: Manifest
  /** Whether `manifest`'s paths are repository-relative (several parts, or asked for). */
  readonly prefixed: boolean
}

/** The path a part's entry has in the combined manifest. */
export function prefixedPath (part: { path: string, manifest: Manifest }, rel: string): string {
  return part.manifest.kind === 'file' ? part.path : `${part.path}/${rel}`
}

/** Several parts' manifests as one folder manifest under their paths. */
export function combineParts (parts: ReadonlyArray<{ path: string, manifest: Manifest }>): Manifest {
  const entries: ManifestEntry[] = []
  const dirs: string[] = []
  const models: ManifestModel[] = []
  for (const p of parts) {
    for (const e of p.manifest.entries) entries.push({ ...e, path: prefixedPath(p, e.path) })
    for (const d of p.manifest.dirs) dirs.push(`${p.path}/${d}`)
    for (const m of p.manifest.models) models.push({ path: prefixedPath(p, m.path), model: m.model })
  }
  entries.sort((a, b) => comparePaths(a.path, b.path))
  dirs.sort(comparePaths)
  models.sort((a, b) => comparePaths(a.path, b.path))
  return { type: 'mvc/manifest', kind: 'dir', entries, dirs, models }
}

/**
 * Reads a version's manifests. `only` narrows to some tracked paths (`mvc diff v1 v2 -- model`);
 * `prefixed` combines even a single part under its path (to compare it with a version of several).
 */
export async function versionFiles (store: ObjectStore, commit: CommitObject, options: { only?: readonly string[], prefixed?: boolean } = {}): Promise<VersionFiles> {
  const chosen = options.only === undefined ? commit.paths : commit.paths.filter(p => options.only!.includes(p.path))
  const parts: VersionPart[] = []
  for (const p of chosen) parts.push({ path: p.path, cid: p.manifest, manifest: await readManifest(store, p.manifest) })
  const single = commit.paths.length === 1
  // Several parts are always under their paths; one part of a version of several paths is, unless the
  // caller asks for it as it is (diff narrowed to one path, against a version of that path alone).
  const prefixed = parts.length !== 1 || (options.prefixed ?? !single)
  const manifest = !prefixed && parts.length === 1 ? parts[0]!.manifest : combineParts(parts)
  return { parts, single, manifest, prefixed }
}

/** The tracked paths of a version, for messages: `model`, or `model, encoder`. */
export function pathsLabel (commit: CommitObject): string {
  return commit.paths.map(p => p.path).join(', ')
}
