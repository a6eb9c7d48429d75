/**
 * fsck: checks a repository the way git fsck does. Every ref must name a stored commit; every object
 * reachable from the refs must be present and hash to its CID (the store re-hashes on read) and decode;
 * packs no index entry uses are reported as dangling, temporary packs as leftovers of interrupted
 * writes. Data snapshots link file objects that are deliberately not stored, so fsck does not descend
 * below a data manifest; in a partial clone (`clone --filter=commits`) objects below commits may be
 * absent by design and are counted as not fetched instead of missing; so is the content of a deleted
 * version that gc removed (its commit and history are still checked).
 */
import { readdir } from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import { DAG_CBOR, decodeCbor } from '../content/block.js'
import { isMvcError } from '../errors.js'
import { DiskPacks } from '../store/packs.js'
import { listMatching } from '../store/leftovers.js'
import { STORE_STAGING } from '../store/open.js'
import { checkoutLeftovers } from './repo.js'
import type { LevelObjectStore } from '../store/level-store.js'
import { objectLinks, type LinkKind } from '../format/links.js'
import { HEADS, META } from '../format/keys.js'
import { tombstones } from './lifecycle.js'

export interface FsckProblem { readonly cid: string, readonly from: string, readonly code: string, readonly message: string }

export interface FsckReport {
  readonly ok: boolean
  readonly refs: number
  /** Reachable objects checked (re-hashed) and their bytes. */
  readonly objects: number
  readonly bytes: number
  readonly missing: FsckProblem[]
  readonly corrupt: FsckProblem[]
  readonly badRefs: Array<{ readonly name: string, readonly value: string, readonly reason: string }>
  /** Objects absent below commits of a partial clone (expected). */
  readonly notFetched: number
  /** Parents absent behind commits imported without their history (`m/shallow/<cid>`; expected). */
  readonly shallow: number
  /** Deleted versions whose content gc removed (their commits are checked, their content is absent by design). */
  readonly purgedVersions: number
  /** Stored objects no ref reaches (harmless; gc may remove them). */
  readonly unreachable: number
  /** Sealed packs that no index entry uses, and temporary packs left by interrupted writes. */
  readonly danglingPacks: string[]
  readonly tempPacks: string[]
  /**
   * Staging folders of interrupted operations that the command opening the repository did not remove
   * (they belong to a live process, or to another host): stores being created or cloned, checkouts.
   */
  readonly staging: string[]
}

export async function fsck (store: LevelObjectStore, onObject?: (n: number) => void, root?: string): Promise<FsckReport> {
  const partial = (await store.readMeta(META.partial)) !== undefined
  const shallowCommits = new Set((await store.listMeta(META.shallow)).map(([k]) => k.slice(META.shallow.length)))
  const purged = new Set([...await tombstones(store)].filter(([, t]) => t.purged !== null).map(([k]) => k))
  let purgedVersions = 0
  let shallow = 0
  const badRefs: FsckReport['badRefs'] = []
  const queue: Array<{ cid: CID, kind: LinkKind, from: string }> = []
  const refs = await store.listRefs('')
  for (const [name, value] of refs) {
    if (value.startsWith('ref: ')) {
      const target = value.slice(5)
      if (!target.startsWith(HEADS)) badRefs.push({ name, value, reason: 'a symbolic ref must point at a branch' })
      continue
    }
    let cid: CID
    try { cid = CID.parse(value) } catch { badRefs.push({ name, value, reason: 'not a CID' }); continue }
    if (cid.code !== DAG_CBOR) { badRefs.push({ name, value, reason: 'does not name a structured object' }); continue }
    queue.push({ cid, kind: 'parent', from: `ref ${name}` })
  }
  const seen = new Set<string>()
  const missing: FsckProblem[] = []
  const corrupt: FsckProblem[] = []
  let objects = 0
  let bytes = 0
  let notFetched = 0
  while (queue.length > 0) {
    const { cid, kind, from } = queue.pop()!
    const key = cid.toString()
    if (seen.has(key)) continue
    seen.add(key)
    let data: Uint8Array
    try {
      data = await store.get(cid)
    } catch (err) {
      if (!isMvcError(err)) throw err
      const problem = { cid: key, from, code: err.code, message: err.message }
      if (err.code === 'OBJECT_NOT_FOUND') {
        if (kind === 'parent' && shallowCommits.has(from)) shallow++
        else if (partial && kind !== 'parent') notFetched++
        else missing.push(problem)
      } else corrupt.push(problem)
      continue
    }
    objects++
    bytes += data.length
    onObject?.(objects)
    if (cid.code !== DAG_CBOR) continue
    let value: unknown
    try { value = decodeCbor(data, `object ${key}`) } catch (err) {
      corrupt.push({ cid: key, from, code: 'INVALID_OBJECT', message: (err as Error).message })
      continue
    }
    // A data manifest is stored without its files: check it, don't descend.
    if (kind === 'data') continue
    // A deleted version whose content gc removed keeps its commit and history only.
    const gone = purged.has(key)
    if (gone) purgedVersions++
    for (const link of objectLinks(value)) if (!gone || link.kind === 'parent') queue.push({ cid: link.cid, kind: link.kind, from: `${key}` })
  }
  let unreachable = 0
  const packsInUse = new Set<string>()
  for await (const c of store.cids()) {
    if (!seen.has(c.toString())) unreachable++
    const loc = await store.locate(c)
    if (loc !== undefined && loc !== 'inline') packsInUse.add(loc.pack)
  }
  const danglingPacks = (await store.packs.list()).filter(p => !packsInUse.has(p))
  const tempPacks = store.packs instanceof DiskPacks
    ? (await readdir(store.packs.dir).catch(() => [])).filter(n => n.startsWith('tmp-'))
    : []
  const staging = store.packs instanceof DiskPacks
    ? [...await listMatching(store.location, STORE_STAGING), ...(root !== undefined ? await checkoutLeftovers(root, store) : [])]
    : []
  return {
    staging,
    ok: missing.length === 0 && corrupt.length === 0 && badRefs.length === 0,
    refs: refs.length,
    objects,
    bytes,
    missing,
    corrupt,
    badRefs,
    notFetched,
    shallow,
    purgedVersions,
    unreachable,
    danglingPacks,
    tempPacks
  }
}
