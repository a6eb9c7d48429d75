/**
 * gc (docs/design.md, "gc"): removes what nothing reaches, after a grace period, and gives the space
 * back.
 *
 * Reachability. Roots are every ref under `refs/` (whatever its namespace: branches, versions, tags,
 * aliases, remote-tracking refs, imports, signatures, alias logs, and namespaces added later) and the
 * metadata entries that name objects the repository must keep (`ROOT_META`): worktree bases, failed
 * checkouts, what remotes were last seen at, alias log records, and any metadata key this version does
 * not know whose value holds a CID. Every link of every structured object is followed, except:
 * - a data manifest's links (its files are never stored; the manifest itself is kept);
 * - the content of a deleted version (`m/deleted/<cid>`) once its grace period has passed: only its
 *   parents are followed, so the commit and the history behind it stay;
 * - objects that are absent by design (a partial clone's content, a shallow commit's parents, the
 *   content of a version gc removed before) are skipped.
 *
 * What is removed. Objects reached only through deleted versions past the grace period (`prune`), and
 * objects reached by nothing that are older than both grace periods (`prune`, `pruneUnreferenced`): a
 * push's objects arrive before its ref, so an unreferenced object may be a push in flight — and so may
 * whatever such a young object links, which is kept too. A chunk's age is its pack's seal time; an
 * inline object has no time of its own, so its age counts from the first gc that found it
 * unreferenced (`m/gc/unreferenced/<cid>`).
 *
 * Packs: emptied packs are deleted, packs whose live bytes fall below `repackThreshold` of their size
 * are repacked (live chunks copied to a new pack, index re-pointed in the same batch), and pack files
 * are deleted only when no reader's snapshot of the index may still read them (else deferred to the
 * next gc: `m/gc/deferred-pack/<id>`). Caches that name removed objects lose those entries in the same
 * batch. The order of writes is store/sweep.ts's.
 */
import { CID } from 'multiformats/cid'
import { DAG_CBOR, RAW, decodeCbor } from '../content/block.js'
import { InvalidArgumentError, isMvcError } from '../errors.js'
import { objectLinks, type LinkKind } from '../format/links.js'
import { GC_DEFERRED_PACK, GC_LAST, GC_UNREFERENCED, INCOMPLETE_PREFIX, META, REMOTE_SEEN_PREFIX, deletedKey, symbolicTarget, utf8 } from '../format/keys.js'
import { encodeTombstone, pruneCutoff, DURATION_SYNTAX, type Tombstone } from '../format/lifecycle.js'
import type { KVOp, PackLocation } from '../store/interface.js'
import type { LevelObjectStore } from '../store/level-store.js'
import { DiskPacks } from '../store/packs.js'
import { TEMP_PACK, sweep } from '../store/leftovers.js'
import { STORE_STAGING, DB_DIR, PACKS_DIR, PURGED_FORMAT } from '../store/open.js'
import { READ_SNAPSHOT, SNAPSHOT_DIR } from '../store/snapshot.js'
import {
  ENTRY_OVERHEAD, PACK_FRAME, applyBatch, compactIndex, copyChunks, folderBytes, indexEntries, liveReaders, locationValue, packInfos, removePacks,
  type IndexEntry, type PackInfo
} from '../store/sweep.js'
import { tombstones } from './lifecycle.js'
import { join } from 'node:path'

/** Default grace period of deleted versions and unreferenced objects (git's gc.pruneExpire). */
export const DEFAULT_PRUNE = '2w'
/** Default minimum age of an unreferenced object, whatever `prune` says: a push in flight is younger. */
export const DEFAULT_PRUNE_UNREFERENCED = '1h'
/** A pack whose live bytes are below this share of its size is repacked. */
export const DEFAULT_REPACK_THRESHOLD = 0.5

export interface GcOptions {
  /** Report what would be removed, change nothing. */
  readonly dryRun?: boolean
  /** Grace period of deleted versions (and of unreferenced objects): `now`, `never`, `2w`, `3d`, `12h`, an ISO date. Default DEFAULT_PRUNE. */
  readonly prune?: string
  /** Minimum age of an unreferenced object, even with `prune: 'now'`. Default DEFAULT_PRUNE_UNREFERENCED. */
  readonly pruneUnreferenced?: string
  /** Repack packs whose live share is below this (0–1; 0 never repacks). Default 0.5. */
  readonly repackThreshold?: number
  /** The clock (tests). */
  readonly now?: number
  /** The working folder (checkout leftovers beside committed paths are swept). */
  readonly root?: string
}

export interface GcReport {
  readonly dryRun: boolean
  /** The cutoffs applied, ISO 8601 (null: `never`). */
  readonly cutoffs: { readonly deleted: string | null, readonly unreferenced: string | null }
  /** Objects kept because something reaches them. */
  readonly reachable: { readonly objects: number, readonly bytes: number }
  /** Objects removed (or, dry run, that would be): count and bytes of the objects themselves. */
  readonly removed: { readonly objects: number, readonly chunks: number, readonly inline: number, readonly bytes: number }
  /** Unreachable objects kept because they are younger than the grace period. */
  readonly young: { readonly objects: number, readonly bytes: number }
  /** Deleted versions whose content this gc removed, and deleted versions still restorable (`mvc rm --undo`). */
  readonly versions: { readonly purged: number[], readonly restorable: number[] }
  readonly packs: {
    /** Packs deleted (emptied, repacked, dangling, or deferred by an earlier gc). */
    readonly deleted: string[]
    /** Packs whose live chunks were copied into `written`. */
    readonly repacked: string[]
    readonly written: string[]
    readonly chunksMoved: number
    /** Packs no entry names any more, kept because a reader may still read them (deleted by the next gc). */
    readonly deferred: string[]
    /** Readers whose snapshots deferred them. */
    readonly readers: string[]
  }
  /** Cache and bookkeeping entries dropped because they named removed objects. */
  readonly cacheEntries: number
  /** Leftovers of dead processes removed (temporary packs, staging folders, reader snapshots). */
  readonly leftovers: string[]
  /**
   * Bytes on disk, measured from the file system: packs and index before and after (dry run: after =
   * before minus what would be freed, estimated from pack sizes). `freed` = before − after.
   */
  readonly disk: { readonly packsBefore: number, readonly packsAfter: number, readonly indexBefore: number, readonly indexAfter: number, readonly freed: number, readonly measured: boolean }
}

function cutoffOf (text: string, what: string, now: number): number {
  const c = pruneCutoff(text, now)
  if (c === undefined) throw new InvalidArgumentError(`${what} ${JSON.stringify(text)} is not a time: use ${DURATION_SYNTAX}`, { value: text })
  return c
}

function iso (ms: number): string | null {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null
}

/** Metadata prefixes whose values name commits the repository keeps (roots). */
const ROOT_META: readonly string[] = [META.worktree, META.checkoutFailed, REMOTE_SEEN_PREFIX]
/** Metadata gc knows holds no roots (caches, markers, settings, its own bookkeeping). */
const NOT_ROOTS: readonly string[] = [
  META.stat, META.modelCache, META.logIndex, META.fileSha256, META.shallow, INCOMPLETE_PREFIX, META.deleted, META.gc,
  META.format, META.nextVersion, META.lastPath, META.partial, META.remote, META.repositoryId, META.trustedKey, META.requireSigned
]
const CID_TEXT = /\bb[a-z2-7]{58}\b/g

function parseCid (text: string): CID | undefined {
  try { return CID.parse(text) } catch { return undefined }
}

/** The roots: every non-symbolic ref, and metadata that names objects (see ROOT_META and the module comment). */
async function roots (store: LevelObjectStore): Promise<CID[]> {
  const out: CID[] = []
  for (const [, value] of await store.listRefs('')) {
    if (symbolicTarget(value) !== undefined) continue
    const c = parseCid(value)
    if (c !== undefined) out.push(c)
  }
  for (const [key, value] of await store.listMeta('')) {
    const text = utf8.decode(value)
    if (ROOT_META.some(p => key.startsWith(p))) {
      const c = parseCid(text.trim())
      if (c !== undefined) out.push(c)
    } else if (key.startsWith(META.aliasLog) || !NOT_ROOTS.some(p => key === p || (p.endsWith('/') && key.startsWith(p)))) {
      // Alias log records (`from`, `to`) and keys this version does not know: any CID in the value.
      for (const m of text.matchAll(CID_TEXT)) {
        const c = parseCid(m[0])
        if (c !== undefined) out.push(c)
      }
    }
  }
  return out
}

interface Walk { readonly cid: CID, readonly kind: LinkKind | 'root' }

/**
 * Marks everything reachable from `start` into `marked` (skipping `stop`), following links as the
 * module comment says; `contentWithheld(cid)` says which commits' content is not followed. `read`: a
 * store, or a remote (gc of remotes), whose `get` re-hashes what it returns.
 */
export async function mark (read: { get: (cid: CID) => Promise<Uint8Array>, describe?: string }, start: readonly Walk[], marked: Set<string>, contentWithheld: (key: string) => boolean, stop?: ReadonlySet<string>): Promise<void> {
  const expanded = new Set<string>()
  const stack = [...start]
  while (stack.length > 0) {
    const { cid, kind } = stack.pop()!
    const key = cid.toString()
    if (stop?.has(key) === true) continue
    // A chunk links nothing: marking its name is enough (an absent one is never listed by the sweep).
    if (cid.code === RAW) { marked.add(key); continue }
    if (cid.code !== DAG_CBOR) continue
    const descend = kind !== 'data'
    if (marked.has(key) && (!descend || expanded.has(key))) continue
    let bytes: Uint8Array
    try {
      bytes = await read.get(cid) // re-hashed: gc never trusts links it read from damaged bytes
    } catch (err) {
      if (isMvcError(err) && err.code === 'OBJECT_NOT_FOUND') continue // absent by design (partial, shallow, purged)
      throw err
    }
    marked.add(key)
    if (!descend) continue
    expanded.add(key)
    const value = decodeCbor<unknown>(bytes, `object ${key}${read.describe !== undefined ? ` from ${read.describe}` : ''}`)
    const isCommit = (value as { type?: unknown } | null)?.type === 'mvc/commit'
    const withheld = isCommit && contentWithheld(key)
    for (const l of objectLinks(value)) {
      if (withheld && l.kind !== 'parent') continue
      stack.push({ cid: l.cid, kind: l.kind })
    }
  }
}

/**
 * Collects garbage in a store (a repository's `.mvc`, or a bare store: a folder remote, a served
 * repository). Takes the store's transaction lock for the whole run: nothing is stored and no ref
 * moves between the mark and the sweep.
 * @example const r = await gc(store, { prune: 'now' }); console.log(r.disk.freed)
 */
export async function gc (store: LevelObjectStore, options: GcOptions = {}): Promise<GcReport> {
  store.refuseWrite('collect garbage')
  const now = options.now ?? Date.now()
  const dryRun = options.dryRun === true
  const deletedCutoff = cutoffOf(options.prune ?? DEFAULT_PRUNE, 'the grace period', now)
  const unrefCutoff = Math.min(deletedCutoff, cutoffOf(options.pruneUnreferenced ?? DEFAULT_PRUNE_UNREFERENCED, 'the grace period of unreferenced objects', now))
  const threshold = options.repackThreshold ?? DEFAULT_REPACK_THRESHOLD
  if (!(threshold >= 0 && threshold <= 1)) throw new InvalidArgumentError(`the repack threshold must be between 0 and 1, got ${threshold}`, { threshold })
  const disk = store.packs instanceof DiskPacks
  const packsDir = join(store.location, PACKS_DIR)
  const dbDir = join(store.location, DB_DIR)

  return await store.exclusive(async () => {
    // Leftovers of dead processes (those the opening command removed are reported too).
    const leftovers = [...store.leftoversRemoved]
    if (disk && !dryRun) {
      leftovers.push(...(await sweep(packsDir, TEMP_PACK, 1, 2)).removed)
      leftovers.push(...(await sweep(store.location, STORE_STAGING, 1, 2)).removed)
      leftovers.push(...(await sweep(join(store.location, SNAPSHOT_DIR), READ_SNAPSHOT, 1, 2)).removed)
    }
    const packsBefore = disk ? await folderBytes(packsDir) : 0
    const indexBefore = disk ? await folderBytes(dbDir) : 0

    // 1. Mark. Deleted versions past the grace period keep their commit (and history) but not their content.
    const dead = await tombstones(store)
    const expired = new Map<string, Tombstone>([...dead].filter(([, t]) => t.purged !== null || t.at <= deletedCutoff))
    const live = new Set<string>()
    await mark(store, (await roots(store)).map(cid => ({ cid, kind: 'root' as const })), live, k => expired.has(k))
    // What only deleted versions reach (removed whatever its age: the version's grace period has passed).
    const deletedContent = new Set<string>()
    const contentRoots: Walk[] = []
    for (const k of expired.keys()) {
      const cid = CID.parse(k)
      let bytes: Uint8Array
      try { bytes = await store.get(cid) } catch (err) { if (isMvcError(err) && err.code === 'OBJECT_NOT_FOUND') continue; throw err }
      for (const l of objectLinks(decodeCbor<unknown>(bytes, `commit ${k}`))) if (l.kind !== 'parent') contentRoots.push({ cid: l.cid, kind: l.kind })
    }
    await mark(store, contentRoots, deletedContent, () => false, live)

    // 2. Decide, object by object.
    const firstSeen = new Map((await store.listMeta(GC_UNREFERENCED)).map(([k, v]) => [k.slice(GC_UNREFERENCED.length), Number(utf8.decode(v))]))
    const packs = await packInfos(store)
    const packById = new Map(packs.map(p => [p.id, p]))
    const removed = new Set<string>()
    const ops: KVOp[] = []
    const meta = (key: string, value: Uint8Array | null): void => { ops.push(value === null ? { type: 'del', key: 'm/' + key } : { type: 'put', key: 'm/' + key, value }) }
    let reachable = { objects: 0, bytes: 0 }
    let young = { objects: 0, bytes: 0 }
    let gone = { objects: 0, chunks: 0, inline: 0, bytes: 0 }
    /** Per pack: live entries (kept) and whether any entry of it was removed. */
    const perPack = new Map<string, { live: IndexEntry[], liveBytes: number, removedAny: boolean }>()
    const packOf = (id: string): { live: IndexEntry[], liveBytes: number, removedAny: boolean } => {
      let p = perPack.get(id)
      if (p === undefined) { p = { live: [], liveBytes: 0, removedAny: false }; perPack.set(id, p) }
      return p
    }
    const entries: IndexEntry[] = []
    for await (const e of indexEntries(store)) entries.push(e)
    /** An unreachable object's own age says it may be in use (a push in flight), before what it links is considered. */
    const isYoung = (e: IndexEntry): boolean => e.loc !== undefined
      ? (packById.get(e.loc.pack)?.mtimeMs ?? now) > unrefCutoff
      : (firstSeen.get(e.key) ?? now) > unrefCutoff
    // What young objects link is kept too, deleted content included: a push in flight may have skipped
    // sending an object because the store had it, and its new objects (young) link it.
    const sheltered = new Set<string>()
    const youngRoots = entries.filter(e => e.loc === undefined && !live.has(e.key) && !deletedContent.has(e.key) && isYoung(e))
    await mark(store, youngRoots.map(e => ({ cid: CID.parse(e.key), kind: 'root' as const })), sheltered, () => false, live)
    for (const e of entries) {
      const keep = (): void => {
        if (e.loc !== undefined) { const p = packOf(e.loc.pack); p.live.push(e); p.liveBytes += e.size + ENTRY_OVERHEAD }
      }
      if (live.has(e.key)) {
        reachable = { objects: reachable.objects + 1, bytes: reachable.bytes + e.size }
        if (firstSeen.has(e.key) && !dryRun) meta(GC_UNREFERENCED + e.key, null) // reachable again
        keep()
        continue
      }
      const remove = !sheltered.has(e.key) && (deletedContent.has(e.key) || !isYoung(e))
      if (!remove) {
        if (e.loc === undefined && !firstSeen.has(e.key) && !dryRun) meta(GC_UNREFERENCED + e.key, utf8.encode(String(now)))
        young = { objects: young.objects + 1, bytes: young.bytes + e.size }
        keep()
        continue
      }
      removed.add(e.key)
      gone = { objects: gone.objects + 1, chunks: gone.chunks + (e.loc !== undefined ? 1 : 0), inline: gone.inline + (e.loc === undefined ? 1 : 0), bytes: gone.bytes + e.size }
      ops.push({ type: 'del', key: 'o/' + e.key })
      if (e.loc !== undefined) packOf(e.loc.pack).removedAny = true
    }

    // 3. Packs: delete emptied and dangling ones, repack mostly dead ones.
    const deferredBefore = new Set((await store.listMeta(GC_DEFERRED_PACK)).map(([k]) => k.slice(GC_DEFERRED_PACK.length)))
    const toDelete: PackInfo[] = []
    const toRepack: PackInfo[] = []
    for (const p of packs) {
      const u = perPack.get(p.id)
      if (u === undefined || u.live.length === 0) {
        // Emptied now, deferred by an earlier gc, or dangling (left by a transaction that never committed) and old enough.
        if ((u?.removedAny ?? false) || deferredBefore.has(p.id) || p.mtimeMs <= unrefCutoff) toDelete.push(p)
        continue
      }
      if (threshold > 0 && u.removedAny && u.liveBytes + PACK_FRAME < threshold * p.size) toRepack.push(p)
    }
    const moving = toRepack.flatMap(p => perPack.get(p.id)!.live).map(e => ({ cid: CID.parse(e.key), loc: e.loc as PackLocation }))
    let written: string[] = []
    if (!dryRun && moving.length > 0) {
      const copied = await copyChunks(store, moving)
      written = copied.packs
      for (const [key, loc] of copied.moved) ops.push({ type: 'put', key: 'o/' + key, value: locationValue(loc) })
    }

    // 4. Caches and bookkeeping that name removed objects go in the same batch.
    let cacheEntries = 0
    const drop = (key: string): void => { cacheEntries++; meta(key, null) }
    if (removed.size > 0) {
      for (const prefix of [META.logIndex, META.fileSha256, META.shallow, INCOMPLETE_PREFIX, GC_UNREFERENCED]) {
        for (const [k] of await store.listMeta(prefix)) if (removed.has(k.slice(prefix.length))) drop(k)
      }
      for (const [k, v] of await store.listMeta(META.modelCache)) {
        const rest = k.slice(META.modelCache.length)
        if (rest.startsWith('file/') ? removed.has(rest.slice(5)) : removed.has(utf8.decode(v).trim())) drop(k)
      }
      for (const [k, v] of await store.listMeta(META.stat)) {
        if (k.slice(META.stat.length).startsWith('data:')) continue // data files are never stored: not a claim about the store
        try {
          const file = (JSON.parse(utf8.decode(v)) as { file?: unknown }).file
          if (typeof file === 'string' && removed.has(file)) drop(k)
        } catch { /* not ours to judge */ }
      }
    }
    const purged: number[] = []
    for (const [k, t] of expired) {
      if (t.purged !== null) continue
      purged.push(t.version)
      if (!dryRun) meta(deletedKey(k), encodeTombstone({ ...t, purged: now }))
    }
    // A store holding a commit without its content is format 3, in the same batch: an older mvc must
    // refuse it rather than report the version as damage (fsck) or drop the history behind it (repair).
    const format = Number(utf8.decode((await store.readMeta(META.format)) ?? utf8.encode('1')))
    if (purged.length > 0 && !dryRun && format < PURGED_FORMAT) meta(META.format, utf8.encode(String(PURGED_FORMAT)))
    purged.sort((a, b) => a - b)
    const restorable = [...dead].filter(([k]) => !expired.has(k)).map(([, t]) => t.version).sort((a, b) => a - b)
    // Pack ids name their entries: a repack can write a pack under the name of a dangling one (left by
    // a gc killed after sealing it), whose file it then replaced. That pack is live again: never delete it.
    const deleting = [...toDelete.map(p => p.id), ...toRepack.map(p => p.id)].filter(id => !written.includes(id))

    if (dryRun) {
      const freedPacks = toDelete.reduce((a, p) => a + p.size, 0) + toRepack.reduce((a, p) => a + p.size - (perPack.get(p.id)!.liveBytes + PACK_FRAME), 0)
      return {
        dryRun,
        cutoffs: { deleted: iso(deletedCutoff), unreferenced: iso(unrefCutoff) },
        reachable, removed: gone, young, versions: { purged, restorable },
        packs: { deleted: toDelete.map(p => p.id), repacked: toRepack.map(p => p.id), written: [], chunksMoved: moving.length, deferred: [], readers: [] },
        cacheEntries,
        leftovers,
        disk: { packsBefore, packsAfter: packsBefore - freedPacks, indexBefore, indexAfter: indexBefore, freed: freedPacks, measured: false }
      }
    }

    // 5. One synced batch. Then the pack files, unless a reader's snapshot (taken before the batch:
    //    its folder exists before it copies the index) may still read them.
    if (ops.length > 0 || purged.length > 0) {
      meta(GC_LAST, utf8.encode(JSON.stringify({ at: now, objects: gone.objects, bytes: gone.bytes, purged })))
    }
    await applyBatch(store, ops)
    const readers = await liveReaders(store)
    let deleted: string[] = []
    let deferred: string[] = []
    const after: KVOp[] = []
    if (readers.length > 0) {
      deferred = deleting
      for (const id of deleting) if (!deferredBefore.has(id)) after.push({ type: 'put', key: 'm/' + GC_DEFERRED_PACK + id, value: utf8.encode(String(now)) })
    } else {
      deleted = await removePacks(store, deleting)
    }
    // A deferred pack that is gone, or whose name a new pack with the same entries took (ids name content), is no longer deferred.
    for (const id of deferredBefore) {
      if (deleted.includes(id) || !packById.has(id) || (perPack.get(id)?.live.length ?? 0) > 0) after.push({ type: 'del', key: 'm/' + GC_DEFERRED_PACK + id })
    }
    await applyBatch(store, after)
    if (gone.objects > 0) await compactIndex(store)
    const packsAfter = disk ? await folderBytes(packsDir) : 0
    const indexAfter = disk ? await folderBytes(dbDir) : 0
    return {
      dryRun,
      cutoffs: { deleted: iso(deletedCutoff), unreferenced: iso(unrefCutoff) },
      reachable, removed: gone, young, versions: { purged, restorable },
      packs: { deleted, repacked: toRepack.map(p => p.id), written, chunksMoved: moving.length, deferred, readers },
      cacheEntries,
      leftovers,
      disk: { packsBefore, packsAfter, indexBefore, indexAfter, freed: packsBefore + indexBefore - packsAfter - indexAfter, measured: disk }
    }
  })
}
