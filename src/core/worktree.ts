/**
 * The working copy: status against the commit a path was last committed or checked out from, the
 * "uncommitted changes" guard of checkout, and checkout itself.
 */
import { dirname, resolve, join, relative, sep } from 'node:path'
import { MVC_DIR, assertSafePath, isWithin } from '../format/paths.js'
import { lstat } from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import { InvalidArgumentError, UncommittedChangesError } from '../errors.js'
import type { CommitObject, Manifest } from '../format/objects.js'
import type { Repo } from './repo.js'
import { DRY_RUN, readCommit, readManifest } from './objects.js'
import { snapshot, walk } from './snapshot.js'
import { StatCache, checkoutMtime } from './statcache.js'
import { rememberModels } from './models.js'
import { headCommit, resolveRev } from './refs.js'
import { lastPath, repoRelative, resolveCommitPath, setWorktreeBase, worktreeBase } from './commit.js'
import { assertNoLinkedAncestors, stage, type Staged } from './materialize.js'
import { pathsLabel, versionFiles } from './version.js'
import { failedCheckoutKey, utf8 } from '../format/keys.js'

export interface StatusResult {
  /** Repository-relative path examined. */
  readonly path: string
  /** The commit compared against (last commit or checkout of this path, else HEAD), if any. */
  readonly base: { readonly cid: CID, readonly version: number } | null
  readonly exists: boolean
  readonly clean: boolean
  /** HEAD, when it is not the version the files are compared with (another version was checked out there). */
  readonly head?: { readonly cid: CID, readonly version: number }
  /** Set when the files there are a version whose verification failed (checked out with --keep-on-fail). */
  readonly failedVerification?: { readonly cid: CID, readonly version: number }
  readonly added: string[]
  readonly modified: string[]
  readonly removed: string[]
}

/** Dry-run manifest of a path, using and refreshing the stat cache. */
async function currentManifest (repo: Repo, abs: string, rel: string): Promise<{ manifest: Manifest, cid: CID } | undefined> {
  const exists = await lstat(abs).catch(() => undefined)
  if (exists === undefined) return undefined
  const tree = await walk(abs, { repoRoot: repo.root })
  const cache = StatCache.for(repo.store, rel)
  const snap = await snapshot({ store: repo.store, sink: DRY_RUN, abs, cache, requireStored: false }, tree)
  if (cache.pending > 0) {
    const tx = await repo.store.transaction()
    cache.flush(tx)
    await tx.commit()
  }
  return { manifest: snap.manifest.value, cid: snap.manifest.cid }
}

export function compareManifests (base: Manifest | undefined, current: Manifest | undefined): { added: string[], modified: string[], removed: string[] } {
  const before = new Map((base?.entries ?? []).map(e => [e.path, e]))
  const after = new Map((current?.entries ?? []).map(e => [e.path, e]))
  const added: string[] = []
  const modified: string[] = []
  const removed: string[] = []
  for (const [p, e] of after) {
    const b = before.get(p)
    if (b === undefined) added.push(p)
    else if (!b.file.equals(e.file) || b.mode !== e.mode) modified.push(p)
  }
  for (const p of before.keys()) if (!after.has(p)) removed.push(p)
  return { added, modified, removed }
}

async function baseFor (repo: Repo, rel: string): Promise<{ cid: CID, commit: CommitObject, manifest: CID } | undefined> {
  const wt = await worktreeBase(repo, rel)
  const cid = wt !== undefined ? CID.parse(wt) : await headCommit(repo.store)
  if (cid === undefined) return undefined
  const commit = await readCommit(repo.store, cid)
  const part = commit.paths.find(p => p.path === rel)
  if (part === undefined) return undefined
  return { cid, commit, manifest: part.manifest }
}

/** The paths the repository tracks: those of HEAD's version (none before the first commit). */
export async function trackedPaths (repo: Repo): Promise<string[]> {
  const head = await headCommit(repo.store)
  if (head !== undefined) return (await readCommit(repo.store, head)).paths.map(p => p.path)
  const last = await lastPath(repo)
  return last === undefined ? [] : [last]
}

async function statusOf (repo: Repo, abs: string, rel: string): Promise<StatusResult> {
  const base = await baseFor(repo, rel)
  const baseManifest = base === undefined ? undefined : await readManifest(repo.store, base.manifest)
  const current = rel === '.' ? undefined : await currentManifest(repo, abs, rel)
  const diff = compareManifests(baseManifest, current?.manifest)
  const dirsChanged = JSON.stringify(baseManifest?.dirs ?? []) !== JSON.stringify(current?.manifest.dirs ?? [])
  const headCid = await headCommit(repo.store)
  const head = headCid !== undefined && base !== undefined && !headCid.equals(base.cid) ? { cid: headCid, version: (await readCommit(repo.store, headCid)).version } : undefined
  const failed = await repo.store.readMeta(failedCheckoutKey(rel))
  const failedCid = failed === undefined ? undefined : utf8.decode(failed)
  return {
    path: rel,
    base: base === undefined ? null : { cid: base.cid, version: base.commit.version },
    exists: current !== undefined,
    clean: diff.added.length + diff.modified.length + diff.removed.length === 0 && !dirsChanged,
    ...(head !== undefined ? { head } : {}),
    ...(failedCid !== undefined && base !== undefined && base.cid.toString() === failedCid ? { failedVerification: { cid: base.cid, version: base.commit.version } } : {}),
    ...diff
  }
}

/**
 * What changed in a path since it was last committed or checked out; with no path, in every tracked
 * path (`paths` then holds each, and the top level sums them up with repository-relative file paths).
 */
export async function status (repo: Repo, path: string | undefined): Promise<StatusResult & { paths?: StatusResult[] }> {
  if (path !== undefined) {
    const { abs, rel } = await resolveCommitPath(repo, path)
    return await statusOf(repo, abs, rel)
  }
  const tracked = await trackedPaths(repo)
  if (tracked.length === 0) return await statusOf(repo, repo.root, '.')
  if (tracked.length === 1) return await statusOf(repo, join(repo.root, tracked[0]!), tracked[0]!)
  const each: StatusResult[] = []
  for (const rel of tracked) each.push(await statusOf(repo, join(repo.root, rel), rel))
  const under = (s: StatusResult, p: string): string => `${s.path}/${p}`
  const head = each.find(s => s.head !== undefined)?.head
  return {
    path: '.',
    base: each[0]!.base,
    exists: each.some(s => s.exists),
    clean: each.every(s => s.clean),
    ...(head !== undefined ? { head } : {}),
    added: each.flatMap(s => s.added.map(p => under(s, p))),
    modified: each.flatMap(s => s.modified.map(p => under(s, p))),
    removed: each.flatMap(s => s.removed.map(p => under(s, p))),
    paths: each
  }
}

export interface CheckoutOptions {
  readonly repo: Repo
  readonly rev: string
  /**
   * Absolute target; default: each tracked path in the repository. For a version of one path, the
   * folder (or file) to write; for several, the folder under which each path is written.
   */
  readonly to?: string
  /** Only these tracked paths of the version (`mvc checkout v3 -- model`). */
  readonly only?: readonly string[]
  readonly force?: boolean
  readonly onFile?: (path: string, size: number) => void
  readonly onBytes?: (done: number, total: number) => void
}

export interface CheckoutResult {
  readonly cid: CID
  readonly commit: CommitObject
  /** The files written (for several paths: combined under their paths). */
  readonly manifest: Manifest
  /** Where: the folder (or file) of a single path, else the folder holding the paths. */
  readonly target: string
  readonly files: number
  readonly bytes: number
  /** Each path written, when the version has several. */
  readonly paths?: ReadonlyArray<{ readonly path: string, readonly target: string, readonly files: number, readonly bytes: number }>
}

/**
 * True when the repository could rebuild this exact content: the manifest and every file object it
 * lists are stored (file objects imply their chunks, invariant I1). A stored manifest alone is not
 * enough: data snapshots store their manifest without the files.
 */
async function isRecoverable (repo: Repo, cid: CID, manifest: Manifest): Promise<boolean> {
  if (!(await repo.store.has(cid))) return false
  for (const e of manifest.entries) if (!(await repo.store.has(e.file))) return false
  return true
}

/** Refuses when the target holds content that no commit has (so overwriting it would lose work). */
async function assertClean (repo: Repo, abs: string, rel: string | undefined): Promise<void> {
  const exists = await lstat(abs).catch(() => undefined)
  if (exists === undefined) return
  if (exists.isDirectory()) {
    const tree = await walk(abs, { repoRoot: repo.root })
    if (tree.files.length === 0 && tree.dirs.length === 0) return
  }
  const current = await currentManifest(repo, abs, rel ?? `@${abs}`)
  if (current === undefined || await isRecoverable(repo, current.cid, current.manifest)) return
  const base = rel === undefined ? undefined : await baseFor(repo, rel)
  const baseManifest = base === undefined ? undefined : await readManifest(repo.store, base.manifest)
  const d = compareManifests(baseManifest, current.manifest)
  const changed = [...d.modified.map(p => `modified: ${p}`), ...d.added.map(p => `added: ${p}`), ...d.removed.map(p => `removed: ${p}`)]
  const shown = changed.slice(0, 5).join(', ') + (changed.length > 5 ? `, and ${changed.length - 5} more` : '')
  throw new UncommittedChangesError(
    `${abs} has changes that are not committed${base !== undefined ? ` (against v${base.commit.version})` : ''}${shown !== '' ? `: ${shown}` : ''}. ` +
    'Commit them first, check out elsewhere with --to <dir>, or use --force to overwrite.',
    { path: abs, changed })
}

/** One tracked path of a checkout, written into a staging folder, not yet in place. */
export interface PreparedPart {
  readonly path: string
  readonly manifest: Manifest
  readonly target: string
  /** Repository-relative target, when it lies inside the repository. */
  readonly rel: string | undefined
  readonly staged: Staged
}

/** A checkout whose files are written into staging folders, not yet in place. */
export interface PreparedCheckout {
  readonly cid: CID
  readonly commit: CommitObject
  readonly manifest: Manifest
  readonly target: string
  readonly parts: readonly PreparedPart[]
  /** Discards every staging folder (the targets are untouched). */
  discard (): Promise<void>
}

function checkTarget (repo: Repo, target: string): void {
  if (isWithin(target, repo.root)) {
    throw new InvalidArgumentError(`cannot check out to ${target}: it holds the repository (.mvc), which checkout would replace; use --to <another dir>`, { path: target })
  }
  if (isWithin(join(repo.root, MVC_DIR), target) || relative(repo.root, target).split(sep)[0]?.toLowerCase() === MVC_DIR) {
    throw new InvalidArgumentError(`cannot check out into ${target}: it is inside the repository's .mvc folder`, { path: target })
  }
}

/** Resolves, checks every target, and writes the version into staging folders beside them. */
export async function prepareCheckout (options: CheckoutOptions): Promise<PreparedCheckout> {
  const { repo } = options
  const cid = await resolveRev(repo.store, options.rev)
  const commit = await readCommit(repo.store, cid)
  const only = options.only
  if (only !== undefined) {
    const missing = only.filter(p => !commit.paths.some(x => x.path === p))
    if (missing.length > 0) throw new InvalidArgumentError(`v${commit.version} does not track ${missing.join(', ')} (it tracks ${pathsLabel(commit)})`, { paths: missing })
  }
  const files = await versionFiles(repo.store, commit, only === undefined ? {} : { only })
  // A single path's target is `to` itself; several paths are written under it.
  const several = files.parts.length > 1
  const root = options.to !== undefined ? resolve(options.to) : repo.root
  // Every target is checked before anything is written.
  const plan = files.parts.map(part => {
    // The commit's paths come from an object that may have been crafted: check them like manifest paths.
    assertSafePath(part.path, `commit v${commit.version}`)
    const target = options.to !== undefined && !several ? root : join(root, part.path)
    checkTarget(repo, target)
    const rel = isWithin(repo.root, target) ? repoRelative(repo.root, target) : undefined
    return { part, target, rel }
  })
  for (const p of plan) {
    // Inside the repository, no folder on the way may be a link (a hostile commit path could aim through one).
    if (p.rel !== undefined) await assertNoLinkedAncestors(repo.root, dirname(p.target))
    if (options.force !== true) await assertClean(repo, p.target, p.rel)
  }
  const parts: PreparedPart[] = []
  try {
    for (const p of plan) {
      const staged = await stage({ store: repo.store, manifest: p.part.manifest, target: p.target, onFile: options.onFile, onBytes: options.onBytes, ...(p.rel !== undefined ? { root: repo.root, mtimeMs: checkoutMtime() } : {}) })
      parts.push({ path: p.part.path, manifest: p.part.manifest, target: p.target, rel: p.rel, staged })
    }
  } catch (err) {
    for (const p of parts) await p.staged.discard()
    throw err
  }
  const target = !several && parts.length === 1 ? parts[0]!.target : root
  return {
    cid, commit, manifest: files.manifest, target, parts,
    discard: async () => { for (const p of parts) await p.staged.discard() }
  }
}

/**
 * Swaps the staged files into place and records what each folder now holds (baseline and stat
 * cache), so status and the next checkout know it is clean. `failed`: the version's verification
 * failed and the user kept the files anyway (`--keep-on-fail`); status and show say so until the
 * next commit or checkout of that path.
 */
export async function completeCheckout (repo: Repo, p: PreparedCheckout, failed = false): Promise<CheckoutResult> {
  for (const part of p.parts) await part.staged.swap()
  const tx = await repo.store.transaction()
  try {
    for (const part of p.parts) {
      if (part.rel === undefined) continue
      const cache = StatCache.for(repo.store, part.rel)
      const tree = await walk(part.target, { repoRoot: repo.root })
      const byPath = new Map(part.manifest.entries.map(e => [e.path, e.file.toString()]))
      for (const f of tree.files) {
        const fileCid = byPath.get(f.rel)
        if (fileCid !== undefined) cache.record(f.rel, f.stats, fileCid)
      }
      await rememberModels({ store: repo.store, files: tree.files, formats: repo.formats, manifest: part.manifest, cache }).catch(() => {}) // a cache: never fails a checkout
      cache.flush(tx)
      setWorktreeBase(tx, part.rel, p.cid)
      tx.setMeta(failedCheckoutKey(part.rel), failed ? utf8.encode(p.cid.toString()) : null)
    }
    await tx.commit()
  } catch (err) {
    await tx.abort()
    throw err
  }
  const files = p.parts.reduce((a, x) => a + x.staged.files, 0)
  const bytes = p.parts.reduce((a, x) => a + x.staged.bytes, 0)
  const each = p.parts.map(x => ({ path: x.path, target: x.target, files: x.staged.files, bytes: x.staged.bytes }))
  return { cid: p.cid, commit: p.commit, manifest: p.manifest, target: p.target, files, bytes, ...(p.commit.paths.length > 1 ? { paths: each } : {}) }
}

/** Rebuilds a version's files in place (staged, then swapped). */
export async function checkoutFiles (options: CheckoutOptions): Promise<CheckoutResult> {
  return await completeCheckout(options.repo, await prepareCheckout(options))
}
