/**
 * Helpers for bench/bench.ts: measuring child processes, generating deterministic incompressible
 * test data, sizing folders, and summarising V8 CPU profiles.
 *
 * Method:
 *   - Wall time is measured in this process with `performance.now()` from just before `spawn` to the
 *     child's `close` event, so it includes process start-up (for mvc: Node's own start-up).
 *   - Peak RSS and CPU time: when GNU time is usable (`/usr/bin/time -f '%M %U %S'` works) each
 *     command runs under it and the figures are the kernel's `ru_maxrss` and user + system time from
 *     wait4(), i.e. the largest resident set of the command or any descendant it waited for, and the
 *     CPU time of all of them. Otherwise (or with MVC_BENCH_RSS=proc) this process polls
 *     `/proc/<pid>/status` VmHWM and `/proc/<pid>/stat` CPU ticks of the child and its descendants
 *     every 20 ms; that needs no install but is approximate (it misses a descendant's last interval
 *     and can count a reaped child twice, once itself and once in its parent's cutime).
 *     CPU time matters on a shared machine: wall time grows with other load, CPU time much less.
 *   - Data: AES-256-CTR keystream (node:crypto) under a fixed key, with a per-file IV derived from a
 *     label. It is incompressible (so zlib and dedup get no free wins) and byte-for-byte reproducible,
 *     and runs at memory speed, so generation is quick even for several GiB.
 *   - Sizes of stores are apparent sizes (sum of `st_size` of regular files), which is what the
 *     store adds, without the file-system block rounding `du` would add.
 */
import { spawn } from 'node:child_process'
import { createCipheriv, createHash } from 'node:crypto'
import { lstat, readdir, readFile, rm, mkdtemp, open } from 'node:fs/promises'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'

export const MiB = 1024 * 1024

/** How peak RSS is measured for child processes. */
export type RssMethod = 'gnu-time' | 'proc-poll'

export interface RunResult {
  readonly seconds: number
  /** Peak resident set size in bytes (0 when it could not be measured). */
  readonly peakRss: number
  /** User + system CPU seconds of the command and its waited-for descendants (see the file comment). */
  readonly cpuSeconds: number
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  readonly cwd?: string
  readonly env?: NodeJS.ProcessEnv
  /** Throw when the command exits non-zero (default true). */
  readonly check?: boolean
}

const GNU_TIME = '/usr/bin/time'

/** GNU time is used when present and working; MVC_BENCH_RSS=proc forces polling. */
export async function pickRssMethod (): Promise<RssMethod> {
  if (process.env.MVC_BENCH_RSS === 'proc') return 'proc-poll'
  if (!existsSync(GNU_TIME)) return 'proc-poll'
  const dir = await mkdtemp(join(tmpdir(), 'mvc-bench-probe-'))
  try {
    const out = join(dir, 'rss')
    const r = await rawRun(GNU_TIME, ['-f', '%M %U %S', '-o', out, 'true'], {})
    if (r.code !== 0) return 'proc-poll'
    return /^\d+ [\d.]+ [\d.]+\s*$/m.test(await readFile(out, 'utf8')) ? 'gnu-time' : 'proc-poll'
  } catch {
    return 'proc-poll'
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

interface Raw {
  readonly seconds: number
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly pid: number | undefined
}

const MAX_CAPTURE = 1 << 20

async function rawRun (cmd: string, args: readonly string[], options: RunOptions, onSpawn?: (pid: number) => void): Promise<Raw> {
  return await new Promise<Raw>((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(cmd, [...args], { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let outLen = 0
    let errLen = 0
    child.stdout.on('data', (b: Buffer) => { if (outLen < MAX_CAPTURE) { out.push(b); outLen += b.length } })
    child.stderr.on('data', (b: Buffer) => { if (errLen < MAX_CAPTURE) { err.push(b); errLen += b.length } })
    child.on('error', reject)
    if (child.pid !== undefined) onSpawn?.(child.pid)
    child.on('close', (code, signal) => {
      resolve({
        seconds: (performance.now() - t0) / 1000,
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        pid: child.pid
      })
    })
  })
}

/** VmHWM (bytes) of one process, or 0 when it is gone. */
function vmHwm (pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Number(m[1]) * 1024
  } catch {
    return 0
  }
}

/** Linux USER_HZ; 100 on every mainstream architecture. */
const CLK_TCK = 100

/** utime + stime + cutime + cstime of a process, in clock ticks (0 when it is gone). */
function cpuTicks (pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the parenthesised command name; utime is field 14 overall.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])
  } catch {
    return 0
  }
}

/** Direct children of a process (via /proc/<pid>/task/<tid>/children, all threads). */
function childrenOf (pid: number): number[] {
  const out: number[] = []
  const tasks = readdirSyncSafe(`/proc/${pid}/task`)
  for (const t of tasks) {
    try {
      for (const s of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ')) {
        if (s.trim() !== '') out.push(Number(s))
      }
    } catch { /* thread gone */ }
  }
  return out
}

function readdirSyncSafe (p: string): string[] {
  try {
    return readdirSync(p)
  } catch {
    return []
  }
}

/**
 * Runs one command and measures wall time and peak RSS (see the file comment for the method).
 * Throws with the command's stderr when it fails and `check` is not false.
 */
export async function run (method: RssMethod, cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  let r: Raw
  let peak = 0
  let cpu = 0
  if (method === 'gnu-time') {
    const dir = await mkdtemp(join(tmpdir(), 'mvc-bench-rss-'))
    try {
      const rssFile = join(dir, 'rss')
      r = await rawRun(GNU_TIME, ['-f', '%M %U %S', '-o', rssFile, cmd, ...args], options)
      const lines = (await readFile(rssFile, 'utf8').catch(() => '')).trim().split('\n')
      const [kb, user, sys] = (lines[lines.length - 1] ?? '').split(' ').map(Number)
      peak = kb !== undefined && Number.isFinite(kb) ? kb * 1024 : 0
      cpu = (user ?? 0) + (sys ?? 0)
      if (!Number.isFinite(cpu)) cpu = 0
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  } else {
    let timer: NodeJS.Timeout | undefined
    const ticks = new Map<number, number>()
    const sample = (root: number): void => {
      const stack = [root]
      const seen = new Set<number>()
      while (stack.length > 0) {
        const pid = stack.pop()!
        if (seen.has(pid)) continue
        seen.add(pid)
        const h = vmHwm(pid)
        if (h > peak) peak = h
        const t = cpuTicks(pid)
        if (t > (ticks.get(pid) ?? 0)) ticks.set(pid, t)
        stack.push(...childrenOf(pid))
      }
    }
    r = await rawRun(cmd, args, options, pid => {
      sample(pid)
      timer = setInterval(() => sample(pid), 20)
    })
    if (timer !== undefined) clearInterval(timer)
    for (const t of ticks.values()) cpu += t / CLK_TCK
  }
  if (options.check !== false && r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${String(r.code)}${r.signal !== null ? `, signal ${r.signal}` : ''}):\n${r.stderr.slice(-4000)}`)
  }
  return { seconds: r.seconds, peakRss: peak, cpuSeconds: cpu, code: r.code, signal: r.signal, stdout: r.stdout, stderr: r.stderr }
}

/** Runs without measurement; returns stdout, throws on failure. */
export async function quiet (cmd: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const r = await rawRun(cmd, args, options)
  if (options.check !== false && r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${String(r.code)}):\n${r.stderr.slice(-4000)}`)
  }
  return r.stdout
}

/** True when the command can be started and exits 0. */
export async function works (cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<boolean> {
  try {
    return (await rawRun(cmd, args, { env })).code === 0
  } catch {
    return false
  }
}

/** Parses "1GiB", "256MiB", "512M", "1e9" or a plain byte count. */
export function parseBytes (s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmgt]?)(i?b?)\s*$/i.exec(s)
  if (m === null) throw new TypeError(`cannot parse a size from ${JSON.stringify(s)} (use e.g. 256MiB, 1GiB or a byte count)`)
  const n = Number(m[1])
  const unit = m[2]!.toLowerCase()
  const pow = unit === '' ? 0 : 'kmgt'.indexOf(unit) + 1
  const base = m[3]!.toLowerCase().startsWith('i') || unit !== '' ? 1024 : 1
  return Math.round(n * base ** pow)
}

const KEY = createHash('sha256').update('mvc-bench-key-v1').digest()

/** Deterministic incompressible byte source: AES-256-CTR keystream for a label. */
export class Keystream {
  private readonly cipher
  private readonly zeros: Buffer
  constructor (label: string, pieceSize = 8 * MiB) {
    const iv = createHash('sha256').update(label).digest().subarray(0, 16)
    this.cipher = createCipheriv('aes-256-ctr', KEY, iv)
    this.zeros = Buffer.alloc(pieceSize)
  }

  /** Next `n` bytes (n <= pieceSize) of the stream. */
  next (n: number): Buffer {
    return this.cipher.update(n === this.zeros.length ? this.zeros : this.zeros.subarray(0, n))
  }
}

/** Writes `length` keystream bytes for `label` into a file at `offset` (creating it when offset is 0 and create is set). */
export async function writeKeystream (path: string, label: string, offset: number, length: number, create: boolean): Promise<void> {
  const ks = new Keystream(label)
  const fh = await open(path, create ? 'w' : 'r+')
  try {
    let done = 0
    while (done < length) {
      const n = Math.min(8 * MiB, length - done)
      const buf = ks.next(n)
      let w = 0
      while (w < n) w += (await fh.write(buf, w, n - w, offset + done + w)).bytesWritten
      done += n
    }
  } finally {
    await fh.close()
  }
}

/** Apparent size (sum of st_size of regular files) under a path; 0 when missing. */
export async function treeBytes (path: string): Promise<number> {
  const st = await lstat(path).catch(() => undefined)
  if (st === undefined) return 0
  if (st.isFile()) return st.size
  if (!st.isDirectory()) return 0
  let total = 0
  for (const name of await readdir(path)) total += await treeBytes(join(path, name))
  return total
}

/** Regular files under a folder, as paths relative to it, sorted. */
export async function listFiles (root: string, rel = ''): Promise<string[]> {
  const out: string[] = []
  for (const name of (await readdir(join(root, rel))).sort()) {
    const r = rel === '' ? name : `${rel}/${name}`
    const st = await lstat(join(root, r))
    if (st.isDirectory()) out.push(...await listFiles(root, r))
    else if (st.isFile()) out.push(r)
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// CPU profiles (.cpuprofile written by `node --cpu-prof`)

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string, readonly url: string, readonly lineNumber: number }
  readonly children?: readonly number[]
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  readonly startTime: number
  readonly endTime: number
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

export interface ProfileEntry {
  /** "functionName (file:line)". */
  readonly name: string
  readonly selfMs: number
  readonly selfPct: number
  readonly totalMs: number
  readonly totalPct: number
}

export interface ProfileSummary {
  readonly file: string
  readonly durationMs: number
  /** By self time, largest first. */
  readonly top: ProfileEntry[]
  /** Inclusive time of selected functions of interest (chunker, hashing, store writes). */
  readonly inclusive: ProfileEntry[]
}

function shortUrl (url: string): string {
  const i = url.lastIndexOf('/dist/')
  if (i >= 0) return url.slice(i + 6)
  const j = url.lastIndexOf('/node_modules/')
  if (j >= 0) return url.slice(j + 14)
  return url.replace(/^file:\/\//, '')
}

function frameName (n: ProfileNode): string {
  const f = n.callFrame
  const fn = f.functionName === '' ? '(anonymous)' : f.functionName
  return f.url === '' ? fn : `${fn} (${shortUrl(f.url)}:${f.lineNumber + 1})`
}

/**
 * Self time per function from the samples (each sample's time delta is charged to the sampled leaf),
 * and inclusive time for functions whose name matches `interesting` (charged once per sample even when
 * the function is on the stack several times).
 */
export async function summariseProfile (file: string, topN = 15, interesting: RegExp = /^(scan|feed|#drain|chunkStream|storeFile|storeTensor|storeModel|planModels|sha256|rawCid|putRaw|has|isNew|append|writev|read|snapshot|walk|update|digest|commit|sealPack|sync|main)$/): Promise<ProfileSummary> {
  const prof = JSON.parse(await readFile(file, 'utf8')) as CpuProfile
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const n of prof.nodes) {
    byId.set(n.id, n)
    for (const c of n.children ?? []) parent.set(c, n.id)
  }
  const self = new Map<string, number>()
  const incl = new Map<string, number>()
  let total = 0
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = (prof.timeDeltas[i + 1] ?? 0) / 1000 // the delta before the NEXT sample is this sample's duration
    const leaf = byId.get(prof.samples[i]!)
    if (leaf === undefined) continue
    total += dt
    const leafName = frameName(leaf)
    self.set(leafName, (self.get(leafName) ?? 0) + dt)
    const onStack = new Set<string>()
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id)!
      if (interesting.test(n.callFrame.functionName)) onStack.add(frameName(n))
    }
    for (const name of onStack) incl.set(name, (incl.get(name) ?? 0) + dt)
  }
  const entry = (name: string): ProfileEntry => {
    const s = self.get(name) ?? 0
    const t = incl.get(name) ?? s
    return { name, selfMs: s, selfPct: total > 0 ? 100 * s / total : 0, totalMs: t, totalPct: total > 0 ? 100 * t / total : 0 }
  }
  const top = [...self.keys()].sort((a, b) => self.get(b)! - self.get(a)!).slice(0, topN).map(entry)
  const inclusive = [...incl.keys()].sort((a, b) => incl.get(b)! - incl.get(a)!).slice(0, topN).map(entry)
  return { file, durationMs: total, top, inclusive }
}

// ---------------------------------------------------------------------------------------------
// Formatting

/** A plain-text table with right-aligned numeric columns. */
export function formatTable (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string => '| ' + cells.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join(' | ') + ' |'
  const sep = '|' + widths.map((w, i) => i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':').join('|') + '|'
  return [line(header), sep, ...rows.map(line)].join('\n')
}

/** MiB with one decimal; tiny negative deltas (LevelDB compacting) print as 0.0, not -0.0. */
export function mib (bytes: number): string {
  const v = bytes / MiB
  return (Math.abs(v) < 0.05 ? 0 : v).toFixed(1)
}
