/**
 * Walking a folder (or one file) for a snapshot: regular files and empty folders, sorted the way
 * manifests list them. Symbolic links and special files are refused, never followed.
 */
import { lstat, readdir } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { BigIntStats } from 'node:fs'
import { InputNotFoundError, SymlinkRefusedError, UnsupportedFileTypeError, UnsafePathError } from '../errors.js'
import { comparePaths } from '../format/objects.js'
import { MVC_DIR, unsafePathReason } from '../format/paths.js'

/** A regular file found by the walk. */
export interface WalkedFile {
  /** POSIX path relative to the snapshot root (for a single file: its basename). */
  readonly rel: string
  readonly abs: string
  readonly stats: BigIntStats
}

export interface Walk {
  readonly kind: 'dir' | 'file'
  readonly files: WalkedFile[]
  /** Empty folders. */
  readonly dirs: string[]
}

/** Lists a folder recursively without following symbolic links; refuses links and special files. */
export async function walk (abs: string): Promise<Walk> {
  const top = await lstat(abs, { bigint: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new InputNotFoundError(`${abs} does not exist`, { path: abs })
    throw err
  })
  if (top.isSymbolicLink()) throw new SymlinkRefusedError(`${abs} is a symbolic link; mvc stores files and folders, never links. Commit the folder it points to instead.`, { path: abs })
  if (top.isFile()) return { kind: 'file', files: [{ rel: basename(abs), abs, stats: top }], dirs: [] }
  if (!top.isDirectory()) throw new UnsupportedFileTypeError(`${abs} is neither a file nor a folder`, { path: abs })
  const files: WalkedFile[] = []
  const dirs: string[] = []
  async function visit (dirAbs: string, dirRel: string): Promise<boolean> {
    const names = await readdir(dirAbs)
    // Names that a case-insensitive or normalising file system would merge cannot be checked out safely.
    const folded = new Map<string, string>()
    for (const name of names) {
      const key = name.normalize('NFC').toLowerCase()
      const other = folded.get(key)
      if (other !== undefined) {
        throw new UnsafePathError(`cannot store ${JSON.stringify(join(dirAbs, other))} and ${JSON.stringify(join(dirAbs, name))}: their names differ only by case or Unicode normalisation, and a checkout on macOS or Windows would write one over the other. Rename one.`, { path: join(dirAbs, name), other: join(dirAbs, other) })
      }
      folded.set(key, name)
    }
    let any = false
    for (const name of names) {
      if (name === MVC_DIR) continue
      const childAbs = join(dirAbs, name)
      const rel = dirRel === '' ? name : `${dirRel}/${name}`
      const why = unsafePathReason(rel)
      if (why !== undefined) throw new UnsafePathError(`cannot store ${JSON.stringify(childAbs)}: its name is not portable (${why})`, { path: childAbs })
      const st = await lstat(childAbs, { bigint: true })
      if (st.isSymbolicLink()) {
        throw new SymlinkRefusedError(`${childAbs} is a symbolic link; mvc never follows links (they could point outside the model). Replace it with the file it points to, or move it out of the folder.`, { path: childAbs })
      }
      if (st.isDirectory()) {
        if (!(await visit(childAbs, rel))) dirs.push(rel)
        any = true
      } else if (st.isFile()) {
        files.push({ rel, abs: childAbs, stats: st })
        any = true
      } else {
        throw new UnsupportedFileTypeError(`${childAbs} is not a regular file or folder (socket, FIFO or device); remove it from the folder to commit`, { path: childAbs })
      }
    }
    return any
  }
  await visit(abs, '')
  files.sort((a, b) => comparePaths(a.rel, b.rel))
  dirs.sort(comparePaths)
  return { kind: 'dir', files, dirs }
}
