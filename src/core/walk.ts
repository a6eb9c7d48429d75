/**
 * Walking a folder (or one file) for a snapshot: regular files and empty folders, sorted the way
 * manifests list them. Symbolic links and special files are refused, never followed.
 *
 * Ignored (never stored, never shown by status): what the defaults name (`.DS_Store`, `Thumbs.db`,
 * `desktop.ini`, `.ipynb_checkpoints/`, `__pycache__/`, `*.pyc`, editor swap files), and what
 * `.mvcignore` files say, in gitignore syntax: one at the repository root (paths relative to it) and
 * one in any walked folder (paths relative to that folder), as git reads `.gitignore`. A `!pattern`
 * line brings back what a default or an outer file ignores.
 */
import { lstat, readdir } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { BigIntStats } from 'node:fs'
import { InputNotFoundError, SymlinkRefusedError, UnsupportedFileTypeError, UnsafePathError } from '../errors.js'
import { comparePaths } from '../format/objects.js'
import { MVC_DIR, unsafePathReason } from '../format/paths.js'
import ignore, { type Ignore } from 'ignore'
import { readFile } from 'node:fs/promises'
import { relative, resolve, sep } from 'node:path'

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

export const IGNORE_FILE = '.mvcignore'
/** What no one wants versioned with a model. */
export const DEFAULT_IGNORES: readonly string[] = ['.DS_Store', 'Thumbs.db', 'desktop.ini', '.ipynb_checkpoints/', '__pycache__/', '*.pyc', '.*.swp', '*~']

async function readIgnore (file: string): Promise<string | undefined> {
  return await readFile(file, 'utf8').catch(() => undefined)
}

/**
 * The rules that apply inside a folder, outermost first: each `.mvcignore` level with the function that
 * turns a snapshot-relative path into a path relative to that file's folder (undefined: not below it).
 */
type Rules = ReadonlyArray<{ readonly ig: Ignore, readonly local: (rel: string) => string | undefined }>

/** gitignore semantics across levels: the last level that says something about the path decides. */
function isIgnored (rules: Rules, rel: string, isDir: boolean): boolean {
  let ignored = false
  for (const { ig, local } of rules) {
    const r = local(rel)
    if (r === undefined || r === '') continue
    const t = ig.test(isDir ? r + '/' : r)
    if (t.ignored) ignored = true
    else if (t.unignored) ignored = false
  }
  return ignored
}

export interface WalkOptions {
  /** The repository root, whose `.mvcignore` applies too (paths relative to it). */
  readonly repoRoot?: string
}

/** Lists a folder recursively without following symbolic links; refuses links and special files. */
export async function walk (abs: string, options: WalkOptions = {}): Promise<Walk> {
  const top = await lstat(abs, { bigint: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new InputNotFoundError(`${abs} does not exist`, { path: abs })
    throw err
  })
  if (top.isSymbolicLink()) throw new SymlinkRefusedError(`${abs} is a symbolic link; mvc stores files and folders, never links. Commit the folder it points to instead.`, { path: abs })
  if (top.isFile()) return { kind: 'file', files: [{ rel: basename(abs), abs, stats: top }], dirs: [] }
  if (!top.isDirectory()) throw new UnsupportedFileTypeError(`${abs} is neither a file nor a folder`, { path: abs })
  const files: WalkedFile[] = []
  const dirs: string[] = []
  const base: Array<Rules[number]> = [{ ig: ignore().add(DEFAULT_IGNORES), local: rel => rel }]
  if (options.repoRoot !== undefined && resolve(options.repoRoot) !== resolve(abs)) {
    const within = relative(options.repoRoot, abs).split(sep).join('/')
    const text = within.startsWith('..') ? undefined : await readIgnore(join(options.repoRoot, IGNORE_FILE))
    if (text !== undefined) base.push({ ig: ignore().add(text), local: rel => `${within}/${rel}` })
  }
  async function visit (dirAbs: string, dirRel: string, inherited: Rules): Promise<boolean> {
    const names = await readdir(dirAbs)
    const own = names.includes(IGNORE_FILE) ? await readIgnore(join(dirAbs, IGNORE_FILE)) : undefined
    const rules: Rules = own === undefined
      ? inherited
      : [...inherited, { ig: ignore().add(own), local: rel => dirRel === '' ? rel : rel.startsWith(dirRel + '/') ? rel.slice(dirRel.length + 1) : undefined }]
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
      const st = await lstat(childAbs, { bigint: true })
      if (isIgnored(rules, rel, st.isDirectory())) continue
      const why = unsafePathReason(rel)
      if (why !== undefined) throw new UnsafePathError(`cannot store ${JSON.stringify(childAbs)}: its name is not portable (${why}); rename it, or name it in .mvcignore`, { path: childAbs })
      if (st.isSymbolicLink()) {
        throw new SymlinkRefusedError(`${childAbs} is a symbolic link; mvc never follows links (they could point outside the model). Replace it with the file it points to, or move it out of the folder.`, { path: childAbs })
      }
      if (st.isDirectory()) {
        if (!(await visit(childAbs, rel, rules))) dirs.push(rel)
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
  await visit(abs, '', base)
  files.sort((a, b) => comparePaths(a.rel, b.rel))
  dirs.sort(comparePaths)
  return { kind: 'dir', files, dirs }
}
