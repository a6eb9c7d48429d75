/**
 * Readers never wait on writers. LevelDB admits one process at a time (its LOCK file), so while a
 * commit, a push or `mvc serve` holds a repository, a reader (`log`, `show`, `status`, `diff`,
 * `verify`) opens a *snapshot* of the index instead of waiting: a private folder holding
 *
 *   - copies of the index's table files (`*.ldb`, `*.sst`), its write-ahead logs (`*.log`) and its
 *     current MANIFEST, and a CURRENT naming it,
 *
 * which LevelDB then opens and recovers like a database after a crash: every batch the writer
 * completed before the copy is there, a batch cut off by the copy is dropped whole (the log's records
 * are checksummed; a torn tail counts as not written), so the snapshot is a state the repository was
 * in. The copy is consistent only if LevelDB did not switch logs, flush or compact while it was taken:
 * the MANIFEST (append-only, and appended by each of those) and the set of log files are compared
 * before and after, and the copy is taken again when they changed.
 *
 * Table files are copied, not hard-linked, although LevelDB never changes a finished one: a table the
 * writer is still writing is not in the copied MANIFEST, and the copy's own recovery may create a
 * table under the same number — opening it with O_TRUNC, which through a link would truncate the
 * writer's file (seen in testing). Copying costs the index's size once per snapshot; the index holds
 * refs, metadata and structured objects, not chunk bytes (those are in packs).
 *
 * Packs are read in place: they are immutable once sealed, and the index only names sealed packs.
 * Snapshots live in `.mvc/tmp/read-<pid>-<12 hex>/` (or the system's temporary folder when the store
 * cannot be written), are removed at close, and after a crash by the next reader.
 */
import { copyFile, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ownedTag, sweep } from './leftovers.js'

/** Snapshot folders: `<store>/tmp/read-<pid>-<12 hex>`. */
export const READ_SNAPSHOT = /^read-(\d+)-([0-9a-f]{12})$/
export const SNAPSHOT_DIR = 'tmp'

const TABLE = /^\d+\.(ldb|sst)$/
const LOG = /^\d+\.log$/

interface Marker {
  readonly current: string
  readonly manifestSize: number
  readonly logs: string
}

async function marker (db: string): Promise<Marker> {
  const current = (await readFile(join(db, 'CURRENT'), 'utf8')).trim()
  if (!/^MANIFEST-\d+$/.test(current)) throw new Error(`CURRENT names ${JSON.stringify(current)}, not a MANIFEST`)
  const manifestSize = (await stat(join(db, current))).size
  const logs = (await readdir(db)).filter(n => LOG.test(n)).sort().join(',')
  return { current, manifestSize, logs }
}

function same (a: Marker, b: Marker): boolean {
  return a.current === b.current && a.manifestSize === b.manifestSize && a.logs === b.logs
}

/** Copies the LevelDB folder `db` into `into` (which must not exist) in a state LevelDB can open consistently. */
async function copyOnce (db: string, into: string): Promise<boolean> {
  const before = await marker(db)
  await mkdir(into)
  const names = await readdir(db)
  try {
    for (const n of names) if (TABLE.test(n)) await copyFile(join(db, n), join(into, n))
    // Logs in order: an older log is no longer appended once a newer one exists.
    for (const n of names.filter(n => LOG.test(n)).sort((a, b) => parseInt(a) - parseInt(b))) await copyFile(join(db, n), join(into, n))
    await copyFile(join(db, before.current), join(into, before.current))
    await writeFile(join(into, 'CURRENT'), before.current + '\n')
  } catch (err) {
    // A table or log deleted under us (a compaction finished): take the copy again.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
  return same(before, await marker(db))
}

/**
 * Takes a consistent copy of the index folder `db` for a reader, in `<storeDir>/tmp/read-…` (or, when
 * the store cannot be written, in `fallbackParent`). Returns the folder; the caller opens it with
 * LevelDB and removes it when done. Throws when no consistent copy could be taken in `attempts` tries
 * (a writer flushing continuously), so the caller can fall back to waiting for the lock.
 */
export async function snapshotIndex (storeDir: string, db: string, fallbackParent: string, attempts = 20): Promise<string> {
  let parent = join(storeDir, SNAPSHOT_DIR)
  try {
    await mkdir(parent, { recursive: true })
    await sweep(parent, READ_SNAPSHOT, 1, 2)
  } catch {
    parent = fallbackParent
  }
  for (let i = 0; i < attempts; i++) {
    const dir = join(parent, `read-${ownedTag(8)}`)
    let ok = false
    try {
      ok = await copyOnce(db, dir)
    } finally {
      if (!ok) await rm(dir, { recursive: true, force: true })
    }
    if (ok) return dir
  }
  throw new Error(`the index changed during each of ${attempts} attempts to copy it`)
}
