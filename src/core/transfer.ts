/**
 * Moving objects between a local store and a remote (docs/remotes.md, "Negotiation").
 *
 * Negotiation walks the DAG top-down from the roots (commits, then what they link: manifests, models,
 * topologies, tensors, files, data manifests, verification tensors, then chunks), asking the
 * receiving side `hasMany` for each layer in batches. An object the receiver has is not descended
 * into when the receiver vouches for its closure: a local store (I1, docs/design.md) and a remote that
 * keeps closures (`Remote.keepsClosures`: store remotes, `mvc serve`) answer `hasMany` for complete
 * closures only. A receiver that only says what it stores (S3, older servers) is trusted for nothing
 * below what its refs reach: the walk goes on below every object it has except the commits in
 * `complete` (docs/design.md, "Complete objects"), so a structured object stored there without its
 * chunks (closure poisoning) never makes the sender skip them. The missing
 * objects are then sent bottom-up — every object after all of its missing children — with bounded
 * parallelism and bounded memory, so that every state the receiver can be left in (a transfer that
 * stops half-way, a crash) is closed under links again, and a re-run sends only what is still missing.
 *
 * Link kinds (`objectLinks`):
 * - `parent`: a commit's parents (followed unless `parents: false`);
 * - `model`: a commit's model manifest — followed, and when the receiver already has it, its own links
 *   are still checked one level (a manifest first stored as a data manifest has no files below it);
 * - `data`: a commit's data snapshot manifest (`data.kind === 'snapshot'`): the manifest object is
 *   transferred but never descended into — its file objects are not stored anywhere (src/model/lineage.ts);
 * - `content`: every other link (verification tensors, files, models, tensors, chunks, topologies).
 *
 * Links are found generically (every CID in the decoded dag-cbor value), so new object types transfer
 * without changes here; only the commit's fields are classified.
 */
import { CID } from 'multiformats/cid'
import { DAG_CBOR, RAW, verifyBlock } from '../content/block.js'
import { decodeStructured } from '../remote/closure.js'
import { InvalidObjectError } from '../errors.js'
import type { ObjectReader } from '../store/interface.js'
import { pool } from '../store/async.js'
import type { Remote } from '../remote/interface.js'

export type TransferPhase = 'negotiate' | 'send' | 'receive' | 'refs' | 'done'

/** Progress of a transfer: objects and bytes done so far and (once negotiation is over) in total. */
export interface TransferProgress {
  readonly phase: TransferPhase
  readonly objects: number
  readonly totalObjects: number
  readonly bytes: number
  readonly totalBytes: number
}
export type ProgressFn = (p: TransferProgress) => void

/**
 * The sending side: a local store or a remote (`get` returns verified bytes), and its name for
 * messages ("the local repository", "the remote http://…"). Negotiation re-hashes what it reads.
 */
export interface ObjectSource {
  readonly get: ObjectReader['get']
  readonly describe: string
}

/**
 * The receiving side: the part of `Remote` a transfer writes through. A remote (push), or a
 * `BatchWriter` over the local store (fetch). `put` verifies (or the far side does) and stores; `flush`
 * makes puts durable.
 */
export type ObjectTarget = Pick<Remote, 'hasMany' | 'flush'> & { put (cid: CID, bytes: Uint8Array): Promise<unknown> }

import { objectLinks, type Link, type LinkKind } from '../format/links.js'
export { objectLinks, type Link, type LinkKind }

export interface WalkOptions {
  /** Follow commit parents (default true). */
  readonly parents?: boolean
  /** Follow what commits link besides parents: manifests, data manifests, verification (default true). False = commits only (partial clones). */
  readonly content?: boolean
  /** CIDs per `hasMany` call (default 512). */
  readonly batchSize?: number
  /** Objects read or sent at once (default 8). */
  readonly concurrency?: number
  readonly onProgress?: ProgressFn
  /**
   * The receiver's `hasMany` answers for whole closures (default true: local stores, remotes whose
   * `keepsClosures()` is true). False: it only says what it stores, so the walk continues below every
   * object it has, except commits listed in `complete`.
   */
  readonly receiverKeepsClosures?: boolean
  /** With `receiverKeepsClosures: false`: commits whose closure the receiver is known to hold (those its refs reach). */
  readonly complete?: ReadonlySet<string>
  /** Commits whose content is not sent (deleted versions whose content gc removed here): only their parents are followed. */
  readonly withheld?: ReadonlySet<string>
}

/** An object the receiver is missing. */
export interface PlannedObject {
  readonly cid: CID
  /** Exact for structured objects; for chunks, what the links say (0 when unknown). */
  readonly size: number
  /** Structured objects read during negotiation are kept (they are small); chunks are read when sent. */
  readonly bytes?: Uint8Array
}

export interface TransferPlan {
  /** Missing objects by height: every object's missing children are in earlier groups. Send in order. */
  readonly groups: readonly PlannedObject[][]
  readonly objects: number
  readonly bytes: number
  /** Objects the receiver was asked about and already had (each stands for its whole closure). */
  readonly skipped: number
  /** Missing commits with their version numbers. */
  readonly commits: ReadonlyArray<{ readonly cid: CID, readonly version: number }>
}

interface Node {
  readonly cid: CID
  readonly key: string
  /** undefined until the receiver was asked. */
  missing?: boolean
  /** Descend into its links (false for data manifests). */
  deep: boolean
  /** Check its links even when the receiver has it (model manifests). */
  check: boolean
  /** Bytes read (missing objects keep them). */
  read: boolean
  /** Links processed. */
  expanded: boolean
  size: number
  bytes?: Uint8Array
  children: string[]
  version?: number
}

const DEFAULT_BATCH = 512
const DEFAULT_CONCURRENCY = 8

async function hasBatched (target: ObjectTarget, cids: readonly CID[], batch: number): Promise<boolean[]> {
  const batches: CID[][] = []
  for (let i = 0; i < cids.length; i += batch) batches.push(cids.slice(i, i + batch))
  const answers: boolean[][] = new Array(batches.length)
  await pool(batches.map((b, i) => ({ b, i })), 4, async ({ b, i }) => {
    const a = await target.hasMany(b)
    if (a.length !== b.length) throw new InvalidObjectError(`hasMany answered ${a.length} values for ${b.length} objects`, {})
    answers[i] = a
  })
  return answers.flat()
}

/**
 * Finds what `target` is missing of the closure of `roots`, reading structured objects from `source`.
 * Roots are commits (kind `parent`) or, for fetching one commit's content, its content links.
 */
export async function negotiate (source: ObjectSource, target: ObjectTarget, roots: readonly Link[], options: WalkOptions = {}): Promise<TransferPlan> {
  const followParents = options.parents !== false
  const followContent = options.content !== false
  const batch = options.batchSize ?? DEFAULT_BATCH
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY
  // A receiver that does not vouch for closures: look below everything it has but the commits known complete.
  const distrust = options.receiverKeepsClosures === false
  const complete = options.complete ?? new Set<string>()
  const withheld = options.withheld ?? new Set<string>()
  const nodes = new Map<string, Node>()
  let unknown: Node[] = []
  let skipped = 0
  let examined = 0
  const report = (): void => options.onProgress?.({ phase: 'negotiate', objects: examined, totalObjects: 0, bytes: 0, totalBytes: 0 })

  const needsRead = (n: Node): boolean => n.cid.code === DAG_CBOR && n.missing !== undefined &&
    ((n.missing && !n.read) || (n.deep && (n.missing || n.check) && !n.expanded))
  /** Answered nodes that may need reading (checked with needsRead when the round reads). */
  let toRead: Node[] = []

  const add = (link: Link): Node => {
    const key = link.cid.toString()
    let n = nodes.get(key)
    if (n === undefined) {
      n = { cid: link.cid, key, deep: link.kind !== 'data', check: link.kind === 'model' || (distrust && !complete.has(key)), read: false, expanded: false, size: link.size ?? 0, children: [] }
      nodes.set(key, n)
      unknown.push(n)
    } else {
      // Reached again through a stronger link: a data manifest that is also a model manifest is descended into.
      const before = needsRead(n)
      if (link.kind !== 'data') n.deep = true
      if (link.kind === 'model') n.check = true
      if (link.size !== undefined && link.size > n.size) n.size = link.size
      if (!before && needsRead(n)) toRead.push(n)
    }
    return n
  }
  for (const r of roots) add(r)

  for (;;) {
    // 1. Ask the receiver about every object not asked about yet.
    if (unknown.length > 0) {
      const asking = unknown
      unknown = []
      const answers = await hasBatched(target, asking.map(n => n.cid), batch)
      asking.forEach((n, i) => {
        n.missing = answers[i] !== true
        if (!n.missing) skipped++
        toRead.push(n)
      })
      examined += asking.length
      report()
    }
    // 2. Read the structured objects whose links matter: missing ones, and present model manifests.
    const reading = [...new Set(toRead)].filter(needsRead)
    toRead = []
    if (reading.length === 0 && unknown.length === 0) break
    await pool(reading, concurrency, async n => {
      const bytes = n.bytes ?? await source.get(n.cid)
      if (n.bytes === undefined) verifyBlock(n.cid, bytes, source.describe)
      n.read = true
      if (n.missing === true) { n.bytes = bytes; n.size = bytes.length }
      // Every structured object read is decoded: junk under a dag-cbor CID is INVALID_OBJECT, never stored.
      const value = decodeStructured(n.cid, bytes, source.describe)
      if (!n.deep || !(n.missing === true || n.check)) return // a data manifest: stored, never descended into
      n.expanded = true
      const v = value as { type?: unknown, version?: unknown }
      if (v !== null && typeof v === 'object' && v.type === 'mvc/commit' && typeof v.version === 'number') n.version = v.version
      for (const l of objectLinks(value)) {
        if (l.kind === 'parent' ? !followParents : (n.version !== undefined && (!followContent || withheld.has(n.key)))) continue
        if (l.cid.code !== RAW && l.cid.code !== DAG_CBOR) {
          throw new InvalidObjectError(`object ${n.key} links ${l.cid.toString()}, which is not a raw or dag-cbor object`, { cid: n.key, link: l.cid.toString() })
        }
        n.children.push(add(l).key)
      }
    })
  }

  // 3. Heights over the missing objects (and present model manifests that were looked into, which
  //    pass the order through): a leaf is 0, anything else 1 + its highest relevant child.
  const relevant = (n: Node | undefined): n is Node => n !== undefined && (n.missing === true || n.expanded)
  const height = new Map<string, number>()
  const visiting = new Set<string>()
  for (const start of nodes.values()) {
    if (!relevant(start) || height.has(start.key)) continue
    const stack: Node[] = [start]
    while (stack.length > 0) {
      const n = stack[stack.length - 1]!
      visiting.add(n.key)
      let pending = false
      for (const k of n.children) {
        const c = nodes.get(k)
        if (!relevant(c) || height.has(k)) continue
        if (visiting.has(k)) throw new InvalidObjectError(`object ${k} links to itself through its children`, { cid: k })
        stack.push(c)
        pending = true
      }
      if (pending) continue
      stack.pop()
      visiting.delete(n.key)
      let h = 0
      for (const k of n.children) {
        const ch = height.get(k)
        if (ch !== undefined && ch + 1 > h) h = ch + 1
      }
      height.set(n.key, h)
    }
  }
  const groups: PlannedObject[][] = []
  let objects = 0
  let bytes = 0
  const commits: Array<{ cid: CID, version: number }> = []
  for (const n of nodes.values()) {
    if (n.missing !== true) continue
    const h = height.get(n.key) ?? 0
    while (groups.length <= h) groups.push([])
    groups[h]!.push(n.bytes !== undefined ? { cid: n.cid, size: n.size, bytes: n.bytes } : { cid: n.cid, size: n.size })
    objects++
    bytes += n.size
    if (n.version !== undefined) commits.push({ cid: n.cid, version: n.version })
  }
  return { groups: groups.filter(g => g.length > 0), objects, bytes, skipped, commits: commits.sort((a, b) => a.version - b.version) }
}

export interface SendOptions {
  readonly concurrency?: number
  /** Upper bound on bytes of objects being read or sent at once (default 16 MiB; one object always fits). */
  readonly maxBytesInFlight?: number
  readonly phase?: 'send' | 'receive'
  readonly onProgress?: ProgressFn
}

export interface SendResult { readonly objects: number, readonly bytes: number }

/** Largest chunk the chunker makes: the weight of a chunk whose size the links don't say. */
const MAX_CHUNK = 4 << 20

/**
 * Sends the planned objects group by group (each group after the previous one has been put), up to
 * `concurrency` at a time. Does not flush the target: callers flush on success and failure alike.
 */
export async function sendObjects (source: ObjectSource, target: ObjectTarget, plan: TransferPlan, options: SendOptions = {}): Promise<SendResult> {
  let objects = 0
  let bytes = 0
  const phase = options.phase ?? 'send'
  const report = (): void => options.onProgress?.({ phase, objects, totalObjects: plan.objects, bytes, totalBytes: Math.max(plan.bytes, bytes) })
  report()
  for (const group of plan.groups) {
    await pool(group, options.concurrency ?? DEFAULT_CONCURRENCY, async o => {
      const b = o.bytes ?? await source.get(o.cid)
      await target.put(o.cid, b)
      objects++
      bytes += b.length
      report()
    }, { weigh: o => o.bytes?.length ?? (o.size > 0 ? o.size : MAX_CHUNK), bytes: options.maxBytesInFlight ?? 16 << 20 })
  }
  return { objects, bytes }
}

/** A local store as the sending side. */
export function storeSource (store: ObjectReader, describe: string): ObjectSource {
  return { get: async cid => await store.get(cid), describe }
}
