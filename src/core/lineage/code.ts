/**
 * Code lineage: the git commit the training code was at, its branch and remote, and whether the
 * working tree differed from it (dirty) and where.
 *
 * The dirty check is git's own algorithm, not isomorphic-git's statusMatrix (which hashes or walks
 * every file: 0.4–1.1 s on 2,000 files). It reads `.git/index` directly (versions 2, 3 and 4,
 * gitformat-index(5)) and:
 *  1. index vs HEAD: compares the index entries with HEAD's tree, skipping every folder whose cached
 *     tree (the index's TREE extension) is valid and equals HEAD's tree for that folder — usually all
 *     of them, so no git object is read;
 *  2. worktree vs index: `lstat`s every tracked file and compares size, mtime, ctime, inode and mode
 *     with the index entry, as git does; a file is hashed (`sha1("blob <len>\0" + content)`) only when
 *     they differ or when it is racy (mtime ≥ the index file's mtime: a write in the same clock tick
 *     as the index could leave the stat unchanged);
 *  3. untracked files: lists the folders holding tracked files; a name that is not tracked is dirty
 *     unless ignored (`git.isIgnored`: .gitignore files and .git/info/exclude); an untracked folder
 *     counts (as `dir/`, like `git status`) when it holds at least one file that is not ignored.
 * See docs/design.md, "Lineage", for why this never reports clean when git would report changes.
 */
import fs from 'node:fs'
import { lstat, open, readFile, readdir, readlink } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { inflateSync } from 'node:zlib'
import { createRequire } from 'node:module'
import { InputNotFoundError, InvalidArgumentError } from '../../errors.js'
import type { CodeLineage } from '../../format/lineage.js'
import { comparePaths } from '../../format/objects.js'
import { MVC_DIR } from '../../format/paths.js'
import { pool } from '../../store/async.js'

type Git = typeof import('isomorphic-git').default
let gitModule: Git | undefined
/**
 * isomorphic-git, loaded on first use so that other commands don't pay for it. Loaded with require():
 * its Node build is CommonJS, and `import` of it runs the CJS export lexer over 600 KB of code,
 * about three times slower than require() (measured: ~250 ms vs ~80 ms on a loaded machine).
 */
async function loadGit (): Promise<Git> {
  gitModule ??= (createRequire(import.meta.url)('isomorphic-git') as { default: Git }).default
  return gitModule
}

/** At most this many dirty paths are recorded (sorted); `dirty` stays exact. */
export const MAX_DIRTY_PATHS = 1000

const S_IFMT = 0o170000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000
const S_IFGITLINK = 0o160000
const S_IFDIR = 0o040000

export interface IndexEntry {
  readonly path: string
  readonly ctimeS: number
  readonly ctimeNs: number
  readonly mtimeS: number
  readonly mtimeNs: number
  readonly ino: number
  readonly mode: number
  readonly size: number
  readonly oid: string
  readonly stage: number
  readonly assumeValid: boolean
  readonly skipWorktree: boolean
  readonly intentToAdd: boolean
}

export interface GitIndex {
  readonly version: number
  readonly entries: IndexEntry[]
  /** TREE extension: folder path ('' for the root, else `a/b/`) → entry count (-1 = invalid) and tree oid. */
  readonly cacheTree: Map<string, { readonly count: number, readonly oid: string | null }>
}

/** Parses a git index file (gitformat-index(5), versions 2–4). `hashLen` is 20 (SHA-1) or 32 (SHA-256). */
export function parseGitIndex (buf: Buffer, hashLen = 20, where = 'index'): GitIndex {
  const bad = (why: string): never => { throw new InvalidArgumentError(`cannot read the git index ${where}: ${why}`, { path: where }) }
  if (buf.length < 12 + hashLen || buf.toString('latin1', 0, 4) !== 'DIRC') bad('not a git index (no DIRC signature)')
  const version = buf.readUInt32BE(4)
  if (version < 2 || version > 4) bad(`index version ${version} is not supported`)
  const count = buf.readUInt32BE(8)
  const end = buf.length - hashLen
  const entries: IndexEntry[] = []
  let pos = 12
  let prev: Buffer = Buffer.alloc(0)
  const fixed = 40 + hashLen + 2
  for (let i = 0; i < count; i++) {
    if (pos + fixed > end) bad('truncated entry')
    const flags = buf.readUInt16BE(pos + 40 + hashLen)
    const extended = (flags & 0x4000) !== 0
    let ext = 0
    let namePos = pos + fixed
    if (extended) {
      if (version < 3) bad('extended flags in a version 2 index')
      ext = buf.readUInt16BE(namePos)
      namePos += 2
    }
    let name: Buffer
    let next: number
    if (version === 4) {
      // Prefix compression: varint N (bytes to drop from the previous path), then the NUL-terminated rest.
      let c = buf[namePos++]!
      let drop = c & 127
      while ((c & 128) !== 0) { c = buf[namePos++]!; drop = ((drop + 1) * 128) + (c & 127) }
      const nul = buf.indexOf(0, namePos)
      if (i === 0) drop = 0 // nothing to take a prefix of
      if (nul < 0 || nul >= end || drop > prev.length) bad('bad path in a version 4 entry')
      name = Buffer.concat([prev.subarray(0, prev.length - drop), buf.subarray(namePos, nul)])
      next = nul + 1
    } else {
      const nul = buf.indexOf(0, namePos)
      if (nul < 0 || nul >= end) bad('unterminated path')
      name = buf.subarray(namePos, nul)
      // Entries are padded with 1–8 NULs to a multiple of 8 bytes.
      next = pos + ((namePos - pos + name.length + 8) & ~7)
    }
    prev = name
    entries.push({
      path: name.toString('utf8'),
      ctimeS: buf.readUInt32BE(pos),
      ctimeNs: buf.readUInt32BE(pos + 4),
      mtimeS: buf.readUInt32BE(pos + 8),
      mtimeNs: buf.readUInt32BE(pos + 12),
      ino: buf.readUInt32BE(pos + 20),
      mode: buf.readUInt32BE(pos + 24),
      size: buf.readUInt32BE(pos + 36),
      oid: buf.toString('hex', pos + 40, pos + 40 + hashLen),
      stage: (flags >> 12) & 3,
      assumeValid: (flags & 0x8000) !== 0,
      skipWorktree: (ext & 0x4000) !== 0,
      intentToAdd: (ext & 0x2000) !== 0
    })
    pos = next
  }
  const cacheTree = new Map<string, { count: number, oid: string | null }>()
  while (pos + 8 <= end) {
    const sig = buf.toString('latin1', pos, pos + 4)
    const size = buf.readUInt32BE(pos + 4)
    const data = buf.subarray(pos + 8, pos + 8 + size)
    if (pos + 8 + size > end) bad(`truncated ${sig} extension`)
    if (sig === 'TREE') parseCacheTree(data, hashLen, cacheTree)
    else if (sig === 'link') bad('split index (core.splitIndex) is not supported; run `git update-index --no-split-index` or commit with --no-code')
    pos += 8 + size
  }
  return { version, entries, cacheTree }
}

function parseCacheTree (data: Buffer, hashLen: number, out: Map<string, { count: number, oid: string | null }>): void {
  let pos = 0
  const node = (parent: string | null): void => {
    const nul = data.indexOf(0, pos)
    const sp = data.indexOf(0x20, nul + 1)
    const nl = data.indexOf(0x0a, sp + 1)
    if (nul < 0 || sp < 0 || nl < 0) throw new Error('bad TREE extension')
    const name = data.toString('utf8', pos, nul)
    const count = Number(data.toString('latin1', nul + 1, sp))
    const subtrees = Number(data.toString('latin1', sp + 1, nl))
    pos = nl + 1
    let oid: string | null = null
    if (count >= 0) { oid = data.toString('hex', pos, pos + hashLen); pos += hashLen }
    const path = parent === null ? '' : `${parent}${name}/`
    out.set(path, { count, oid })
    for (let i = 0; i < subtrees; i++) node(path)
  }
  try {
    if (data.length > 0) node(null)
  } catch {
    out.clear() // an unreadable cache tree only costs speed: every folder is compared
  }
}

export interface DirtyStats {
  /** Index entries examined. */
  tracked: number
  /** Files whose content was hashed (stat differed, or racy). */
  hashed: number
  /** Git tree objects read to compare the index with HEAD (0 when the cached tree matched). */
  treesRead: number
  /** Ignore checks made for names that are not tracked. */
  ignoreChecks: number
}

export interface DirtyResult {
  readonly dirty: boolean
  /** Sorted repository-relative paths (untracked folders end with `/`), at most `max`. */
  readonly paths: string[]
  /** Total number of dirty paths found (may exceed `paths.length`). */
  readonly total: number
  readonly stats: DirtyStats
}

interface GitDirs { readonly root: string, readonly gitdir: string, readonly commondir: string }

/** `.git` as a folder, or a `gitdir: <path>` file (linked worktrees, submodules); `commondir` for worktrees. */
async function gitDirs (root: string): Promise<GitDirs> {
  const dotgit = join(root, '.git')
  let gitdir = dotgit
  const st = await lstat(dotgit)
  if (st.isFile()) {
    const text = (await readFile(dotgit, 'utf8')).trim()
    if (!text.startsWith('gitdir:')) throw new InvalidArgumentError(`${dotgit} is a file but does not name a git directory`, { path: dotgit })
    const p = text.slice('gitdir:'.length).trim()
    gitdir = isAbsolute(p) ? p : resolve(root, p)
  }
  let commondir = gitdir
  try {
    const c = (await readFile(join(gitdir, 'commondir'), 'utf8')).trim()
    commondir = isAbsolute(c) ? c : resolve(gitdir, c)
  } catch { /* not a linked worktree */ }
  return { root, gitdir, commondir }
}

/** An fs for isomorphic-git whose reads and stats are memoised: `isIgnored` re-reads every .gitignore on each call. */
function memoFs (): typeof fs {
  const reads = new Map<string, Promise<unknown>>()
  const stats = new Map<string, Promise<unknown>>()
  const p = fs.promises
  const memo = (m: Map<string, Promise<unknown>>, key: string, f: () => Promise<unknown>): Promise<unknown> => {
    let v = m.get(key)
    if (v === undefined) { v = f(); m.set(key, v) }
    return v
  }
  return {
    readFile: async (path: string, opts?: unknown) => await memo(reads, `${path}\0${JSON.stringify(opts ?? null)}`, async () => await p.readFile(path, opts as undefined)),
    stat: async (path: string) => await memo(stats, path, async () => await p.stat(path)),
    lstat: async (path: string) => await memo(stats, 'l\0' + path, async () => await p.lstat(path)),
    readdir: p.readdir,
    readlink: p.readlink,
    writeFile: p.writeFile,
    mkdir: p.mkdir,
    rmdir: p.rmdir,
    unlink: p.unlink,
    symlink: p.symlink
  } as unknown as typeof fs
}

/**
 * A loose git object's type and body (zlib-inflated `<type> <size>\0<body>`), or undefined when the
 * object is packed. Reading the few commit and tree objects this way avoids isomorphic-git's slower
 * object database for the common case; packed objects go through isomorphic-git.
 */
async function readLoose (commondir: string, oid: string): Promise<{ type: string, body: Buffer } | undefined> {
  let raw: Buffer
  try { raw = inflateSync(await readFile(join(commondir, 'objects', oid.slice(0, 2), oid.slice(2)))) } catch { return undefined }
  const nul = raw.indexOf(0)
  const sp = raw.indexOf(0x20)
  if (nul < 0 || sp < 0 || sp > nul) return undefined
  return { type: raw.toString('latin1', 0, sp), body: raw.subarray(nul + 1) }
}

interface TreeItem { readonly name: string, readonly mode: number, readonly oid: string }

async function readCommitTree (git: Git, commondir: string, oid: string, cache: object): Promise<string> {
  const o = await readLoose(commondir, oid)
  if (o !== undefined && o.type === 'commit') {
    const m = /^tree ([0-9a-f]+)\n/.exec(o.body.toString('latin1', 0, 100))
    if (m !== null) return m[1]!
  }
  return (await git.readCommit({ fs, gitdir: commondir, oid, cache })).commit.tree
}

async function readTreeItems (git: Git, commondir: string, oid: string, hashLen: number, cache: object): Promise<TreeItem[]> {
  const o = await readLoose(commondir, oid)
  if (o !== undefined && o.type === 'tree') {
    const out: TreeItem[] = []
    const b = o.body
    let pos = 0
    while (pos < b.length) {
      const sp = b.indexOf(0x20, pos)
      const nul = b.indexOf(0, sp + 1)
      if (sp < 0 || nul < 0 || nul + 1 + hashLen > b.length) throw new Error(`malformed tree object ${oid}`)
      out.push({ mode: parseInt(b.toString('latin1', pos, sp), 8), name: b.toString('utf8', sp + 1, nul), oid: b.toString('hex', nul + 1, nul + 1 + hashLen) })
      pos = nul + 1 + hashLen
    }
    return out
  }
  const { tree } = await git.readTree({ fs, gitdir: commondir, oid, cache })
  return tree.map(t => ({ name: t.path, mode: parseInt(t.mode, 8), oid: t.oid }))
}

async function blobHash (abs: string, mode: number, algo: 'sha1' | 'sha256'): Promise<string | undefined> {
  try {
    if ((mode & S_IFMT) === S_IFLNK) {
      const target = Buffer.from(await readlink(abs, { encoding: 'buffer' }))
      return createHash(algo).update(`blob ${target.length}\0`).update(target).digest('hex')
    }
    const fh = await open(abs, 'r')
    try {
      const size = (await fh.stat()).size
      if (size <= 8 << 20) {
        const bytes = await fh.readFile()
        return createHash(algo).update(`blob ${bytes.length}\0`).update(bytes).digest('hex')
      }
      const h = createHash(algo).update(`blob ${size}\0`)
      let read = 0
      for await (const b of fh.createReadStream({ highWaterMark: 1 << 20, autoClose: false })) { h.update(b as Buffer); read += (b as Buffer).length }
      return read === size ? h.digest('hex') : undefined
    } finally { await fh.close() }
  } catch {
    return undefined // vanished or unreadable: not what the index holds
  }
}

const U32 = 0xffffffffn
const NS = 1_000_000_000n

/**
 * Whether a worktree file's stat is what the index recorded: size, mtime, ctime and inode, truncated to
 * 32 bits as the index stores them. Times are compared to the second, as git does unless built with
 * USE_NSEC: the nanoseconds in an index are not reliable (isomorphic-git writes them from a float of
 * milliseconds), and a write in the same second is caught by the racy check instead.
 */
function statMatches (e: IndexEntry, st: fs.BigIntStats): boolean {
  return Number(st.size & U32) === e.size &&
    Number((st.mtimeNs / NS) & U32) === e.mtimeS &&
    Number((st.ctimeNs / NS) & U32) === e.ctimeS &&
    Number(st.ino & U32) === e.ino
}

/**
 * Compares HEAD, the index and the working tree of a repository, as `git status` would.
 * `headOid` null = no commit yet (everything in the index is a change).
 */
export async function dirtyCheck (options: { root: string, headOid: string | null, max?: number, exclude?: readonly string[] }): Promise<DirtyResult> {
  const dirs = await gitDirs(options.root)
  const { root, gitdir, commondir } = dirs
  const stats: DirtyStats = { tracked: 0, hashed: 0, treesRead: 0, ignoreChecks: 0 }
  const dirty = new Set<string>()
  const git = await loadGit()
  const format = await git.getConfig({ fs, gitdir: commondir, path: 'extensions.objectformat' }).catch(() => undefined)
  const algo = String(format ?? '').toLowerCase() === 'sha256' ? 'sha256' : 'sha1'
  const fileMode = await git.getConfig({ fs, gitdir: commondir, path: 'core.filemode' }).catch(() => undefined)
  const trustExec = fileMode !== false && fileMode !== 'false'

  const indexPath = join(gitdir, 'index')
  let index: GitIndex = { version: 2, entries: [], cacheTree: new Map() }
  let indexMtimeNs = 0n
  const indexStat = await lstat(indexPath, { bigint: true }).catch(() => undefined)
  if (indexStat !== undefined) {
    index = parseGitIndex(await readFile(indexPath), algo === 'sha256' ? 32 : 20, indexPath)
    indexMtimeNs = indexStat.mtimeNs
  }

  // 1. Index vs HEAD, pruned by the cached tree.
  const head = new Map<string, { oid: string, mode: number }>()
  const pruned = new Set<string>()
  if (options.headOid !== null) {
    const cache = {}
    const hashLen = algo === 'sha256' ? 32 : 20
    const expand = async (treeOid: string, prefix: string): Promise<void> => {
      const cached = index.cacheTree.get(prefix)
      if (cached !== undefined && cached.count >= 0 && cached.oid === treeOid) { pruned.add(prefix); return }
      stats.treesRead++
      for (const t of await readTreeItems(git, commondir, treeOid, hashLen, cache)) {
        if ((t.mode & S_IFMT) === S_IFDIR) await expand(t.oid, `${prefix}${t.name}/`)
        else head.set(prefix + t.name, { oid: t.oid, mode: t.mode })
      }
    }
    await expand(await readCommitTree(git, commondir, options.headOid, cache), '')
  }
  const underPruned = (path: string): boolean => {
    if (pruned.size === 0) return false
    if (pruned.has('')) return true
    for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) if (pruned.has(path.slice(0, i + 1))) return true
    return false
  }

  const tracked = new Set<string>()
  const trackedDirs = new Set<string>([''])
  const toStat: IndexEntry[] = []
  for (const e of index.entries) {
    const isDirEntry = (e.mode & S_IFMT) === S_IFDIR // sparse-index folder entry
    const path = isDirEntry ? e.path.replace(/\/$/, '') : e.path
    tracked.add(path)
    for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) trackedDirs.add(path.slice(0, i))
    if (isDirEntry) { trackedDirs.add(path); continue }
    if (e.stage !== 0) { dirty.add(path); continue } // unmerged
    stats.tracked++
    if (e.intentToAdd) { dirty.add(path); continue }
    if (!underPruned(path)) {
      const h = head.get(path)
      if (h === undefined || h.oid !== e.oid || h.mode !== e.mode) dirty.add(path)
    }
    if (!e.skipWorktree) toStat.push(e)
  }
  for (const p of head.keys()) if (!tracked.has(p)) dirty.add(p) // deleted from the index

  // 2. Worktree vs index: stat first, hash only when the stat differs or is racy. lstat is called
  //    synchronously: it is a metadata lookup of microseconds, cheaper than a round trip through the
  //    thread pool; only the (rare) hashing is asynchronous.
  const toHash: IndexEntry[] = []
  for (const e of toStat) {
    const abs = join(root, e.path)
    let st: fs.BigIntStats | undefined
    try { st = fs.lstatSync(abs, { bigint: true, throwIfNoEntry: false }) } catch { st = undefined }
    if (st === undefined) { dirty.add(e.path); continue } // deleted (or its folder became a file)
    const type = e.mode & S_IFMT
    if (type === S_IFGITLINK) {
      if (!st.isDirectory() || await submoduleDirty(abs, e.oid)) dirty.add(e.path)
      continue
    }
    if ((type === S_IFREG && !st.isFile()) || (type === S_IFLNK && !st.isSymbolicLink()) || (type !== S_IFREG && type !== S_IFLNK)) { dirty.add(e.path); continue }
    if (type === S_IFREG && trustExec && ((Number(st.mode) & 0o100) !== 0) !== ((e.mode & 0o100) !== 0)) { dirty.add(e.path); continue }
    // Racy: modified in (or after) the second the index was written, the stat cannot vouch for the content.
    if (statMatches(e, st) && st.mtimeNs / NS < indexMtimeNs / NS) continue
    // A different size proves a change, unless the index smudged the size to 0 (git's racy-git marker).
    if (e.size !== 0 && Number(st.size & U32) !== e.size) { dirty.add(e.path); continue }
    toHash.push(e)
  }
  await pool(toHash, 8, async e => {
    stats.hashed++
    if (await blobHash(join(root, e.path), e.mode, algo) !== e.oid) dirty.add(e.path)
  })

  // 3. Untracked names, in the folders that hold tracked files; untracked folders are opened only
  //    until one non-ignored file shows they count.
  const ignoreFs = memoFs()
  const ignored = async (rel: string): Promise<boolean> => {
    stats.ignoreChecks++
    return await git.isIgnored({ fs: ignoreFs, dir: root, gitdir, filepath: rel })
  }
  const skipName = (name: string): boolean => name === '.git' || name === MVC_DIR
  // Paths mvc versions itself (the committed model, the training data) are not the code's changes.
  const exclude = options.exclude ?? []
  const excluded = (p: string): boolean => exclude.some(e => p === e || p === e + '/' || p.startsWith(e + '/'))
  const holdsUntracked = async (rel: string): Promise<boolean> => {
    if (await ignored(rel + '/')) return false
    const abs = join(root, rel)
    if (await lstat(join(abs, '.git')).then(() => true, () => false)) return true // a nested repository
    const names = await readdir(abs, { withFileTypes: true }).catch(() => [])
    for (const d of names) {
      if (skipName(d.name)) continue
      const child = `${rel}/${d.name}`
      if (d.isDirectory() ? await holdsUntracked(child) : !(await ignored(child))) return true
    }
    return false
  }
  const scan = async (rel: string): Promise<void> => {
    const names = await readdir(rel === '' ? root : join(root, rel), { withFileTypes: true }).catch(() => [])
    for (const d of names) {
      if (skipName(d.name)) continue
      const child = rel === '' ? d.name : `${rel}/${d.name}`
      if (tracked.has(child) || excluded(child)) continue
      if (d.isDirectory()) {
        if (trackedDirs.has(child)) await scan(child)
        else if (await holdsUntracked(child)) dirty.add(child + '/')
      } else if (!(await ignored(child))) {
        dirty.add(child)
      }
    }
  }
  await scan('')

  for (const p of [...dirty]) if (excluded(p)) dirty.delete(p)
  // A .gitignore whose only changes are the lines mvc adds for what it versions is not a code change.
  if (dirty.has('.gitignore') && options.headOid !== null && await onlyMvcIgnoreLines(git, root, gitdir, options.headOid, exclude)) dirty.delete('.gitignore')
  const all = [...dirty].sort(comparePaths)
  const max = options.max ?? MAX_DIRTY_PATHS
  return { dirty: all.length > 0, paths: all.slice(0, max), total: all.length, stats }
}

/** A checked-out submodule is dirty when its HEAD is not the recorded commit or its own tree is dirty. */
async function submoduleDirty (abs: string, recorded: string): Promise<boolean> {
  if (!(await lstat(join(abs, '.git')).then(() => true, () => false))) return false // not checked out: git shows nothing
  try {
    const { gitdir, commondir } = await gitDirs(abs)
    const oid = await headOf(gitdir, commondir)
    if (oid.oid !== recorded) return true
    return (await dirtyCheck({ root: abs, headOid: oid.oid, max: 1 })).dirty
  } catch {
    return true
  }
}

/** HEAD of a git directory: the commit and the branch (null when detached). Throws when there is no commit yet. */
async function headOf (gitdir: string, commondir: string): Promise<{ oid: string, branch: string | null }> {
  const text = (await readFile(join(gitdir, 'HEAD'), 'utf8')).trim()
  if (text.startsWith('ref:')) {
    const ref = text.slice(4).trim()
    const oid = await (await loadGit()).resolveRef({ fs, gitdir: commondir, ref })
    return { oid, branch: ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : ref }
  }
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(text)) throw new Error(`HEAD holds neither a ref nor a commit id: ${text.slice(0, 80)}`)
  return { oid: text, branch: null }
}

/** A remote URL without credentials: user and password are dropped from http(s) URLs, passwords from others. */
export function redactUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.password === '' && (u.username === '' || !u.protocol.startsWith('http'))) return url
    u.password = ''
    if (u.protocol.startsWith('http')) u.username = ''
    return u.toString()
  } catch {
    return url // scp-like `git@host:path`: no secret in it
  }
}

/** The .gitignore lines mvc writes (core/gitignore.ts): its comment, `/.mvc/`, and one per versioned path. */
export function isMvcIgnoreLine (line: string, exclude: readonly string[]): boolean {
  const t = line.trim()
  return t === MVC_IGNORE_COMMENT || t === `/${MVC_DIR}/` || exclude.some(e => t === `/${e}/` || t === `/${e}`)
}

export const MVC_IGNORE_COMMENT = '# versioned by mvc, not git (mvc status shows their changes)'

async function onlyMvcIgnoreLines (git: Git, root: string, gitdir: string, headOid: string, exclude: readonly string[]): Promise<boolean> {
  let before = ''
  try {
    const { blob } = await git.readBlob({ fs, dir: root, gitdir, oid: headOid, filepath: '.gitignore' })
    before = Buffer.from(blob).toString('utf8')
  } catch { before = '' }
  const now = await readFile(join(root, '.gitignore'), 'utf8').catch(() => undefined)
  if (now === undefined) return false
  const strip = (text: string): string => text.split(/\r?\n/).filter(l => !isMvcIgnoreLine(l, exclude)).join('\n').trim()
  return strip(before) === strip(now)
}

/**
 * The code lineage of a folder: the enclosing git repository's HEAD commit, branch, `origin` URL and
 * dirty state. `{ kind: 'none', reason }` when no repository encloses it or it has no commit yet.
 */
export async function codeLineage (options: { dir: string, max?: number, exclude?: readonly string[] }): Promise<CodeLineage> {
  let abs = resolve(options.dir)
  const st = await lstat(abs).catch(() => undefined)
  if (st === undefined) throw new InputNotFoundError(`${abs} does not exist (the folder whose git commit to record)`, { path: abs })
  if (!st.isDirectory()) abs = dirname(abs)
  const git = await loadGit()
  let root: string
  try {
    root = await git.findRoot({ fs, filepath: abs })
  } catch (e) {
    if ((e as { code?: string }).code === 'NotFoundError') return { kind: 'none', reason: `no git repository encloses ${abs}` }
    throw e
  }
  const { gitdir, commondir } = await gitDirs(root)
  let head: { oid: string, branch: string | null }
  try {
    head = await headOf(gitdir, commondir)
  } catch (e) {
    return { kind: 'none', reason: (e as { code?: string }).code === 'NotFoundError' ? `the git repository at ${root} has no commit yet` : `cannot read HEAD of the git repository at ${root}: ${(e as Error).message}` }
  }
  const remote = await git.getConfig({ fs, gitdir: commondir, path: 'remote.origin.url' }).catch(() => undefined)
  const exclude = (options.exclude ?? []).map(p => relative(root, resolve(p)).split(sep).join('/')).filter(p => p !== '' && !p.startsWith('..'))
  const d = await dirtyCheck({ root, headOid: head.oid, max: options.max, exclude })
  return {
    kind: 'git',
    oid: head.oid,
    branch: head.branch,
    remote: typeof remote === 'string' && remote !== '' ? redactUrl(remote) : null,
    dirty: d.dirty,
    dirtyPaths: d.paths
  }
}

/** The root of the git work tree enclosing `dir`, or undefined when there is none. */
export async function findGitRoot (dir: string): Promise<string | undefined> {
  const git = await loadGit()
  try {
    return await git.findRoot({ fs, filepath: resolve(dir) })
  } catch {
    return undefined
  }
}

/** True when git's index has a file at or under the root-relative path `rel`. */
export async function gitTracks (root: string, rel: string): Promise<boolean> {
  const { gitdir } = await gitDirs(root)
  const buf = await readFile(join(gitdir, 'index')).catch(() => undefined)
  if (buf === undefined) return false
  const index = parseGitIndex(buf, 20, join(gitdir, 'index'))
  return index.entries.some(e => e.path === rel || e.path.startsWith(rel + '/'))
}

/** `[user] name/email` from a git config file's text (a small INI subset: sections, `key = value`). */
function iniUser (text: string): { name?: string, email?: string } {
  const out: { name?: string, email?: string } = {}
  let section = ''
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/[;#].*$/, '').trim()
    if (line === '') continue
    const sec = /^\[([^\]\s"]+)(?:\s+"[^"]*")?\]$/.exec(line)
    if (sec !== null) { section = sec[1]!.toLowerCase(); continue }
    if (section !== 'user') continue
    const kv = /^([A-Za-z][\w-]*)\s*=\s*(.*)$/.exec(line)
    if (kv === null) continue
    const value = kv[2]!.replace(/^"(.*)"$/, '$1')
    const key = kv[1]!.toLowerCase()
    if (key === 'name') out.name = value
    if (key === 'email') out.email = value
  }
  return out
}

/**
 * git's `user.name` and `user.email` for a folder: the enclosing repository's config, then the user's
 * (`$XDG_CONFIG_HOME/git/config`, `~/.gitconfig`), as git reads them (later files win within a level).
 */
export async function gitUser (dir: string, home = process.env.HOME ?? ''): Promise<{ name?: string, email?: string }> {
  const files: string[] = []
  const xdg = process.env.XDG_CONFIG_HOME ?? (home !== '' ? join(home, '.config') : '')
  if (xdg !== '') files.push(join(xdg, 'git', 'config'))
  if (home !== '') files.push(join(home, '.gitconfig'))
  const root = await findGitRoot(dir)
  if (root !== undefined) {
    const { commondir } = await gitDirs(root)
    files.push(join(commondir, 'config'))
  }
  const user: { name?: string, email?: string } = {}
  for (const f of files) {
    const text = await readFile(f, 'utf8').catch(() => undefined)
    if (text !== undefined) Object.assign(user, iniUser(text))
  }
  return user
}

/** True when git ignores the root-relative path (a folder: pass it with a trailing `/`). */
export async function gitIgnores (root: string, rel: string): Promise<boolean> {
  const git = await loadGit()
  const { gitdir } = await gitDirs(root)
  return await git.isIgnored({ fs, dir: root, gitdir, filepath: rel }).catch(() => false)
}
