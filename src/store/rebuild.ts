/**
 * The store's half of `mvc repair` (core/repair.ts decides what to keep): reading whatever an index can
 * still give, scanning pack files without it, and swapping a rebuilt index into place.
 *
 * - `salvageIndex` reads every key of the old LevelDB index. A healthy one is opened in place, holding
 *   its lock for the whole repair; a damaged one (missing CURRENT or MANIFEST, a corrupt table) is first
 *   copied and run through LevelDB's own repairer (`RepairDB`: it rebuilds the MANIFEST from the tables
 *   and log files that survive, dropping unreadable blocks) — the original files are never modified.
 * - `scanPacks` reads every sealed pack entry by entry (packs are self-describing) and re-hashes it.
 * - `installIndex` writes the new index in a staging folder and swaps it in: `db/` is renamed to
 *   `db.before-repair-<time>` (kept for the user) and the staging index to `db/`.
 */
import { Level } from 'level'
import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { verifyBlock } from '../content/block.js'
import { isMvcError } from '../errors.js'
import { encodeLocation } from './level-store.js'
import { DB_DIR, PACKS_DIR, defaultLockTimeout, storeState } from './open.js'
import { PACK_NAME, scanPack, syncDir } from './packs.js'
import { faultPoint } from './faults.js'
import { ownedTag, sweep } from './leftovers.js'
import { RepositoryLockedError } from '../errors.js'
import { DiskPacks } from './packs.js'
import type { PackLocation } from './interface.js'

const dbOptions = { keyEncoding: 'utf8', valueEncoding: 'view' } as const
const LEVELDB_FILE = /^(CURRENT|MANIFEST-\d+|\d+\.(ldb|sst|log))$/

export interface Salvage {
  /** How the old index was read: in place, after LevelDB's repairer ran on a copy, or not at all. */
  readonly how: 'intact' | 'leveldb-repair' | 'unreadable' | 'absent'
  /** Why it could not be opened as it was (the LevelDB error), when it could not. */
  readonly problem?: string
  /** Every key and value read. */
  readonly entries: Map<string, Uint8Array>
  /** Closes the old index (held open, and so locked, while the repair reads and builds); idempotent. */
  readonly release: () => Promise<void>
}

function isLocked (err: unknown): boolean {
  const e = err as { code?: string, cause?: { code?: string } } | undefined
  return e?.code === 'LEVEL_LOCKED' || e?.cause?.code === 'LEVEL_LOCKED'
}

async function readAll (db: Level<string, Uint8Array>, into: Map<string, Uint8Array>): Promise<string | undefined> {
  try {
    for await (const [k, v] of db.iterator()) into.set(k, v)
    return undefined
  } catch (err) {
    // A corrupt block stops the iterator: keep what came before it.
    return (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message
  }
}

/**
 * Reads what the index at `<dir>/db` still holds (see the module comment). `work` is a scratch folder.
 * When `db/` is missing but an earlier repair's `db.before-repair-*` is there (a repair killed between
 * its two renames), that one is read instead.
 */
export async function salvageIndex (dir: string, work: string): Promise<Salvage> {
  const entries = new Map<string, Uint8Array>()
  let dbPath = join(dir, DB_DIR)
  if (await storeState(dir) !== 'present') {
    const backups = (await readdir(dir).catch(() => [] as string[])).filter(n => n.startsWith(`${DB_DIR}.before-repair-`)).sort()
    if (backups.length === 0) return { how: 'absent', entries, release: async () => {} }
    dbPath = join(dir, backups.at(-1)!)
    return await salvageCopy(dbPath, work, entries, `${DB_DIR}/ is missing; read ${backups.at(-1)!} instead`)
  }
  const deadline = Date.now() + defaultLockTimeout()
  let problem: string
  for (;;) {
    const db = new Level<string, Uint8Array>(dbPath, { ...dbOptions, createIfMissing: false })
    try {
      await db.open()
    } catch (err) {
      if (isLocked(err)) {
        if (Date.now() < deadline) { await new Promise(resolve => setTimeout(resolve, 100)); continue }
        throw new RepositoryLockedError(`another mvc process is using the repository at ${dir}; repair needs it alone. Wait for it to finish and run \`mvc repair\` again.`, { path: dir }, { cause: err })
      }
      problem = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message
      break
    }
    const readProblem = await readAll(db, entries)
    if (readProblem === undefined) {
      let closed = false
      return { how: 'intact', entries, release: async () => { if (!closed) { closed = true; await db.close() } } }
    }
    // Readable in part: LevelDB's repairer on a copy may get more.
    await db.close()
    entries.clear()
    problem = readProblem
    break
  }
  return await salvageCopy(dbPath, work, entries, problem)
}

/** Copies LevelDB's files of `dbPath` to `work/salvage`, opens the copy (after `RepairDB` if it will not open) and reads it. */
async function salvageCopy (dbPath: string, work: string, entries: Map<string, Uint8Array>, problem: string | undefined): Promise<Salvage> {
  const copy = join(work, 'salvage')
  await rm(copy, { recursive: true, force: true })
  await mkdir(copy, { recursive: true })
  for (const name of await readdir(dbPath).catch(() => [] as string[])) {
    if (LEVELDB_FILE.test(name)) await copyFile(join(dbPath, name), join(copy, name)).catch(() => {})
  }
  const none = async (): Promise<void> => {}
  const open = async (): Promise<string | undefined> => {
    const db = new Level<string, Uint8Array>(copy, { ...dbOptions, createIfMissing: false })
    await db.open()
    try { return await readAll(db, entries) } finally { await db.close() }
  }
  try {
    if (await open() === undefined) return { how: problem === undefined ? 'intact' : 'leveldb-repair', problem, entries, release: none }
  } catch { /* not openable as it is */ }
  entries.clear()
  try {
    await (Level as unknown as { repair: (location: string) => Promise<void> }).repair(copy) // classic-level in Node
    await open()
    return { how: 'leveldb-repair', problem, entries, release: none }
  } catch {
    return { how: 'unreadable', problem, entries, release: none }
  }
}

export interface PackScanResult {
  /** Every intact chunk found, by CID string (the first pack holding it wins). */
  readonly chunks: Map<string, { cid: CID, loc: PackLocation }>
  readonly packs: number
  /** Packs, or parts of packs, that could not be read: which pack and why. */
  readonly problems: Array<{ readonly pack: string, readonly problem: string }>
  /** Entries whose bytes do not hash to their CID. */
  readonly corruptEntries: number
}

/** Scans every sealed pack of `<dir>/packs`, re-hashing each entry. */
export async function scanPacks (dir: string, onPack?: (done: number, total: number) => void): Promise<PackScanResult> {
  const packsDir = join(dir, PACKS_DIR)
  const names = (await readdir(packsDir).catch(() => [] as string[])).filter(n => PACK_NAME.test(n)).sort()
  const chunks = new Map<string, { cid: CID, loc: PackLocation }>()
  const problems: Array<{ pack: string, problem: string }> = []
  let corruptEntries = 0
  const reader = new DiskPacks(packsDir)
  try {
    for (let i = 0; i < names.length; i++) {
      const pack = names[i]!.slice(0, -5)
      let scan
      try { scan = await scanPack(join(packsDir, names[i]!)) } catch (err) {
        problems.push({ pack, problem: (err as Error).message })
        continue
      }
      if (scan.problem !== undefined) problems.push({ pack, problem: scan.problem })
      for (const e of scan.entries) {
        const key = e.cid.toString()
        if (chunks.has(key)) continue
        const loc = { pack, offset: e.offset, length: e.length }
        try {
          verifyBlock(e.cid, await reader.read(loc), `pack ${pack}`)
        } catch (err) {
          if (!isMvcError(err)) throw err
          corruptEntries++
          continue
        }
        chunks.set(key, { cid: e.cid, loc })
      }
      onPack?.(i + 1, names.length)
    }
  } finally {
    await reader.close()
  }
  return { chunks, packs: names.length, problems, corruptEntries }
}

/** The index value of a chunk in a pack (level-store.ts, "o/<cid>"). */
export function packIndexValue (loc: PackLocation): Uint8Array { return encodeLocation(loc) }

/**
 * Writes `entries` as a new index and swaps it in place of `<dir>/db` (kept as
 * `<dir>/db.before-repair-<time>` when there was one). Returns where the old index went.
 */
export async function installIndex (dir: string, entries: Iterable<[string, Uint8Array]>, salvage: Salvage): Promise<string | null> {
  const staging = join(dir, `.mvc-repair-${ownedTag(8)}`)
  await mkdir(staging, { recursive: true })
  try {
    const db = new Level<string, Uint8Array>(join(staging, DB_DIR), { ...dbOptions, createIfMissing: true, errorIfExists: true })
    await db.open()
    try {
      let ops: Array<{ type: 'put', key: string, value: Uint8Array }> = []
      for (const [key, value] of entries) {
        ops.push({ type: 'put', key, value })
        if (ops.length >= 4096) { await db.batch(ops, { sync: false }); ops = [] }
      }
      await db.batch(ops, { sync: true })
    } finally {
      await db.close()
    }
    await syncDir(join(staging, DB_DIR))
    await mkdir(join(dir, PACKS_DIR), { recursive: true })
    let old: string | null = null
    // The old index is closed before it is moved: LevelDB deletes files it thinks obsolete by path at
    // close, and that path is about to name the new index.
    await salvage.release()
    faultPoint('repair.swap')
    if (await stat(join(dir, DB_DIR)).catch(() => undefined) !== undefined) {
      old = join(dir, `${DB_DIR}.before-repair-${new Date().toISOString().replace(/[:.]/g, '-')}`)
      await rename(join(dir, DB_DIR), old)
    }
    // A crash here leaves no db/: the next repair reads the db.before-repair-* just made.
    faultPoint('repair.swap2')
    await rename(join(staging, DB_DIR), join(dir, DB_DIR))
    await syncDir(dir)
    return old
  } finally {
    await salvage.release()
    await rm(staging, { recursive: true, force: true }).catch(() => {})
  }
}

/** Scratch and staging folders of repairs killed on this host (`.mvc-salvage-…`, `.mvc-repair-…`). */
export async function sweepRepairLeftovers (dir: string): Promise<void> {
  await sweep(dir, /^\.mvc-(salvage|repair)-(\d+)-([0-9a-f]{12})$/, 2, 3)
}
