/**
 * `mvc commit`, whole: check what was given, snapshot the path (models tensor by tensor), record
 * verification and lineage, write the commit object, and move the branch, version and baseline refs —
 * all staged in one transaction, so the repository moves from one valid state to the next in a single
 * synced batch, and a failure at any step leaves it as it was.
 */
import type { CID } from 'multiformats/cid'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { lstat, readFile } from 'node:fs/promises'
import { InputNotFoundError, InvalidArgumentError, UsageError, VerificationUnavailableError } from '../errors.js'
import { comparePaths, parseCommit, type Author, type CommitObject, type VersionPath } from '../format/objects.js'
import type { CodeLineage, DataLineage, EnvironmentLineage } from '../format/lineage.js'
import { encodeVerificationRecord, type VerificationRecord } from '../format/verification.js'
import { MVC_DIR, isWithin } from '../format/paths.js'
import { META, failedCheckoutKey, utf8, worktreeKey } from '../format/keys.js'
import type { Transaction } from '../store/interface.js'
import type { Repo } from './repo.js'
import { headBranch, headCommit, nextVersion, setNextVersion, VERSIONS } from './refs.js'
import { readCommit, writeObject } from './objects.js'
import { snapshot, walk, type SnapshotResult, type SnapshotStats } from './snapshot.js'
import { StatCache } from './statcache.js'
import { diskRanges, recordVerification, type VerifySettings } from './verify/index.js'
import { dataRef, hashData, stageData } from './lineage/data.js'
import { codeLineage } from './lineage/code.js'
import { checkMetrics, readMetadata, readValuesFile, valuesFrom, type Values } from './lineage/params.js'
import { environmentLineage } from './lineage/environment.js'
import { Config } from './config.js'
import { ignoreInGit } from './gitignore.js'

/** Lineage given outright (by the API or an IOHandler); fields given here are recorded as they are. */
export interface Lineage {
  readonly data?: DataLineage | null
  readonly code?: CodeLineage | null
  readonly params?: Readonly<Record<string, unknown>>
  readonly metrics?: Readonly<Record<string, unknown>>
  readonly environment?: EnvironmentLineage | null
  readonly verification?: VerificationRecord | null
}

export interface CommitOptions {
  readonly repo: Repo
  /** File or folder to commit (absolute, or relative to the current folder); default: the last committed path. */
  readonly path?: string
  readonly message: string
  readonly author: Author
  readonly timestamp: number
  readonly allowEmpty?: boolean
  /** Commit a file that claims to be a model but is invalid (a truncated model.json) as a plain file, with a warning, instead of failing with INVALID_MODEL. */
  readonly allowInvalidModels?: boolean
  readonly lineage?: Lineage
  readonly onFile?: (rel: string, size: number) => void
  /** Bytes hashed (or known unchanged) so far of the total, for a progress bar. */
  readonly onBytes?: (done: number, total: number) => void
  /** Record reference inputs and outputs with these settings; undefined: no verification (no runtime is loaded). */
  readonly verify?: VerifySettings
  /** Training data: a folder or file to hash (its manifest is stored, its contents never are), or an external reference recorded as given. */
  readonly data?: { readonly path: string } | { readonly ref: string }
  /** Git commit of the training code: found from the committed path's folder by default, from `dir` when given; false records none. */
  readonly code?: { readonly dir?: string } | false
  /** Params and metrics (nested objects flattened with dots); they override the files and metadata.json. */
  readonly params?: Readonly<Record<string, unknown>>
  readonly metrics?: Readonly<Record<string, unknown>>
  /** JSON (or flat `key: value` YAML) files of params / metrics; later files override earlier ones, metadata.json. */
  readonly paramFiles?: readonly string[]
  readonly metricFiles?: readonly string[]
}

export interface CommitResult {
  readonly committed: boolean
  readonly cid?: CID
  readonly version?: number
  readonly parent?: CID
  /** When nothing was committed: the version of the unchanged HEAD. */
  readonly parentVersion?: number
  /** Repository-relative path that was committed ('.' for a version of several paths: see `paths`). */
  readonly path: string
  /** The manifest of the committed path (for several paths, of the path given, else the first). */
  readonly manifest: CID
  /** Every tracked path of the version and its manifest. */
  readonly paths: readonly VersionPath[]
  readonly stats: SnapshotStats
  /** Objects and bytes added to the store. */
  readonly newObjects: number
  readonly newBytes: number
  /** The verification record stored in the commit (null when none). */
  readonly verification?: VerificationRecord | null
  /** The commit object written (absent when nothing was committed). */
  readonly commit?: CommitObject
  /** What the user should know: parts of models stored as plain bytes, and why. */
  readonly warnings: readonly string[]
  /** Lines added to the git work tree's .gitignore for the committed path (and which file). */
  readonly gitignore?: { readonly file: string, readonly added: readonly string[] }
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

async function mustExist (path: string, what: string): Promise<void> {
  const abs = resolve(path)
  if (await lstat(abs).then(() => false, () => true)) throw new InputNotFoundError(`${what} ${abs} does not exist`, { path: abs })
}

/** Params and metrics given to a commit (files, lineage, flags), parsed and checked before anything is snapshotted. */
async function givenValues (options: CommitOptions): Promise<{ params: Values, metrics: Record<string, number | string> }> {
  const params: Values = {}
  const metrics: Record<string, number | string> = {}
  for (const f of options.paramFiles ?? []) Object.assign(params, await readValuesFile(f, 'params'))
  for (const f of options.metricFiles ?? []) Object.assign(metrics, await readValuesFile(f, 'metrics'))
  Object.assign(params, valuesFrom(options.lineage?.params, 'params'), valuesFrom(options.params, 'params'))
  Object.assign(metrics, checkMetrics(valuesFrom(options.lineage?.metrics, 'metrics'), 'metrics'), checkMetrics(valuesFrom(options.metrics, 'metrics'), 'metrics'))
  return { params, metrics }
}

/** One tracked path snapshotted for a commit. */
interface SnappedPath {
  readonly rel: string
  readonly abs: string
  readonly snap: SnapshotResult
  readonly cache: StatCache
}

/**
 * Records reference outputs of the snapshots' models (null when there are none). For a version of
 * several paths, models are named by repository-relative paths (`model/model.json`).
 */
async function verificationFor (parts: readonly SnappedPath[], prefixed: boolean, tx: Transaction, settings: VerifySettings): Promise<VerificationRecord | null> {
  const records: VerificationRecord[] = []
  for (const part of parts) {
    const manifest = part.snap.manifest.value
    if (manifest.models.length === 0 && !manifest.entries.some(e => e.path.endsWith('saved_model.pb'))) continue
    const dir = manifest.kind === 'dir' ? part.abs : dirname(part.abs)
    const recorded = await recordVerification({
      ...settings,
      sink: tx,
      models: [...part.snap.models.values()].map(m => ({ path: m.layout.path, format: m.layout.format, runnable: m.layout.runnable, notRunnableReason: m.layout.notRunnableReason, bytes: m.layout.tensors.reduce((n, t) => n + t.byteLength, 0), adapter: m.adapter })),
      readFile: async rel => await readFile(resolve(dir, rel)),
      dir,
      files: diskRanges(dir)
    })
    // A SavedModel no adapter recognised: say why it is not verified.
    const covered = new Set(recorded.models.map(m => m.path))
    const savedModels = manifest.entries.map(e => e.path).filter(p => (p === 'saved_model.pb' || p.endsWith('/saved_model.pb')) && !covered.has(p))
    const models = [...recorded.models, ...savedModels.map(p => ({ path: p, status: 'skipped' as const, reason: 'SavedModels can only be run with @tensorflow/tfjs-node, which is not installed here' }))]
    const name = (p: string): string => !prefixed ? p : manifest.kind === 'file' ? part.rel : `${part.rel}/${p}`
    records.push({ ...recorded, models: models.map(m => ({ ...m, path: name(m.path) })) })
  }
  if (records.length === 0) return null
  const tfjs = records.find(r => r.tfjsVersion !== 'none') ?? records[0]!
  const record: VerificationRecord = { backend: tfjs.backend, tfjsVersion: tfjs.tfjsVersion, tolerance: records[0]!.tolerance, models: records.flatMap(r => r.models) }
  const skipped = record.models.filter(m => m.status === 'skipped')
  if (settings.require === true && (skipped.length > 0 || record.models.length === 0)) {
    throw new VerificationUnavailableError(
      `verification required but ${skipped.length > 0 ? skipped.map(m => `${m.path}: ${(m as { reason: string }).reason}`).join('; ') : 'no model was found that can be run'}`,
      { skipped: skipped.map(m => m.path) })
  }
  return record
}

/** The paths a commit snapshots: HEAD's, plus `path` (which starts being tracked); none may contain another. */
async function pathsToCommit (repo: Repo, path: string | undefined, head: CommitObject | undefined): Promise<Array<{ rel: string, abs: string }>> {
  const tracked = head?.paths.map(p => p.path) ?? []
  if (path === undefined) {
    if (tracked.length > 0) return tracked.map(rel => ({ rel, abs: join(repo.root, rel) }))
    return [await resolveCommitPath(repo, undefined)]
  }
  const given = await resolveCommitPath(repo, path)
  if (given.rel === '.') {
    throw new InvalidArgumentError('committing the repository root itself is not supported: checkout could not swap a folder that holds .mvc. Put the model in a sub-folder (e.g. `model/`) and commit that.', { path: given.abs })
  }
  for (const t of tracked) {
    if (t === given.rel) continue
    if (given.rel.startsWith(t + '/')) throw new InvalidArgumentError(`${given.rel} lies inside ${t}, which is already tracked: commit ${t}`, { path: given.rel, tracked: t })
    if (t.startsWith(given.rel + '/')) throw new InvalidArgumentError(`${given.rel} holds ${t}, which is tracked on its own; commit ${t}, or move it`, { path: given.rel, tracked: t })
  }
  const all = new Map(tracked.map(rel => [rel, { rel, abs: join(repo.root, rel) }]))
  all.set(given.rel, given)
  return [...all.values()].sort((a, b) => comparePaths(a.rel, b.rel))
}

export async function commit (options: CommitOptions): Promise<CommitResult> {
  const { repo } = options
  // Check what was given before snapshotting anything; lineage is computed once a commit will be made.
  const given = await givenValues(options)
  const data = options.data
  if (data !== undefined) {
    if ('ref' in data && typeof data.ref === 'string' && !('path' in data)) dataRef(data.ref)
    else if ('path' in data && typeof data.path === 'string' && !('ref' in data)) await mustExist(data.path, 'data')
    else throw new InvalidArgumentError('data must be { path } or { ref }, not both', {})
  }
  if (options.code !== undefined && options.code !== false && options.code.dir !== undefined) await mustExist(options.code.dir, 'code folder')

  const store = repo.store
  const branch = await headBranch(store)
  const parent = await headCommit(store)
  const parentCommit = parent === undefined ? undefined : await readCommit(store, parent)
  const wanted = await pathsToCommit(repo, options.path, parentCommit)
  // A tracked path that no longer exists is no longer tracked (the path given explicitly must exist).
  const present: Array<{ rel: string, abs: string }> = []
  const gone: string[] = []
  for (const w of wanted) {
    if (await lstat(w.abs).then(() => true, () => false)) present.push(w)
    else if (options.path !== undefined && w.abs === resolve(options.path)) present.push(w) // walk reports it
    else gone.push(w.rel)
  }
  if (present.length === 0) throw new InputNotFoundError(`nothing to commit: the tracked path${gone.length === 1 ? '' : 's'} ${gone.join(', ')} no longer exist${gone.length === 1 ? 's' : ''}`, { paths: gone })
  const trees = []
  for (const w of present) trees.push({ ...w, tree: await walk(w.abs, { repoRoot: repo.root }) })
  const first = present.find(w => options.path !== undefined && w.abs === resolve(options.path)) ?? present[0]!
  const { rel } = first
  const tx = await store.transaction()
  try {
    const total = trees.reduce((a, t) => a + t.tree.files.reduce((b, f) => b + Number(f.stats.size), 0), 0)
    let done = 0
    const onBytes = options.onBytes === undefined ? undefined : (n: number): void => { done += n; options.onBytes!(done, total) }
    const parts: SnappedPath[] = []
    for (const t of trees) {
      const cache = StatCache.for(store, t.rel)
      const snap = await snapshot({ store, sink: tx, abs: t.abs, cache, requireStored: true, onFile: options.onFile, onBytes, formats: repo.formats, allowInvalidModels: options.allowInvalidModels }, t.tree)
      parts.push({ rel: t.rel, abs: t.abs, snap, cache })
    }
    const single = parts.length === 1
    const paths: VersionPath[] = parts.map(p => ({ path: p.rel, manifest: p.snap.manifest.cid }))
    const manifest = (paths.find(p => p.path === rel) ?? paths[0]!).manifest
    const stats: SnapshotStats = { files: 0, bytes: 0, hashedFiles: 0, hashedBytes: 0 }
    for (const p of parts) { stats.files += p.snap.stats.files; stats.bytes += p.snap.stats.bytes; stats.hashedFiles += p.snap.stats.hashedFiles; stats.hashedBytes += p.snap.stats.hashedBytes }
    const warnings = [
      ...parts.flatMap(p => p.snap.invalidModels.map(w => single ? w : `${p.rel}/${w}`)),
      ...parts.flatMap(p => [...p.snap.models.values()].flatMap(m => m.layout.warnings.map(w => `${single ? m.layout.path : `${p.rel}/${m.layout.path}`}: ${w}`))),
      ...gone.map(g => `${g} no longer exists: it is no longer tracked from this version on`)
    ]
    const base = { path: single ? rel : '.', manifest, stats, warnings, paths }
    const flushCaches = (): void => { for (const p of parts) p.cache.flush(tx) }
    if (parentCommit !== undefined && options.allowEmpty !== true) {
      const same = parentCommit.paths.length === paths.length && parentCommit.paths.every((x, i) => x.path === paths[i]!.path && x.manifest.equals(paths[i]!.manifest))
      if (same) {
        flushCaches()
        tx.setMeta(META.lastPath, utf8.encode(rel))
        await tx.commit()
        return { committed: false, ...base, parent, parentVersion: parentCommit.version, newObjects: 0, newBytes: 0 }
      }
    }
    const version = await nextVersion(store)
    const lineage = options.lineage ?? {}
    const verification = options.verify !== undefined
      ? await verificationFor(parts, !single, tx, options.verify)
      : lineage.verification ?? null

    // Lineage: metadata.json beside each model (in path order, later ones win), then what was given;
    // data hashed, code read from git.
    const folderOf = (p: SnappedPath): string => p.snap.manifest.value.kind === 'dir' ? p.abs : dirname(p.abs)
    const folder = folderOf(parts.find(p => p.rel === rel) ?? parts[0]!)
    const metas = []
    for (const p of parts) metas.push(await readMetadata(folderOf(p)))
    const meta = {
      params: Object.assign({}, ...metas.map(m => m.params)) as Values,
      metrics: Object.assign({}, ...metas.map(m => m.metrics)) as Record<string, number | string>,
      warnings: metas.flatMap(m => m.warnings),
      dataRef: metas.map(m => m.dataRef).find(d => d !== undefined),
      inputs: metas.map(m => m.inputs).find(i => i !== undefined)
    }
    let dataLineage = lineage.data ?? (meta.dataRef !== undefined ? dataRef(meta.dataRef) : null)
    if (data !== undefined && 'ref' in data) dataLineage = dataRef(data.ref)
    else if (data !== undefined) {
      const hashed = await hashData({ store, path: data.path, root: repo.root })
      await stageData(tx, hashed)
      dataLineage = hashed.lineage
    }
    let code = lineage.code ?? null
    // What mvc versions itself is not part of the code's state.
    const exclude = [...parts.map(p => p.abs), ...(data !== undefined && 'path' in data ? [resolve(data.path)] : [])]
    if (options.code === false) code = null
    else if (options.code !== undefined || lineage.code === undefined) code = await codeLineage({ dir: options.code?.dir ?? folder, exclude })

    // One path: format 1's `model` and `path`; several: `paths` (docs/design.md, "mvc/commit").
    const value = {
      type: 'mvc/commit' as const,
      version,
      parents: parent === undefined ? [] : [parent],
      ...(single ? { model: paths[0]!.manifest, path: paths[0]!.path } : { paths }),
      message: options.message,
      author: options.author,
      timestamp: options.timestamp,
      data: dataLineage,
      code,
      params: { ...meta.params, ...given.params },
      metrics: { ...meta.metrics, ...given.metrics },
      environment: environmentLineage(verification),
      // The record's on-disk shape (per-output references are written as status "recorded2").
      verification: (verification === null ? null : encodeVerificationRecord(verification)) as VerificationRecord | null,
      ...(meta.inputs !== undefined ? { inputs: meta.inputs } : {})
    }
    const written = await writeObject(tx, value)
    const newObjects = tx.stagedObjects
    const newBytes = tx.stagedBytes
    flushCaches()
    tx.setRef({ name: branch, value: written.cid.toString(), expect: parent?.toString() ?? null })
    tx.setRef({ name: VERSIONS + String(version), value: written.cid.toString(), expect: null })
    setNextVersion(tx, version + 1)
    tx.setMeta(META.lastPath, utf8.encode(rel))
    for (const p of parts) {
      setWorktreeBase(tx, p.rel, written.cid)
      tx.setMeta(failedCheckoutKey(p.rel), null)
    }
    // Versions of several paths are format 2: an older mvc must refuse the store rather than misread it.
    // (Never lowered: a format-3 store, where gc removed a deleted version's content, stays 3.)
    if (!single && Number(utf8.decode((await repo.store.readMeta(META.format)) ?? utf8.encode('1'))) < 2) tx.setMeta(META.format, utf8.encode('2'))
    await tx.commit()
    const allWarnings = [...warnings, ...meta.warnings.map(w => `metadata.json: ${w}`)]
    // As DVC does: the committed path goes into the git work tree's .gitignore (unless git tracks it).
    const gitignore = (await Config.load(repo.root)).boolean('core.gitignore') === false
      ? undefined
      : await ignoreInGit(repo.root, parts.map(p => ({ abs: p.abs, dir: p.snap.manifest.value.kind === 'dir' }))).catch(() => undefined)
    return { committed: true, cid: written.cid, version, parent, ...base, warnings: allWarnings, newObjects, newBytes, verification, commit: parseCommit(value), ...(gitignore !== undefined && gitignore.added.length > 0 ? { gitignore } : {}) }
  } catch (err) {
    await tx.abort()
    throw err
  }
}
