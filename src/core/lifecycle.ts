/**
 * Deleting versions (docs/design.md, "Deleting versions and gc"): `mvc rm v3` writes a tombstone
 * (`m/deleted/<commit CID>`) in one batch; the commit object, its version ref and its place in the
 * history stay, so version numbers are never reused and history stays connected. Its content becomes
 * unreachable for gc once the grace period has passed (unless another version, tag or alias shares it);
 * until then `mvc rm --undo v3` restores it. A version whose content gc removed says so
 * (`VERSION_DELETED`) when checked out, diffed, shown or verified.
 */
import { CID } from 'multiformats/cid'
import { InvalidArgumentError, VersionDeletedError, VersionInUseError } from '../errors.js'
import type { Author } from '../format/objects.js'
import { ALIASES, HEADS, META, TAGS, deletedKey } from '../format/keys.js'
import { encodeTombstone, parseTombstone, type Tombstone } from '../format/lifecycle.js'
import type { ObjectStore } from '../store/interface.js'
import { readCommit } from './objects.js'
import { headBranch, listVersions, resolveRev } from './refs.js'

export type { Tombstone }

/** Every tombstone, by commit CID, read in one scan. */
export async function tombstones (store: Pick<ObjectStore, 'listMeta'>): Promise<Map<string, Tombstone>> {
  const out = new Map<string, Tombstone>()
  for (const [k, v] of await store.listMeta(META.deleted)) {
    const t = parseTombstone(v)
    if (t !== undefined) out.set(k.slice(META.deleted.length), t)
  }
  return out
}

export async function tombstoneOf (store: Pick<ObjectStore, 'readMeta'>, commit: string): Promise<Tombstone | undefined> {
  const v = await store.readMeta(deletedKey(commit))
  return v === undefined ? undefined : parseTombstone(v)
}

function day (ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')
}

/**
 * Throws VERSION_DELETED when `commit` is a deleted version whose content gc removed: what checkout,
 * diff, show, verify and export call before reading a version's content.
 */
export async function requireContent (store: Pick<ObjectStore, 'readMeta'>, commit: CID, rev: string): Promise<void> {
  const t = await tombstoneOf(store, commit.toString())
  if (t === undefined || t.purged === null) return
  throw new VersionDeletedError(`v${t.version} was deleted on ${day(t.at)} by ${t.by.name}; its content was removed by gc on ${day(t.purged)}, ` +
    `so ${rev === `v${t.version}` ? 'it' : `${rev} (v${t.version})`} cannot be read here. Its history entry stays (\`mvc log\`); ` +
    'a remote that still has it can bring it back in another clone.', { rev, version: t.version, cid: commit.toString(), deletedAt: t.at, purgedAt: t.purged })
}

/** What names a commit, besides its version ref: branch tips, tags and aliases. */
async function namesOf (store: ObjectStore): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>()
  const add = (cid: string, name: string): void => { out.set(cid, [...(out.get(cid) ?? []), name]) }
  const head = await headBranch(store)
  for (const [name, v] of await store.listRefs(HEADS)) add(v, name === head ? `the tip of the current branch ${name.slice(HEADS.length)}` : `the tip of branch ${name.slice(HEADS.length)}`)
  for (const [name, v] of await store.listRefs(TAGS)) add(v, `tag ${name.slice(TAGS.length)}`)
  for (const [name, v] of await store.listRefs(ALIASES)) add(v, `alias ${name.slice(ALIASES.length)}`)
  return out
}

export interface RemovedVersion {
  readonly version: number
  readonly cid: CID
  /** Branch tips, tags and aliases that name it (deleted anyway: `force`). */
  readonly namedBy: string[]
  /** Already deleted before this command (nothing changed for it). */
  readonly already: boolean
}

export interface RmResult {
  readonly removed: RemovedVersion[]
  /** With `dryRun`, nothing was written. */
  readonly dryRun: boolean
  /** Versions kept by a `keepLast` policy, and why (`last 3`, `tag 1.0`, …). */
  readonly kept?: ReadonlyArray<{ readonly version: number, readonly why: string }>
}

export interface RmOptions {
  readonly author: Author
  readonly timestamp: number
  /** Delete versions that a branch tip, tag or alias names (they keep naming a deleted version). */
  readonly force?: boolean
  readonly dryRun?: boolean
}

/** A revision that names a version: `v3`, a tag, an alias, a CID prefix — never an unnumbered import. */
async function versionOf (store: ObjectStore, rev: string): Promise<{ cid: CID, version: number }> {
  const cid = await resolveRev(store, rev)
  const c = await readCommit(store, cid)
  if ((await store.readRef(`refs/versions/${c.version}`)) !== cid.toString()) {
    throw new InvalidArgumentError(`${rev} names ${cid.toString()}, which is not a numbered version of this repository; only versions can be deleted`, { rev })
  }
  return { cid, version: c.version }
}

async function writeTombstones (store: ObjectStore, list: ReadonlyArray<{ cid: CID, version: number }>, options: RmOptions, reason: string): Promise<void> {
  if (list.length === 0 || options.dryRun === true) return
  const tx = await store.transaction()
  try {
    for (const v of list) tx.setMeta(deletedKey(v.cid.toString()), encodeTombstone({ version: v.version, at: options.timestamp, by: options.author, reason, purged: null }))
    await tx.commit()
  } catch (err) { await tx.abort(); throw err }
}

/**
 * Deletes versions: one tombstone each, all in one batch. Refuses (VERSION_IN_USE, nothing written)
 * versions a branch tip, tag or alias names unless `force`.
 */
export async function removeVersions (store: ObjectStore, revs: readonly string[], options: RmOptions): Promise<RmResult> {
  if (revs.length === 0) throw new InvalidArgumentError('name the versions to delete (`mvc rm v3 v5`), or a policy (`mvc rm --keep-last 5`)', {})
  const dead = await tombstones(store)
  const names = await namesOf(store)
  const targets = new Map<string, { cid: CID, version: number }>()
  for (const rev of revs) { const v = await versionOf(store, rev); targets.set(v.cid.toString(), v) }
  const removed: RemovedVersion[] = [...targets.values()].sort((a, b) => a.version - b.version)
    .map(v => ({ ...v, namedBy: names.get(v.cid.toString()) ?? [], already: dead.has(v.cid.toString()) }))
  const inUse = removed.filter(r => !r.already && r.namedBy.length > 0)
  if (inUse.length > 0 && options.force !== true) {
    throw new VersionInUseError(`refusing to delete ${inUse.map(r => `v${r.version} (${r.namedBy.join(', ')})`).join('; ')}: ` +
      'its content is in use by name. Move or delete those names first, or use --force to delete it anyway (the names then point at a deleted version).',
    { versions: inUse.map(r => r.version), namedBy: Object.fromEntries(inUse.map(r => [`v${r.version}`, r.namedBy])) })
  }
  await writeTombstones(store, removed.filter(r => !r.already), options, 'rm')
  return { removed, dryRun: options.dryRun === true }
}

/**
 * The keep-last policy: every version but the last `keep` (by number), the tips of every branch and
 * every version a tag or alias names is deleted. Already deleted versions are left as they are.
 */
export async function keepLast (store: ObjectStore, keep: number, options: RmOptions): Promise<RmResult> {
  if (!Number.isSafeInteger(keep) || keep < 0) throw new InvalidArgumentError(`--keep-last takes a whole number ≥ 0, got ${String(keep)}`, { keep })
  const dead = await tombstones(store)
  const names = await namesOf(store)
  const versions = await listVersions(store)
  const live = versions.filter(v => !dead.has(v.cid.toString()))
  const last = new Set(live.slice(Math.max(0, live.length - keep)).map(v => v.version))
  const kept: Array<{ version: number, why: string }> = []
  const doomed: Array<{ cid: CID, version: number }> = []
  for (const v of live) {
    const why = [...(last.has(v.version) ? [`one of the last ${keep}`] : []), ...(names.get(v.cid.toString()) ?? [])]
    if (why.length > 0) kept.push({ version: v.version, why: why.join(', ') })
    else doomed.push(v)
  }
  await writeTombstones(store, doomed, options, 'keep-last')
  return { removed: doomed.map(v => ({ ...v, namedBy: [], already: false })), dryRun: options.dryRun === true, kept }
}

export interface UndoneVersion { readonly version: number, readonly cid: CID, readonly wasDeleted: boolean }

/**
 * Restores deleted versions whose content gc has not removed yet (deletes their tombstones in one
 * batch). A version whose content is gone is VERSION_DELETED, and nothing is restored.
 */
export async function undoRemove (store: ObjectStore, revs: readonly string[]): Promise<UndoneVersion[]> {
  if (revs.length === 0) throw new InvalidArgumentError('name the versions to restore (`mvc rm --undo v3`)', {})
  const out: UndoneVersion[] = []
  const restore: string[] = []
  for (const rev of revs) {
    const { cid, version } = await versionOf(store, rev)
    await requireContent(store, cid, rev)
    const t = await tombstoneOf(store, cid.toString())
    out.push({ version, cid, wasDeleted: t !== undefined })
    if (t !== undefined) restore.push(cid.toString())
  }
  if (restore.length > 0) {
    const tx = await store.transaction()
    try {
      for (const k of restore) tx.setMeta(deletedKey(k), null)
      await tx.commit()
    } catch (err) { await tx.abort(); throw err }
  }
  return out.sort((a, b) => a.version - b.version)
}

/** Deleted versions (for `mvc rm --list`), oldest version first. */
export async function deletedVersions (store: ObjectStore): Promise<Array<Tombstone & { cid: CID }>> {
  return [...(await tombstones(store))].map(([k, t]) => ({ ...t, cid: CID.parse(k) })).sort((a, b) => a.version - b.version)
}
