/**
 * Storage per version: which objects each version added to the repository, and what sharing saved.
 *
 * Versions are taken in version order. A version's closure is walked from its commit (not into its
 * parents; into its data manifest but not below it, since data files are never stored — as the
 * transfer engine does, src/core/transfer.ts); an object already met in an earlier version is not
 * descended into, since by the closure invariant (docs/design.md, I1) everything below it was met
 * too. So the whole history costs one visit per stored object, and structured objects are read once:
 * raw chunks are never read, their stored size comes from the pack index. Versions are walked 100 at
 * a time, level by level, so that reads go to LevelDB in batches. The result is kept and extended as
 * versions are added (versions are never rewritten).
 */
import type { CID } from 'multiformats/cid'
import { RAW, decodeObject } from '../../content/block.js'
import { isMvcError, ObjectNotFoundError } from '../../errors.js'
import { objectLinks } from '../../format/links.js'
import { parseManifest } from '../../format/objects.js'
import type { LevelObjectStore } from '../../store/level-store.js'
import type { StorageRow } from './types.js'

/** Objects read at once. */
const READ_BATCH = 64
/** Versions walked together. */
const VERSION_BATCH = 100

export interface VersionRef { readonly version: number, readonly cid: CID }

function notFound (err: unknown): boolean {
  return isMvcError(err) && err.code === ObjectNotFoundError.code
}

export class StorageIndex {
  /** Objects met so far, deep: their links were followed. */
  private readonly deep = new Set<string>()
  /** Data manifests met without following their links. */
  private readonly shallow = new Set<string>()
  private readonly logicalOf = new Map<string, number>()
  private readonly done: StorageRow[] = []

  /** Rows computed so far, ascending by version. */
  get rows (): readonly StorageRow[] { return this.done }

  /**
   * Walks the versions not walked yet, until `budgetMs` has passed. Returns true when every version of
   * `versions` (ascending) has its row.
   */
  async update (store: LevelObjectStore, versions: readonly VersionRef[], budgetMs: number): Promise<boolean> {
    // Versions only grow, but a fetch may add a lower number than one already walked (version numbers are
    // per repository); then start again.
    for (let i = 0; i < this.done.length; i++) {
      if (versions[i] === undefined || versions[i]!.cid.toString() !== this.done[i]!.cid) { this.reset(); break }
    }
    const deadline = Date.now() + budgetMs
    while (this.done.length < versions.length) {
      if (Date.now() > deadline) return false
      const batch = versions.slice(this.done.length, this.done.length + VERSION_BATCH)
      this.done.push(...await this.walkBatch(store, batch))
    }
    return true
  }

  private reset (): void {
    this.deep.clear()
    this.shallow.clear()
    this.done.length = 0
  }

  /**
   * Walks several versions' closures together, level by level, each level's reads issued at once.
   * An object belongs to the earliest version of the batch that reaches it: when a later version got
   * to it first (by a shorter path), it and what lies below it are handed down to the earlier one.
   */
  private async walkBatch (store: LevelObjectStore, batch: readonly VersionRef[]): Promise<StorageRow[]> {
    interface Link { readonly cid: CID, readonly follow: boolean, readonly model: boolean }
    interface Node {
      readonly cid: CID
      owner: number
      /** Stored size; undefined until read, and when the object is missing. */
      size: number | undefined
      read: boolean
      /** Its links should be followed (it was reached by a link that is followed). */
      follow: boolean
      expanded: boolean
      links: readonly Link[]
      /** Met before this batch as a data manifest: its bytes were counted then. */
      readonly countedBefore: boolean
    }
    const nodes = new Map<string, Node>()
    const manifests: Array<CID | undefined> = batch.map(() => undefined)
    const lower = (start: Node, owner: number): void => {
      start.owner = owner
      const stack = [start]
      while (stack.length > 0) {
        const n = stack.pop()!
        if (!n.expanded) continue
        for (const l of n.links) {
          const c = nodes.get(l.cid.toString())
          if (c !== undefined && c.owner > owner) { c.owner = owner; stack.push(c) }
        }
      }
    }
    // Entries of the next level point at the node that linked them, whose owner may still be lowered.
    let level: Array<{ cid: CID, follow: boolean, from: Node | number }> = batch.map((v, i) => ({ cid: v.cid, follow: true, from: i }))
    while (level.length > 0) {
      const toRead: Node[] = []
      const toExpand: Node[] = []
      for (const { cid, follow, from } of level) {
        const owner = typeof from === 'number' ? from : from.owner
        const key = cid.toString()
        if (this.deep.has(key)) continue
        if (!follow && this.shallow.has(key)) continue
        const known = nodes.get(key)
        if (known !== undefined) {
          if (owner < known.owner) lower(known, owner)
          if (follow && !known.follow) {
            known.follow = true
            if (known.read && !known.expanded && known.size !== undefined) toExpand.push(known)
          }
          continue
        }
        const node: Node = { cid, owner, size: undefined, read: false, follow, expanded: false, links: [], countedBefore: this.shallow.has(key) }
        nodes.set(key, node)
        toRead.push(node)
      }
      for (let i = 0; i < toRead.length; i += READ_BATCH) {
        await Promise.all(toRead.slice(i, i + READ_BATCH).map(async node => {
          try {
            if (node.cid.code === RAW) {
              const loc = await store.locate(node.cid)
              if (loc !== undefined) node.size = loc === 'inline' ? (await store.get(node.cid)).length : loc.length
              return
            }
            let bytes: Uint8Array
            try {
              bytes = await store.get(node.cid)
            } catch (err) {
              if (!notFound(err)) throw err
              return
            }
            node.size = bytes.length
            node.links = objectLinks(decodeObject(node.cid, bytes, `object ${node.cid.toString()}`))
              .filter(l => l.kind !== 'parent')
              .map(l => ({ cid: l.cid, follow: l.kind !== 'data', model: l.kind === 'model' }))
          } finally {
            node.read = true
          }
        }))
      }
      for (const n of toRead) if (n.follow && n.size !== undefined) toExpand.push(n)
      const next: typeof level = []
      for (const n of toExpand) {
        n.expanded = true
        for (const l of n.links) {
          if (l.model && batch[n.owner]?.cid.equals(n.cid) === true) manifests[n.owner] = l.cid
          next.push({ cid: l.cid, follow: l.follow, from: n })
        }
      }
      level = next
    }
    const rows = batch.map((v, i) => ({ version: v.version, cid: v.cid.toString(), objects: 0, added: 0, missing: 0, manifest: manifests[i] }))
    for (const [key, n] of nodes) {
      const row = rows[n.owner]!
      if (n.size === undefined) row.missing++
      else if (!n.countedBefore) { row.objects++; row.added += n.size }
      // Raw chunks and missing objects have nothing below them: done. Data manifests not followed: shallow.
      if (n.expanded || n.size === undefined || n.cid.code === RAW) { this.deep.add(key); this.shallow.delete(key) } else this.shallow.add(key)
    }
    const out: StorageRow[] = []
    for (const r of rows) {
      const logical = r.manifest === undefined ? 0 : await this.logical(store, r.manifest)
      out.push({ version: r.version, cid: r.cid, logical, objects: r.objects, added: r.added, saved: logical - r.added, missing: r.missing })
    }
    return out
  }

  /** Bytes of a manifest's files (cached: manifests never change). */
  private async logical (store: LevelObjectStore, manifest: CID): Promise<number> {
    const key = manifest.toString()
    const known = this.logicalOf.get(key)
    if (known !== undefined) return known
    let total = 0
    try {
      const m = parseManifest(decodeObject(manifest, await store.get(manifest), `manifest ${key}`))
      for (const e of m.entries) total += e.size
    } catch (err) {
      if (!notFound(err)) throw err
    }
    this.logicalOf.set(key, total)
    return total
  }
}
