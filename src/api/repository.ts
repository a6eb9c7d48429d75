/**
 * The public library API. A `Repository` wraps an open store; each method checks its arguments, calls
 * the core, and tags errors with the method's name (`err.caller`) before rethrowing.
 */
import { userInfo, hostname } from 'node:os'
import type { CID } from 'multiformats/cid'
import { InputNotFoundError, InvalidArgumentError, InvalidModelError, VerificationFailedError, VerificationUnavailableError, isMvcError } from '../errors.js'
import { readFile } from 'node:fs/promises'
import { fsck, type FsckReport } from '../core/fsck.js'
import { LevelObjectStore } from '../store/level-store.js'
import { posix } from 'node:path'
import type * as TF from '@tensorflow/tfjs'
import { artifactsToFiles, filesToArtifacts, saveResult, writeFolder } from './iohandler.js'
import { decodeObject } from '../content/block.js'
import { parseModel } from '../format/objects.js'
import type { ParamValue } from '../format/lineage.js'
import { dirname, join } from 'node:path'
import type { Transaction } from '../store/interface.js'
import { checkVerification, parseVerification, recordVerification, type BackendName, type Tolerance, type VerificationRecord, type VerificationReport } from '../core/verify.js'
import type { Author, CommitObject, Manifest } from '../format/objects.js'
import { initRepo, openRepo, type Repo } from '../core/repo.js'
import { commitPath, type CommitResult, type Lineage } from '../core/commit.js'
import { dataRef, hashData, stageData } from '../core/data.js'
import { codeLineage } from '../core/code.js'
import { checkMetrics, readMetadata, readValuesFile, valuesFrom, type Values } from '../core/params.js'
import { environmentLineage } from '../core/environment.js'
import { checkout, status, type CheckoutResult, type StatusResult } from '../core/worktree.js'
import { log, namesByCommit, type LogEntry, type LogOptions } from '../core/history.js'
import * as nameRefs from '../core/names.js'
import { resolveRev } from '../core/refs.js'
import { readCommit, readFileBytes, readManifest } from '../core/objects.js'
import type { ObjectStore } from '../store/interface.js'
import type { Remote } from '../remote/interface.js'
import type { ProgressFn } from '../remote/transfer.js'
import { openRemote } from '../remote/open.js'
import {
  addRemoteConfig, getRemoteConfig, listRemoteConfigs, normalizeRemoteUrl, partialRemote, removeRemoteConfig, requireRemoteConfig,
  validateRemoteName, DEFAULT_REMOTE, PARTIAL_KEY, type RemoteConfig
} from '../remote/config.js'
import {
  fetch, fetchCommitContent, hasCommitContent, moveBranch, planPull, push, remoteDefaultBranch,
  type FetchResult, type PullAction, type PushResult
} from '../core/sync.js'
import { lstat as lstatPath, mkdir as mkdirPath, readdir as readDirPath, rm as rmPath } from 'node:fs/promises'
import { resolve as resolvePath } from 'node:path'
import { CID as CIDValue } from 'multiformats/cid'

async function tagged<T> (caller: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (isMvcError(err) && err.caller === undefined) err.caller = caller
    throw err
  }
}

/** Author from MVC_AUTHOR_NAME / MVC_AUTHOR_EMAIL, else the login name on this host. */
export function defaultAuthor (env: NodeJS.ProcessEnv = process.env): Author {
  let user = 'unknown'
  try { user = userInfo().username } catch { /* no passwd entry in some containers */ }
  return { name: env.MVC_AUTHOR_NAME ?? user, email: env.MVC_AUTHOR_EMAIL ?? `${user}@${hostname()}` }
}

/** Commit time from MVC_DATE (ISO 8601 or ms since epoch; for reproducible tests), else now. */
export function defaultTimestamp (env: NodeJS.ProcessEnv = process.env): number {
  const d = env.MVC_DATE
  if (d === undefined || d === '') return Date.now()
  const t = /^\d+$/.test(d) ? Number(d) : Date.parse(d)
  if (!Number.isFinite(t)) throw new InvalidArgumentError(`MVC_DATE=${d} is not a date (use ISO 8601 or milliseconds since the epoch)`, { value: d })
  return t
}

export interface OpenRepositoryOptions {
  /** Any folder inside the repository (default: the current folder). */
  readonly dir?: string
  /** ms to wait for another process holding the repository (default MVC_LOCK_TIMEOUT_MS or 10 000). */
  readonly lockTimeoutMs?: number
}

/** Behaviour verification settings (see docs/design.md, "Verification"). */
export interface VerifyArgs {
  /** TF.js backend; default tfjs-node when installed, else wasm, else cpu. */
  readonly backend?: BackendName
  readonly tolerance?: Tolerance
  /** Inputs file bytes (`{ "inputs": [...] }`) instead of generated reference inputs. Commit only. */
  readonly inputs?: Uint8Array
  /** Commit only: fail (VERIFICATION_UNAVAILABLE) when a model can't be loaded or run, instead of recording why. */
  readonly require?: boolean
}

export interface CommitArgs {
  /** File or folder to commit; default: the last committed path. */
  readonly path?: string
  readonly message: string
  readonly allowEmpty?: boolean
  readonly author?: Author
  readonly timestamp?: number
  readonly lineage?: Lineage
  readonly onFile?: (rel: string, size: number) => void
  /** Record reference inputs and outputs for verification (default true; false skips TF.js entirely). */
  readonly verify?: boolean | VerifyArgs
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

/** Params and metrics given to a commit (flags/API and files), parsed and checked before anything is snapshotted. */
async function givenValues (args: CommitArgs): Promise<{ params: Values, metrics: Record<string, number | string> }> {
  const params: Values = {}
  const metrics: Record<string, number | string> = {}
  for (const f of args.paramFiles ?? []) Object.assign(params, await readValuesFile(f, 'params'))
  for (const f of args.metricFiles ?? []) Object.assign(metrics, await readValuesFile(f, 'metrics'))
  Object.assign(params, valuesFrom(args.lineage?.params, 'params'), valuesFrom(args.params, 'params'))
  Object.assign(metrics, checkMetrics(valuesFrom(args.lineage?.metrics, 'metrics'), 'metrics'), checkMetrics(valuesFrom(args.metrics, 'metrics'), 'metrics'))
  return { params, metrics }
}

async function mustExist (path: string, what: string): Promise<void> {
  const abs = resolvePath(path)
  if (await lstatPath(abs).then(() => false, () => true)) throw new InputNotFoundError(`${what} ${abs} does not exist`, { path: abs })
}

export interface CheckoutArgs {
  readonly rev: string
  readonly to?: string
  readonly force?: boolean
  readonly onFile?: (path: string, size: number) => void
  /** Verify behaviour after rebuilding (default true when the commit recorded it). */
  readonly verify?: boolean | VerifyArgs
}

export interface ShowResult {
  readonly cid: CID
  readonly commit: CommitObject
  readonly manifest: Manifest
  readonly names: string[]
}

/** `true`/absent → defaults, `false` → off, an object → those settings. */
function verifySettings (v: boolean | VerifyArgs | undefined): VerifyArgs | undefined {
  if (v === false) return undefined
  return v === true || v === undefined ? {} : v
}

function failIfFailed (report: VerificationReport, what: string): void {
  if (report.pass) return
  const worst = report.models.flatMap(m => m.outputs.filter(o => !o.pass).map(o => `${m.path} output ${o.name}: max_abs_diff ${o.maxAbsDiff.toExponential(3)}`))
  throw new VerificationFailedError(
    `${what} does not behave as recorded (atol ${report.tolerance.atol}, rtol ${report.tolerance.rtol}, backend ${report.backend}, recorded on ${report.recordedBackend}): ${worst.join('; ')}`,
    { report })
}

/** Which remote to talk to: a configured name (default `origin`), or (push only) a URL or path. `transport` is an already open remote to use instead (tests, embedding). */
export interface RemoteArgs {
  readonly remote?: string
  readonly transport?: Remote
  readonly onProgress?: ProgressFn
  /** Objects in flight at once (default 8). */
  readonly concurrency?: number
}

export interface PushArgs extends RemoteArgs {
  /** Branches or tags to push; default the current branch. */
  readonly refs?: readonly string[]
  readonly force?: boolean
  /** Push every tag (tags on pushed commits go anyway). */
  readonly tags?: boolean
}

export interface FetchArgs extends RemoteArgs {
  /** Take the remote's tags and version refs where they differ from the local ones. */
  readonly force?: boolean
}

export interface PullArgs extends FetchArgs {
  /** Remote branch to pull (default: the current branch's name). */
  readonly branch?: string
  /** Check the new version out into its committed path (default true). */
  readonly checkout?: boolean
  readonly verify?: boolean | VerifyArgs
  readonly onFile?: (path: string, size: number) => void
}

export interface PullResult {
  readonly action: PullAction
  readonly branch: string
  readonly old: string | null
  readonly new: string
  readonly fetch: FetchResult
  readonly checkout?: CheckoutResult & { verification?: VerificationReport }
}

export interface CloneArgs {
  /** Remote URL: a path, file:///path, http(s)://host:port/ or s3://bucket/prefix. */
  readonly url: string
  /** Folder to create (must not exist, or be empty); default: the last part of the URL. */
  readonly dir?: string
  /** Name of the remote in the new repository (default `origin`). */
  readonly remoteName?: string
  /** 'commits': fetch commit objects and refs only; versions' content is fetched when first needed. */
  readonly filter?: 'commits'
  /** Check out the HEAD version into its committed path (default true). */
  readonly checkout?: boolean
  readonly verify?: boolean | VerifyArgs
  readonly transport?: Remote
  readonly onProgress?: ProgressFn
  readonly onFile?: (path: string, size: number) => void
  readonly concurrency?: number
}

export interface CloneResult {
  readonly root: string
  readonly remote: string
  readonly url: string
  readonly partial: boolean
  /** The branch created (null when the remote has no branches). */
  readonly branch: string | null
  readonly head: string | null
  readonly fetch: FetchResult
  readonly checkout?: CheckoutResult & { verification?: VerificationReport }
}

/** A default folder name for a clone: the last part of the URL's path (or its host/bucket). */
export function cloneDirName (url: string): string {
  let path = url
  let host = ''
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !/^file:/i.test(url)) {
    try { const u = new URL(url); path = u.pathname; host = u.hostname } catch { path = url }
  } else if (/^file:/i.test(url)) {
    try { path = new URL(url).pathname } catch { path = url }
  }
  const parts = path.split(/[\\/]+/).filter(p => p !== '' && p !== '.' && p !== '..')
  const last = (parts.at(-1) ?? host).replace(/\.mvc$/, '')
  return last === '' ? 'repository' : last
}

export class Repository {
  private constructor (private readonly repo: Repo) {}

  /** Absolute path of the folder holding `.mvc`. */
  get root (): string { return this.repo.root }
  get store (): ObjectStore { return this.repo.store }

  /**
   * Creates a repository in `dir` (idempotent).
   * @example const { created } = await Repository.init({ dir: '.' })
   */
  static async init (options: { dir?: string } = {}): Promise<{ root: string, created: boolean }> {
    return await tagged('init', async () => await initRepo(options.dir ?? '.'))
  }

  /**
   * Opens the repository enclosing `dir`. Close it when done: it holds LevelDB's lock.
   * @example const repo = await Repository.open({ dir: '.' }); try { … } finally { await repo.close() }
   */
  static async open (options: OpenRepositoryOptions = {}): Promise<Repository> {
    return await tagged('open', async () => new Repository(await openRepo(options.dir ?? '.', { lockTimeoutMs: options.lockTimeoutMs })))
  }

  /**
   * Snapshots a file or folder as a new version.
   * @example const r = await repo.commit({ path: 'model', message: 'baseline' }); console.log(`v${r.version}`)
   */
  async commit (args: CommitArgs): Promise<CommitResult> {
    if (typeof args.message !== 'string') throw new TypeError('commit: message must be a string')
    return await tagged('commit', async () => {
      // Check what was given before snapshotting anything; lineage is computed once a commit will be made.
      const given = await givenValues(args)
      const data = args.data
      if (data !== undefined) {
        if ('ref' in data && typeof data.ref === 'string' && !('path' in data)) dataRef(data.ref)
        else if ('path' in data && typeof data.path === 'string' && !('ref' in data)) await mustExist(data.path, 'data')
        else throw new InvalidArgumentError('data must be { path } or { ref }, not both', {})
      }
      if (args.code !== undefined && args.code !== false && args.code.dir !== undefined) await mustExist(args.code.dir, 'code folder')
      return await commitPath({
        repo: this.repo,
        path: args.path,
        message: args.message,
        allowEmpty: args.allowEmpty,
        author: args.author ?? defaultAuthor(),
        timestamp: args.timestamp ?? defaultTimestamp(),
        lineage: args.lineage,
        onFile: args.onFile,
        verify: verifySettings(args.verify) === undefined ? undefined : async ({ tx, manifest, abs, modelFormats }) => await this.recordFor(tx, manifest, abs, modelFormats, verifySettings(args.verify)!),
        recordLineage: async ({ tx, manifest, abs, verification }) => {
          const folder = manifest.kind === 'dir' ? abs : dirname(abs)
          const meta = await readMetadata(folder)
          const l: Lineage = {
            params: { ...meta.params, ...given.params },
            metrics: { ...meta.metrics, ...given.metrics },
            environment: environmentLineage(verification)
          }
          if (data !== undefined && 'ref' in data) {
            Object.assign(l, { data: dataRef(data.ref) })
          } else if (data !== undefined) {
            const hashed = await hashData({ store: this.repo.store, path: data.path, root: this.repo.root })
            await stageData(tx, hashed)
            Object.assign(l, { data: hashed.lineage })
          }
          if (args.code === false) Object.assign(l, { code: null })
          else if (args.code !== undefined || args.lineage?.code === undefined) Object.assign(l, { code: await codeLineage({ dir: args.code?.dir ?? folder }) })
          return l
        }
      })
    })
  }

  private async recordFor (tx: Transaction, manifest: Manifest, abs: string, formats: ReadonlyMap<string, string>, v: VerifyArgs): Promise<VerificationRecord | null> {
    if (manifest.models.length === 0 && !manifest.entries.some(e => e.path.endsWith('saved_model.pb'))) return null
    const record = await recordVerification({
      store: this.repo.store,
      sink: tx,
      models: [...formats].map(([path, format]) => ({ path, format })),
      readFile: async rel => await readFile(join(abs, rel)),
      paths: manifest.entries.map(e => e.path),
      backend: v.backend,
      tolerance: v.tolerance,
      inputsFile: v.inputs
    })
    const skipped = record.models.filter(m => m.status === 'skipped')
    if (v.require === true && (skipped.length > 0 || record.models.length === 0)) {
      throw new VerificationUnavailableError(
        `verification required but ${skipped.map(m => `${m.path}: ${(m as { reason: string }).reason}`).join('; ')}`,
        { skipped: skipped.map(m => m.path) })
    }
    return record
  }

  /**
   * Rebuilds a version on disk, byte for byte.
   * @example await repo.checkout({ rev: 'v1', to: '/tmp/model-v1' })
   */
  async checkout (args: CheckoutArgs): Promise<CheckoutResult & { verification?: VerificationReport }> {
    if (typeof args.rev !== 'string') throw new TypeError('checkout: rev must be a string')
    return await tagged('checkout', async () => {
      await this.ensureLocal(args.rev)
      const r = await checkout({ repo: this.repo, rev: args.rev, to: args.to, force: args.force, onFile: args.onFile })
      const record = parseVerification(r.commit.verification)
      const v = verifySettings(args.verify)
      if (v === undefined || record === undefined) return r
      const base = r.manifest.kind === 'file' ? dirname(r.target) : r.target
      const report = await checkVerification({ store: this.repo.store, record, readFile: async rel => await readFile(join(base, rel)), backend: v.backend, tolerance: v.tolerance })
      failIfFailed(report, `v${r.commit.version}`)
      return { ...r, verification: report }
    })
  }

  /**
   * Loads a version's models from the store (not the working folder), runs the recorded inputs and compares outputs.
   * @example const report = await repo.verify({ rev: 'v3', backend: 'cpu' }); console.log(report.pass)
   */
  async verify (args: { rev: string } & VerifyArgs): Promise<VerificationReport & { cid: CID, version: number }> {
    return await tagged('verify', async () => {
      await this.ensureLocal(args.rev)
      const cid = await resolveRev(this.repo.store, args.rev)
      const commit = await readCommit(this.repo.store, cid)
      const manifest = await readManifest(this.repo.store, commit.model)
      const record = parseVerification(commit.verification)
      if (record === undefined) {
        throw new VerificationUnavailableError(`v${commit.version} has no verification record (it holds no TF.js model, or was committed with verification off)`, { version: commit.version })
      }
      const files = new Map(manifest.entries.map(e => [e.path, e.file]))
      const report = await checkVerification({
        store: this.repo.store,
        record,
        readFile: async rel => {
          const f = files.get(rel)
          if (f === undefined) throw new InvalidArgumentError(`v${commit.version} has no file ${rel}`, { path: rel })
          return await readFileBytes(this.repo.store, f)
        },
        backend: args.backend,
        tolerance: args.tolerance
      })
      failIfFailed(report, `v${commit.version}`)
      return { ...report, cid, version: commit.version }
    })
  }

  /**
   * History from a revision (default HEAD), newest first.
   * @example for (const e of await repo.log({ limit: 5 })) console.log(e.commit.version, e.commit.message)
   */
  async log (args: LogOptions = {}): Promise<LogEntry[]> {
    return await tagged('log', async () => await log(this.repo.store, args))
  }

  /**
   * One commit with its manifest and names.
   * @example const { commit } = await repo.show({ rev: 'v2' })
   */
  async show (args: { rev: string }): Promise<ShowResult> {
    return await tagged('show', async () => {
      await this.ensureLocal(args.rev)
      const cid = await resolveRev(this.repo.store, args.rev)
      const commit = await readCommit(this.repo.store, cid)
      const manifest = await readManifest(this.repo.store, commit.model)
      const names = (await namesByCommit(this.repo.store)).get(cid.toString()) ?? []
      return { cid, commit, manifest, names }
    })
  }

  /**
   * What changed in a path since it was last committed or checked out.
   * @example const s = await repo.status(); if (!s.clean) console.log(s.modified)
   */
  async status (args: { path?: string } = {}): Promise<StatusResult> {
    return await tagged('status', async () => await status(this.repo, args.path))
  }

  /**
   * Differences between two versions, or between a version and the working folder at its path (no `b`):
   * models, topology, tensors (with max/mean abs and relative L2 of changed values), files, params,
   * metrics, data and code lineage.
   * @example const d = await repo.diff({ a: 'v1', b: 'v2' }); for (const t of d.tensors) console.log(t.name, t.stats?.maxAbs)
   */
  async diff (args: { a: string, b?: string, exactNorm?: boolean }): Promise<import('../core/diff.js').DiffResult> {
    if (typeof args.a !== 'string') throw new TypeError('diff: a must be a revision string')
    const { diff } = await import('../core/diff.js')
    await this.ensureLocal(args.a)
    if (args.b !== undefined) await this.ensureLocal(args.b)
    return await tagged('diff', async () => await diff({ repo: this.repo, a: args.a, b: args.b, exactNorm: args.exactNorm }))
  }

  /** Tags, sorted by name (numeric-aware: 1.9.0 before 1.10.0), with their versions. */
  async tags (): Promise<nameRefs.NamedCommit[]> {
    return await tagged('tags', async () => await nameRefs.listTags(this.repo.store))
  }

  /**
   * Names a commit (default HEAD) with an immutable tag; moving an existing tag needs `force` (REF_EXISTS otherwise).
   * @example await repo.tag({ name: '1.2.0', rev: 'v7' })
   */
  async tag (args: { name: string, rev?: string, force?: boolean }): Promise<nameRefs.TagResult> {
    if (typeof args.name !== 'string') throw new TypeError('tag: name must be a string')
    return await tagged('tag', async () => await nameRefs.createTag(this.repo.store, args))
  }

  /** Deletes a tag: refused (REF_EXISTS) unless `force`. */
  async deleteTag (args: { name: string, force?: boolean }): Promise<nameRefs.NamedCommit> {
    return await tagged('deleteTag', async () => await nameRefs.deleteTag(this.repo.store, args))
  }

  async aliases (): Promise<nameRefs.NamedCommit[]> {
    return await tagged('aliases', async () => await nameRefs.listAliases(this.repo.store))
  }

  /**
   * Points a movable alias at a commit (default HEAD); the move is recorded in the alias history.
   * @example await repo.alias({ name: 'production', rev: '1.2.0', message: 'rollout' })
   */
  async alias (args: { name: string, rev?: string, message?: string, author?: Author, timestamp?: number }): Promise<nameRefs.AliasResult> {
    if (typeof args.name !== 'string') throw new TypeError('alias: name must be a string')
    return await tagged('alias', async () => await nameRefs.setAlias(this.repo.store, { ...args, author: args.author ?? defaultAuthor(), timestamp: args.timestamp ?? defaultTimestamp() }))
  }

  /** Deletes an alias (recorded in its history). */
  async deleteAlias (args: { name: string, message?: string, author?: Author, timestamp?: number }): Promise<nameRefs.NamedCommit> {
    return await tagged('deleteAlias', async () => await nameRefs.deleteAlias(this.repo.store, { ...args, author: args.author ?? defaultAuthor(), timestamp: args.timestamp ?? defaultTimestamp() }))
  }

  /** Every move of an alias, newest first. */
  async aliasHistory (args: { name: string }): Promise<nameRefs.AliasLogEntry[]> {
    return await tagged('aliasHistory', async () => await nameRefs.aliasHistory(this.repo.store, args.name))
  }

  /** Branches, the current one marked. */
  async branches (): Promise<nameRefs.BranchInfo[]> {
    return await tagged('branches', async () => await nameRefs.listBranches(this.repo.store))
  }

  /** Creates a branch at a commit (default HEAD); REF_EXISTS if it exists. */
  async createBranch (args: { name: string, rev?: string }): Promise<nameRefs.NamedCommit> {
    return await tagged('createBranch', async () => await nameRefs.createBranch(this.repo.store, args))
  }

  /** Deletes a branch (not the current one); its commits stay reachable as versions. */
  async deleteBranch (args: { name: string }): Promise<nameRefs.NamedCommit> {
    return await tagged('deleteBranch', async () => await nameRefs.deleteBranch(this.repo.store, args))
  }

  /**
   * Moves HEAD to a branch (with `create`, a new one at `rev`, default HEAD). Files are not touched.
   * @example await repo.switch({ name: 'experiment', create: true, rev: 'v3' })
   */
  async switch (args: { name: string, create?: boolean, rev?: string }): Promise<nameRefs.SwitchResult> {
    return await tagged('switch', async () => await nameRefs.switchBranch(this.repo.store, args))
  }

  /** Resolves a revision (`v3`, a tag, `HEAD~1`, a CID prefix) to a commit CID. */
  async resolve (rev: string): Promise<CID> {
    return await tagged('resolve', async () => await resolveRev(this.repo.store, rev))
  }

  /**
   * A TF.js IOHandler that writes the model into `path` (default `model`) in tfjs-node's file layout
   * and commits it as a new version, with metrics, params and verification like `commit`.
   * @example await model.save(repo.saveHandler({ message: 'epoch 10', metrics: { acc: 0.91 } }))
   */
  saveHandler (args: { path?: string, message: string, params?: Record<string, ParamValue>, metrics?: Record<string, ParamValue>, verify?: boolean | VerifyArgs, onCommit?: (r: CommitResult) => void }): TF.io.IOHandler {
    return {
      save: async (artifacts: TF.io.ModelArtifacts): Promise<TF.io.SaveResult> => await tagged('saveHandler', async () => {
        const files = artifactsToFiles(artifacts)
        const target = join(this.root, args.path ?? 'model')
        await writeFolder(target, files)
        const r = await this.commit({ path: target, message: args.message, verify: args.verify, lineage: { params: args.params, metrics: args.metrics } })
        args.onCommit?.(r)
        return saveResult(artifacts, files)
      })
    }
  }

  /**
   * A TF.js IOHandler that loads a version's model straight from the store (verified), not from the working folder.
   * `model` picks the model JSON when a version holds several.
   * @example const m = await tf.loadLayersModel(repo.loadHandler('v3'))
   */
  loadHandler (rev = 'HEAD', options: { model?: string } = {}): TF.io.IOHandler {
    return {
      load: async (): Promise<TF.io.ModelArtifacts> => await tagged('loadHandler', async () => {
        const { commit, manifest } = await this.show({ rev })
        const files = new Map(manifest.entries.map(e => [e.path, e.file]))
        const candidates = options.model !== undefined ? manifest.models.filter(m => m.path === options.model) : manifest.models
        const runnable: string[] = []
        for (const m of candidates) {
          const obj = parseModel(decodeObject(m.model, await this.store.get(m.model), `model ${m.model.toString()}`))
          if (obj.format !== 'weights-manifest') runnable.push(m.path)
        }
        if (runnable.length !== 1) {
          throw new InvalidArgumentError(runnable.length === 0
            ? `v${commit.version} has no TF.js model${options.model !== undefined ? ` at ${options.model}` : ''}`
            : `v${commit.version} holds ${runnable.length} models (${runnable.join(', ')}); pass { model: <path> }`, { models: runnable })
        }
        const jsonPath = runnable[0]!
        const read = async (rel: string): Promise<Uint8Array> => {
          const f = files.get(rel)
          if (f === undefined) throw new InvalidModelError(`v${commit.version}: ${rel} is referenced by ${jsonPath} but not stored`, { path: rel })
          return await readFileBytes(this.store, f)
        }
        const dir = posix.dirname(jsonPath)
        return await filesToArtifacts(await read(jsonPath), jsonPath, async p => await read(posix.normalize(posix.join(dir, p))))
      })
    }
  }

  // ------------------------------------------------------------------------------------------ remotes

  /**
   * Adds a named remote (`m/remote/<name>`). A plain path is stored absolute (resolved against `cwd`).
   * @example await repo.addRemote({ name: 'origin', url: '/srv/models/classifier' })
   */
  async addRemote (args: { name: string, url: string, options?: Record<string, unknown>, cwd?: string }): Promise<RemoteConfig> {
    return await tagged('addRemote', async () => await addRemoteConfig(this.repo.store, args.name, args.url, args.options ?? {}, args.cwd))
  }

  /** Removes a named remote and its remote-tracking refs. */
  async removeRemote (args: { name: string }): Promise<RemoteConfig> {
    return await tagged('removeRemote', async () => await removeRemoteConfig(this.repo.store, args.name))
  }

  /** Configured remotes, by name. */
  async remotes (): Promise<RemoteConfig[]> {
    return await tagged('remotes', async () => await listRemoteConfigs(this.repo.store))
  }

  /** Opens a remote by name (or, with `allowUrl`, a URL or path); `close` is false for a caller's transport. */
  private async connect (args: RemoteArgs, options: { create?: boolean, allowUrl?: boolean } = {}): Promise<{ remote: Remote, name: string | undefined, close: () => Promise<void> }> {
    const arg = args.remote ?? DEFAULT_REMOTE
    if (args.transport !== undefined) return { remote: args.transport, name: arg, close: async () => {} }
    const config = await getRemoteConfig(this.repo.store, arg)
    let url: string
    let name: string | undefined = arg
    if (config !== undefined) url = config.url
    else if (options.allowUrl === true && /[/\\:]|^\./.test(arg)) { url = normalizeRemoteUrl(arg); name = undefined } else url = (await requireRemoteConfig(this.repo.store, arg)).url
    const remote = await openRemote(url, { create: options.create, config: config?.options })
    return { remote, name, close: async () => { await remote.close() } }
  }

  /**
   * Sends a branch (default: the current one) and its versions and tags to a remote, then moves the
   * remote's branch by compare-and-swap — a fast-forward unless `force`.
   * @example const r = await repo.push({ remote: 'origin' }); console.log(r.objectsSent, r.bytesSent)
   */
  async push (args: PushArgs = {}): Promise<PushResult> {
    return await tagged('push', async () => {
      const c = await this.connect(args, { create: true, allowUrl: true })
      try {
        return await push(this.repo.store, c.remote, { remoteName: c.name, refs: args.refs, force: args.force, tags: args.tags, onProgress: args.onProgress, concurrency: args.concurrency })
      } finally { await c.close() }
    })
  }

  /**
   * Gets a remote's branches (as `refs/remotes/<remote>/<branch>`), tags and versions, with every object
   * they need (commits only in a partial clone of that remote).
   * @example const r = await repo.fetch({ remote: 'origin' })
   */
  async fetch (args: FetchArgs = {}): Promise<FetchResult> {
    return await tagged('fetch', async () => await this.fetchInner(args))
  }

  private async fetchInner (args: FetchArgs): Promise<FetchResult> {
    const c = await this.connect(args)
    try {
      const commitsOnly = (await partialRemote(this.repo.store)) === c.name
      return await fetch(this.repo.store, c.remote, { remoteName: c.name ?? DEFAULT_REMOTE, force: args.force, commitsOnly, onProgress: args.onProgress, concurrency: args.concurrency })
    } finally { await c.close() }
  }

  /**
   * Fetches, then fast-forwards the current branch to the remote's (`force`: resets it when they have
   * diverged) and checks the new version out into its committed path.
   * @example const r = await repo.pull({ remote: 'origin' }); console.log(r.action)
   */
  async pull (args: PullArgs = {}): Promise<PullResult> {
    return await tagged('pull', async () => {
      const fetched = await this.fetchInner(args)
      const plan = await planPull(this.repo.store, { remoteName: args.remote ?? DEFAULT_REMOTE, url: fetched.url, branch: args.branch, force: args.force })
      const base = { action: plan.action, branch: plan.branch, old: plan.from, new: plan.to, fetch: fetched }
      if (plan.action === 'up-to-date' || plan.action === 'ahead') return base
      // Files first: a checkout refused for uncommitted changes leaves the branch where it was.
      const co = args.checkout === false ? undefined : await this.checkout({ rev: plan.to, verify: args.verify, onFile: args.onFile })
      await moveBranch(this.repo.store, plan.branch, plan.from, plan.to)
      return co === undefined ? base : { ...base, checkout: co }
    })
  }

  /**
   * Partial clones: fetches what a version needs (manifest, files, models, chunks, verification
   * tensors) from the remote it was cloned from, unless it is here already. Checkout, show, verify and
   * diff call it; a complete repository returns at once.
   * @example await repo.ensureLocal('v3')
   */
  async ensureLocal (rev: string, options: { onProgress?: ProgressFn, transport?: Remote } = {}): Promise<{ objects: number, bytes: number }> {
    const name = await partialRemote(this.repo.store)
    if (name === undefined) return { objects: 0, bytes: 0 }
    return await tagged('ensureLocal', async () => {
      const cid = await resolveRev(this.repo.store, rev)
      if (await hasCommitContent(this.repo.store, cid)) return { objects: 0, bytes: 0 }
      const c = await this.connect({ remote: name, transport: options.transport })
      try {
        const r = await fetchCommitContent(this.repo.store, c.remote, cid, { onProgress: options.onProgress })
        return { objects: r.objects, bytes: r.bytes }
      } finally { await c.close() }
    })
  }

  /**
   * Creates a repository from a remote: `origin` set to `url`, every branch, tag and version fetched,
   * the remote's default branch created locally and (unless `checkout: false`) its HEAD version checked
   * out, verified as `checkout` does. `filter: 'commits'` makes a partial clone.
   * @example const r = await Repository.clone({ url: '/srv/models/classifier', dir: 'classifier' })
   */
  static async clone (args: CloneArgs): Promise<CloneResult> {
    if (typeof args.url !== 'string') throw new TypeError('clone: url must be a string')
    return await tagged('clone', async () => {
      const remoteName = args.remoteName ?? DEFAULT_REMOTE
      validateRemoteName(remoteName)
      const url = normalizeRemoteUrl(args.url)
      const root = resolvePath(args.dir ?? cloneDirName(url))
      const existing = await lstatPath(root).catch(() => undefined)
      if (existing !== undefined && (!existing.isDirectory() || (await readDirPath(root)).length > 0)) {
        throw new InvalidArgumentError(`cannot clone into ${root}: it exists and is not an empty folder`, { path: root })
      }
      const opened = args.transport ?? await openRemote(url)
      let repo: Repository | undefined
      try {
        let result: CloneResult
        try {
          await mkdirPath(root, { recursive: true })
          await initRepo(root)
          repo = await Repository.open({ dir: root })
          await addRemoteConfig(repo.store, remoteName, url)
          if (args.filter === 'commits') {
            const tx = await repo.store.transaction()
            tx.setMeta(PARTIAL_KEY, new TextEncoder().encode(remoteName))
            await tx.commit()
          }
          const fetched = await fetch(repo.store, opened, { remoteName, commitsOnly: args.filter === 'commits', onProgress: args.onProgress, concurrency: args.concurrency })
          const branch = await remoteDefaultBranch(opened, fetched.heads)
          let head: string | null = null
          if (branch !== undefined) {
            head = fetched.heads.get(branch)!
            const headPath = (await readCommit(repo.store, CIDValue.parse(head))).path
            const tx = await repo.store.transaction()
            tx.setRef({ name: `refs/heads/${branch}`, value: head, expect: null })
            tx.setRef({ name: 'HEAD', value: `ref: refs/heads/${branch}` })
            // `mvc commit` and `mvc status` default to the path of the version checked out (a partial
            // clone without checkout has no content to compare with, so it gets no default path).
            if (args.filter !== 'commits' || args.checkout !== false) tx.setMeta('last-path', new TextEncoder().encode(headPath))
            await tx.commit()
          }
          result = { root, remote: remoteName, url, partial: args.filter === 'commits', branch: branch ?? null, head, fetch: fetched }
        } catch (err) {
          await repo?.close()
          repo = undefined
          // A clone that could not fetch leaves nothing behind: the folder as it was (absent, or empty).
          if (existing === undefined) await rmPath(root, { recursive: true, force: true })
          else for (const e of await readDirPath(root)) await rmPath(join(root, e), { recursive: true, force: true })
          throw err
        }
        if (result.head === null || args.checkout === false) return result
        // The repository stays when checkout (or its verification) fails: `mvc checkout` can be run again.
        // A partial clone fetches HEAD's content through the remote opened here (a folder remote is locked while open).
        await repo.ensureLocal('HEAD', { transport: opened, onProgress: args.onProgress })
        const co = await repo.checkout({ rev: 'HEAD', verify: args.verify, onFile: args.onFile })
        return { ...result, checkout: co }
      } finally {
        await repo?.close()
        if (args.transport === undefined) await opened.close()
      }
    })
  }

  /**
   * Checks the repository: every ref names a stored commit, every reachable object is present, hashes
   * to its CID and decodes; reports dangling and temporary packs.
   * @example const r = await repo.fsck(); if (!r.ok) console.log(r.missing, r.corrupt)
   */
  async fsck (options: { onObject?: (n: number) => void } = {}): Promise<FsckReport> {
    return await tagged('fsck', async () => {
      const store = this.repo.store
      if (!(store instanceof LevelObjectStore)) throw new TypeError('fsck needs a LevelDB-backed store')
      return await fsck(store, options.onObject)
    })
  }

  async close (): Promise<void> {
    await this.repo.store.close()
  }
}
