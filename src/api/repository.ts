/**
 * The public library API. A `Repository` wraps an open store; each method checks its arguments, calls
 * the core, and tags errors with the method's name (`err.caller`) before rethrowing.
 */
import { userInfo, hostname } from 'node:os'
import type { CID } from 'multiformats/cid'
import { InvalidArgumentError, InvalidModelError, VerificationFailedError, VerificationUnavailableError, isMvcError } from '../errors.js'
import { readFile } from 'node:fs/promises'
import { posix } from 'node:path'
import type * as TF from '@tensorflow/tfjs'
import { artifactsToFiles, filesToArtifacts, saveResult, writeFolder } from './iohandler.js'
import { decodeObject } from '../content/block.js'
import { parseModel } from '../model/objects.js'
import type { ParamValue } from '../model/lineage.js'
import { dirname, join } from 'node:path'
import type { Transaction } from '../store/interface.js'
import { checkVerification, parseVerification, recordVerification, type BackendName, type Tolerance, type VerificationRecord, type VerificationReport } from '../core/verify.js'
import type { Author, CommitObject, Manifest } from '../model/objects.js'
import { initRepo, openRepo, type Repo } from '../core/repo.js'
import { commitPath, type CommitResult, type Lineage } from '../core/commit.js'
import { checkout, status, type CheckoutResult, type StatusResult } from '../core/worktree.js'
import { log, namesByCommit, type LogEntry } from '../core/history.js'
import { resolveRev } from '../core/refs.js'
import { readCommit, readFileBytes, readManifest } from '../core/objects.js'
import type { ObjectStore } from '../store/interface.js'

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
    return await tagged('commit', async () => await commitPath({
      repo: this.repo,
      path: args.path,
      message: args.message,
      allowEmpty: args.allowEmpty,
      author: args.author ?? defaultAuthor(),
      timestamp: args.timestamp ?? defaultTimestamp(),
      lineage: args.lineage,
      onFile: args.onFile,
      verify: verifySettings(args.verify) === undefined ? undefined : async ({ tx, manifest, abs, modelFormats }) => await this.recordFor(tx, manifest, abs, modelFormats, verifySettings(args.verify)!)
    }))
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
  async log (args: { rev?: string, limit?: number } = {}): Promise<LogEntry[]> {
    return await tagged('log', async () => await log(this.repo.store, args))
  }

  /**
   * One commit with its manifest and names.
   * @example const { commit } = await repo.show({ rev: 'v2' })
   */
  async show (args: { rev: string }): Promise<ShowResult> {
    return await tagged('show', async () => {
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

  async close (): Promise<void> {
    await this.repo.store.close()
  }
}
