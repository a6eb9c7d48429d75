/**
 * gc of remotes (docs/design.md, "gc of remotes"): `mvc gc --remote <name>`.
 *
 * - A folder remote is a store on this machine: its store is opened (taking its lock, like a push) and
 *   collected exactly as a local repository is (core/gc.ts).
 * - `mvc serve` collects its own store, in its process, when a client with a write token asks
 *   (`POST /v1/gc`); the server holds the store, so nothing else could.
 * - S3 cannot run code: the client reads the refs first, marks what they reach by reading structured
 *   objects, then lists the objects and deletes the unreachable ones whose upload finished (S3
 *   LastModified) before the grace period — and keeps what a young unreachable object links. A push
 *   uploads its objects bottom-up before it moves a ref, so an object being uploaded now is younger
 *   than the cutoff, and one uploaded after the refs were read is younger still: neither is deleted.
 */
import { CID } from 'multiformats/cid'
import { DAG_CBOR, RAW } from '../content/block.js'
import { InvalidArgumentError, RemoteError } from '../errors.js'
import { symbolicTarget } from '../format/keys.js'
import { pruneCutoff, DURATION_SYNTAX } from '../format/lifecycle.js'
import type { Remote, RemoteGcRequest } from '../remote/interface.js'
import { folderStoreDir } from '../remote/folder.js'
import { folderPath, remoteScheme } from '../remote/url.js'
import type { ObjectStore } from '../store/interface.js'
import { openDiskStore } from '../store/open.js'
import { connect } from './connect.js'
import { getRemoteConfig } from './remotes.js'
import { DEFAULT_PRUNE, DEFAULT_PRUNE_UNREFERENCED, gc, mark, type GcReport } from './gc.js'

export interface RemoteGcResult {
  /** The remote's name (or the URL given). */
  readonly remote: string
  readonly url: string
  /** How it was collected: the folder's store here, the server itself, or this client over S3. */
  readonly how: 'folder' | 'server' | 's3'
  readonly report: GcReport
}

function cutoff (text: string, what: string, now: number): number {
  const c = pruneCutoff(text, now)
  if (c === undefined) throw new InvalidArgumentError(`${what} ${JSON.stringify(text)} is not a time: use ${DURATION_SYNTAX}`, { value: text })
  return c
}

/**
 * Collects garbage on a remote: a configured name or (like push) a URL or path.
 * @example const r = await gcRemote(store, { remote: 'origin', prune: 'now' })
 */
export async function gcRemote (store: ObjectStore, args: RemoteGcRequest & { readonly remote: string, readonly transport?: Remote }): Promise<RemoteGcResult> {
  const request: RemoteGcRequest = { dryRun: args.dryRun, prune: args.prune, pruneUnreferenced: args.pruneUnreferenced }
  const config = await getRemoteConfig(store, args.remote)
  const url = config?.url ?? args.remote
  if (args.transport === undefined && remoteScheme(url) === 'folder') {
    const dir = await folderStoreDir(folderPath(url))
    if (dir === undefined) throw new RemoteError(`no mvc store at ${folderPath(url)} (remote ${args.remote})`, { url })
    const remoteStore = await openDiskStore(dir)
    try {
      return { remote: args.remote, url, how: 'folder', report: await gc(remoteStore, request) }
    } finally { await remoteStore.close() }
  }
  const c = await connect(store, { remote: args.remote, transport: args.transport }, { allowUrl: true })
  try {
    const remote = c.remote
    if (remote.collectGarbage !== undefined) {
      return { remote: args.remote, url: remote.url, how: 'server', report: await remote.collectGarbage(request) as GcReport }
    }
    if (remote.listObjects !== undefined && remote.deleteObjects !== undefined) {
      return { remote: args.remote, url: remote.url, how: 's3', report: await gcListedRemote(remote, request) }
    }
    throw new RemoteError(`${remote.url} cannot be collected from here (it neither runs gc nor lists its objects)`, { url: remote.url })
  } finally { await c.close() }
}

/**
 * gc of a remote that lists and deletes objects but runs no code (S3). Refs are read first, objects
 * listed after: an object uploaded meanwhile is young, and kept.
 */
export async function gcListedRemote (remote: Remote, request: RemoteGcRequest, now = Date.now()): Promise<GcReport> {
  const dryRun = request.dryRun === true
  const deletedCutoff = cutoff(request.prune ?? DEFAULT_PRUNE, 'the grace period', now)
  const unrefCutoff = Math.min(deletedCutoff, cutoff(request.pruneUnreferenced ?? DEFAULT_PRUNE_UNREFERENCED, 'the grace period of unreferenced objects', now))
  // 1. Refs first, then what they reach.
  const roots: Array<{ cid: CID, kind: 'root' }> = []
  for (const r of await remote.listRefs('')) {
    if (symbolicTarget(r.value) !== undefined) continue
    try { roots.push({ cid: CID.parse(r.value), kind: 'root' }) } catch { /* not a CID: names nothing */ }
  }
  const live = new Set<string>()
  const reader = { get: async (cid: CID) => await remote.get(cid), describe: remote.url }
  await mark(reader, roots, live, () => false)
  // 2. Then the objects.
  const listed: Array<{ cid: CID, size: number, storedAt: number }> = []
  for await (const o of remote.listObjects!()) listed.push(o)
  const young = (o: { storedAt: number }): boolean => o.storedAt > unrefCutoff
  const sheltered = new Set<string>()
  await mark(reader, listed.filter(o => o.cid.code === DAG_CBOR && !live.has(o.cid.toString()) && young(o)).map(o => ({ cid: o.cid, kind: 'root' as const })), sheltered, () => false, live)
  let reachable = { objects: 0, bytes: 0 }
  let kept = { objects: 0, bytes: 0 }
  let gone = { objects: 0, chunks: 0, inline: 0, bytes: 0 }
  let total = 0
  const doomed: CID[] = []
  for (const o of listed) {
    total += o.size
    const key = o.cid.toString()
    if (live.has(key)) { reachable = { objects: reachable.objects + 1, bytes: reachable.bytes + o.size }; continue }
    if (sheltered.has(key) || young(o)) { kept = { objects: kept.objects + 1, bytes: kept.bytes + o.size }; continue }
    doomed.push(o.cid)
    const raw = o.cid.code === RAW
    gone = { objects: gone.objects + 1, chunks: gone.chunks + (raw ? 1 : 0), inline: gone.inline + (raw ? 0 : 1), bytes: gone.bytes + o.size }
  }
  if (!dryRun && doomed.length > 0) await remote.deleteObjects!(doomed)
  const iso = (ms: number): string | null => Number.isFinite(ms) ? new Date(ms).toISOString() : null
  return {
    dryRun,
    cutoffs: { deleted: iso(deletedCutoff), unreferenced: iso(unrefCutoff) },
    reachable,
    removed: gone,
    young: kept,
    versions: { purged: [], restorable: [] },
    packs: { deleted: [], repacked: [], written: [], chunksMoved: 0, deferred: [], readers: [] },
    cacheEntries: 0,
    leftovers: [],
    // Sizes as the listing gives them (the bucket's own accounting): objects before and after.
    disk: { packsBefore: total, packsAfter: total - gone.bytes, indexBefore: 0, indexAfter: 0, freed: gone.bytes, measured: !dryRun }
  }
}
