/**
 * `mvc clone`, whole: a new repository with `origin` set to the URL, every branch, tag and version
 * fetched (commits only for `--filter=commits`), the remote's default branch created locally, and its
 * HEAD version checked out and verified like `mvc checkout`. The repository is built aside and renamed
 * into place once fetched: a clone that cannot fetch (or is killed) leaves no repository behind; once
 * fetched, the repository stays even if checkout fails (it can be run again).
 */
import { lstat, mkdir, readdir, rename, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { CID } from 'multiformats/cid'
import { InvalidArgumentError, RefConflictError } from '../errors.js'
import { DEFAULT_REMOTE, HEAD, META, branchRef, symbolicRef, utf8 } from '../format/keys.js'
import type { ModelFormat } from '../formats/interface.js'
import type { Remote } from '../remote/interface.js'
import { openRemote } from '../remote/open.js'
import { normalizeRemoteUrl } from '../remote/url.js'
import { checkout, type CheckoutOutcome } from './checkout.js'
import { readCommit } from './objects.js'
import { addRemoteConfig, validateRemoteName } from './remotes.js'
import { initRepo, openRepo, type Repo } from './repo.js'
import { fetch, isAncestor, remoteDefaultBranch, type FetchResult } from './sync.js'
import { downloadDir } from './connect.js'
import { initRefs } from './refs.js'
import { MVC_DIR } from '../format/paths.js'
import { createDiskStore, openDiskStore } from '../store/open.js'
import { syncDir } from '../store/packs.js'
import { ownedTag, sweep } from '../store/leftovers.js'
import type { ObjectStore } from '../store/interface.js'

import type { ProgressFn } from './transfer.js'
import type { CheckSettings } from './verify/index.js'
import { requireSigned, trustedKeys, type TrustPolicy } from './sign.js'

/** A clone's repository being built: `<root>/.mvc-clone-<pid>-<12 hex>`, renamed to `<root>/.mvc` when fetched. */
const CLONE_STAGING = /^\.mvc-clone-(\d+)-([0-9a-f]{12})$/

export interface CloneOperation {
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
  /** Verify the checked-out version with these settings; undefined: don't. */
  readonly verify?: CheckSettings
  /** A commit CID the cloned branch must be or descend from (REF_CONFLICT otherwise; nothing is left behind). */
  readonly expect?: string
  readonly transport?: Remote
  readonly onProgress?: ProgressFn
  readonly onFile?: (path: string, size: number) => void
  readonly concurrency?: number
  readonly formats?: readonly ModelFormat[]
  /** With `requireSigned`, the remote's HEAD version must be signed by one of `trustedKeys` (else nothing is left behind). */
  readonly trust?: TrustPolicy
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
  readonly checkout?: CheckoutOutcome
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

export async function clone (options: CloneOperation): Promise<CloneResult> {
  const remoteName = options.remoteName ?? DEFAULT_REMOTE
  validateRemoteName(remoteName)
  const url = normalizeRemoteUrl(options.url)
  const root = resolve(options.dir ?? cloneDirName(url))
  const existing = await lstat(root).catch(() => undefined)
  // What a clone killed on this host left (its staging folder) does not make the folder non-empty.
  if (existing?.isDirectory() === true) await sweep(root, CLONE_STAGING, 1, 2)
  if (existing !== undefined && (!existing.isDirectory() || (await readdir(root)).length > 0)) {
    throw new InvalidArgumentError(`cannot clone into ${root}: it exists and is not an empty folder`, { path: root })
  }
  if (options.expect !== undefined) {
    let c: CID | undefined
    try { c = CID.parse(options.expect) } catch { c = undefined }
    if (c === undefined || c.toString() !== options.expect) throw new InvalidArgumentError(`--expect ${JSON.stringify(options.expect)} is not a commit CID (bafy…)`, { expect: options.expect })
  }
  // The repository is built in a staging folder inside `root` and renamed to `root/.mvc` once fetched:
  // a clone killed before that leaves no repository (the next clone into `root` removes the staging
  // folder), after it a complete one. Resumable downloads live inside it too (its tmp/downloads).
  const staging = join(root, `.mvc-clone-${ownedTag(8)}`)
  const opened = options.transport ?? await openRemote(url, { downloadDir: downloadDir(root, staging) })
  let repo: Repo | undefined
  try {
    let result: CloneResult
    let store: ObjectStore | undefined
    try {
      await mkdir(root, { recursive: true })
      await createDiskStore(staging, { initialize: initRefs })
      store = await openDiskStore(staging, { readOnlyFallback: false })
      await addRemoteConfig(store, remoteName, url)
      if (options.filter === 'commits') {
        const tx = await store.transaction()
        tx.setMeta(META.partial, utf8.encode(remoteName))
        await tx.commit()
      }
      const fetched = await fetch(store, opened, { remoteName, commitsOnly: options.filter === 'commits', onProgress: options.onProgress, concurrency: options.concurrency })
      const branch = await remoteDefaultBranch(opened, fetched.heads)
      let head: string | null = null
      if (options.expect !== undefined && (branch === undefined || !(await isAncestor(store, options.expect, fetched.heads.get(branch)!)))) {
        // Nothing seen before to detect a rollback with: the caller's pinned commit must be in the history.
        throw new RefConflictError(`the remote ${url} ${branch === undefined ? 'has no branches' : `serves ${branch} at ${fetched.heads.get(branch)!}, which does not contain the expected commit ${options.expect}`}: ` +
          'it may serve an older or another history (a rolled-back server); nothing was cloned', { url, branch: branch ?? null, expect: options.expect, head: branch === undefined ? null : fetched.heads.get(branch)! })
      }
      if (branch !== undefined) {
        head = fetched.heads.get(branch)!
        if (options.trust?.requireSigned === true) await requireSigned(store, CID.parse(head), await trustedKeys(store, options.trust.trustedKeys ?? []))
        const headPath = (await readCommit(store, CID.parse(head))).paths[0]!.path
        const tx = await store.transaction()
        tx.setRef({ name: branchRef(branch), value: head, expect: null })
        tx.setRef({ name: HEAD, value: symbolicRef(branchRef(branch)) })
        // `mvc commit` and `mvc status` default to the path of the version checked out (a partial
        // clone without checkout has no content to compare with, so it gets no default path).
        if (options.filter !== 'commits' || options.checkout !== false) tx.setMeta(META.lastPath, utf8.encode(headPath))
        await tx.commit()
      }
      await store.close()
      store = undefined
      await rename(staging, join(root, MVC_DIR))
      await syncDir(root)
      result = { root, remote: remoteName, url, partial: options.filter === 'commits', branch: branch ?? null, head, fetch: fetched }
    } catch (err) {
      await store?.close().catch(() => {})
      // A clone that could not fetch leaves nothing behind: the folder as it was (absent, or empty).
      if (existing === undefined) await rm(root, { recursive: true, force: true })
      else for (const e of await readdir(root)) await rm(join(root, e), { recursive: true, force: true })
      throw err
    }
    repo = await openRepo(root, { formats: options.formats })
    if (result.head === null || options.checkout === false) return result
    // The repository stays when checkout (or its verification) fails: `mvc checkout` can be run again.
    // A partial clone fetches HEAD's content through the remote opened here (a folder remote is locked while open).
    const co = await checkout({ repo, rev: HEAD, verify: options.verify, onFile: options.onFile, transport: opened, onProgress: options.onProgress, trust: { requireSigned: false } })
    return { ...result, checkout: co }
  } finally {
    await repo?.store.close()
    if (options.transport === undefined) await opened.close()
  }
}
