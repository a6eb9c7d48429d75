/**
 * The public library API: a thin facade. A `Repository` wraps an open repository; each method checks
 * its arguments, applies defaults, calls the one core function that does the operation, and tags
 * errors with the method's name (`err.caller`) before rethrowing.
 */
import { userInfo, hostname } from 'node:os'
import { isAbsolute, join, resolve as resolvePath } from 'node:path'
import type { CID } from 'multiformats/cid'
import type * as TF from '@tensorflow/tfjs'
import { InvalidArgumentError, UsageError, isMvcError, toMvcError } from '../errors.js'
import { parseCodeLineage, parseDataLineage, type ParamValue } from '../format/lineage.js'
import type { Author } from '../format/objects.js'
import type { Tolerance } from '../format/verification.js'
import { DEFAULT_REMOTE, HEAD } from '../format/keys.js'
import type { BackendName } from '../formats/tfjs/runtime.js'
import type { Remote } from '../remote/interface.js'
import { openRepo, type Repo } from '../core/repo.js'
import { init, type InitResult } from '../core/init.js'
import { Config, setConfig, type ConfigEntry, type ConfigLevel, type ConfigValue } from '../core/config.js'
import { gitUser } from '../core/lineage/code.js'
import { commit, repoRelative, type CommitResult, type Lineage } from '../core/commit.js'
import { checkout, type CheckoutOutcome } from '../core/checkout.js'
import { status, type StatusResult } from '../core/worktree.js'
import { log, logLines, type LogEntry, type LogLine, type LogOptions } from '../core/history.js'
import { show, type ShowResult } from '../core/show.js'
import * as nameRefs from '../core/names.js'
import { resolveRev } from '../core/refs.js'
import { fsck, type FsckReport } from '../core/fsck.js'
import type { OutputsDiff } from '../core/diff/outputs.js'
import { repair, type RepairReport } from '../core/repair.js'
import { verifyVersion, type CheckSettings, type VerificationReport, type VerifyProgress, type VerifySettings } from '../core/verify/index.js'
import { ensureLocal } from '../core/partial.js'
import { saveArtifacts, versionArtifacts } from '../core/artifacts.js'
import { addRemoteConfig, listRemoteConfigs, removeRemoteConfig, type RemoteConfig } from '../core/remotes.js'
import type { FetchResult, PushResult } from '../core/sync.js'
import { fetchRemote, pull, pushRemote, type PullResult } from '../core/remote-ops.js'
import { clone, cloneDirName, type CloneResult } from '../core/clone.js'
import { lsRemote, type LsRemoteResult, type RefFilter } from '../core/ls-remote.js'
import type { ProgressFn } from '../core/transfer.js'
import type { DiffResult } from '../core/diff/index.js'
import { LevelObjectStore } from '../store/level-store.js'
import type { ObjectStore } from '../store/interface.js'
import {
  addTrustedKey, generateKey, listTrustedKeys, loadSigningKey, removeTrustedKey, requireSignedRev,
  requireSignedSetting, setRequireSigned, signaturesOfRev, signCommit,
  type GeneratedKey, type SignatureCheck, type SignedResult, type SignResult, type TrustedKey, type TrustPolicy
} from '../core/sign.js'
import { exportBundle, verifyBundle, type ExportBundleResult, type VerifyBundleResult } from '../core/sign-openssf.js'
import { exportCar, importCar, type CarProgress, type ExportResult, type ImportResult } from '../core/car.js'
import { SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from '../format/objects.js'
import { deletedVersions, keepLast, removeVersions, undoRemove, type RmResult, type Tombstone, type UndoneVersion } from '../core/lifecycle.js'
import { gc, type GcOptions, type GcReport } from '../core/gc.js'
import { gcRemote, type RemoteGcResult } from '../core/gc-remote.js'

export { cloneDirName }
export type { ShowResult }
export type { CloneResult, PullResult }

async function tagged<T> (caller: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (thrown) {
    const err = toMvcError(thrown) // a full disk or a refused permission is a typed error, not a bug
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

/**
 * The author of a repository's commits: MVC_AUTHOR_NAME / MVC_AUTHOR_EMAIL, else `mvc config
 * user.name` / `user.email`, else git's `user.name` / `user.email` (the work tree's, then the user's),
 * else the login name on this host.
 */
export async function repositoryAuthor (root: string, env: NodeJS.ProcessEnv = process.env): Promise<Author> {
  const config = await Config.load(root, env)
  const git = await gitUser(root, env.HOME ?? '')
  const fallback = defaultAuthor({})
  const given = (v: string | undefined): string | undefined => v === undefined || v === '' ? undefined : v
  return {
    name: given(env.MVC_AUTHOR_NAME) ?? config.string('user.name') ?? given(git.name) ?? fallback.name,
    email: given(env.MVC_AUTHOR_EMAIL) ?? config.string('user.email') ?? given(git.email) ?? fallback.email
  }
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
  /**
   * Open for reading only: when another process (a commit, a push, `mvc serve`) holds the repository,
   * read a consistent snapshot of it at once instead of waiting. Writes (but caches) are then
   * REPOSITORY_LOCKED. Without another process it opens normally.
   */
  readonly reader?: boolean
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
  /** Run with this runtime when it can ('tfjs', 'python-tensorflow'). */
  readonly runtime?: string
  /** The Python interpreter for the python-tensorflow runtime. */
  readonly python?: string
  /** Files registering custom classes. */
  readonly customObjects?: readonly string[]
  /** Commit only: measure each output's tolerance on a second backend: 'auto' (default), 'always', 'never'. */
  readonly measure?: 'auto' | 'always' | 'never'
  /** Called as each model is loaded and run (model i of n, elapsed). */
  readonly onProgress?: (p: VerifyProgress) => void
}

/** Lineage fields given outright; `data` and `code` must have the shapes of docs/design.md, "Lineage". */
export interface LineageArgs {
  readonly data?: unknown
  readonly code?: unknown
  readonly params?: Readonly<Record<string, unknown>>
  readonly metrics?: Readonly<Record<string, unknown>>
}

export interface CommitArgs {
  /** File or folder to commit; default: the last committed path. */
  readonly path?: string
  readonly message: string
  readonly allowEmpty?: boolean
  /** Commit a file that claims to be a model but is invalid (a truncated model.json) as a plain file, with a warning, instead of failing with INVALID_MODEL. */
  readonly allowInvalidModels?: boolean
  readonly author?: Author
  readonly timestamp?: number
  readonly lineage?: LineageArgs
  readonly onFile?: (rel: string, size: number) => void
  /** Bytes hashed so far of the total (a progress bar). */
  readonly onBytes?: (done: number, total: number) => void
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

/**
 * Which versions to accept (docs/cli.md, "Trust"): with `requireSigned`, a version must carry a valid
 * signature by a trusted key — the repository's (`trust`) or one of `trustedKeys` (PEM public keys).
 * Without it, the repository's `require-signed` setting decides (clone: no signature is required).
 */
export interface TrustArgs {
  readonly requireSigned?: boolean
  readonly trustedKeys?: readonly string[]
}

export interface CheckoutArgs extends TrustArgs {
  readonly rev: string
  readonly to?: string
  readonly force?: boolean
  readonly onFile?: (path: string, size: number) => void
  /** Bytes written so far of the total (a progress bar). */
  readonly onBytes?: (done: number, total: number) => void
  /** Verify behaviour before putting the files in place (default true when the commit recorded it). */
  readonly verify?: boolean | VerifyArgs
  /** Put the files in place even when verification fails (status then says so). */
  readonly keepOnFail?: boolean
  /** Only these tracked paths of the version (relative to the repository root, or absolute). */
  readonly only?: readonly string[]
}

/** A private key: PEM text or bytes, and its password when encrypted. */
export interface KeyArgs {
  readonly key: string | Uint8Array
  readonly password?: string
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
  /** Branches, tags or aliases to push; default the current branch. */
  readonly refs?: readonly string[]
  readonly force?: boolean
  /** Push every tag (tags on pushed commits go anyway). */
  readonly tags?: boolean
  /** Push every alias with its history (aliases on pushed commits, and those the remote has, go anyway). */
  readonly aliases?: boolean
}

export interface FetchArgs extends RemoteArgs {
  /** Take the remote's tags and version refs where they differ from the local ones, and its alias histories where they diverged. */
  readonly force?: boolean
}

export interface LsRemoteArgs {
  /** Where to look for the repository whose configured remotes may be named (default `.`). */
  readonly dir?: string
  /** A configured remote (default: `remote.default`, else `origin`), or a URL or path (works outside a repository). */
  readonly remote?: string
  /** An open remote to list instead. */
  readonly transport?: Remote
  /** Only these kinds of ref: `branches`, `tags`, `aliases` (refs/aliases/ and refs/alias-log/), `versions`. */
  readonly filters?: readonly RefFilter[]
  /** git's ls-remote patterns: globs matched against a ref's name or a tail of it after a `/`. */
  readonly patterns?: readonly string[]
}

export interface PullArgs extends FetchArgs, TrustArgs {
  /** Remote branch to pull (default: the current branch's name). */
  readonly branch?: string
  /** Check the new version out into its committed path (default true). */
  readonly checkout?: boolean
  readonly verify?: boolean | VerifyArgs
  readonly onFile?: (path: string, size: number) => void
}

export interface CloneArgs extends TrustArgs {
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
  /**
   * A commit CID the cloned branch must be or descend from (REF_CONFLICT otherwise, and nothing is left
   * behind): a clone has no earlier view of the remote to detect a rollback with, so pin one obtained
   * out of band.
   */
  readonly expect?: string
  readonly transport?: Remote
  readonly onProgress?: ProgressFn
  readonly onFile?: (path: string, size: number) => void
  readonly concurrency?: number
}

function trustPolicy (a: TrustArgs): TrustPolicy | undefined {
  if (a.requireSigned === undefined && a.trustedKeys === undefined) return undefined
  return { ...(a.requireSigned !== undefined ? { requireSigned: a.requireSigned } : {}), trustedKeys: a.trustedKeys ?? [] }
}

function keyOf (a: KeyArgs): ReturnType<typeof loadSigningKey> {
  if (typeof a.key !== 'string' && !(a.key instanceof Uint8Array)) throw new TypeError('key must be PEM text or bytes')
  return loadSigningKey(a.key, 'the signing key', a.password)
}

/** `true`/absent → defaults, `false` → off, an object → those settings. */
function verifySettings (v: boolean | VerifyArgs | undefined): VerifySettings | undefined {
  if (v === false) return undefined
  return v === true || v === undefined ? {} : v
}

function checkSettings (v: boolean | VerifyArgs | undefined): CheckSettings | undefined {
  const s = verifySettings(v)
  return s === undefined ? undefined : { backend: s.backend, tolerance: s.tolerance, runtime: s.runtime, python: s.python, customObjects: s.customObjects, onProgress: s.onProgress }
}

/** Lineage given to the API, checked: `data` and `code` must parse as the documented shapes. */
function lineageOf (l: LineageArgs | undefined): Lineage | undefined {
  if (l === undefined) return undefined
  const out: { -readonly [K in keyof Lineage]: Lineage[K] } = { params: l.params, metrics: l.metrics }
  if (l.data !== undefined) {
    const d = l.data === null ? null : parseDataLineage(l.data)
    if (l.data !== null && d === null) throw new InvalidArgumentError('lineage.data must be { kind: "snapshot", manifest, path, files, bytes } or { kind: "ref", ref }', { data: l.data })
    out.data = d
  }
  if (l.code !== undefined) {
    const c = l.code === null ? null : parseCodeLineage(l.code)
    if (l.code !== null && c === null) throw new InvalidArgumentError('lineage.code must be { kind: "git", oid, branch, remote, dirty, dirtyPaths } or { kind: "none", reason }', { code: l.code })
    out.code = c
  }
  return out
}

/**
 * Reads or changes settings (`mvc config`) at the repository level (`root` given) or the user's.
 * @example await configure({ key: 'user.email', value: 'ada@example.com', level: 'user' })
 */
export async function configure (args: { root?: string, key?: string, value?: string | ConfigValue, unset?: boolean, level?: ConfigLevel }): Promise<{ entries: ConfigEntry[], value?: ConfigValue }> {
  const level = args.level ?? (args.root !== undefined ? 'repository' : 'user')
  if (args.key !== undefined && (args.value !== undefined || args.unset === true)) {
    await setConfig({ level, root: args.root, key: args.key, value: args.unset === true ? undefined : args.value })
  }
  const c = await Config.load(level === 'repository' ? args.root : undefined)
  const entries = c.list()
  const value = args.key === undefined ? undefined : c.get(args.key)
  return value === undefined ? { entries } : { entries, value }
}

export class Repository {
  private constructor (private readonly repo: Repo) {}

  /** Absolute path of the folder holding `.mvc`. */
  get root (): string { return this.repo.root }

  /** Verification settings: what was given, else `mvc config verify.*`; undefined when off. */
  private async verifyDefaults (v: boolean | VerifyArgs | undefined): Promise<VerifySettings | undefined> {
    const c = await Config.load(this.root)
    if (v === false || (v === undefined && c.boolean('verify.enabled') === false)) return undefined
    const given = v === true || v === undefined ? {} : v
    const atol = c.number('verify.atol')
    const rtol = c.number('verify.rtol')
    return {
      ...given,
      backend: given.backend ?? c.string('verify.backend') as BackendName | undefined,
      runtime: given.runtime ?? c.string('verify.runtime'),
      python: given.python ?? c.string('verify.python'),
      tolerance: given.tolerance ?? (atol !== undefined || rtol !== undefined ? { atol: atol ?? 1e-5, rtol: rtol ?? 1e-5 } : undefined)
    }
  }

  /** Settings for checking behaviour: what was given, else `mvc config verify.*` (the tolerance stays as recorded). */
  private async checkDefaults (v: boolean | VerifyArgs | undefined): Promise<CheckSettings | undefined> {
    const s = await this.verifyDefaults(v)
    if (s === undefined) return undefined
    const given = typeof v === 'object' ? v : {}
    return { backend: s.backend, runtime: s.runtime, python: s.python, customObjects: s.customObjects, tolerance: given.tolerance, onProgress: s.onProgress }
  }

  /** A tracked path as the repository names it: absolute paths are made relative to the root; others are taken as given (relative to the root). */
  private tracked (p: string): string {
    return isAbsolute(p) ? repoRelative(this.root, resolvePath(p)) : p.split(/[\\/]+/).filter(x => x !== '' && x !== '.').join('/')
  }

  /** The remote used when none is named: `mvc config remote.default`, else `origin`. */
  private async defaultRemote (): Promise<string> {
    return (await Config.load(this.root)).string('remote.default') ?? DEFAULT_REMOTE
  }

  /**
   * Settings (`mvc config`): the effective ones with where each comes from, or one key's value.
   * @example await repo.config({ key: 'user.name', value: 'Ada', level: 'repository' })
   */
  async config (args: { key?: string, value?: string | ConfigValue, unset?: boolean, level?: ConfigLevel } = {}): Promise<{ entries: ConfigEntry[], value?: ConfigValue }> {
    return await tagged('config', async () => await configure({ ...args, root: this.root }))
  }
  get store (): ObjectStore { return this.repo.store }

  /**
   * Creates a repository in `dir` (idempotent).
   * @example const { created } = await Repository.init({ dir: '.' })
   */
  static async init (options: { dir?: string } = {}): Promise<InitResult> {
    return await tagged('init', async () => await init(options.dir ?? '.'))
  }

  /**
   * Rebuilds the repository's index from its pack files and what the old index still holds, keeping the
   * old one aside (docs/design.md, "Repair"). Works when the repository cannot be opened. `dryRun`
   * reports without changing anything.
   * @example const r = await Repository.repair({ dir: '.' }); if (!r.ok) console.log(r.lost)
   */
  static async repair (options: { dir?: string, dryRun?: boolean, onProgress?: (stage: string, done: number, total: number) => void } = {}): Promise<RepairReport> {
    return await tagged('repair', async () => await repair({ dir: options.dir ?? '.', dryRun: options.dryRun, onProgress: options.onProgress }))
  }

  /**
   * Opens the repository enclosing `dir`. Close it when done: it holds LevelDB's lock.
   * @example const repo = await Repository.open({ dir: '.' }); try { … } finally { await repo.close() }
   */
  static async open (options: OpenRepositoryOptions = {}): Promise<Repository> {
    return await tagged('open', async () => new Repository(await openRepo(options.dir ?? '.', { lockTimeoutMs: options.lockTimeoutMs, reader: options.reader })))
  }

  /**
   * Snapshots a file or folder as a new version; the result carries the commit written.
   * @example const r = await repo.commit({ path: 'model', message: 'baseline' }); console.log(`v${r.version}`)
   */
  async commit (args: CommitArgs): Promise<CommitResult> {
    if (typeof args.message !== 'string') throw new TypeError('commit: message must be a string')
    return await tagged('commit', async () => {
      if (args.message.trim() === '') throw new UsageError('a version needs a message that says what it is, e.g. -m "fine-tune the head on March data"; empty messages are refused', {})
      return await commit({
      ...args,
      repo: this.repo,
      author: args.author ?? await repositoryAuthor(this.root),
      timestamp: args.timestamp ?? defaultTimestamp(),
      lineage: lineageOf(args.lineage),
      verify: await this.verifyDefaults(args.verify)
      })
    })
  }

  /**
   * Rebuilds a version on disk, byte for byte, then (unless `verify: false`) checks its behaviour.
   * @example await repo.checkout({ rev: 'v1', to: '/tmp/model-v1' })
   */
  async checkout (args: CheckoutArgs): Promise<CheckoutOutcome> {
    if (typeof args.rev !== 'string') throw new TypeError('checkout: rev must be a string')
    return await tagged('checkout', async () => await checkout({ repo: this.repo, rev: args.rev, to: args.to, ...(args.only !== undefined ? { only: args.only.map(p => this.tracked(p)) } : {}), force: args.force, onFile: args.onFile, onBytes: args.onBytes, verify: await this.checkDefaults(args.verify), keepOnFail: args.keepOnFail, trust: trustPolicy(args) }))
  }

  /**
   * Loads a version's models from the store (not the working folder), runs the recorded inputs and compares outputs.
   * @example const report = await repo.verify({ rev: 'v3', backend: 'cpu' }); console.log(report.pass)
   */
  async verify (args: { rev: string } & VerifyArgs): Promise<VerificationReport & { cid: CID, version: number }> {
    return await tagged('verify', async () => {
      await ensureLocal(this.repo.store, args.rev)
      return await verifyVersion({ ...(await this.checkDefaults(args)), store: this.repo.store, rev: args.rev, formats: this.repo.formats })
    })
  }

  /**
   * History from a revision (default HEAD), newest first.
   * @example for (const e of await repo.log({ limit: 5 })) console.log(e.commit.version, e.commit.message)
   */
  async log (args: LogOptions = {}): Promise<LogEntry[]> {
    return await tagged('log', async () => await log(this.repo.store, args.path === undefined ? args : { ...args, path: this.tracked(args.path) }))
  }

  /**
   * The log as summaries (version, parents, time, author name, path, message, metrics) read from the
   * log index in one scan: what `mvc log` prints, fast over thousands of versions. Undefined when a
   * filter needs whole commits (`data`, `code`, conditions on params): use `log` then.
   * @example for (const l of await repo.logLines({ limit: 5 }) ?? []) console.log(l.summary.version, l.summary.message)
   */
  async logLines (args: LogOptions = {}): Promise<LogLine[] | undefined> {
    return await tagged('log', async () => await logLines(this.repo.store, args))
  }

  /**
   * One commit with its manifest and names.
   * @example const { commit } = await repo.show({ rev: 'v2' })
   */
  async show (args: { rev: string }): Promise<ShowResult> {
    return await tagged('show', async () => await show(this.repo, args.rev))
  }

  /**
   * What changed in a path since it was last committed or checked out.
   * @example const s = await repo.status(); if (!s.clean) console.log(s.modified)
   */
  async status (args: { path?: string } = {}): Promise<StatusResult & { paths?: StatusResult[] }> {
    return await tagged('status', async () => await status(this.repo, args.path))
  }

  /**
   * Differences between two versions, or between a version and the working folder at its path (no `b`):
   * models, topology, tensors (with max/mean abs and relative L2 of changed values), files, params,
   * metrics, data and code lineage.
   * @example const d = await repo.diff({ a: 'v1', b: 'v2' }); for (const t of d.tensors) console.log(t.name, t.stats?.maxAbs)
   */
  async diff (args: { a: string, b?: string, exactNorm?: boolean, paths?: readonly string[] }): Promise<DiffResult> {
    if (typeof args.a !== 'string') throw new TypeError('diff: a must be a revision string')
    const { diff } = await import('../core/diff/index.js')
    await ensureLocal(this.repo.store, args.a)
    if (args.b !== undefined) await ensureLocal(this.repo.store, args.b)
    return await tagged('diff', async () => await diff({ repo: this.repo, a: args.a, b: args.b, exactNorm: args.exactNorm, ...(args.paths !== undefined ? { paths: args.paths.map(p => this.tracked(p)) } : {}) }))
  }

  /**
   * Behavioural diff: runs a's and b's (default: the working folder's) models on a's recorded
   * reference inputs (or `inputs`: JSON, .npy or .npz bytes) with one runtime and reports per-output
   * differences, and whether each stays within the tolerance a's record gives it on other runtimes.
   * @example const d = await repo.diffOutputs({ a: 'v1', b: 'v2' }); console.log(d.changed)
   */
  async diffOutputs (args: { a: string, b?: string, paths?: readonly string[], inputs?: Uint8Array, backend?: BackendName, runtime?: string, python?: string, customObjects?: readonly string[], onProgress?: (p: VerifyProgress) => void }): Promise<OutputsDiff> {
    if (typeof args.a !== 'string') throw new TypeError('diffOutputs: a must be a revision string')
    const { diffOutputs } = await import('../core/diff/outputs.js')
    await ensureLocal(this.repo.store, args.a)
    if (args.b !== undefined) await ensureLocal(this.repo.store, args.b)
    return await tagged('diff', async () => await diffOutputs({ ...args, repo: this.repo, ...(args.paths !== undefined ? { paths: args.paths.map(p => this.tracked(p)) } : {}) }))
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
    return await tagged('alias', async () => await nameRefs.setAlias(this.repo.store, { ...args, author: args.author ?? await repositoryAuthor(this.root), timestamp: args.timestamp ?? defaultTimestamp() }))
  }

  /** Deletes an alias (recorded in its history). */
  async deleteAlias (args: { name: string, message?: string, author?: Author, timestamp?: number }): Promise<nameRefs.NamedCommit> {
    return await tagged('deleteAlias', async () => await nameRefs.deleteAlias(this.repo.store, { ...args, author: args.author ?? await repositoryAuthor(this.root), timestamp: args.timestamp ?? defaultTimestamp() }))
  }

  /** Every move of an alias, newest first. */
  async aliasHistory (args: { name?: string }): Promise<nameRefs.AliasLogEntry[]> {
    return await tagged('aliasHistory', async () => {
      if (args.name !== undefined) return await nameRefs.aliasHistory(this.repo.store, args.name)
      // Every alias's moves, alias by alias (sorted by name), each newest first.
      const out: nameRefs.AliasLogEntry[] = []
      for (const name of await nameRefs.aliasesWithHistory(this.repo.store)) out.push(...await nameRefs.aliasHistory(this.repo.store, name))
      return out
    })
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
        const r = await saveArtifacts({
          repo: this.repo,
          artifacts,
          path: join(this.root, args.path ?? 'model'),
          message: args.message,
          author: await repositoryAuthor(this.root),
          timestamp: defaultTimestamp(),
          verify: await this.verifyDefaults(args.verify),
          lineage: { params: args.params, metrics: args.metrics }
        })
        args.onCommit?.(r.result)
        return r.save
      })
    }
  }

  /**
   * A TF.js IOHandler that loads a version's model straight from the store (verified), not from the working folder.
   * `model` picks the model JSON when a version holds several.
   * @example const m = await tf.loadLayersModel(repo.loadHandler('v3'))
   */
  loadHandler (rev = HEAD, options: { model?: string } = {}): TF.io.IOHandler {
    return {
      load: async (): Promise<TF.io.ModelArtifacts> => await tagged('loadHandler', async () => await versionArtifacts({ repo: this.repo, rev, model: options.model }))
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

  /**
   * Sends a branch (default: the current one) and its versions and tags to a remote, then moves the
   * remote's branch by compare-and-swap — a fast-forward unless `force`.
   * @example const r = await repo.push({ remote: 'origin' }); console.log(r.objectsSent, r.bytesSent)
   */
  async push (args: PushArgs = {}): Promise<PushResult> {
    return await tagged('push', async () => await pushRemote({ ...args, repo: this.repo, remote: args.remote ?? await this.defaultRemote() }))
  }

  /**
   * Gets a remote's branches (as `refs/remotes/<remote>/<branch>`), tags, versions and aliases (with
   * their histories, taken where they extend the local ones), with every object they need (commits only
   * in a partial clone of that remote).
   * @example const r = await repo.fetch({ remote: 'origin' })
   */
  async fetch (args: FetchArgs = {}): Promise<FetchResult> {
    return await tagged('fetch', async () => await fetchRemote({ ...args, repo: this.repo, remote: args.remote ?? await this.defaultRemote() }))
  }

  /**
   * Fetches, then fast-forwards the current branch to the remote's (`force`: resets it when they have
   * diverged) and checks the new version out into its committed path.
   * @example const r = await repo.pull({ remote: 'origin' }); console.log(r.action)
   */
  async pull (args: PullArgs = {}): Promise<PullResult> {
    return await tagged('pull', async () => await pull({ ...args, repo: this.repo, remote: args.remote ?? await this.defaultRemote(), verify: await this.checkDefaults(args.verify), trust: trustPolicy(args) }))
  }

  /**
   * Partial clones: fetches what a version needs (manifest, files, models, chunks, verification
   * tensors) from the remote it was cloned from, unless it is here already. Checkout, show, verify and
   * diff call it; a complete repository returns at once.
   * @example await repo.ensureLocal('v3')
   */
  async ensureLocal (rev: string, options: { onProgress?: ProgressFn, transport?: Remote } = {}): Promise<{ objects: number, bytes: number }> {
    return await tagged('ensureLocal', async () => await ensureLocal(this.repo.store, rev, options))
  }

  /**
   * A remote's refs — branches, tags, versions, aliases and their histories — like `git ls-remote`:
   * from a configured remote of the repository at `dir`, or a URL or path (no repository needed).
   * An unknown remote or an unreachable URL is REMOTE_ERROR.
   * @example const { refs } = await Repository.lsRemote({ remote: 'origin', filters: ['aliases'] })
   */
  static async lsRemote (args: LsRemoteArgs = {}): Promise<LsRemoteResult> {
    for (const f of args.filters ?? []) if (!['branches', 'tags', 'aliases', 'versions'].includes(f)) throw new TypeError(`lsRemote: unknown filter ${JSON.stringify(f)}`)
    return await tagged('lsRemote', async () => await lsRemote(args))
  }

  /**
   * Creates a repository from a remote: `origin` set to `url`, every branch, tag and version fetched,
   * the remote's default branch created locally and (unless `checkout: false`) its HEAD version checked
   * out, verified as `checkout` does. `filter: 'commits'` makes a partial clone.
   * @example const r = await Repository.clone({ url: '/srv/models/classifier', dir: 'classifier' })
   */
  static async clone (args: CloneArgs): Promise<CloneResult> {
    if (typeof args.url !== 'string') throw new TypeError('clone: url must be a string')
    return await tagged('clone', async () => await clone({ ...args, verify: checkSettings(args.verify), trust: trustPolicy(args) }))
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
      return await fsck(store, options.onObject, this.repo.root)
    })
  }

  // ---------------------------------------------------------------------------------------- lifecycle

  /**
   * Deletes versions (`mvc rm`): a tombstone each, in one batch. Their content stays restorable
   * (`undoRemove`) until a gc past the grace period removes it; their commits, version numbers and
   * history stay. Versions a branch tip, tag or alias names are refused (VERSION_IN_USE) unless `force`.
   * @example await repo.remove({ revs: ['v2', 'v5'] })
   */
  async remove (args: { revs: readonly string[], force?: boolean, dryRun?: boolean, author?: Author, timestamp?: number }): Promise<RmResult> {
    if (!Array.isArray(args.revs)) throw new TypeError('remove: revs must be an array of revisions')
    return await tagged('remove', async () => await removeVersions(this.repo.store, args.revs, { force: args.force, dryRun: args.dryRun, author: args.author ?? await repositoryAuthor(this.root), timestamp: args.timestamp ?? defaultTimestamp() }))
  }

  /**
   * The keep-last policy: deletes every version but the last `keep`, the branch tips and the versions a
   * tag or alias names.
   * @example const r = await repo.keepLast({ keep: 5, dryRun: true }); console.log(r.removed.map(v => v.version))
   */
  async keepLast (args: { keep: number, dryRun?: boolean, author?: Author, timestamp?: number }): Promise<RmResult> {
    return await tagged('keepLast', async () => await keepLast(this.repo.store, args.keep, { dryRun: args.dryRun, author: args.author ?? await repositoryAuthor(this.root), timestamp: args.timestamp ?? defaultTimestamp() }))
  }

  /** Restores deleted versions whose content gc has not removed (VERSION_DELETED otherwise). */
  async undoRemove (args: { revs: readonly string[] }): Promise<UndoneVersion[]> {
    if (!Array.isArray(args.revs)) throw new TypeError('undoRemove: revs must be an array of revisions')
    return await tagged('undoRemove', async () => await undoRemove(this.repo.store, args.revs))
  }

  /**
   * gc of a remote (a configured name, or a URL or path): a folder remote's store is collected here,
   * `mvc serve` collects its own (a write token that is not append-only), S3 is collected by this client
   * (refs read first, objects listed after, nothing younger than the grace period deleted).
   * @example const r = await repo.gcRemote({ remote: 'origin', dryRun: true })
   */
  async gcRemote (args: { remote: string, dryRun?: boolean, prune?: string, pruneUnreferenced?: string, transport?: Remote }): Promise<RemoteGcResult> {
    if (typeof args.remote !== 'string') throw new TypeError('gcRemote: remote must be a name or URL')
    return await tagged('gcRemote', async () => {
      const c = await Config.load(this.root)
      return await gcRemote(this.repo.store, { ...args, prune: args.prune ?? c.string('gc.prune'), pruneUnreferenced: args.pruneUnreferenced ?? c.string('gc.pruneUnreferenced') })
    })
  }

  /** Deleted versions with when, by whom, and whether gc removed their content. */
  async deletedVersions (): Promise<Array<Tombstone & { cid: CID }>> {
    return await tagged('deletedVersions', async () => await deletedVersions(this.repo.store))
  }

  /**
   * Removes what nothing reaches (docs/design.md, "gc"), after the grace periods (`prune`, default
   * `mvc config gc.prune` else 2 weeks; `pruneUnreferenced`, default `gc.pruneUnreferenced` else 1 hour),
   * repacks mostly dead packs and reports the bytes freed (measured on disk). `dryRun` changes nothing.
   * @example const r = await repo.gc({ prune: 'now' }); console.log(r.disk.freed)
   */
  async gc (args: Omit<GcOptions, 'root'> = {}): Promise<GcReport> {
    return await tagged('gc', async () => {
      const store = this.repo.store
      if (!(store instanceof LevelObjectStore)) throw new TypeError('gc needs a LevelDB-backed store')
      const c = await Config.load(this.root)
      return await gc(store, { ...args, prune: args.prune ?? c.string('gc.prune'), pruneUnreferenced: args.pruneUnreferenced ?? c.string('gc.pruneUnreferenced'), root: this.root })
    })
  }

  // ------------------------------------------------------------------------------- signatures, trust

  /**
   * A new signing key pair as PEM text: ed25519 (default) or ECDSA P-256 (`ecdsa-p256`, what OpenSSF
   * model signing's `key` method verifies). Nothing is written; store the private key safely.
   * @example const k = Repository.keygen({ algorithm: 'ecdsa-p256' }); await writeFile('key.pem', k.privateKey, { mode: 0o600 })
   */
  static keygen (args: { algorithm?: SignatureAlgorithm } = {}): GeneratedKey {
    const algorithm = args.algorithm ?? 'ed25519'
    if (!SIGNATURE_ALGORITHMS.includes(algorithm)) throw new InvalidArgumentError(`key type ${String(algorithm)} is not one of ${SIGNATURE_ALGORITHMS.join(', ')}`, { algorithm })
    return generateKey(algorithm)
  }

  /**
   * Signs a version (default HEAD): an `mvc/signature` object over its commit CID, named by
   * `refs/signatures/<commit>/<key fingerprint>`, pushed, fetched, cloned and exported with it.
   * @example const s = await repo.sign({ rev: 'v3', key: await readFile('key.pem', 'utf8') })
   */
  async sign (args: KeyArgs & { rev?: string, force?: boolean, timestamp?: number }): Promise<SignResult> {
    return await tagged('sign', async () => await signCommit({ store: this.repo.store, rev: args.rev ?? HEAD, key: keyOf(args), timestamp: args.timestamp ?? defaultTimestamp(), force: args.force }))
  }

  /** A version's signatures, each checked; `trusted` for keys trusted here or given. */
  async signatures (args: { rev?: string, trustedKeys?: readonly string[] } = {}): Promise<{ cid: CID, version: number, signatures: SignatureCheck[] }> {
    return await tagged('signatures', async () => await signaturesOfRev(this.repo.store, args.rev ?? HEAD, args.trustedKeys ?? []))
  }

  /**
   * The trust check alone: the version must carry a valid signature by a trusted key (SIGNATURE_MISSING,
   * SIGNATURE_INVALID otherwise; exit 12).
   * @example await repo.verifySignature({ rev: 'v3', trustedKeys: [await readFile('ada.pub', 'utf8')] })
   */
  async verifySignature (args: { rev?: string, trustedKeys?: readonly string[] } = {}): Promise<SignedResult> {
    return await tagged('verifySignature', async () => await requireSignedRev(this.repo.store, args.rev ?? HEAD, args.trustedKeys ?? []))
  }

  /**
   * An OpenSSF model signing bundle (Sigstore bundle, DSSE, in-toto) for a version's files, which
   * `model_signing verify key` accepts on the version checked out. Needs an ECDSA key.
   * @example const r = await repo.exportSignatureBundle({ rev: 'v3', key: pem }); await writeFile('model.sig', r.bundle)
   */
  async exportSignatureBundle (args: KeyArgs & { rev?: string }): Promise<ExportBundleResult> {
    return await tagged('exportSignatureBundle', async () => await exportBundle({ store: this.repo.store, rev: args.rev ?? HEAD, key: keyOf(args) }))
  }

  /**
   * Verifies an OpenSSF model signing bundle (e.g. from `model_signing sign key`) against a version's
   * files (`rev`) or a folder (`path`): SIGNATURE_INVALID naming extra, missing, renamed and changed files.
   * @example await repo.verifySignatureBundle({ path: 'model', bundle: await readFile('model.sig', 'utf8'), publicKey: pub })
   */
  async verifySignatureBundle (args: { rev?: string, path?: string, bundle: string, bundlePath?: string, publicKey: string }): Promise<VerifyBundleResult> {
    if (typeof args.bundle !== 'string' || typeof args.publicKey !== 'string') throw new TypeError('verifySignatureBundle: bundle and publicKey must be strings')
    return await tagged('verifySignatureBundle', async () => await verifyBundle({ store: this.repo.store, rev: args.path === undefined ? (args.rev ?? HEAD) : undefined, path: args.path, bundle: args.bundle, bundlePath: args.bundlePath, publicKey: args.publicKey }))
  }

  /** Trusts a public key (PEM): its signatures satisfy `requireSigned` here. */
  async trust (args: { publicKey: string, name?: string }): Promise<TrustedKey> {
    return await tagged('trust', async () => await addTrustedKey(this.repo.store, args.publicKey, args.name ?? '', defaultTimestamp()))
  }

  /** Stops trusting a key, named by its name or a fingerprint prefix (≥ 8 hex digits). */
  async untrust (args: { id: string }): Promise<TrustedKey> {
    return await tagged('untrust', async () => await removeTrustedKey(this.repo.store, args.id))
  }

  /** The trusted keys, and whether checkout and pull require a trusted signature. */
  async trustedKeys (): Promise<{ keys: TrustedKey[], requireSigned: boolean }> {
    return await tagged('trustedKeys', async () => ({ keys: await listTrustedKeys(this.repo.store), requireSigned: await requireSignedSetting(this.repo.store) }))
  }

  /** Makes checkout and pull refuse versions no trusted key signed (or stop doing so). */
  async setRequireSigned (args: { on: boolean }): Promise<void> {
    await tagged('setRequireSigned', async () => { await setRequireSigned(this.repo.store, args.on) })
  }

  // ---------------------------------------------------------------------------------------- CAR files

  /**
   * Writes a version (with `history`, and its ancestors) as one CARv1 file whose root is the commit.
   * @example await repo.exportCar({ rev: 'v3', out: 'v3.car' })
   */
  async exportCar (args: { rev?: string, out: string, history?: boolean, onProgress?: CarProgress }): Promise<ExportResult> {
    if (typeof args.out !== 'string') throw new TypeError('exportCar: out must be a path')
    return await tagged('exportCar', async () => await exportCar({ store: this.repo.store, rev: args.rev ?? HEAD, out: resolvePath(args.out), history: args.history, onProgress: args.onProgress }))
  }

  /**
   * Imports a CAR file: every block re-hashed, the closure checked, then the version made available
   * (as `refs/versions/<n>` when the history allows, else `refs/imports/<cid>`) — or nothing at all.
   * @example const r = await repo.importCar({ file: 'v3.car' }); console.log(r.commits)
   */
  async importCar (args: { file: string, onProgress?: CarProgress }): Promise<ImportResult> {
    if (typeof args.file !== 'string') throw new TypeError('importCar: file must be a path')
    return await tagged('importCar', async () => await importCar({ store: this.repo.store, file: resolvePath(args.file), onProgress: args.onProgress }))
  }

  async close (): Promise<void> {
    await this.repo.store.close()
  }
}
