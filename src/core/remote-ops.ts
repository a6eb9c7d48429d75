/**
 * `mvc push`, `mvc fetch` and `mvc pull`, each whole: open the remote, move objects and refs (sync.ts),
 * and for pull, fetch, then fast-forward the current branch to the remote's (`force`: reset it
 * when they have diverged) and check the new version out into its committed path.
 */
import { DEFAULT_REMOTE } from '../format/keys.js'
import type { Repo } from './repo.js'
import { checkout, type CheckoutOutcome } from './checkout.js'
import { connect, downloadDir, type RemoteSelection } from './connect.js'
import { partialRemote } from './remotes.js'
import { fetch, moveBranch, planPull, push, type FetchResult, type PullAction, type PushResult } from './sync.js'
import type { ProgressFn } from './transfer.js'
import type { CheckSettings } from './verify/index.js'
import { CID } from 'multiformats/cid'
import { enforcePolicy, type TrustPolicy } from './sign.js'

export interface FetchOperation extends RemoteSelection {
  readonly repo: Repo
  /** Take the remote's tags and version refs where they differ from the local ones. */
  readonly force?: boolean
  readonly onProgress?: ProgressFn
  /** Objects in flight at once (default 8). */
  readonly concurrency?: number
}

/** Fetches from a configured remote (commits only when it is the remote of a partial clone). */
export async function fetchRemote (options: FetchOperation): Promise<FetchResult> {
  const { store } = options.repo
  const c = await connect(store, options, { downloadDir: downloadDir(options.repo.root) })
  try {
    const commitsOnly = (await partialRemote(store)) === c.name
    return await fetch(store, c.remote, { remoteName: c.name ?? DEFAULT_REMOTE, force: options.force, commitsOnly, onProgress: options.onProgress, concurrency: options.concurrency })
  } finally { await c.close() }
}

export interface PushOperation extends FetchOperation {
  /** Branches, tags or aliases to push; default the current branch. */
  readonly refs?: readonly string[]
  /** Push every tag (tags on pushed commits go anyway). */
  readonly tags?: boolean
  /** Push every alias (aliases on pushed commits, and those the remote has, go anyway). */
  readonly aliases?: boolean
}

/** Pushes to a configured remote, or to a URL or path (a folder remote is created when missing). */
export async function pushRemote (options: PushOperation): Promise<PushResult> {
  const { store } = options.repo
  const c = await connect(store, options, { create: true, allowUrl: true })
  try {
    return await push(store, c.remote, { remoteName: c.name, refs: options.refs, force: options.force, tags: options.tags, aliases: options.aliases, onProgress: options.onProgress, concurrency: options.concurrency })
  } finally { await c.close() }
}

export interface PullOperation extends FetchOperation {
  /** Remote branch to pull (default: the current branch's name). */
  readonly branch?: string
  /** Check the new version out into its committed path (default true). */
  readonly checkout?: boolean
  /** Verify the checked-out version with these settings; undefined: don't. */
  readonly verify?: CheckSettings
  readonly onFile?: (path: string, size: number) => void
  /** Refuse to move to a version no trusted key signed (default: the repository's `require-signed` setting). */
  readonly trust?: TrustPolicy
}

export interface PullResult {
  readonly action: PullAction
  readonly branch: string
  readonly old: string | null
  readonly new: string
  readonly fetch: FetchResult
  readonly checkout?: CheckoutOutcome
}

export async function pull (options: PullOperation): Promise<PullResult> {
  const { repo } = options
  const fetched = await fetchRemote(options)
  const plan = await planPull(repo.store, { remoteName: options.remote ?? DEFAULT_REMOTE, url: fetched.url, branch: options.branch, force: options.force })
  const base = { action: plan.action, branch: plan.branch, old: plan.from, new: plan.to, fetch: fetched }
  if (plan.action === 'up-to-date' || plan.action === 'ahead') return base
  // Fetched objects stay (as with any fetch); the branch and the files move only to a trusted version.
  await enforcePolicy(repo.store, CID.parse(plan.to), options.trust)
  const co = options.checkout === false ? undefined : await checkout({ repo, rev: plan.to, verify: options.verify, onFile: options.onFile, trust: { ...options.trust, requireSigned: false } })
  // Files first: a checkout refused for uncommitted changes leaves the branch where it was.
  await moveBranch(repo.store, plan.branch, plan.from, plan.to)
  return co === undefined ? base : { ...base, checkout: co }
}
