/**
 * Push, fetch and pull between a local store and a `Remote` (docs/remotes.md): which refs move and
 * when, built on the object negotiation and streaming of src/core/transfer.ts.
 *
 * Order, on both sides: objects first (bottom-up, see transfer.ts), then version refs, then tags, then
 * branches, then aliases (their histories, alias-sync.ts) — each ref by compare-and-swap against the
 * value read when the operation started — so a ref never names a commit whose closure is not there, and
 * an interrupted transfer leaves every ref where it was.
 */
import { CID } from 'multiformats/cid'
import { decodeObject, DAG_CBOR } from '../content/block.js'
import { InvalidArgumentError, NoCommitsError, RefConflictError, RefExistsError, RemoteError, UnknownRevisionError, VersionDeletedError, isMvcError } from '../errors.js'
import type { ObjectStore } from '../store/interface.js'
import { BatchWriter } from '../store/batch.js'
import type { Remote } from '../remote/interface.js'
import {
  negotiate, objectLinks, sendObjects, storeSource,
  type Link, type ObjectSource, type ObjectTarget, type ProgressFn, type TransferPlan
} from './transfer.js'
import { HEAD, INCOMPLETE_PREFIX, META, REFS, REMOTES, SIGNATURES, parseSignatureRef, remoteSeenPrefix, utf8 } from '../format/keys.js'
import { formatNeededBy, parseSignature } from '../format/objects.js'
import { checkSignatureObject } from './sign.js'
import { readCommit } from './objects.js'
import { ALIASES, HEADS, TAGS, VERSIONS, headBranch, nextVersion, setNextVersion } from './refs.js'
import { validateName } from './names.js'
import { ALIAS_LOG } from '../format/keys.js'
import { upgradeAliasLogs, versionOf } from './alias-log.js'
import { applyAliasPush, planAliasFetch, planAliasPush, type AliasChange } from './alias-sync.js'

export type { AliasChange }
import { tombstones } from './lifecycle.js'

/** What happened to one ref. */
export interface RefChange {
  readonly ref: string
  readonly old: string | null
  readonly new: string | null
  readonly status: 'created' | 'updated' | 'forced' | 'deleted' | 'up-to-date'
  /** Version numbers of `old` and `new` when they are commits whose numbers are known (branches and tags); null otherwise. */
  readonly oldVersion?: number | null
  readonly newVersion?: number | null
}

/** A tag whose value differs between the two sides (`REF_CONFLICT` data). */
export interface TagConflict {
  readonly name: string
  readonly remote: string
  readonly local: string
  readonly remoteVersion: number | null
  readonly localVersion: number | null
}

/** `v3 (bafy…)`, or the CID alone when the version is not known. */
function describeCommit (cid: string, version: number | null): string {
  return version === null ? cid : `v${version} (${cid})`
}

/**
 * Version numbers of commits for reports: from the local store, else from the other side's
 * `refs/versions/<n>` (CID → n) for commits not here.
 */
function versionNamer (store: ObjectStore, other: ReadonlyMap<string, number>): (cid: string | null) => Promise<number | null> {
  const cache = new Map<string, number | null>()
  return async cid => cid === null ? null : (await versionOf(store, cid, cache)) ?? other.get(cid) ?? null
}

/** Adds `oldVersion`/`newVersion` to changes of commit-valued refs (branches, remote-tracking branches, tags). */
async function withVersions (changes: RefChange[], versionOfCid: (cid: string | null) => Promise<number | null>): Promise<RefChange[]> {
  return await Promise.all(changes.map(async c => c.ref.startsWith(HEADS) || c.ref.startsWith(TAGS) || c.ref.startsWith(REMOTES)
    ? { ...c, oldVersion: await versionOfCid(c.old), newVersion: await versionOfCid(c.new) }
    : c))
}

export interface TransferOptions {
  readonly onProgress?: ProgressFn
  /** Objects in flight at once (default 8). */
  readonly concurrency?: number
}

function remoteSource (remote: Remote): ObjectSource {
  return { get: async cid => await remote.get(cid), describe: `the remote ${remote.url}` }
}

/** Staged objects of a fetch are committed every 256 MiB (and when the transfer ends, either way). */
const FETCH_BATCH_BYTES = 256 << 20

/**
 * The local store as the receiving side of a fetch: every object is re-hashed before it is staged. A
 * repository that has served as a folder remote may hold objects recorded as incomplete
 * (`m/incomplete/<cid>`, docs/design.md "Complete objects"): they count as missing, so the fetch brings
 * what is below them, and `completed` lists the marks to clear once the transfer succeeded.
 */
async function storeTarget (store: ObjectStore, remote: Remote): Promise<ObjectTarget & { flush: () => Promise<void>, completed: (plan: TransferPlan) => string[] }> {
  const writer = new BatchWriter(store, { source: `the remote ${remote.url}`, flushBytes: FETCH_BATCH_BYTES })
  const marked = new Set((await store.listMeta(INCOMPLETE_PREFIX)).map(([k]) => k.slice(INCOMPLETE_PREFIX.length)))
  return {
    hasMany: async cids => {
      const present = await writer.hasMany(cids)
      return marked.size === 0 ? present : present.map((p, i) => p && !marked.has(cids[i]!.toString()))
    },
    put: async (cid, bytes) => await writer.put(cid, bytes),
    flush: async () => { await writer.flush() },
    completed: plan => marked.size === 0 ? [] : plan.groups.flat().map(o => o.cid.toString()).filter(k => marked.has(k))
  }
}

function refConflict (message: string, data: Record<string, unknown>): RefConflictError {
  return new RefConflictError(message, data)
}

/** `cid` is `ancestor` or one of its descendants' ancestors (walks local commit objects). */
export async function isAncestor (store: ObjectStore, ancestor: string, descendant: string): Promise<boolean> {
  if (ancestor === descendant) return true
  let target: CID
  try { target = CID.parse(ancestor) } catch { return false }
  if (!(await store.has(target))) return false
  const seen = new Set<string>([descendant])
  const queue: CID[] = [CID.parse(descendant)]
  while (queue.length > 0) {
    const c = await readCommit(store, queue.shift()!)
    for (const p of c.parents) {
      const k = p.toString()
      if (k === ancestor) return true
      if (!seen.has(k)) { seen.add(k); queue.push(p) }
    }
  }
  return false
}

/**
 * Commits of the local store reachable from `tips` (those it has; others are skipped): on a remote that
 * does not keep closures, the commits whose closure its refs vouch for.
 */
async function localCommitsReachedBy (store: ObjectStore, tips: Iterable<string>): Promise<Set<string>> {
  const out = new Set<string>()
  const queue: string[] = []
  for (const t of tips) {
    const c = tryCid(t)
    if (c !== undefined && c.code === DAG_CBOR && await store.has(c)) queue.push(t)
  }
  while (queue.length > 0) {
    const k = queue.pop()!
    if (out.has(k)) continue
    out.add(k)
    const c = await readCommit(store, CID.parse(k)).catch(() => undefined)
    for (const p of c?.parents ?? []) if (!out.has(p.toString()) && await store.has(p)) queue.push(p.toString())
  }
  return out
}

function tryCid (s: string): CID | undefined {
  try { return CID.parse(s) } catch { return undefined }
}

/** Every commit reachable from `tips` (themselves included), with its version. */
export async function reachableCommits (store: ObjectStore, tips: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  const queue = [...new Set(tips)]
  while (queue.length > 0) {
    const k = queue.pop()!
    if (out.has(k)) continue
    const c = await readCommit(store, CID.parse(k))
    out.set(k, c.version)
    for (const p of c.parents) if (!out.has(p.toString())) queue.push(p.toString())
  }
  return out
}

async function flushQuietly (target: { flush?: () => Promise<void> }, failed: boolean): Promise<void> {
  if (target.flush === undefined) return
  try {
    await target.flush()
  } catch (err) {
    if (!failed) throw err // on the error path the first error is the one to report
  }
}

/** Sends a plan and flushes the target whether or not every object arrived (so a re-run skips them). */
async function transfer (source: ObjectSource, target: ObjectTarget, plan: TransferPlan, phase: 'send' | 'receive', options: TransferOptions): Promise<{ objects: number, bytes: number }> {
  let failed = false
  try {
    return await sendObjects(source, target, plan, { phase, onProgress: options.onProgress, concurrency: options.concurrency })
  } catch (err) {
    failed = true
    throw err
  } finally {
    await flushQuietly(target, failed)
  }
}

// ------------------------------------------------------------------------------------------ push

export interface PushOptions extends TransferOptions {
  /** Name of the remote, for remote-tracking refs (`refs/remotes/<name>/<branch>`); none when pushing to a bare URL. */
  readonly remoteName?: string
  /** Branches, tags or aliases to push (names, or full `refs/heads/…`, `refs/tags/…`, `refs/aliases/…`); default the current branch. */
  readonly refs?: readonly string[]
  /** Overwrite remote branches that are not ancestors, tags and version refs that differ, and alias histories that diverged. */
  readonly force?: boolean
  /** Push every local tag (tags on pushed commits are pushed anyway). */
  readonly tags?: boolean
  /** Push every alias with its history (aliases on pushed commits, and aliases the remote has, are pushed anyway). */
  readonly aliases?: boolean
}

export interface PushResult {
  readonly url: string
  readonly refs: RefChange[]
  /** Version refs (`refs/versions/<n>`) set on the remote. */
  readonly versions: number[]
  readonly objectsSent: number
  readonly bytesSent: number
  readonly objectsSkipped: number
  /** Signature refs (`refs/signatures/…`) of pushed commits created on the remote. */
  readonly signatures?: number
  /** Aliases considered (sent, up to date, or behind the remote's). */
  readonly aliases: readonly AliasChange[]
}

/** Full local ref name for a push argument: a branch, else a tag, else an alias (`{ alias }`). */
async function pushSpec (store: ObjectStore, arg: string): Promise<{ name: string, value: string } | { alias: string }> {
  for (const ns of [ALIASES, ALIAS_LOG]) {
    if (arg.startsWith(ns) && await store.readRef(ALIAS_LOG + arg.slice(ns.length)) !== undefined) return { alias: arg.slice(ns.length) }
  }
  const candidates = arg.startsWith(HEADS) || arg.startsWith(TAGS) ? [arg] : [HEADS + arg, TAGS + arg]
  for (const name of candidates) {
    const value = await store.readRef(name)
    if (value !== undefined) return { name, value }
  }
  if (await store.readRef(ALIAS_LOG + arg) !== undefined) return { alias: arg }
  if (/^v\d+$/.test(arg)) throw new InvalidArgumentError(`${arg} is a version, not a branch, tag or alias: push the branch that holds it (versions are pushed with their commits)`, { ref: arg })
  throw new UnknownRevisionError(`nothing to push called ${JSON.stringify(arg)}: not a local branch, tag or alias (\`mvc branch\`, \`mvc tag\`, \`mvc alias\` list them)`, { ref: arg })
}

export async function push (store: ObjectStore, remote: Remote, options: PushOptions = {}): Promise<PushResult> {
  const force = options.force === true
  // Alias histories recorded by older versions of mvc become objects first, so they can be sent.
  await upgradeAliasLogs(store)
  // 1. What to push.
  const specs = new Map<string, string>()
  const namedAliases = new Set<string>()
  if (options.refs === undefined || options.refs.length === 0) {
    const branch = await headBranch(store)
    const value = await store.readRef(branch)
    if (value === undefined) throw new NoCommitsError(`branch ${branch.slice(HEADS.length)} has no commits yet; nothing to push`, { ref: branch })
    specs.set(branch, value)
  } else {
    for (const a of options.refs) {
      const s = await pushSpec(store, a)
      if ('alias' in s) namedAliases.add(s.alias)
      else specs.set(s.name, s.value)
    }
  }
  const pushedCommits = await reachableCommits(store, [...specs.values()])
  for (const [name, value] of await store.listRefs(TAGS)) {
    if (options.tags === true || pushedCommits.has(value)) specs.set(name, value)
  }

  // 2. The remote's refs, read once: every ref update below expects these values.
  const remoteRefs = new Map((await remote.listRefs(REFS)).map(r => [r.name, r.value]))
  // Aliases: those on pushed commits, those named, those the remote has (all with `aliases`), each
  // checked against the remote's history of it (REF_CONFLICT when they diverged, unless forced).
  const aliasPlan = await planAliasPush(store, remote, remoteRefs, { all: options.aliases === true, named: namedAliases, pushedCommits, force })
  const allCommits = options.tags === true || aliasPlan.commits.length > 0
    ? await reachableCommits(store, [...specs.values(), ...aliasPlan.commits])
    : pushedCommits
  const changes: RefChange[] = []
  const remoteVersions = new Map([...remoteRefs].filter(([n]) => n.startsWith(VERSIONS)).map(([n, v]) => [v, Number(n.slice(VERSIONS.length))] as const))
  const versionName = versionNamer(store, remoteVersions)
  const tagConflicts: TagConflict[] = []
  for (const [name, value] of specs) {
    const old = remoteRefs.get(name) ?? null
    if (old === value) { changes.push({ ref: name, old, new: value, status: 'up-to-date' }); continue }
    if (old === null) { changes.push({ ref: name, old, new: value, status: 'created' }); continue }
    if (name.startsWith(HEADS)) {
      const ff = await isAncestor(store, old, value)
      if (!ff && !force) {
        const b = name.slice(HEADS.length)
        throw refConflict(`the remote branch ${b} on ${remote.url} has commits that are not in your ${b} (${old}); run \`mvc pull\` first, or \`mvc push --force\` to overwrite it`, { ref: name, remote: old, local: value })
      }
      changes.push({ ref: name, old, new: value, status: ff ? 'updated' : 'forced' })
    } else {
      if (!force) {
        tagConflicts.push({ name: name.slice(TAGS.length), remote: old, local: value, remoteVersion: await versionName(old), localVersion: await versionName(value) })
        continue
      }
      changes.push({ ref: name, old, new: value, status: 'forced' })
    }
  }
  if (tagConflicts.length > 0) {
    const first = tagConflicts[0]!
    throw refConflict(`${tagConflicts.map(t => `tag ${t.name} is ${describeCommit(t.remote, t.remoteVersion)} on ${remote.url} but ${describeCommit(t.local, t.localVersion)} here`).join('; ')}. ` +
      `Tags don't move: rename yours (\`mvc tag -d ${first.name} --force\`, then \`mvc tag <other-name> ${first.localVersion !== null ? `v${first.localVersion}` : first.local}\`), ` +
      `or \`mvc push --force\` to move the remote's`,
    { ref: TAGS + first.name, remote: first.remote, local: first.local, tags: tagConflicts })
  }

  // 3. Version numbers: each pushed commit's `refs/versions/<n>` must be absent on the remote or name it.
  const versionUpdates: Array<{ version: number, cid: string, expect: string | null }> = []
  const diverged: string[] = []
  for (const [cid, version] of allCommits) {
    const rv = remoteRefs.get(VERSIONS + String(version))
    if (rv === cid) continue
    if (rv !== undefined && !force) { diverged.push(`v${version} is ${rv} there and ${cid} here`); continue }
    versionUpdates.push({ version, cid, expect: rv ?? null })
  }
  if (diverged.length > 0) {
    throw refConflict(`the repositories have diverged: ${remote.url} already has different commits under the same version numbers (${diverged.slice(0, 3).join('; ')}${diverged.length > 3 ? `; and ${diverged.length - 3} more` : ''}). ` +
      'Run `mvc pull` to get the remote\'s versions (`mvc pull --force` resets your branch to the remote\'s; your commits stay reachable by CID), then commit again on top.', { conflicts: diverged })
  }
  versionUpdates.sort((a, b) => a.version - b.version)
  // Signatures of the pushed commits that the remote does not have (a signature ref is never moved).
  const signatureUpdates = (await store.listRefs(SIGNATURES))
    .filter(([name]) => { const s = parseSignatureRef(name); return s !== undefined && allCommits.has(s.commit) && !remoteRefs.has(name) })

  // 3b. Deleted versions whose content gc removed here cannot be sent: the remote must have them already
  //     (it keeps its own copy), else the push would leave it a commit without its content.
  const purged = new Map([...await tombstones(store)].filter(([k, t]) => t.purged !== null && allCommits.has(k)))
  if (purged.size > 0) {
    const keys = [...purged.keys()]
    const there = await remote.hasMany(keys.map(k => CID.parse(k)))
    const lacking = keys.filter((_, i) => there[i] !== true).map(k => purged.get(k)!).sort((a, b) => a.version - b.version)
    if (lacking.length > 0) {
      throw new VersionDeletedError(`cannot push: ${lacking.map(t => `v${t.version}`).join(', ')} ${lacking.length === 1 ? 'was' : 'were'} deleted here and gc removed ${lacking.length === 1 ? 'its' : 'their'} content, ` +
        `and ${remote.url} does not have ${lacking.length === 1 ? 'it' : 'them'}; a remote must hold every version of the history it is given. ` +
        'Push to a remote that already has those versions, or push from a clone that still has their content.', { versions: lacking.map(t => t.version), url: remote.url })
    }
  }

  // 4. Objects. A remote that keeps closures (store remotes, `mvc serve`) answers `has` for whole
  //    closures; any other (S3, older servers) is trusted only for the commits its refs reach, and the
  //    walk looks below everything else it has — so objects stored there without their chunks (by
  //    another client) never make this push skip them (docs/design.md, "Complete objects").
  const roots: Link[] = [...new Set([...changes.filter(c => c.status !== 'up-to-date').map(c => c.new!), ...versionUpdates.map(v => v.cid), ...signatureUpdates.map(([, v]) => v),
    ...aliasPlan.updates.filter(u => u.expect !== u.value).map(u => u.value)])]
    .map(c => ({ cid: CID.parse(c), kind: 'parent' as const }))
  let sent = { objects: 0, bytes: 0 }
  let skipped = 0
  if (roots.length > 0) {
    const keeps = remote.keepsClosures === undefined ? false : await remote.keepsClosures()
    const complete = keeps ? undefined : await localCommitsReachedBy(store, remoteRefs.values())
    const plan = await negotiate(storeSource(store, 'the local repository'), remote, roots, {
      onProgress: options.onProgress, concurrency: options.concurrency, receiverKeepsClosures: keeps, ...(complete !== undefined ? { complete } : {}), withheld: new Set(purged.keys())
    })
    skipped = plan.skipped
    sent = await transfer(storeSource(store, 'the local repository'), remote, plan, 'send', options)
  }

  // 5. Refs, last: versions, tags, then branches.
  options.onProgress?.({ phase: 'refs', objects: sent.objects, totalObjects: sent.objects, bytes: sent.bytes, totalBytes: sent.bytes })
  for (const v of versionUpdates) {
    const name = VERSIONS + String(v.version)
    try {
      await remote.casRef(name, v.expect, v.cid)
    } catch (err) {
      if (!(isMvcError(err) && err.code === 'REF_CONFLICT')) throw err
      const now = (await remote.listRefs(name)).find(r => r.name === name)?.value
      if (now === v.cid) continue
      throw refConflict(`the repositories have diverged: while pushing, v${v.version} on ${remote.url} became ${now ?? 'absent'} (this repository has ${v.cid}). Run \`mvc pull\`, then commit again on top.`, { ref: name, remote: now ?? null, local: v.cid })
    }
  }
  let signaturesPushed = 0
  for (const [name, value] of signatureUpdates) {
    try { await remote.casRef(name, null, value); signaturesPushed++ } catch (err) {
      // Someone pushed a signature by the same key meanwhile: theirs stays, ours is as good.
      if (!(isMvcError(err) && err.code === 'REF_CONFLICT')) throw err
    }
  }
  for (const c of changes) {
    if (c.status === 'up-to-date' || !c.ref.startsWith(TAGS)) continue
    try { await remote.casRef(c.ref, c.old, c.new) } catch (err) {
      if (isMvcError(err) && err.code === 'REF_CONFLICT') {
        throw refConflict(`tag ${c.ref.slice(TAGS.length)} was set on ${remote.url} while pushing (someone else pushed it); run \`mvc fetch\`, check \`mvc tag\`, then push again`, { ref: c.ref, expected: c.old })
      }
      throw err
    }
  }
  for (const c of changes) {
    if (c.status === 'up-to-date' || !c.ref.startsWith(HEADS)) continue
    try { await remote.casRef(c.ref, c.old, c.new) } catch (err) {
      if (isMvcError(err) && err.code === 'REF_CONFLICT') {
        throw refConflict(`the remote branch ${c.ref.slice(HEADS.length)} moved on ${remote.url} while pushing (someone else pushed); run \`mvc pull\` first, then push again`, { ref: c.ref, expected: c.old })
      }
      throw err
    }
  }
  await applyAliasPush(remote, aliasPlan.updates)
  for (const u of aliasPlan.updates) {
    if (u.expect === u.value) continue
    const status = aliasPlan.changes.find(a => a.name === u.name)?.status
    changes.push({ ref: ALIAS_LOG + u.name, old: u.expect, new: u.value, status: status === 'forced' ? 'forced' : u.expect === null ? 'created' : 'updated' })
  }

  // 6. Remote-tracking refs, and what this remote was last seen holding (rollback detection on fetch).
  if (options.remoteName !== undefined) {
    const tx = await store.transaction()
    try {
      const seen = remoteSeenPrefix(options.remoteName)
      for (const c of changes) {
        if (c.ref.startsWith(HEADS)) tx.setRef({ name: `${REMOTES}${options.remoteName}/${c.ref.slice(HEADS.length)}`, value: c.new })
        if (c.new !== null) tx.setMeta(seen + c.ref, utf8.encode(c.new))
      }
      for (const v of versionUpdates) tx.setMeta(seen + VERSIONS + String(v.version), utf8.encode(v.cid))
      await tx.commit()
    } catch (err) { await tx.abort(); throw err }
  }
  options.onProgress?.({ phase: 'done', objects: sent.objects, totalObjects: sent.objects, bytes: sent.bytes, totalBytes: sent.bytes })
  return { url: remote.url, refs: await withVersions(changes, versionName), versions: versionUpdates.map(v => v.version), objectsSent: sent.objects, bytesSent: sent.bytes, objectsSkipped: skipped, signatures: signaturesPushed, aliases: aliasPlan.changes }
}

// ----------------------------------------------------------------------------------------- fetch

export interface FetchOptions extends TransferOptions {
  /** Remote-tracking refs go to `refs/remotes/<remoteName>/<branch>`. */
  readonly remoteName: string
  /** Overwrite local tags and version refs that differ from the remote's. */
  readonly force?: boolean
  /** Fetch commit objects only (partial clones); content comes on demand. */
  readonly commitsOnly?: boolean
}

/** A remote branch that no longer contains what it named when this repository last saw it. */
export interface Rollback {
  readonly ref: string
  /** What the remote's ref named when last fetched or pushed. */
  readonly seen: string
  /** What it names now. */
  readonly now: string
  /** `rewound`: it names an older commit of the same history; `rewritten`: another history (a forced push). */
  readonly kind: 'rewound' | 'rewritten'
}

export interface FetchResult {
  readonly url: string
  /** Remote-tracking refs, tags and (summarised) version refs that changed or were checked. */
  readonly refs: RefChange[]
  /** Version numbers imported (`refs/versions/<n>`). */
  readonly versions: number[]
  readonly objectsReceived: number
  readonly bytesReceived: number
  readonly objectsSkipped: number
  /** The remote's branches: name → commit. */
  readonly heads: ReadonlyMap<string, string>
  /** Signature refs (`refs/signatures/…`) of fetched commits created here. */
  readonly signatures?: number
  /** Branches that moved backwards or were rewritten on the remote, followed because of `force`. */
  readonly rollbacks: readonly Rollback[]
  /** What else changed on the remote against what was seen last: versions, tags or branches that vanished; alias histories that diverged. */
  readonly warnings: readonly string[]
  /** The remote's aliases: taken (their history grew or is new here), up to date, ahead here, or diverged (kept here). */
  readonly aliases: readonly AliasChange[]
}

function parseCommitCid (remote: Remote, name: string, value: string): CID {
  let cid: CID
  try { cid = CID.parse(value) } catch {
    throw new RemoteError(`the remote ${remote.url} has ref ${name} = ${JSON.stringify(value)}, which is not a CID`, { url: remote.url, ref: name })
  }
  if (cid.version !== 1 || cid.code !== DAG_CBOR) throw new RemoteError(`the remote ${remote.url} has ref ${name} naming ${value}, which is not a ${name.startsWith(ALIAS_LOG) ? 'structured object (an alias move)' : 'commit'}`, { url: remote.url, ref: name })
  return cid
}

/** The remote's branches, tags, versions and alias histories, with names and values checked. */
async function readRemoteRefs (remote: Remote): Promise<{ heads: Map<string, string>, tags: Map<string, string>, versions: Map<number, string>, aliases: Map<string, string> }> {
  const heads = new Map<string, string>()
  const tags = new Map<string, string>()
  const versions = new Map<number, string>()
  const aliases = new Map<string, string>()
  for (const { name, value } of await remote.listRefs(REFS)) {
    const bad = (why: string): never => { throw new RemoteError(`the remote ${remote.url} has a ref with an invalid name ${JSON.stringify(name)}: ${why}`, { url: remote.url, ref: name }) }
    if (name.startsWith(HEADS)) {
      try { validateName('branch', name.slice(HEADS.length)) } catch (e) { bad((e as Error).message) }
      parseCommitCid(remote, name, value)
      heads.set(name.slice(HEADS.length), value)
    } else if (name.startsWith(TAGS)) {
      try { validateName('tag', name.slice(TAGS.length)) } catch (e) { bad((e as Error).message) }
      parseCommitCid(remote, name, value)
      tags.set(name.slice(TAGS.length), value)
    } else if (name.startsWith(VERSIONS)) {
      const n = name.slice(VERSIONS.length)
      if (!/^[1-9]\d{0,14}$/.test(n)) bad('versions are positive integers')
      parseCommitCid(remote, name, value)
      versions.set(Number(n), value)
    } else if (name.startsWith(ALIAS_LOG)) {
      try { validateName('alias', name.slice(ALIAS_LOG.length)) } catch (e) { bad((e as Error).message) }
      parseCommitCid(remote, name, value) // a dag-cbor CID: the newest move, checked once fetched
      aliases.set(name.slice(ALIAS_LOG.length), value)
    }
    // Other namespaces (`refs/aliases/…`, which follows `refs/alias-log/…`; the remote's own
    // remote-tracking refs) are not fetched.
  }
  return { heads, tags, versions, aliases }
}

export async function fetch (store: ObjectStore, remote: Remote, options: FetchOptions): Promise<FetchResult> {
  const force = options.force === true
  const remoteName = options.remoteName
  // Alias histories recorded by older versions of mvc become objects first, so they can be compared.
  await upgradeAliasLogs(store)
  const { heads, tags, versions, aliases } = await readRemoteRefs(remote)

  // 1. Conflicts, before any object moves: tags and version numbers must agree (unless forced).
  const localTags = new Map((await store.listRefs(TAGS)).map(([n, v]) => [n.slice(TAGS.length), v]))
  const localVersions = new Map((await store.listRefs(VERSIONS)).map(([n, v]) => [Number(n.slice(VERSIONS.length)), v]))
  const tracking = new Map((await store.listRefs(`${REMOTES}${remoteName}/`)).map(([n, v]) => [n, v]))
  // What the remote held when last seen: `m/remote-seen/<remote>/<ref>`, else (repositories fetched before
  // it was kept) the remote-tracking branches.
  const seenPrefix = remoteSeenPrefix(remoteName)
  const seen = new Map((await store.listMeta(seenPrefix)).map(([k, v]) => [k.slice(seenPrefix.length), utf8.decode(v)]))
  for (const [n, v] of tracking) {
    const ref = HEADS + n.slice(`${REMOTES}${remoteName}/`.length)
    if (!seen.has(ref)) seen.set(ref, v)
  }
  const remoteVersions = new Map([...versions].map(([n, v]) => [v, n] as const))
  const versionName = versionNamer(store, remoteVersions)
  const tagConflicts: TagConflict[] = []
  for (const [t, v] of tags) {
    const l = localTags.get(t)
    if (l !== undefined && l !== v && !force) tagConflicts.push({ name: t, remote: v, local: l, remoteVersion: await versionName(v), localVersion: await versionName(l) })
    if (l === undefined) {
      for (const ns of [HEADS, ALIASES]) {
        if (await store.readRef(ns + t) !== undefined) {
          throw new RefExistsError(`the remote ${remote.url} has a tag ${t}, but ${t} is a ${ns === HEADS ? 'branch' : 'alias'} here; a name can only be one of them. Rename yours, then fetch again`, { name: t })
        }
      }
    }
  }
  if (tagConflicts.length > 0) {
    const first = tagConflicts[0]!
    throw refConflict(`${tagConflicts.map(c => `tag ${c.name} is ${describeCommit(c.remote, c.remoteVersion)} on ${remote.url} but ${describeCommit(c.local, c.localVersion)} here`).join('; ')}; nothing was fetched. ` +
      `Tags don't move: rename yours (\`mvc tag -d ${first.name} --force\`, then \`mvc tag <other-name> ${first.localVersion !== null ? `v${first.localVersion}` : first.local}\`), ` +
      `or \`mvc fetch --force\` to take the remote's`,
    { ref: TAGS + first.name, remote: first.remote, local: first.local, tags: tagConflicts })
  }
  const diverged: string[] = []
  for (const [n, v] of versions) {
    const l = localVersions.get(n)
    if (l !== undefined && l !== v && !force) diverged.push(`v${n} is ${v} there and ${l} here`)
  }
  if (diverged.length > 0) {
    throw refConflict(`the repositories have diverged: ${remote.url} has different commits under version numbers this repository uses too (${diverged.slice(0, 3).join('; ')}${diverged.length > 3 ? `; and ${diverged.length - 3} more` : ''}). ` +
      '`mvc pull --force` takes the remote\'s history and versions (your commits stay reachable by CID, e.g. from `mvc log --json` output before the pull).', { conflicts: diverged })
  }

  // Signatures of the remote's versions that are not here (their objects link the commits they sign).
  const remoteCommits = new Set([...heads.values(), ...tags.values(), ...versions.values()])
  const signatureRefs: Array<[string, string]> = []
  for (const { name, value } of await remote.listRefs(SIGNATURES)) {
    const s = parseSignatureRef(name)
    if (s === undefined || !remoteCommits.has(s.commit) || (await store.readRef(name)) !== undefined) continue
    parseCommitCid(remote, name, value) // a dag-cbor CID
    signatureRefs.push([name, value])
  }

  // 2. Objects: the closure of every branch, tag, version and alias history (commits only for partial
  //    clones), and those signatures.
  const roots: Link[] = [...new Set([...remoteCommits, ...signatureRefs.map(([, v]) => v), ...aliases.values()])].map(c => ({ cid: CID.parse(c), kind: 'parent' as const }))
  let received = { objects: 0, bytes: 0 }
  let skipped = 0
  let completed: string[] = []
  if (roots.length > 0) {
    const target = await storeTarget(store, remote)
    const plan = await negotiate(remoteSource(remote), target, roots, { content: options.commitsOnly !== true, onProgress: options.onProgress, concurrency: options.concurrency })
    skipped = plan.skipped
    received = await transfer(remoteSource(remote), target, plan, 'receive', options)
    completed = target.completed(plan)
  }

  // 3. Check what the refs name, now that it is here.
  for (const [n, v] of versions) {
    const c = await readCommit(store, CID.parse(v))
    if (c.version !== n) throw new RemoteError(`the remote ${remote.url} is inconsistent: refs/versions/${n} names ${v}, which is v${c.version}`, { url: remote.url, version: n, cid: v })
  }
  for (const v of [...heads.values(), ...tags.values()]) await readCommit(store, CID.parse(v))
  // A signature is kept only when it verifies with the key its ref names and signs the commit its ref names.
  const goodSignatures: Array<[string, string]> = []
  for (const [name, value] of signatureRefs) {
    const s = parseSignatureRef(name)!
    try {
      const cid = CID.parse(value)
      const sig = parseSignature(decodeObject(cid, await store.get(cid), `signature ${value}`))
      if (checkSignatureObject(sig, CID.parse(s.commit), s.fingerprint).valid) goodSignatures.push([name, value])
    } catch (err) { if (!isMvcError(err)) throw err }
  }

  // 3b. Rollbacks: a branch that no longer contains what it named when last seen is not followed
  //     without `force` (a restored backup, a server serving old data, or a forced push); versions and
  //     tags that vanished are reported.
  const rollbacks: Rollback[] = []
  const warnings: string[] = []
  const describe = async (cid: string): Promise<string> => {
    const c = await readCommit(store, CID.parse(cid)).catch(() => undefined)
    return c === undefined ? cid : `v${c.version} (${cid})`
  }
  for (const [b, now] of heads) {
    const before = seen.get(HEADS + b)
    if (before === undefined || before === now) continue
    const was = tryCid(before)
    if (was === undefined || !(await store.has(was))) continue // never fetched here (partial history): nothing to compare
    if (await isAncestor(store, before, now)) continue
    rollbacks.push({ ref: HEADS + b, seen: before, now, kind: await isAncestor(store, now, before) ? 'rewound' : 'rewritten' })
  }
  if (rollbacks.length > 0 && !force) {
    const lines = await Promise.all(rollbacks.map(async r => `${r.ref.slice(HEADS.length)} ${r.kind === 'rewound' ? 'was rewound' : 'was rewritten'}: it names ${await describe(r.now)}, which is not a descendant of ${await describe(r.seen)} it named when last seen`))
    throw refConflict(`the remote ${remoteName} (${remote.url}) moved branches backwards: ${lines.join('; ')}. ` +
      'This is what a restored backup, a server serving old data or a forced push looks like; nothing was changed here. ' +
      `If it is expected, \`mvc fetch ${remoteName} --force\` follows it (your commits stay reachable by CID).`, { remote: remoteName, url: remote.url, rollbacks })
  }
  for (const r of rollbacks) warnings.push(`${r.ref.slice(HEADS.length)} ${r.kind === 'rewound' ? 'was rewound' : 'was rewritten'} on the remote: ${await describe(r.seen)} → ${await describe(r.now)} (followed: --force)`)
  // Aliases: the remote's histories, checked now that they are here; taken where they extend ours.
  const aliasPlan = await planAliasFetch(store, remote.url, aliases, seen, force)
  warnings.push(...aliasPlan.warnings)
  for (const [ref, v] of seen) {
    if (ref.startsWith(VERSIONS) && !versions.has(Number(ref.slice(VERSIONS.length)))) warnings.push(`v${ref.slice(VERSIONS.length)} (${v}) vanished from the remote; it stays here`)
    else if (ref.startsWith(TAGS) && !tags.has(ref.slice(TAGS.length))) warnings.push(`tag ${ref.slice(TAGS.length)} (${v}) vanished from the remote; it stays here`)
    else if (ref.startsWith(ALIAS_LOG) && !aliases.has(ref.slice(ALIAS_LOG.length))) warnings.push(`alias ${ref.slice(ALIAS_LOG.length)} and its history vanished from the remote; they stay here`)
    else if (ref.startsWith(HEADS) && !heads.has(ref.slice(HEADS.length)) && tracking.has(`${REMOTES}${remoteName}/${ref.slice(HEADS.length)}`)) {
      warnings.push(`branch ${ref.slice(HEADS.length)} (${v}) was deleted on the remote`)
    }
  }

  // 4. Refs, in one local transaction, each against the value read above.
  options.onProgress?.({ phase: 'refs', objects: received.objects, totalObjects: received.objects, bytes: received.bytes, totalBytes: received.bytes })
  const changes: RefChange[] = []
  const imported: number[] = []
  // A version of several paths raises the format this store declares (every version arrives under a
  // version ref, so looking at the refs that change sees every new commit).
  const formatBefore = Number(utf8.decode((await store.readMeta(META.format)) ?? utf8.encode('1')))
  let formatNeeded = formatBefore
  const arriving = new Set([
    ...[...versions].filter(([n, v]) => localVersions.get(n) !== v).map(([, v]) => v),
    ...[...heads].filter(([b, v]) => tracking.get(`${REMOTES}${remoteName}/${b}`) !== v).map(([, v]) => v),
    ...[...tags].filter(([t, v]) => localTags.get(t) !== v).map(([, v]) => v)
  ])
  for (const v of arriving) {
    if (formatNeeded >= 2) break
    formatNeeded = Math.max(formatNeeded, formatNeededBy(await readCommit(store, CID.parse(v))))
  }
  const tx = await store.transaction()
  try {
    if (formatNeeded > formatBefore) tx.setMeta(META.format, utf8.encode(String(formatNeeded)))
    for (const [b, v] of heads) {
      const name = `${REMOTES}${remoteName}/${b}`
      const old = tracking.get(name) ?? null
      if (old === v) { changes.push({ ref: name, old, new: v, status: 'up-to-date' }); continue }
      tx.setRef({ name, value: v, expect: old })
      changes.push({ ref: name, old, new: v, status: old === null ? 'created' : 'updated' })
    }
    for (const [name, old] of tracking) {
      if (heads.has(name.slice(`${REMOTES}${remoteName}/`.length))) continue
      tx.setRef({ name, value: null, expect: old })
      changes.push({ ref: name, old, new: null, status: 'deleted' })
    }
    for (const [t, v] of tags) {
      const old = localTags.get(t) ?? null
      if (old === v) continue
      tx.setRef({ name: TAGS + t, value: v, expect: old })
      changes.push({ ref: TAGS + t, old, new: v, status: old === null ? 'created' : 'forced' })
    }
    let max = 0
    for (const [n, v] of versions) {
      if (n > max) max = n
      const old = localVersions.get(n) ?? null
      if (old === v) continue
      tx.setRef({ name: VERSIONS + String(n), value: v, expect: old })
      imported.push(n)
      if (old !== null) changes.push({ ref: VERSIONS + String(n), old, new: v, status: 'forced' })
    }
    if (max + 1 > await nextVersion(store)) setNextVersion(tx, max + 1)
    for (const u of aliasPlan.updates) {
      if (u.logExpect !== u.logValue) {
        tx.setRef({ name: ALIAS_LOG + u.name, value: u.logValue, expect: u.logExpect })
        const status = aliasPlan.changes.find(a => a.name === u.name)?.status
        changes.push({ ref: ALIAS_LOG + u.name, old: u.logExpect, new: u.logValue, status: status === 'forced' ? 'forced' : u.logExpect === null ? 'created' : 'updated' })
      }
      if (u.aliasExpect !== u.aliasValue) tx.setRef({ name: ALIASES + u.name, value: u.aliasValue, expect: u.aliasExpect })
    }
    // What was seen: every ref now on the remote; a deleted branch stays remembered (if it comes back
    // older, that is a rollback), vanished versions and tags are reported once and forgotten; --force
    // accepts the remote as it is.
    const current = new Map<string, string>([
      ...[...heads].map(([b, v]) => [HEADS + b, v] as const),
      ...[...tags].map(([t, v]) => [TAGS + t, v] as const),
      ...[...versions].map(([n, v]) => [VERSIONS + String(n), v] as const),
      ...[...aliases].map(([a, v]) => [ALIAS_LOG + a, v] as const)
    ])
    for (const [ref, v] of current) if (seen.get(ref) !== v) tx.setMeta(seenPrefix + ref, utf8.encode(v))
    // Objects recorded as incomplete whose closure this fetch brought (bottom-up, all of it) are complete now.
    for (const k of completed) tx.setMeta(INCOMPLETE_PREFIX + k, null)
    for (const ref of seen.keys()) {
      if (current.has(ref)) continue
      if (force || !ref.startsWith(HEADS)) tx.setMeta(seenPrefix + ref, null)
      else if (!(await store.readMeta(seenPrefix + ref))) tx.setMeta(seenPrefix + ref, utf8.encode(seen.get(ref)!))
    }
    for (const [name, value] of goodSignatures) tx.setRef({ name, value, expect: null })
    await tx.commit()
  } catch (err) { await tx.abort(); throw err }
  options.onProgress?.({ phase: 'done', objects: received.objects, totalObjects: received.objects, bytes: received.bytes, totalBytes: received.bytes })
  return { url: remote.url, refs: await withVersions(changes, versionName), versions: imported.sort((a, b) => a - b), objectsReceived: received.objects, bytesReceived: received.bytes, objectsSkipped: skipped, heads, signatures: goodSignatures.length, rollbacks, warnings, aliases: aliasPlan.changes }
}

/**
 * Fetches what one commit links (manifest, files, models, tensors, chunks, verification tensors, data
 * manifest), not its parents: how a partial clone gets a version's content on demand.
 */
export async function fetchCommitContent (store: ObjectStore, remote: Remote, commit: CID, options: TransferOptions = {}): Promise<{ objects: number, bytes: number, skipped: number }> {
  const value = decodeObject(commit, await store.get(commit), `commit ${commit.toString()}`)
  const roots = objectLinks(value).filter(l => l.kind !== 'parent')
  if (roots.length === 0) return { objects: 0, bytes: 0, skipped: 0 }
  const target = await storeTarget(store, remote)
  const plan = await negotiate(remoteSource(remote), target, roots, { parents: false, onProgress: options.onProgress, concurrency: options.concurrency })
  if (plan.objects === 0) return { objects: 0, bytes: 0, skipped: plan.skipped }
  const r = await transfer(remoteSource(remote), target, plan, 'receive', options)
  const completed = target.completed(plan)
  if (completed.length > 0) {
    const tx = await store.transaction()
    try {
      for (const k of completed) tx.setMeta(INCOMPLETE_PREFIX + k, null)
      await tx.commit()
    } catch (err) { await tx.abort(); throw err }
  }
  return { ...r, skipped: plan.skipped }
}

/** True when a commit's content links are all stored (a cheap check before fetching in a partial clone). */
export async function hasCommitContent (store: ObjectStore, commit: CID): Promise<boolean> {
  const value = decodeObject(commit, await store.get(commit), `commit ${commit.toString()}`)
  for (const l of objectLinks(value)) {
    if (l.kind !== 'parent' && !(await store.has(l.cid))) return false
  }
  return true
}

// ------------------------------------------------------------------------------------------ pull

export type PullAction = 'up-to-date' | 'fast-forward' | 'ahead' | 'reset' | 'create'

export interface PullPlan {
  /** Local branch (full ref name). */
  readonly branch: string
  /** Remote-tracking ref pulled from. */
  readonly tracking: string
  readonly from: string | null
  readonly to: string
  readonly action: PullAction
}

/** What a pull does to the current branch, after fetching: fast-forward, nothing, or (diverged) an error unless `force`. */
export async function planPull (store: ObjectStore, args: { remoteName: string, url: string, branch?: string, force?: boolean }): Promise<PullPlan> {
  const branch = await headBranch(store)
  const remoteBranch = args.branch ?? branch.slice(HEADS.length)
  const tracking = `${REMOTES}${args.remoteName}/${remoteBranch}`
  const to = await store.readRef(tracking)
  if (to === undefined) {
    throw new UnknownRevisionError(`the remote ${args.remoteName} (${args.url}) has no branch ${remoteBranch}`, { remote: args.remoteName, branch: remoteBranch })
  }
  const from = (await store.readRef(branch)) ?? null
  const plan = { branch, tracking, from, to }
  if (from === to) return { ...plan, action: 'up-to-date' }
  if (from === null) return { ...plan, action: 'create' }
  if (await isAncestor(store, from, to)) return { ...plan, action: 'fast-forward' }
  if (await isAncestor(store, to, from)) return { ...plan, action: 'ahead' }
  if (args.force === true) return { ...plan, action: 'reset' }
  const [l, r] = [await readCommit(store, CID.parse(from)), await readCommit(store, CID.parse(to))]
  throw refConflict(`your branch ${branch.slice(HEADS.length)} (v${l.version}) and ${args.remoteName}/${remoteBranch} (v${r.version}) have diverged: each has commits the other doesn't. ` +
    `Run \`mvc pull --force\` to reset ${branch.slice(HEADS.length)} to the remote's (your commits stay reachable by CID: ${from}), ` +
    'or push yours to a new branch (`mvc switch -c <name>` then `mvc push`).', { branch, local: from, remote: to })
}

/** Moves a local branch by compare-and-swap. A repository that never committed gets the new commit's path as its default path (`m/last-path`). */
export async function moveBranch (store: ObjectStore, branch: string, from: string | null, to: string): Promise<void> {
  const lastPath = await store.readMeta(META.lastPath) === undefined ? (await readCommit(store, CID.parse(to))).paths[0]!.path : undefined
  const tx = await store.transaction()
  try {
    tx.setRef({ name: branch, value: to, expect: from })
    if (lastPath !== undefined) tx.setMeta(META.lastPath, utf8.encode(lastPath))
    await tx.commit()
  } catch (err) { await tx.abort(); throw err }
}

/** The branch a clone checks out: the remote's HEAD if it names a branch it has, else `main`, else the first. */
export async function remoteDefaultBranch (remote: Remote, heads: ReadonlyMap<string, string>): Promise<string | undefined> {
  let head: string | undefined
  try {
    head = (await remote.listRefs(HEAD)).find(r => r.name === HEAD)?.value
  } catch { head = undefined }
  const m = head === undefined ? null : /^ref: refs\/heads\/(.+)$/.exec(head)
  if (m !== null && heads.has(m[1]!)) return m[1]
  if (heads.has('main')) return 'main'
  return [...heads.keys()].sort()[0]
}
