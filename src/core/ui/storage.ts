/**
 * Storage per version: which objects each version added to the repository, and what sharing saved.
 *
 * Versions are taken in version order. A version's closure is walked from its commit (not into its
 * parents; into its data manifest but not below it, since data files are never stored — as the
 * transfer engine does, src/core/transfer.ts); an object already met in an earlier version is not
 * descended into, since by the closure invariant (docs/design.md, I1) everything below it was met
 * too. So the whole history costs one visit per stored object, and structured objects are read once:
 * raw chunks are never read, their stored size comes from the pack index. The result is kept and
 * extended as versions are added (versions are never rewritten).
 */
import type { CID } from 'multiformats/cid'
import { RAW, decodeObject } from '../../content/block.js'
import { isMvcError, ObjectNotFoundError } from '../../errors.js'
import { objectLinks } from '../../format/links.js'
import { parseManifest } from '../../format/objects.js'
import type { LevelObjectStore } from '../../store/level-store.js'
import type { StorageRow } from './types.js'

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
      const v = versions[this.done.length]!
      this.done.push(await this.walk(store, v))
    }
    return true
  }

  private reset (): void {
    this.deep.clear()
    this.shallow.clear()
    this.done.length = 0
  }

  private async walk (store: LevelObjectStore, v: VersionRef): Promise<StorageRow> {
    let objects = 0
    let added = 0
    let missing = 0
    let manifest: CID | undefined
    const stack: Array<{ cid: CID, follow: boolean }> = [{ cid: v.cid, follow: true }]
    while (stack.length > 0) {
      const { cid, follow } = stack.pop()!
      const key = cid.toString()
      if (this.deep.has(key)) continue
      const counted = this.shallow.has(key)
      if (!follow && counted) continue
      if (cid.code === RAW) {
        this.deep.add(key)
        const loc = await store.locate(cid)
        if (loc === undefined) { missing++; continue }
        objects++
        added += loc === 'inline' ? (await store.get(cid)).length : loc.length
        continue
      }
      let bytes: Uint8Array
      try {
        bytes = await store.get(cid)
      } catch (err) {
        if (!notFound(err)) throw err
        this.deep.add(key)
        missing++
        continue
      }
      if (!counted) { objects++; added += bytes.length }
      if (!follow) { this.shallow.add(key); continue }
      this.deep.add(key)
      this.shallow.delete(key)
      const value = decodeObject(cid, bytes, `object ${key}`)
      for (const link of objectLinks(value)) {
        if (link.kind === 'parent') continue
        if (link.kind === 'model' && cid.equals(v.cid)) manifest = link.cid
        stack.push({ cid: link.cid, follow: link.kind !== 'data' })
      }
    }
    const logical = manifest === undefined ? 0 : await this.logical(store, manifest)
    return { version: v.version, cid: v.cid.toString(), logical, objects, added, saved: logical - added, missing }
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
