/**
 * Leftovers of interrupted processes: temporary packs (`tmp-<pid>-<12 hex>.pack`), staging folders of
 * a store being created (`.<name>.mvc-init-<pid>-<12 hex>`) and of a checkout (`.<name>.mvc-new-…`,
 * `.<name>.mvc-old-…`, see core/materialize.ts). Every such name carries the writer's pid and, as the
 * first 4 hex digits of its random part, a tag of the host it runs on, so that the next command can tell
 * the leftovers of a dead process on this host (removed) from the work of a live one, or of a process on
 * another machine sharing the folder (left alone, reported by `fsck`).
 */
import { createHash, randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'

let tag: string | undefined
/** 4 hex digits naming this host (a hash of its hostname). */
export function hostTag (): string {
  tag ??= createHash('sha256').update(hostname()).digest('hex').slice(0, 4)
  return tag
}

/** `<pid>-<host tag><random>`: `randomHex` more hex digits after the 4 of the host tag. */
export function ownedTag (randomHex: number): string {
  return `${process.pid}-${hostTag()}${randomBytes(Math.ceil(randomHex / 2)).toString('hex').slice(0, randomHex)}`
}

/** Is the process `pid` running on this host? (A pid owned by another user counts as running.) */
export function pidAlive (pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** True when a name's `<pid>-<hex>` tag says its writer ran on this host and is dead. */
export function ownerIsDeadHere (pid: string, hex: string): boolean {
  const n = Number(pid)
  if (!Number.isSafeInteger(n) || n <= 0) return false
  return hex.slice(0, 4) === hostTag() && !pidAlive(n)
}

export const TEMP_PACK = /^tmp-(\d+)-([0-9a-f]{12})\.pack$/
/** A store being created beside its final place: `.<name>.mvc-init-<pid>-<12 hex>`. */
export const INIT_STAGING = /^\.(.+)\.mvc-init-(\d+)-([0-9a-f]{12})$/

/**
 * Removes the entries of `dir` whose name matches `pattern` (groups `pid` and `hex` named by their
 * indexes) and whose writer is dead on this host. Returns what was removed and what was left.
 * Never throws: a folder that cannot be read or written is left as it is.
 */
export async function sweep (dir: string, pattern: RegExp, pidGroup: number, hexGroup: number): Promise<{ removed: string[], left: string[] }> {
  const removed: string[] = []
  const left: string[] = []
  let names: string[]
  try { names = await readdir(dir) } catch { return { removed, left } }
  for (const name of names) {
    const m = pattern.exec(name)
    if (m === null) continue
    const path = join(dir, name)
    if (ownerIsDeadHere(m[pidGroup]!, m[hexGroup]!)) {
      try {
        await rm(path, { recursive: true, force: true })
        removed.push(path)
        continue
      } catch { /* read-only or refused: report it */ }
    }
    left.push(path)
  }
  return { removed, left }
}

/** Every entry of `dir` matching `pattern`, whoever wrote it (for fsck). */
export async function listMatching (dir: string, pattern: RegExp): Promise<string[]> {
  try { return (await readdir(dir)).filter(n => pattern.test(n)).map(n => join(dir, n)) } catch { return [] }
}
