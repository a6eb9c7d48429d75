/**
 * Complete objects (docs/design.md, "Complete objects"): how a store that receives objects from clients
 * it does not trust — the HTTP server (`mvc serve`), a folder or in-memory remote — keeps the closure
 * invariant I1 itself instead of relying on every client to send objects bottom-up.
 *
 * An object is *complete* when its whole closure is stored: a raw chunk as soon as it is stored, a
 * structured object when every object it links is complete — except a commit's data manifest, which only
 * needs to be present (its files are stored nowhere). A received structured object whose links are not
 * all complete is still stored (it may become complete when its children arrive and it is sent again),
 * but it is recorded as incomplete under `m/incomplete/<cid>`; anything stored without that mark is
 * complete. Marks are written *before* the object is stored and removed only *after* its children were
 * found complete, so a crash or a race can only leave a complete object marked (it is then sent again,
 * at worst), never an incomplete one unmarked. Objects stored before marks existed are unmarked: stores
 * written by mvc keep I1 by construction.
 *
 * What follows from it: `hasMany` answers true only for complete objects, so a sender never prunes its
 * walk at an object whose closure is missing (closure poisoning); and a ref may only name a complete
 * commit (git's connectivity check at receive, here from the marks: O(1) per ref update). Deciding
 * completeness reads only the links of the structured object received and the marks of its children —
 * never chunk bytes.
 *
 * Also here: the decode check (bytes under a dag-cbor CID must decode as dag-cbor: `INVALID_OBJECT`
 * otherwise) and the walks of append-only serving: commit ancestry (`isAncestorIn`) and alias
 * histories (`aliasMoveIn`, `isEarlierMoveIn`).
 */
import { CID } from 'multiformats/cid'
import { DAG_CBOR, RAW, decodeCbor, verifyBlock } from '../content/block.js'
import { InvalidObjectError } from '../errors.js'
import { objectLinks, type Link } from '../format/links.js'
import { INCOMPLETE_PREFIX, META, utf8 } from '../format/keys.js'
import { formatNeededBy, parseAliasMove, parseCommit, type AliasMove } from '../format/objects.js'
import type { ObjectStore } from '../store/interface.js'
import type { BatchWriter } from '../store/batch.js'

export { INCOMPLETE_PREFIX }

/** Decodes the bytes of a dag-cbor object (strictly); junk is INVALID_OBJECT naming the CID and the source. */
export function decodeStructured (cid: CID, bytes: Uint8Array, source: string): unknown {
  // Bounded nesting (decodeCbor): a crafted object is INVALID_OBJECT, never a stack overflow.
  return decodeCbor<unknown>(bytes, `object ${cid.toString()} from ${source} (${bytes.length} bytes named as dag-cbor; nothing was stored)`)
}

/** The links of a structured object's bytes, classified (`objectLinks`); decodes strictly. */
export function structuredLinks (cid: CID, bytes: Uint8Array, source: string): Link[] {
  return objectLinks(decodeStructured(cid, bytes, source))
}

/**
 * True when commit `ancestor` is `descendant` or one of its ancestors, walking the parents of the commit
 * objects in `store` (complete closures hold every parent). An object that is not a commit is no one's
 * ancestor.
 */
export async function isAncestorIn (store: Pick<ObjectStore, 'get' | 'has'>, ancestor: CID, descendant: CID): Promise<boolean> {
  const target = ancestor.toString()
  if (target === descendant.toString()) return true
  const seen = new Set<string>([descendant.toString()])
  const queue: CID[] = [descendant]
  while (queue.length > 0) {
    const at = queue.shift()!
    if (at.code !== DAG_CBOR || !(await store.has(at))) continue
    const value = decodeStructured(at, await store.get(at), 'this store') as { type?: unknown, parents?: unknown } | null
    if (value === null || typeof value !== 'object' || value.type !== 'mvc/commit' || !Array.isArray(value.parents)) continue
    for (const p of value.parents) {
      const c = CID.asCID(p)
      if (c === null) continue
      const k = c.toString()
      if (k === target) return true
      if (!seen.has(k)) { seen.add(k); queue.push(c) }
    }
  }
  return false
}

/** The `mvc/alias-move` at `cid` in `store`, or undefined when it is absent or something else. */
export async function aliasMoveIn (store: Pick<ObjectStore, 'get' | 'has'>, cid: CID): Promise<AliasMove | undefined> {
  if (cid.code !== DAG_CBOR || !(await store.has(cid))) return undefined
  try { return parseAliasMove(decodeStructured(cid, await store.get(cid), 'this store')) } catch (err) {
    if (err instanceof InvalidObjectError) return undefined
    throw err
  }
}

/**
 * True when alias move `earlier` is `later` or one of the moves before it (following `prev` through the
 * moves in `store`): the history ending at `later` only added to the one ending at `earlier`.
 */
export async function isEarlierMoveIn (store: Pick<ObjectStore, 'get' | 'has'>, earlier: CID, later: CID): Promise<boolean> {
  const target = earlier.toString()
  const seen = new Set<string>()
  let at: CID | null = later
  while (at !== null && !seen.has(at.toString())) {
    if (at.toString() === target) return true
    seen.add(at.toString())
    const move: AliasMove | undefined = await aliasMoveIn(store, at)
    at = move?.prev ?? null
  }
  return false
}

/**
 * Completeness bookkeeping over a store and the `BatchWriter` that stores into it. The keeper must be
 * the only writer of marks while it runs (the HTTP server and store remotes hold the store's lock).
 */
export class ClosureKeeper {
  /** Marked (incomplete) CIDs, loaded once. */
  private marked: Promise<Set<string>> | undefined

  /**
   * `committedOnly`: presence means committed, not merely staged (the HTTP server, whose puts are
   * acknowledged once committed: a child still committing counts as missing, conservatively). Store
   * remotes batch their puts, so staged children count.
   */
  constructor (private readonly store: ObjectStore, private readonly writer: BatchWriter, private readonly source: string,
    private readonly options: { readonly committedOnly?: boolean } = {}) {}

  private async present (cids: readonly CID[]): Promise<boolean[]> {
    return this.options.committedOnly === true ? await this.store.hasMany(cids) : await this.writer.hasMany(cids)
  }

  private async marks (): Promise<Set<string>> {
    this.marked ??= (async () => new Set((await this.store.listMeta(INCOMPLETE_PREFIX)).map(([k]) => k.slice(INCOMPLETE_PREFIX.length))))()
      .catch((err: unknown) => { this.marked = undefined; throw err })
    return await this.marked
  }

  /** For each CID: stored (or staged) and complete. */
  async hasMany (cids: readonly CID[]): Promise<boolean[]> {
    const present = await this.present(cids)
    const marks = await this.marks()
    if (marks.size === 0) return present
    return present.map((p, i) => p && !marks.has(cids[i]!.toString()))
  }

  /**
   * Verifies, decodes (dag-cbor) and stores one object, recording whether it is complete. Returns true
   * when it was new. An object stored before but incomplete is re-examined: it becomes complete once its
   * children are.
   */
  async put (cid: CID, bytes: Uint8Array): Promise<boolean> {
    verifyBlock(cid, bytes, this.source)
    if (cid.code === RAW) return await this.writer.put(cid, bytes)
    const links = structuredLinks(cid, bytes, this.source)
    const key = cid.toString()
    const marks = await this.marks()
    const wasMarked = marks.has(key)
    if (!wasMarked && (await this.present([cid]))[0] === true) return false // stored and complete
    if (!(await this.childrenComplete(links))) {
      if (!wasMarked) await this.mark(key, true) // before the object: never an incomplete object unmarked
      return await this.writer.put(cid, bytes)
    }
    const isNew = await this.writer.put(cid, bytes)
    if (wasMarked) await this.mark(key, false) // after it: the object is stored when the mark goes
    return isNew
  }

  /**
   * The connectivity check before a ref moves: undefined when `cid` is committed and complete, else an
   * object missing below it (`cid` itself when it is not stored) and the object linking it. Only marked
   * objects are looked into (unmarked ones are complete); a mark found stale — every child complete by
   * now, e.g. after a put raced with its children's commit — is removed on the way. Call it outside
   * `writer.flushed` (removing a mark is a transaction of its own).
   */
  async check (cid: CID): Promise<{ readonly missing: string, readonly parent?: string } | undefined> {
    const marks = await this.marks()
    const done = new Set<string>()
    const visit = async (at: CID, parent: string | undefined, depth: number): Promise<{ missing: string, parent?: string } | undefined> => {
      const key = at.toString()
      if (done.has(key)) return undefined
      const gap = parent === undefined ? { missing: key } : { missing: key, parent }
      if ((at.code !== RAW && at.code !== DAG_CBOR) || !(await this.store.has(at))) return gap
      if (!marks.has(key)) { done.add(key); return undefined }
      if (depth > 100_000) return gap
      for (const l of structuredLinks(at, await this.store.get(at), 'this store')) {
        if (l.kind === 'data') {
          if (!(await this.store.has(l.cid))) return { missing: l.cid.toString(), parent: key }
          continue
        }
        const below = await visit(l.cid, key, depth + 1)
        if (below !== undefined) return below
      }
      await this.mark(key, false)
      done.add(key)
      return undefined
    }
    return await visit(cid, undefined, 0)
  }

  private async childrenComplete (links: readonly Link[]): Promise<boolean> {
    if (links.length === 0) return true
    if (links.some(l => l.cid.code !== RAW && l.cid.code !== DAG_CBOR)) return false // nothing can store it
    const present = await this.present(links.map(l => l.cid))
    if (!present.every(Boolean)) return false
    const marks = await this.marks()
    return links.every(l => l.kind === 'data' || !marks.has(l.cid.toString()))
  }

  private async mark (key: string, incomplete: boolean): Promise<void> {
    const marks = await this.marks()
    await this.writer.flushed(async () => {
      const tx = await this.store.transaction()
      try {
        tx.setMeta(INCOMPLETE_PREFIX + key, incomplete ? utf8.encode('1') : null)
        await tx.commit()
      } catch (err) { await tx.abort(); throw err }
    })
    if (incomplete) marks.add(key)
    else marks.delete(key)
  }
}

/**
 * The format a receiving store must declare once a ref names `value`, when that is more than it
 * declares now (a version of several paths needs 2: docs/design.md, "Format versions"); else undefined.
 * Pushes set a version ref for every version they bring, so every received commit passes here.
 */
export async function formatRaise (store: { get: (cid: CID) => Promise<Uint8Array>, readMeta: (key: string) => Promise<Uint8Array | undefined> }, value: string): Promise<number | undefined> {
  let cid: CID
  try { cid = CID.parse(value) } catch { return undefined } // a symbolic ref (HEAD) names no object
  if (cid.code !== DAG_CBOR) return undefined
  const decoded = decodeCbor<{ type?: unknown } | null>(await store.get(cid), `object ${value}`)
  if (decoded?.type !== 'mvc/commit') return undefined
  const needed = formatNeededBy(parseCommit(decoded))
  const current = Number(utf8.decode((await store.readMeta(META.format)) ?? utf8.encode('1')))
  return needed > current ? needed : undefined
}
