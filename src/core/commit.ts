/**
 * `mvc commit`, whole: check what was given, snapshot the path (models tensor by tensor), record
 * verification and lineage, write the commit object, and move the branch, version and baseline refs —
 * all staged in one transaction, so the repository moves from one valid state to the next in a single
 * synced batch, and a failure at any step leaves it as it was.
 */
import type { CID } from 'multiformats/cid'
import { dirname, relative, resolve, sep } from 'node:path'
import { lstat, readFile } from 'node:fs/promises'
import { InputNotFoundError, InvalidArgumentError, UsageError, VerificationUnavailableError } from '../errors.js'
import type { Author, CommitObject } from '../format/objects.js'
import type { CodeLineage, DataLineage, EnvironmentLineage } from '../format/lineage.js'
import type { VerificationRecord } from '../format/verification.js'
import { MVC_DIR, isWithin } from '../format/paths.js'
import { META, failedCheckoutKey, utf8, worktreeKey } from '../format/keys.js'
import type { Transaction } from '../store/interface.js'
import type { Repo } from './repo.js'
import { headBranch, headCommit, nextVersion, setNextVersion, VERSIONS } from './refs.js'
import { readCommit, writeObject } from './objects.js'
import { snapshot, walk, type SnapshotResult, type SnapshotStats } from './snapshot.js'
import { StatCache } from './statcache.js'
import { recordVerification, type VerifySettings } from './verify/index.js'
import { dataRef, hashData, stageData } from './lineage/data.js'
import { codeLineage } from './lineage/code.js'
import { checkMetrics, readMetadata, readValuesFile, valuesFrom, type Values } from './lineage/params.js'
import { environmentLineage } from './lineage/environment.js'

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
  /** Repository-relative path that was committed. */
  readonly path: string
  readonly manifest: CID
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

/** Records reference outputs of the snapshot's models (null when it holds none). */
async function verificationFor (snap: SnapshotResult, abs: string, tx: Transaction, settings: VerifySettings): Promise<VerificationRecord | null> {
  const manifest = snap.manifest.value
  if (manifest.models.length === 0 && !manifest.entries.some(e => e.path.endsWith('saved_model.pb'))) return null
  const recorded = await recordVerification({
    ...settings,
    sink: tx,
    models: [...snap.models.values()].map(m => ({ path: m.layout.path, format: m.layout.format, runnable: m.layout.runnable, notRunnableReason: m.layout.notRunnableReason, adapter: m.adapter })),
    readFile: async rel => await readFile(resolve(abs, rel)),
    dir: snap.manifest.value.kind === 'dir' ? abs : dirname(abs)
  })
  // A SavedModel no adapter recognised: say why it is not verified.
  const covered = new Set(recorded.models.map(m => m.path))
  const savedModels = manifest.entries.map(e => e.path).filter(p => (p === 'saved_model.pb' || p.endsWith('/saved_model.pb')) && !covered.has(p))
  const record: VerificationRecord = {
    ...recorded,
    models: [...recorded.models, ...savedModels.map(p => ({ path: p, status: 'skipped' as const, reason: 'SavedModels can only be run with @tensorflow/tfjs-node, which is not installed here' }))]
  }
  const skipped = record.models.filter(m => m.status === 'skipped')
  if (settings.require === true && (skipped.length > 0 || record.models.length === 0)) {
    throw new VerificationUnavailableError(
      `verification required but ${skipped.map(m => `${m.path}: ${(m as { reason: string }).reason}`).join('; ')}`,
      { skipped: skipped.map(m => m.path) })
  }
  return record
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
    const snap = await snapshot({ store, sink: tx, abs, cache, requireStored: true, onFile: options.onFile, formats: repo.formats, allowInvalidModels: options.allowInvalidModels }, tree)
    const manifest = snap.manifest.cid
    const warnings = [...snap.invalidModels, ...[...snap.models.values()].flatMap(m => m.layout.warnings.map(w => `${m.layout.path}: ${w}`))]
    const base = { path: rel, manifest, stats: snap.stats, warnings }
    if (parent !== undefined && options.allowEmpty !== true) {
      const p = await readCommit(store, parent)
      if (p.model.equals(manifest) && p.path === rel) {
        cache.flush(tx)
        tx.setMeta(META.lastPath, utf8.encode(rel))
        await tx.commit()
        return { committed: false, ...base, parent, parentVersion: p.version, newObjects: 0, newBytes: 0 }
      }
    }
    const version = await nextVersion(store)
    const lineage = options.lineage ?? {}
    const verification = options.verify !== undefined
      ? await verificationFor(snap, abs, tx, options.verify)
      : lineage.verification ?? null

    // Lineage: metadata.json beside the model, then what was given; data hashed, code read from git.
    const folder = snap.manifest.value.kind === 'dir' ? abs : dirname(abs)
    const meta = await readMetadata(folder)
    let dataLineage = lineage.data ?? (meta.dataRef !== undefined ? dataRef(meta.dataRef) : null)
    if (data !== undefined && 'ref' in data) dataLineage = dataRef(data.ref)
    else if (data !== undefined) {
      const hashed = await hashData({ store, path: data.path, root: repo.root })
      await stageData(tx, hashed)
      dataLineage = hashed.lineage
    }
    let code = lineage.code ?? null
    if (options.code === false) code = null
    else if (options.code !== undefined || lineage.code === undefined) code = await codeLineage({ dir: options.code?.dir ?? folder })

    const value: CommitObject = {
      type: 'mvc/commit',
      version,
      parents: parent === undefined ? [] : [parent],
      model: manifest,
      path: rel,
      message: options.message,
      author: options.author,
      timestamp: options.timestamp,
      data: dataLineage,
      code,
      params: { ...meta.params, ...given.params },
      metrics: { ...meta.metrics, ...given.metrics },
      environment: environmentLineage(verification),
      verification,
      ...(meta.inputs !== undefined ? { inputs: meta.inputs } : {})
    }
    const written = await writeObject<CommitObject>(tx, value)
    const newObjects = tx.stagedObjects
    const newBytes = tx.stagedBytes
    cache.flush(tx)
    tx.setRef({ name: branch, value: written.cid.toString(), expect: parent?.toString() ?? null })
    tx.setRef({ name: VERSIONS + String(version), value: written.cid.toString(), expect: null })
    setNextVersion(tx, version + 1)
    tx.setMeta(META.lastPath, utf8.encode(rel))
    setWorktreeBase(tx, rel, written.cid)
    tx.setMeta(failedCheckoutKey(rel), null)
    await tx.commit()
    const allWarnings = [...warnings, ...meta.warnings.map(w => `metadata.json: ${w}`)]
    return { committed: true, cid: written.cid, version, parent, ...base, warnings: allWarnings, newObjects, newBytes, verification, commit: value }
  } catch (err) {
    await tx.abort()
    throw err
  }
}
