/**
 * `mvc repair`: rebuilds the LevelDB index of a repository from what survives — the pack files (which
 * describe themselves) and whatever the old index still holds — and says exactly what it could not
 * recover. docs/design.md, "Repair", is the contract; store/rebuild.ts does the reading and the swap.
 *
 * What goes into the new index:
 * - every intact chunk of every sealed pack (re-hashed);
 * - every structured object the old index still holds that hashes to its CID and decodes, and whose
 *   closure is complete (I1): an object linking something lost is dropped, so that a later fetch from a
 *   remote can bring it back (a store must never hold an object without what it links);
 * - refs that name a kept commit; `refs/versions/<n>` rebuilt from every kept commit; HEAD and its branch
 *   recreated (at the newest kept version) when lost;
 * - metadata except caches; `m/format`; `m/next-version` above every version ever seen.
 * The old index is kept beside it as `db.before-repair-<time>`.
 */
import { rm, stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { CID } from 'multiformats/cid'
import { DAG_CBOR, RAW, decodeObject } from '../content/block.js'
import { NotARepositoryError, isMvcError } from '../errors.js'
import { HEAD, HEADS, DEFAULT_BRANCH, META, branchRef, symbolicRef, versionRef, utf8 } from '../format/keys.js'
import { parseTombstone } from '../format/lifecycle.js'
import { objectLinks } from '../format/links.js'
import { MVC_DIR } from '../format/paths.js'
import { FORMAT_KEY, FORMAT_VERSION, PURGED_FORMAT, READABLE_FORMATS } from '../store/open.js'
import { installIndex, packIndexValue, salvageIndex, scanPacks, sweepRepairLeftovers } from '../store/rebuild.js'
import { ownedTag } from '../store/leftovers.js'

export interface RepairOptions {
  /** Any folder inside the repository (or a bare store folder: `db/`, `packs/`). */
  readonly dir: string
  /** Report what would be done without changing anything. */
  readonly dryRun?: boolean
  readonly onProgress?: (stage: string, done: number, total: number) => void
}

export interface RepairLoss { readonly cid: string, readonly type?: string, readonly reason: string }

export interface RepairReport {
  /** The store folder repaired (`.mvc`, or a bare store). */
  readonly location: string
  readonly dryRun: boolean
  /** How the old index could be read: as it was, after LevelDB's own repairer ran on a copy, not at all, or not there. */
  readonly index: { readonly how: 'intact' | 'leveldb-repair' | 'unreadable' | 'absent', readonly problem?: string, readonly keys: number }
  readonly packs: { readonly scanned: number, readonly chunks: number, readonly corruptEntries: number, readonly problems: ReadonlyArray<{ readonly pack: string, readonly problem: string }> }
  /** What the new index holds. */
  readonly kept: { readonly chunks: number, readonly objects: number, readonly refs: number, readonly meta: number }
  /** What could not be recovered. */
  readonly lost: {
    /** Chunks the old index named that no pack holds intact. */
    readonly chunks: string[]
    /** Structured objects dropped: corrupt, undecodable, or linking something lost. */
    readonly objects: RepairLoss[]
    /** Refs dropped (they named a lost or incomplete commit), with their old value. */
    readonly refs: Array<{ readonly name: string, readonly value: string, readonly reason: string }>
    /** Versions whose commit was dropped, by number. */
    readonly versions: number[]
    /**
     * Intact chunks in packs that no recovered object links: the objects that used them (file objects,
     * tensors, manifests, commits: structured objects live only in the index) were in the part of the
     * index that could not be read. They stay stored; a fetch of the lost versions reuses them.
     */
    readonly orphanChunks: number
  }
  /** Refs the repair wrote that the old index did not hold. */
  readonly rebuiltRefs: Array<{ readonly name: string, readonly value: string }>
  readonly nextVersion: number
  /** Where the old index was kept (null: there was none, or dry run). */
  readonly backup: string | null
  /** True when nothing was lost. */
  readonly ok: boolean
}

const OBJ = 'o/'
const REF = 'r/'
const MET = 'm/'

async function isDir (p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() === true
}

/** The store folder to repair: the nearest `.mvc` at or above `dir`, or `dir` itself when it is a bare store. */
export async function findStoreToRepair (dir: string): Promise<string> {
  const start = resolve(dir)
  if (await isDir(join(start, 'packs')) && !(await isDir(join(start, MVC_DIR)))) return start
  for (let d = start; ; d = dirname(d)) {
    if (await isDir(join(d, MVC_DIR))) return join(d, MVC_DIR)
    if (dirname(d) === d) break
  }
  throw new NotARepositoryError(`no .mvc folder at or above ${start}: nothing to repair`, { path: start })
}

interface Structured { readonly cid: CID, readonly bytes: Uint8Array, value?: unknown, type?: string }

export async function repair (options: RepairOptions): Promise<RepairReport> {
  const location = await findStoreToRepair(options.dir)
  await sweepRepairLeftovers(location)
  const work = join(location, `.mvc-salvage-${ownedTag(8)}`)
  try {
    return await repairIn(location, work, options)
  } finally {
    await rm(work, { recursive: true, force: true }).catch(() => {})
  }
}

async function repairIn (location: string, work: string, options: RepairOptions): Promise<RepairReport> {
  const progress = options.onProgress
  const salvage = await salvageIndex(location, work)
  let released = false
  try {
    const scan = await scanPacks(location, (d, t) => progress?.('packs', d, t))
    const lostChunks: string[] = []
    const lostObjects: RepairLoss[] = []
    const structured = new Map<string, Structured>()
    const refs = new Map<string, string>()
    const meta = new Map<string, Uint8Array>()

    // 1. What the old index holds.
    for (const [key, value] of salvage.entries) {
      if (key.startsWith(REF)) { refs.set(key.slice(REF.length), new TextDecoder().decode(value)); continue }
      if (key.startsWith(MET)) { meta.set(key.slice(MET.length), value); continue }
      if (!key.startsWith(OBJ)) continue
      let cid: CID
      try { cid = CID.parse(key.slice(OBJ.length)) } catch { lostObjects.push({ cid: key.slice(OBJ.length), reason: 'unreadable CID in the index' }); continue }
      if (value[0] === 0 && cid.code === DAG_CBOR) {
        const bytes = value.subarray(1)
        try {
          const v = decodeObject(cid, bytes, 'the old index')
          const type = (v as { type?: unknown } | null)?.type
          structured.set(cid.toString(), { cid, bytes, value: v, type: typeof type === 'string' ? type : undefined })
        } catch (err) {
          if (!isMvcError(err)) throw err
          lostObjects.push({ cid: cid.toString(), reason: `${err.code}: ${err.message}` })
        }
      } else if (value[0] === 1 && cid.code === RAW) {
        if (!scan.chunks.has(cid.toString())) lostChunks.push(cid.toString())
      } else {
        lostObjects.push({ cid: cid.toString(), reason: 'unreadable index entry' })
      }
    }

    // 2. Closure (I1): which structured objects have everything they link. Data manifests (linked
    //    from a commit's `data`) are stored without their files: present and decodable is enough. In a
    //    partial clone, commits' content is fetched on demand, and a deleted version's content may have
    //    been removed by gc: such a commit needs only its parents.
    const partial = meta.has(META.partial)
    // Deleted versions whose content gc removed (`m/deleted/<cid>` with `purged`) need only their parents too.
    const purged = new Set<string>()
    for (const [k, v] of meta) {
      if (!k.startsWith(META.deleted)) continue
      const t = parseTombstone(v)
      if (t !== undefined && t.purged !== null) purged.add(k.slice(META.deleted.length))
    }
    const shallow = new Set<string>()
    for (const o of structured.values()) {
      if (o.type !== 'mvc/commit') continue
      for (const l of objectLinks(o.value)) if (l.kind === 'data') shallow.add(l.cid.toString())
    }
    const status = new Map<string, string | true>() // true: complete; a string: why not
    const requiredLinks = (o: Structured): CID[] => {
      if (shallow.has(o.cid.toString())) return []
      const links = objectLinks(o.value)
      if (o.type === 'mvc/commit' && (partial || purged.has(o.cid.toString()))) return links.filter(l => l.kind === 'parent').map(l => l.cid)
      return links.map(l => l.cid) // a data manifest itself must be there (it is shallow: see above)
    }
    const resolveClosure = (root: string): void => {
      const stack: Array<{ key: string, links?: CID[], i: number }> = [{ key: root, i: 0 }]
      while (stack.length > 0) {
        const top = stack.at(-1)!
        if (status.has(top.key)) { stack.pop(); continue }
        const o = structured.get(top.key)
        if (o === undefined) { status.set(top.key, 'missing'); stack.pop(); continue }
        top.links ??= requiredLinks(o)
        let pushed = false
        while (top.i < top.links.length) {
          const l = top.links[top.i]!
          const k = l.toString()
          if (l.code === RAW) {
            if (!scan.chunks.has(k)) { status.set(top.key, `links chunk ${k}, which is lost`); break }
          } else {
            const s = status.get(k)
            if (s === undefined) { stack.push({ key: k, i: 0 }); pushed = true; break }
            if (s !== true) { status.set(top.key, s === 'missing' ? `links ${k}, which is lost` : `links ${k}, which is incomplete`); break }
          }
          top.i++
        }
        if (pushed) continue
        if (!status.has(top.key)) status.set(top.key, true)
        stack.pop()
      }
    }
    let done = 0
    for (const key of structured.keys()) {
      resolveClosure(key)
      progress?.('objects', ++done, structured.size)
    }
    for (const [key, o] of structured) {
      const s = status.get(key)
      if (s !== true) lostObjects.push({ cid: key, type: o.type, reason: s ?? 'incomplete' })
    }
    const complete = (key: string): boolean => status.get(key) === true

    // 3. Commits and versions.
    let maxVersion = 0
    const versionCommit = new Map<number, string>()
    const lostVersions = new Set<number>()
    for (const [key, o] of structured) {
      if (o.type !== 'mvc/commit') continue
      const n = (o.value as { version?: unknown }).version
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) continue
      maxVersion = Math.max(maxVersion, n)
      if (complete(key)) { if (!versionCommit.has(n)) versionCommit.set(n, key) } else lostVersions.add(n)
    }

    // 4. Refs: kept when they name a complete commit (or are symbolic); version refs rebuilt.
    const newRefs = new Map<string, string>()
    const lostRefs: RepairReport['lost']['refs'] = []
    for (const [name, value] of refs) {
      if (value.startsWith('ref: ')) { newRefs.set(name, value); continue }
      const o = structured.get(value)
      if (o === undefined) lostRefs.push({ name, value, reason: 'its commit is lost' })
      else if (o.type !== 'mvc/commit') lostRefs.push({ name, value, reason: 'does not name a commit' })
      else if (!complete(value)) lostRefs.push({ name, value, reason: `its commit is incomplete (${String(status.get(value))})` })
      else newRefs.set(name, value)
    }
    const rebuiltRefs: RepairReport['rebuiltRefs'] = []
    for (const [n, key] of [...versionCommit].sort((a, b) => a[0] - b[0])) {
      const name = versionRef(n)
      if (!newRefs.has(name)) { newRefs.set(name, key); rebuiltRefs.push({ name, value: key }) }
    }
    if (!newRefs.has(HEAD)) {
      const value = symbolicRef(branchRef(DEFAULT_BRANCH))
      newRefs.set(HEAD, value)
      rebuiltRefs.push({ name: HEAD, value })
    }
    const headTarget = newRefs.get(HEAD)!.startsWith('ref: ') ? newRefs.get(HEAD)!.slice(5) : undefined
    const anyBranch = [...newRefs.keys()].some(n => n.startsWith(HEADS))
    if (headTarget !== undefined && headTarget.startsWith(HEADS) && !newRefs.has(headTarget) && versionCommit.size > 0) {
      // The current branch is lost: point it at the newest version that survives (the user can move it).
      const newest = versionCommit.get(Math.max(...versionCommit.keys()))!
      if (!anyBranch || refs.has(headTarget)) {
        newRefs.set(headTarget, newest)
        rebuiltRefs.push({ name: headTarget, value: newest })
      }
    }

    // 5. Metadata: everything but caches; worktree records of lost commits dropped; format and counter set.
    const newMeta = new Map<string, Uint8Array>()
    for (const [k, v] of meta) {
      if (k.startsWith(META.stat) || k.startsWith(META.modelCache)) continue
      if (k.startsWith(META.worktree) || k.startsWith(META.checkoutFailed)) {
        const c = new TextDecoder().decode(v)
        if (!complete(c)) continue
      }
      newMeta.set(k, v)
    }
    // The format: never lower than what the store holds needs — 2 for versions of several paths, 3 for
    // deleted versions whose content gc removed — nor than the old index said, when readable.
    const oldFormat = Number(new TextDecoder().decode(meta.get(FORMAT_KEY) ?? new Uint8Array()))
    let format = READABLE_FORMATS.includes(oldFormat) ? Math.max(oldFormat, FORMAT_VERSION) : FORMAT_VERSION
    if ([...structured.values()].some(o => o.type === 'mvc/commit' && complete(o.cid.toString()) && (o.value as { paths?: unknown }).paths !== undefined)) format = Math.max(format, 2)
    if (purged.size > 0) format = Math.max(format, PURGED_FORMAT)
    newMeta.set(FORMAT_KEY, utf8.encode(String(format)))
    const oldNext = Number(new TextDecoder().decode(meta.get(META.nextVersion) ?? new Uint8Array()))
    const nextVersion = Math.max(Number.isSafeInteger(oldNext) ? oldNext : 1, maxVersion + 1, 1)
    newMeta.set(META.nextVersion, utf8.encode(String(nextVersion)))

    // 6. The new index.
    const entries: Array<[string, Uint8Array]> = []
    for (const [key, c] of scan.chunks) entries.push([OBJ + key, packIndexValue(c.loc)])
    let keptObjects = 0
    for (const [key, o] of structured) {
      if (!complete(key)) continue
      const v = new Uint8Array(o.bytes.length + 1)
      v.set(o.bytes, 1)
      entries.push([OBJ + key, v])
      keptObjects++
    }
    for (const [k, v] of newRefs) entries.push([REF + k, utf8.encode(v)])
    for (const [k, v] of newMeta) entries.push([MET + k, v])

    let backup: string | null = null
    if (options.dryRun !== true) {
      released = true
      backup = await installIndex(location, entries, salvage)
    }
    const linked = new Set<string>()
    for (const [key, o] of structured) {
      if (!complete(key)) continue
      for (const l of objectLinks(o.value)) if (l.cid.code === RAW) linked.add(l.cid.toString())
    }
    let orphanChunks = 0
    for (const key of scan.chunks.keys()) if (!linked.has(key)) orphanChunks++
    const lost = { chunks: lostChunks, objects: lostObjects, refs: lostRefs, versions: [...lostVersions].sort((a, b) => a - b), orphanChunks }
    return {
      location,
      dryRun: options.dryRun === true,
      index: { how: salvage.how, ...(salvage.problem !== undefined ? { problem: salvage.problem } : {}), keys: salvage.entries.size },
      packs: { scanned: scan.packs, chunks: scan.chunks.size, corruptEntries: scan.corruptEntries, problems: scan.problems },
      kept: { chunks: scan.chunks.size, objects: keptObjects, refs: newRefs.size, meta: newMeta.size },
      lost,
      rebuiltRefs,
      nextVersion,
      backup,
      // An index read only in part (or not at all) may have lost objects nobody can list; chunks no
      // recovered object links betray them.
      ok: lostChunks.length === 0 && lostObjects.length === 0 && lostRefs.length === 0 && scan.corruptEntries === 0 &&
        scan.problems.length === 0 && (salvage.how === 'intact' || orphanChunks === 0)
    }
  } finally {
    if (!released) await salvage.release()
  }
}
