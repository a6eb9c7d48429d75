/**
 * Shared utilities of the CLI, round-trip and integrity suites: running the real CLI in a child
 * process, temporary folders, a seeded PRNG, random trees and byte-and-mode snapshots of trees.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createCipheriv, createHash } from 'node:crypto'
import { chmod, lstat, mkdir, mkdtemp, open, readdir, realpath, rm, writeFile } from 'node:fs/promises'
import { tmpdir as osTmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { uniform01 } from '../src/core/verify/inputs.js'

/** Repository root: compiled tests live in dist/test/, two levels below it. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const MVC_BIN = join(REPO_ROOT, 'bin', 'mvc.js')

/** Fixed author and date so that commit CIDs are deterministic. */
export const TEST_ENV: Readonly<Record<string, string>> = {
  MVC_AUTHOR_NAME: 'Test',
  MVC_AUTHOR_EMAIL: 'test@example.com',
  MVC_DATE: '2026-01-01T00:00:00Z'
}

export const MiB = 1024 * 1024

export interface RunResult {
  /** Exit code; null when the process was killed by a signal. */
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  readonly cwd: string
  /** Added to (and overriding) the test environment. */
  readonly env?: Readonly<Record<string, string>>
}

/** The environment a child gets: the parent's without any MVC_* variable, plus TEST_ENV and `extra`. */
function childEnv (extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MVC_')) env[k] = v
  return { ...env, ...TEST_ENV, ...extra }
}

/** Starts `node bin/mvc.js <args>`; `done` resolves when it exits, with its output. */
export function spawnMvc (args: readonly string[], options: RunOptions): { child: ChildProcess, done: Promise<RunResult> } {
  const child = spawn(process.execPath, [MVC_BIN, ...args], { cwd: options.cwd, env: childEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout!.on('data', (b: Buffer) => out.push(b))
  child.stderr!.on('data', (b: Buffer) => err.push(b))
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') })
    })
  })
  return { child, done }
}

/** Runs `node bin/mvc.js <args>` to completion. */
export async function runMvc (args: readonly string[], options: RunOptions): Promise<RunResult> {
  return await spawnMvc(args, options).done
}

/** Runs mvc and fails (with its output) unless it exits 0. */
export async function mvcOk (args: readonly string[], options: RunOptions): Promise<RunResult> {
  const r = await runMvc(args, options)
  if (r.code !== 0) throw new Error(`mvc ${args.join(' ')} exited ${String(r.code)}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  return r
}

/** Runs mvc with --json and parses stdout. */
export async function mvcJson<T = any> (args: readonly string[], options: RunOptions): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await mvcOk([...args, '--json'], options)
  return JSON.parse(r.stdout) as T
}

export interface JsonError { readonly code: string, readonly message: string, readonly data: Record<string, unknown> }

/** The `{"error":{...}}` object printed on stderr by a failing `--json` command (throws if there is none). */
export function jsonError (r: RunResult): JsonError {
  const line = r.stderr.split('\n').map(l => l.trim()).filter(l => l.startsWith('{')).pop()
  if (line === undefined) throw new Error(`no JSON error on stderr (exit ${String(r.code)}):\n${r.stderr}`)
  const parsed = JSON.parse(line) as { error?: JsonError }
  if (parsed.error === undefined || typeof parsed.error.code !== 'string') throw new Error(`not an error object: ${line}`)
  return parsed.error
}

/** A fresh, empty temporary folder. */
export async function tmpdir (prefix = 'mvc-'): Promise<string> {
  return await mkdtemp(join(osTmpdir(), prefix))
}

/**
 * A fresh folder `base` holding an initialised repository at `base/repo` (realpath'd, so paths in
 * output compare equal); `base` is pushed onto `cleanup` for the suite's `after` hook.
 */
export async function newRepo (cleanup: string[]): Promise<{ base: string, root: string }> {
  const base = await realpath(await tmpdir())
  cleanup.push(base)
  const root = join(base, 'repo')
  await mkdir(root)
  await mvcOk(['init'], { cwd: root })
  return { base, root }
}

export async function removeDir (dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 })
}

/** Seeded PRNG (mulberry32): floats in [0, 1). */
export const mulberry32 = uniform01
export type Rng = () => number

/** Integer in [lo, hi]. */
export function randInt (rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1))
}

export function pick<T> (rng: Rng, xs: readonly T[]): T {
  if (xs.length === 0) throw new Error('pick from an empty list')
  return xs[Math.floor(rng() * xs.length)]!
}

/**
 * Pseudo-random bytes from a seed, fast: the AES-128-CTR keystream (encrypting zeros) under a key
 * derived from the seed. `streamOffset` (a multiple of 16) continues the same stream.
 */
export function keystream (seed: string | number, length: number, streamOffset = 0): Buffer {
  if (streamOffset % 16 !== 0) throw new Error('streamOffset must be a multiple of 16')
  const key = createHash('sha256').update(`mvc-test-key:${String(seed)}`).digest().subarray(0, 16)
  const iv = Buffer.alloc(16)
  iv.writeBigUInt64BE(BigInt(streamOffset / 16), 8)
  const c = createCipheriv('aes-128-ctr', key, iv)
  return c.update(Buffer.alloc(length))
}

/** Writes `size` pseudo-random bytes (the keystream of `seed`) to a file, 8 MiB at a time. */
export async function writeRandomFile (path: string, size: number, seed: string | number, mode = 0o644): Promise<void> {
  const fh = await open(path, 'w', mode)
  try {
    const piece = 8 * MiB
    for (let off = 0; off < size; off += piece) {
      const buf = keystream(seed, Math.min(piece, size - off), off)
      let done = 0
      while (done < buf.length) done += (await fh.write(buf, done, buf.length - done)).bytesWritten
    }
  } finally { await fh.close() }
  await chmod(path, mode)
}

export const MODES = [0o644, 0o755, 0o600, 0o444] as const

export interface RandomTree {
  /** Files written, relative POSIX paths, sorted. */
  readonly files: string[]
  /** Folders created (including empty ones), sorted. */
  readonly dirs: string[]
  /** Folders left empty, sorted. */
  readonly emptyDirs: string[]
  /** Files larger than 1 MiB. */
  readonly big: string[]
}

const NAME_PARTS = ['model', 'weights', 'group1-shard', 'vocab', 'assets', 'variables', 'meta', 'ü-data', 'with space', 'x']

function randomName (rng: Rng, used: Set<string>): string {
  for (;;) {
    const n = `${pick(rng, NAME_PARTS)}${randInt(rng, 0, 99)}${rng() < 0.5 ? '.bin' : ''}`
    if (!used.has(n)) { used.add(n); return n }
  }
}

/**
 * Writes a random tree under `root` (created if missing): nested folders, empty folders (also nested
 * ones), files of 0, 1 and a few hundred/thousand bytes, two to three files between 1 and 3 MiB and
 * one between 4 and 6 MiB (above the chunker's 4 MiB max, so it is split), modes among 0644, 0755,
 * 0600 and 0444. Deterministic for a given rng state.
 */
export async function randomTree (rng: Rng, root: string): Promise<RandomTree> {
  await mkdir(root, { recursive: true })
  const dirs: string[] = ['']
  const emptyDirs: string[] = []
  const names = new Map<string, Set<string>>() // folder → names used in it
  const used = (d: string): Set<string> => { let s = names.get(d); if (s === undefined) { s = new Set(); names.set(d, s) } return s }
  // Folders: up to depth 3.
  const nDirs = randInt(rng, 3, 7)
  for (let i = 0; i < nDirs; i++) {
    const parent = pick(rng, dirs.filter(d => d.split('/').length < 3))
    const rel = parent === '' ? randomName(rng, used(parent)) : `${parent}/${randomName(rng, used(parent))}`
    await mkdir(join(root, rel))
    dirs.push(rel)
  }
  // Empty folders (one nested inside another empty-only folder), never given files.
  const ed = pick(rng, dirs)
  const en = `empty-${randInt(rng, 0, 999)}`
  used(ed).add(en)
  const e1 = ed === '' ? en : `${ed}/${en}`
  const nested = `${pick(rng, dirs.slice(1))}/hollow/inner`
  await mkdir(join(root, e1))
  await mkdir(join(root, nested), { recursive: true })
  emptyDirs.push(e1, nested)
  const fileDirs = [...dirs]
  // Files.
  const sizes: number[] = [0, 0, 1, 1]
  const nSmall = randInt(rng, 4, 10)
  for (let i = 0; i < nSmall; i++) sizes.push(randInt(rng, 2, rng() < 0.5 ? 600 : 70_000))
  const nBig = randInt(rng, 2, 3)
  for (let i = 0; i < nBig; i++) sizes.push(randInt(rng, MiB + 1, 3 * MiB))
  sizes.push(randInt(rng, 4 * MiB + 1, 6 * MiB))
  const files: string[] = []
  const big: string[] = []
  for (const size of sizes) {
    const d = pick(rng, fileDirs)
    const rel = d === '' ? randomName(rng, used(d)) : `${d}/${randomName(rng, used(d))}`
    const mode = pick(rng, MODES)
    await writeRandomFile(join(root, rel), size, `${rel}:${Math.floor(rng() * 2 ** 32)}`, mode)
    files.push(rel)
    if (size > MiB) big.push(rel)
  }
  const allDirs = [...new Set([...dirs.slice(1), e1, ...prefixes(nested)])]
  return { files: files.sort(), dirs: allDirs.sort(), emptyDirs: emptyDirs.sort(), big: big.sort() }
}

function prefixes (p: string): string[] {
  const parts = p.split('/')
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'))
}

export type SnapshotEntry = readonly [path: string, mode: string, sha256: string]

/**
 * Every folder (path ending in '/', sha256 '') and file under `root`, sorted by path, with permission
 * bits in octal and the file's sha-256. Symbolic links and other types are listed as 'link'/'other'.
 * The root itself is not listed.
 */
export async function treeSnapshot (root: string): Promise<SnapshotEntry[]> {
  const out: SnapshotEntry[] = []
  async function visit (abs: string, rel: string): Promise<void> {
    for (const name of await readdir(abs)) {
      const a = join(abs, name)
      const r = rel === '' ? name : `${rel}/${name}`
      const st = await lstat(a)
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0')
      if (st.isSymbolicLink()) out.push([r, mode, 'link'])
      else if (st.isDirectory()) { out.push([r + '/', mode, '']); await visit(a, r) } else if (st.isFile()) out.push([r, mode, await sha256File(a)])
      else out.push([r, mode, 'other'])
    }
  }
  await visit(root, '')
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}

export async function sha256File (path: string): Promise<string> {
  const h = createHash('sha256')
  const fh = await open(path, 'r')
  try {
    for await (const b of fh.createReadStream({ highWaterMark: 4 * MiB, autoClose: false })) h.update(b as Buffer)
  } finally { await fh.close() }
  return h.digest('hex')
}

/** True when the path exists (without following a final symbolic link). */
export async function exists (path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined)) !== undefined
}

/** Names in a folder, sorted. */
export async function ls (dir: string): Promise<string[]> {
  return (await readdir(dir)).sort()
}

/** Writes a small text file (and its folders). */
export async function put (path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true })
  await writeFile(path, content, { mode })
  await chmod(path, mode)
}

/** Lines of stderr that look like a JavaScript stack frame. */
export function stackLines (stderr: string): string[] {
  return stderr.split('\n').filter(l => /^\s+at /.test(l))
}
