/**
 * End-to-end benchmark of the `mvc` CLI against the physical baseline (`cp -r` + `sync`), sha256sum,
 * git and (when installed) git LFS, all in one run on the same synthetic model.
 *
 * Method (details of the measurement helpers in bench/lib.ts):
 *   1. A synthetic TF.js-style model folder is written under a fresh temp dir (/tmp/mvc-bench-*):
 *      4 MiB shards `group1-shard{i}of{n}.bin` holding 11/16 of the bytes, two larger files
 *      `group2-shard1of2.bin` (1/4) and `group2-shard2of2.bin` (1/16), and a model.json whose
 *      weightsManifest lays float32 tensors over the shards the way the TF.js converter does (tensors
 *      straddle shard boundaries). Content is an AES-256-CTR keystream under a fixed key:
 *      incompressible and reproducible. Size: MVC_BENCH_BYTES (default 1GiB; accepts 256MiB, 1GiB,
 *      byte counts). MVC_BENCH_PLAIN=1 leaves model.json out, so mvc stores the shards as opaque files
 *      (FastCDC chunking) instead of tensor by tensor.
 *   2. Every operation runs as a child process: wall time from spawn to exit; peak RSS and CPU time
 *      (user + system) via GNU time when usable, else by polling /proc (see bench/lib.ts).
 *      Before each operation `sync` runs (untimed) so no earlier write-back lands in its timing.
 *      Every operation that writes (cp, git, git lfs, mvc commit, mvc checkout) is timed INCLUDING a
 *      trailing `sync`, so all are compared at equal durability (mvc fsyncs by itself; git does not
 *      fsync loose objects by default). The page cache is never dropped: the source was just written,
 *      so every tool reads it from a warm cache alike.
 *   3. Operations, in order: cp -r + sync (its copy is kept as the reference for v1); sha256sum of all
 *      files; git init + add -A + commit (separate git dir, work tree = the model folder); git lfs
 *      likewise with `*.bin` tracked via info/attributes (so the source folder is not touched); mvc
 *      start-up (`--version`); mvc init + first commit; mvc re-commit unchanged; 10 % of the bytes
 *      overwritten in place (every 10th shard rewritten, and the middle 10 % of each group2 file);
 *      mvc commit; git add + commit of the same change; mvc checkout v1 --to a fresh folder, then
 *      (untimed) `diff -r` against the cp copy and checkout v2 against the changed source — any
 *      difference exits 1. When the CLI verifies TF.js models by default (`--verify`), the rows above
 *      use `--no-verify` (they measure storage) and two more rows measure the default flags: a first
 *      commit into a fresh repository and a checkout of it.
 *      The cheap operations (cp, sha256sum, start-up, first commit, re-commit, checkout) run
 *      MVC_BENCH_RUNS times (default 3) and report the median; git and the 10 % commits run once.
 *   4. A table and the targets (first commit and checkout <= 1.25 x cp+sync, re-commit unchanged
 *      <= 0.1 x first commit with 0 bytes added, peak RSS <= 300 MiB) are printed. A MISS does not
 *      change the exit code: this is a measurement. `--json` prints raw numbers on stdout (the table
 *      goes to stderr); MVC_BENCH_JSON=path writes them to a file. MVC_BENCH_KEEP=1 keeps the temp
 *      dir. MVC_BENCH_PROFILE=1 (or =<dir> to keep the .cpuprofile) adds a separate mvc first commit
 *      under `node --cpu-prof` into a fresh repository and summarises where its main thread spent time.
 *      MVC_BENCH_GENERATE_ONLY=1 writes the model, keeps it and stops (for profiling by hand).
 *
 * Usage: npm run bench            (or: MVC_BENCH_BYTES=256MiB node dist/bench/bench.js --json)
 */
import { mkdtemp, mkdir, rm, rename, writeFile, readdir } from 'node:fs/promises'
import { rmSync } from 'node:fs'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tmpdir, cpus, totalmem, release, platform, arch, loadavg } from 'node:os'
import { SHARD, writeModelFolder, type DataFile } from './dataset.js'
import {
  MiB, formatTable, listFiles, mib, parseBytes, pickRssMethod, quiet, run, summariseProfile, treeBytes, works, writeKeystream,
  type ProfileSummary, type RssMethod, type RunOptions, type RunResult
} from './lib.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const MVC_BIN = join(ROOT, 'bin', 'mvc.js')
const TARGET_RATIO = 1.25
const TARGET_RECOMMIT = 0.1
const TARGET_RSS = 300 * MiB

const jsonToStdout = process.argv.includes('--json')
const log = (s = ''): void => { (jsonToStdout ? process.stderr : process.stdout).write(s + '\n') }

// ---------------------------------------------------------------------------------------------
// Dataset

interface Dataset { readonly dir: string, readonly files: DataFile[], readonly bytes: number }

/** Writes the dataset; `plain` leaves out model.json, so the shards are opaque files to mvc. */
async function generate (dir: string, total: number, plain: boolean): Promise<Dataset> {
  const { files, json } = await writeModelFolder(dir, total, plain)
  const all = json === null ? files : [...files, { rel: 'model.json', size: Buffer.byteLength(json), label: '' }]
  return { dir, files: all, bytes: all.reduce((s, f) => s + f.size, 0) }
}

/** Overwrites ~10 % of the bytes in place; returns how many bytes were rewritten. */
async function change10 (ds: Dataset): Promise<{ bytes: number, files: number }> {
  let bytes = 0
  let files = 0
  for (const f of ds.files) {
    const shard = /^group1-shard(\d+)of\d+\.bin$/.exec(f.rel)
    if (shard !== null) {
      if ((Number(shard[1]) - 1) % 10 !== 0) continue
      await writeKeystream(join(ds.dir, f.rel), `v2:${f.rel}`, 0, f.size, false)
      bytes += f.size
      files++
    } else if (f.rel.startsWith('group2-')) {
      const len = Math.floor(f.size / 10)
      const off = Math.floor((f.size - len) / 2 / 4096) * 4096
      await writeKeystream(join(ds.dir, f.rel), `v2:${f.rel}`, off, len, false)
      bytes += len
      files++
    }
  }
  return { bytes, files }
}

// ---------------------------------------------------------------------------------------------
// Operations

interface Step { readonly cmd: string, readonly args: readonly string[], readonly options?: RunOptions }

interface OpResult {
  readonly id: string
  readonly label: string
  /** Median over the runs. */
  readonly seconds: number
  /** Every run's wall time, in run order. */
  readonly samples: number[]
  /** Dataset bytes / seconds, in MB/s (1e6), null when not meaningful. */
  readonly mbps: number | null
  readonly vsCp: number | null
  /** Bytes added to the store by the last run (apparent size), null for non-store operations. */
  readonly storeBytes: number | null
  /** Largest over all runs and steps. */
  readonly peakRss: number
  /** User + system CPU seconds, median over the runs. */
  readonly cpuSeconds: number
  /** Steps of the last run. */
  readonly steps: Array<{ cmd: string, seconds: number, cpuSeconds: number, peakRss: number }>
  readonly note: string
}

interface Ctx {
  readonly method: RssMethod
  readonly dataBytes: number
  readonly runs: number
  cpSeconds: number | null
}

async function syncNow (): Promise<void> {
  await quiet('sync', [])
}

function median (xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

interface MeasureOptions {
  /** Add a timed `sync` after the steps (every writing operation). */
  readonly durable: boolean
  /** Folders whose apparent size growth is the "store bytes added". */
  readonly store?: readonly string[]
  readonly mbps?: boolean
  readonly note?: string
  /** How many times to run (default 1); the median is reported. */
  readonly runs?: number
  /** Untimed preparation before each run after the first (e.g. delete the previous output). */
  readonly reset?: () => Promise<void>
}

/**
 * Runs the steps of one operation back to back (plus a timed `sync` when `durable`), after an
 * untimed `sync`, `runs` times; the store size is sampled around the last run.
 */
async function measure (ctx: Ctx, id: string, label: string, steps: readonly Step[], opts: MeasureOptions): Promise<OpResult & { results: RunResult[] }> {
  const runs = Math.max(1, opts.runs ?? 1)
  const samples: number[] = []
  const cpuSamples: number[] = []
  let peakRss = 0
  let parts: OpResult['steps'] = []
  let results: RunResult[] = []
  let storeBytes: number | null = null
  for (let k = 0; k < runs; k++) {
    if (k > 0) await opts.reset?.()
    await syncNow()
    const before = opts.store === undefined ? 0 : await sumBytes(opts.store)
    let seconds = 0
    let cpu = 0
    parts = []
    results = []
    const all = opts.durable ? [...steps, { cmd: 'sync', args: [] }] : steps
    for (const s of all) {
      const r = await run(ctx.method, s.cmd, s.args, s.options)
      results.push(r)
      seconds += r.seconds
      cpu += r.cpuSeconds
      peakRss = Math.max(peakRss, r.peakRss)
      parts.push({ cmd: [s.cmd === process.execPath ? 'node' : s.cmd, ...s.args.slice(0, 3)].join(' '), seconds: r.seconds, cpuSeconds: r.cpuSeconds, peakRss: r.peakRss })
    }
    samples.push(seconds)
    cpuSamples.push(cpu)
    if (opts.store !== undefined) storeBytes = await sumBytes(opts.store) - before
  }
  const seconds = median(samples)
  const res = {
    id,
    label,
    seconds,
    samples,
    mbps: opts.mbps === false ? null : ctx.dataBytes / seconds / 1e6,
    vsCp: ctx.cpSeconds === null ? null : seconds / ctx.cpSeconds,
    storeBytes,
    peakRss,
    cpuSeconds: median(cpuSamples),
    steps: parts,
    note: opts.note ?? '',
    results
  }
  log(`  ${label}: ${samples.map(x => x.toFixed(2)).join(', ')} s${runs > 1 ? ` (median ${seconds.toFixed(2)})` : ''}, CPU ${res.cpuSeconds.toFixed(2)} s, peak RSS ${mib(peakRss)} MiB${storeBytes !== null ? `, store +${mib(storeBytes)} MiB` : ''}`)
  return res
}

async function sumBytes (paths: readonly string[]): Promise<number> {
  let t = 0
  for (const p of paths) t += await treeBytes(p)
  return t
}

interface MvcCommitJson { committed: boolean, newBytes: number, newObjects: number, version?: number, stats: { hashedFiles: number, hashedBytes: number } }

function parseJson<T> (text: string, what: string): T {
  try {
    return JSON.parse(text) as T
  } catch {
    throw new Error(`${what}: expected JSON output, got: ${text.slice(0, 500)}`)
  }
}

async function diffTrees (a: string, b: string, what: string): Promise<void> {
  const r = await run('proc-poll', 'diff', ['-r', '-q', a, b], { check: false })
  if (r.code !== 0) {
    throw new Error(`VERIFICATION FAILED: ${what} is not byte-identical (diff -r ${a} ${b} exit ${String(r.code)}):\n${r.stdout.slice(0, 4000)}${r.stderr.slice(0, 2000)}`)
  }
}

/** Which mvc was measured: HEAD and whether src/ had uncommitted edits (read-only git commands). */
async function sourceState (): Promise<{ head: string, dirtySrc: string[] }> {
  const head = (await quiet('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { check: false }).catch(() => '')).trim()
  const st = await quiet('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src'], { check: false }).catch(() => '')
  return { head, dirtySrc: st.split('\n').filter(l => l.trim() !== '') }
}

async function machine (base: string): Promise<Record<string, string | number>> {
  const fsType = (await quiet('stat', ['-f', '-c', '%T', base], { check: false })).trim()
  const gitV = (await quiet('git', ['--version'], { check: false })).trim()
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    git: gitV,
    tmpFs: fsType
  }
}

// ---------------------------------------------------------------------------------------------

async function main (): Promise<number> {
  const total = parseBytes(process.env.MVC_BENCH_BYTES ?? '1GiB')
  if (total < 8 * MiB) throw new TypeError('MVC_BENCH_BYTES must be at least 8 MiB')
  const keep = process.env.MVC_BENCH_KEEP === '1' || process.env.MVC_BENCH_GENERATE_ONLY === '1'
  const profileEnv = process.env.MVC_BENCH_PROFILE
  const jsonPath = process.env.MVC_BENCH_JSON
  const base = await mkdtemp(join(tmpdir(), 'mvc-bench-'))
  const cleanup = (): void => { if (!keep) rmSync(base, { recursive: true, force: true }) }
  process.once('SIGINT', () => { cleanup(); process.exit(130) })
  try {
    return await bench(base, total, profileEnv, jsonPath)
  } finally {
    if (keep) log(`kept ${base} (MVC_BENCH_KEEP=1)`)
    cleanup()
  }
}

async function bench (base: string, total: number, profileEnv: string | undefined, jsonPath: string | undefined): Promise<number> {
  const load0 = loadavg()[0]!
  const method = await pickRssMethod()
  const mach = await machine(base)
  const work = join(base, 'work')
  const model = join(work, 'model')
  const copyV1 = join(base, 'copy-v1')
  const gitDir = join(base, 'git.git')
  const lfsDir = join(base, 'git-lfs.git')
  const out1 = join(base, 'checkout-v1')
  const out2 = join(base, 'checkout-v2')
  const mvcDir = join(work, '.mvc')

  log(`mvc bench: ${mib(total)} MiB in ${base}`)
  log(`machine: ${String(mach.cpu)}, ${String(mach.cores)} cores, ${String(mach.memGiB)} GiB RAM, ${String(mach.os)}, node ${String(mach.node)}, ${String(mach.git)}, /tmp on ${String(mach.tmpFs)}`)
  log(`peak RSS / CPU method: ${method === 'gnu-time' ? 'GNU time (/usr/bin/time -f "%M %U %S": wait4 rusage of the command tree)' : 'polling /proc/<pid>/status VmHWM and /proc/<pid>/stat of the command and its descendants every 20 ms'}`)

  let t = performance.now()
  const plain = process.env.MVC_BENCH_PLAIN === '1'
  const ds = await generate(model, total, plain)
  await syncNow()
  log(`generated ${ds.files.length} files, ${ds.bytes} bytes (${mib(ds.bytes)} MiB) in ${((performance.now() - t) / 1000).toFixed(1)} s (untimed); ${plain ? 'no model.json (MVC_BENCH_PLAIN=1): mvc chunks the shards as opaque files' : 'with a TF.js model.json: mvc stores the weights tensor by tensor'}`)
  log('page cache: warm for every tool alike (nothing is dropped; the source was just written)')
  log()
  if (process.env.MVC_BENCH_GENERATE_ONLY === '1') {
    log(`MVC_BENCH_GENERATE_ONLY=1: the model is in ${model}; nothing measured`)
    return 0
  }

  const runs = Math.max(1, Math.floor(Number(process.env.MVC_BENCH_RUNS ?? '3')) || 1)
  log(`runs: ${runs} per cheap operation (cp, sha256sum, mvc first commit, re-commit, checkout; median reported), 1 for git and the 10 % commits`)
  const ctx: Ctx = { method, dataBytes: ds.bytes, runs, cpSeconds: null }
  const ops: OpResult[] = []
  const push = (r: OpResult & { results?: RunResult[] }): OpResult => {
    const { results: _drop, ...rest } = r
    ops.push(rest)
    return rest
  }

  // 1. cp -r + sync
  const cp = push(await measure(ctx, 'cp', 'cp -r + sync', [{ cmd: 'cp', args: ['-r', model, copyV1] }], {
    durable: true, runs, reset: async () => { await rm(copyV1, { recursive: true, force: true }) }
  }))
  ctx.cpSeconds = cp.seconds
  ops[0] = { ...cp, vsCp: 1 }

  // 2. sha256sum
  const rels = await listFiles(model)
  push(await measure(ctx, 'sha256sum', 'sha256sum (all files)', [{ cmd: 'sha256sum', args: ['--', ...rels], options: { cwd: model } }], { durable: false, runs }))

  // 3. git
  const gitEnv: NodeJS.ProcessEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LC_ALL: 'C' }
  const git = (dir: string, ...args: string[]): Step => ({
    cmd: 'git',
    args: ['--git-dir', dir, '--work-tree', model, '-c', 'user.name=mvc-bench', '-c', 'user.email=bench@example.invalid', '-c', 'commit.gpgsign=false', '-c', 'gc.auto=0', ...args],
    options: { env: gitEnv, cwd: base }
  })
  push(await measure(ctx, 'git', 'git init + add -A + commit + sync',
    [git(gitDir, 'init', '-q'), git(gitDir, 'add', '-A'), git(gitDir, 'commit', '-q', '-m', 'v1')],
    { durable: true, store: [join(gitDir, 'objects')] }))

  // 4. git lfs (optional)
  let lfsStatus: string
  if (await works('git', ['lfs', 'version'], gitEnv)) {
    lfsStatus = (await quiet('git', ['lfs', 'version'], { env: gitEnv })).trim()
    // Set up the repo and the attributes outside the timing, so the model folder gets no .gitattributes.
    await quiet('git', git(lfsDir, 'init', '-q').args, { env: gitEnv, cwd: base })
    await quiet('git', git(lfsDir, 'lfs', 'install', '--local').args, { env: gitEnv, cwd: base })
    await mkdir(join(lfsDir, 'info'), { recursive: true })
    await writeFile(join(lfsDir, 'info', 'attributes'), '*.bin filter=lfs diff=lfs merge=lfs -text\n')
    push(await measure(ctx, 'git-lfs', 'git lfs add -A + commit + sync',
      [git(lfsDir, 'add', '-A'), git(lfsDir, 'commit', '-q', '-m', 'v1')],
      { durable: true, store: [join(lfsDir, 'objects'), join(lfsDir, 'lfs')] }))
  } else {
    const policy = await quiet('apt-cache', ['policy', 'git-lfs'], { check: false }).catch(() => '')
    const cand = /Candidate:\s*(\S+)/.exec(policy)?.[1]
    lfsStatus = 'not installed' + (cand !== undefined && cand !== '(none)' ? ` (apt has git-lfs ${cand}: \`apt-get install -y git-lfs\` to include it)` : '')
    log(`  git lfs: ${lfsStatus}`)
  }

  // 5-8. mvc
  const mvc = (...args: string[]): Step => ({ cmd: process.execPath, args: [MVC_BIN, ...args], options: { cwd: work } })
  // Newer CLIs record/check TF.js verification on commit and checkout by default (loading TF.js and the
  // whole model); the storage rows measure storage alone with --no-verify, and extra rows show the default.
  const hasVerify = (await quiet(process.execPath, [MVC_BIN, 'commit', '--help'], { check: false })).includes('--verify')
  const nv = hasVerify ? ['--no-verify'] : []
  const nvLabel = hasVerify ? ' --no-verify' : ''
  if (hasVerify) log('  this mvc verifies TF.js models by default: storage rows use --no-verify, default-flag rows follow the checkout')
  push(await measure(ctx, 'mvc-startup', 'mvc --version (node start-up)', [mvc('--version')], { durable: false, mbps: false, runs }))
  const first = await measure(ctx, 'mvc-commit', `mvc init + commit${nvLabel} (first) + sync`,
    [mvc('init', work), mvc('commit', model, '-m', 'v1', '--json', ...nv)], {
      durable: true, store: [mvcDir], runs, reset: async () => { await rm(mvcDir, { recursive: true, force: true }) }
    })
  const firstJson = parseJson<MvcCommitJson>(first.results[1]!.stdout, 'mvc commit')
  if (!firstJson.committed || firstJson.version !== 1) throw new Error(`first mvc commit did not create v1: ${first.results[1]!.stdout}`)
  push({ ...first, note: `mvc reports ${mib(firstJson.newBytes)} MiB in ${firstJson.newObjects} new objects; last run: init ${first.results[0]!.seconds.toFixed(2)} s, commit ${first.results[1]!.seconds.toFixed(2)} s, sync ${first.results[2]!.seconds.toFixed(2)} s` })

  const packsBefore = await readdir(join(mvcDir, 'packs'))
  const again = await measure(ctx, 'mvc-recommit', `mvc commit${nvLabel}, unchanged + sync`,
    [mvc('commit', model, '-m', 'again', '--json', ...nv)], { durable: true, store: [mvcDir], runs })
  const againJson = parseJson<MvcCommitJson>(again.results[0]!.stdout, 'mvc re-commit')
  const packsAfter = await readdir(join(mvcDir, 'packs'))
  const recommitZero = !againJson.committed && againJson.newBytes === 0 && packsAfter.length === packsBefore.length
  push({ ...again, note: `committed=${String(againJson.committed)}, object bytes added ${againJson.newBytes}, bytes re-hashed ${againJson.stats.hashedBytes}; store delta is LevelDB metadata (stat cache)` })

  // 10 % change
  const ch = await change10(ds)
  await syncNow()
  log(`  changed ${ch.files} files in place: ${ch.bytes} bytes (${(100 * ch.bytes / ds.bytes).toFixed(1)} % of the dataset), untimed`)
  const m2 = await measure(ctx, 'mvc-commit-10', `mvc commit${nvLabel} after 10 % change + sync`,
    [mvc('commit', model, '-m', 'v2', '--json', ...nv)], { durable: true, store: [mvcDir] })
  const m2Json = parseJson<MvcCommitJson>(m2.results[0]!.stdout, 'mvc commit v2')
  if (!m2Json.committed || m2Json.version !== 2) throw new Error(`mvc commit after the change did not create v2: ${m2.results[0]!.stdout}`)
  push({ ...m2, note: `changed ${mib(ch.bytes)} MiB, added ${mib(m2.storeBytes ?? 0)} MiB (${((m2.storeBytes ?? 0) / ch.bytes).toFixed(2)} x changed); mvc read and hashed ${mib(m2Json.stats.hashedBytes)} MiB` })
  const g2 = await measure(ctx, 'git-commit-10', 'git add -A + commit after 10 % + sync',
    [git(gitDir, 'add', '-A'), git(gitDir, 'commit', '-q', '-m', 'v2')], { durable: true, store: [join(gitDir, 'objects')] })
  push({ ...g2, note: `changed ${mib(ch.bytes)} MiB, added ${mib(g2.storeBytes ?? 0)} MiB (${((g2.storeBytes ?? 0) / ch.bytes).toFixed(2)} x changed): git stores whole files` })

  // Checkout
  const co = await measure(ctx, 'mvc-checkout', `mvc checkout v1 --to <new>${nvLabel} + sync`,
    [mvc('checkout', 'v1', '--to', out1, '--json', ...nv)], {
      durable: true, runs, reset: async () => { await rm(out1, { recursive: true, force: true }) }
    })
  push({ ...co, note: 'verified byte-identical to the cp copy with diff -r (untimed)' })
  t = performance.now()
  await diffTrees(copyV1, out1, 'checkout of v1')
  await quiet(process.execPath, [MVC_BIN, 'checkout', 'v2', '--to', out2, ...nv], { cwd: work })
  await diffTrees(model, out2, 'checkout of v2')
  log(`  verified: checkout v1 == cp copy, checkout v2 == changed source (diff -r, ${((performance.now() - t) / 1000).toFixed(1)} s, untimed)`)

  // The CLI's default behaviour (TF.js verification recorded on commit, checked on checkout), in a
  // fresh repository holding the (changed) model; one run each.
  const withModelIn = async <T>(root: string, fn: (m: string) => Promise<T>): Promise<T> => {
    await mkdir(root, { recursive: true })
    const moved = join(root, 'model')
    await rename(model, moved)
    try { return await fn(moved) } finally { await rename(moved, model) }
  }
  if (hasVerify && !plain) {
    const vRoot = join(base, 'verify-repo')
    const vOut = join(base, 'checkout-verify')
    await withModelIn(vRoot, async m => {
      const vm = (...args: string[]): Step => ({ cmd: process.execPath, args: [MVC_BIN, ...args], options: { cwd: vRoot } })
      const vc = await measure(ctx, 'mvc-commit-verify', 'mvc init + commit (first), default flags + sync',
        [vm('init', vRoot), vm('commit', m, '-m', 'v1', '--json')], { durable: true, store: [join(vRoot, '.mvc')] })
      const vj = parseJson<MvcCommitJson & { verification?: unknown }>(vc.results[1]!.stdout, 'mvc commit (default flags)')
      push({ ...vc, note: `default flags; the commit's verification field: ${JSON.stringify(vj.verification ?? null).slice(0, 160)}` })
      const vco = await measure(ctx, 'mvc-checkout-verify', 'mvc checkout v1 --to <new>, default flags + sync',
        [vm('checkout', 'v1', '--to', vOut, '--json')], { durable: true })
      push({ ...vco, note: 'default flags: checks the recorded verification, if any' })
      await diffTrees(m, vOut, 'checkout with default flags')
    })
  }

  // Optional profile of a first commit in a fresh repository.
  let profile: (ProfileSummary & { seconds: number }) | undefined
  if (profileEnv !== undefined && profileEnv !== '' && profileEnv !== '0') {
    const profRoot = join(base, 'prof')
    const profDir = profileEnv === '1' ? join(base, 'cpuprof') : resolve(profileEnv)
    await mkdir(profDir, { recursive: true })
    profile = await withModelIn(profRoot, async profModel => {
      await quiet(process.execPath, [MVC_BIN, 'init', profRoot], { cwd: profRoot })
      await syncNow()
      const before = new Set(await readdir(profDir))
      const r = await run(method, process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, MVC_BIN, 'commit', profModel, '-m', 'profiled', ...nv], { cwd: profRoot })
      const made = (await readdir(profDir)).filter(f => f.endsWith('.cpuprofile') && !before.has(f))
      if (made.length !== 1) throw new Error(`expected one new .cpuprofile in ${profDir}, found ${made.length}`)
      return { ...await summariseProfile(join(profDir, made[0]!)), seconds: r.seconds }
    })
  }

  // Report
  const rows = ops.map(o => [
    o.label,
    o.seconds.toFixed(2),
    o.samples.length > 1 ? `${Math.min(...o.samples).toFixed(2)}–${Math.max(...o.samples).toFixed(2)}` : '',
    o.cpuSeconds.toFixed(2),
    o.mbps === null ? '—' : o.mbps.toFixed(0),
    o.vsCp === null ? '—' : o.vsCp.toFixed(2),
    o.storeBytes === null ? '—' : mib(o.storeBytes),
    mib(o.peakRss)
  ])
  log()
  log(`dataset: ${ds.files.length} files, ${mib(ds.bytes)} MiB; changed for the "10 %" rows: ${mib(ch.bytes)} MiB in ${ch.files} files`)
  log(formatTable(['operation', 'seconds', 'range (runs)', 'CPU s', 'MB/s', 'x cp+sync', 'store MiB added', 'peak RSS MiB'], rows))
  for (const o of ops) if (o.note !== '') log(`  ${o.label}: ${o.note}`)
  log(`  git lfs: ${lfsStatus}`)
  log('  CPU s = user + system time of the command tree (median); sync\'s write-back runs in kernel threads and is not in it')
  log('  seconds = median of the runs; MB/s = whole dataset / seconds (MB = 10^6 B), also for the incremental rows; write operations include a trailing sync')
  log(`  load average (1 min) at start ${load0.toFixed(2)}, at end ${loadavg()[0]!.toFixed(2)} on ${cpus().length} cores: other processes on the machine add noise`)

  const byId = new Map(ops.map(o => [o.id, o]))
  const firstS = byId.get('mvc-commit')!.seconds
  const againS = byId.get('mvc-recommit')!.seconds
  const coS = byId.get('mvc-checkout')!.seconds
  const mvcOps = ops.filter(o => o.id.startsWith('mvc-') && !o.id.endsWith('-verify'))
  const maxRss = Math.max(...mvcOps.map(o => o.peakRss))
  const verifyOps = ops.filter(o => o.id.endsWith('-verify'))
  const targets = [
    { name: `first commit <= ${TARGET_RATIO} x cp+sync`, pass: firstS <= TARGET_RATIO * cp.seconds, value: `${(firstS / cp.seconds).toFixed(2)} x (${firstS.toFixed(2)} s vs ${cp.seconds.toFixed(2)} s)` },
    { name: `re-commit unchanged <= ${TARGET_RECOMMIT} x first commit`, pass: againS <= TARGET_RECOMMIT * firstS, value: `${(againS / firstS).toFixed(3)} x (${againS.toFixed(2)} s)` },
    { name: 're-commit unchanged adds 0 object bytes', pass: recommitZero, value: `${againJson.newBytes} object bytes, ${packsAfter.length - packsBefore.length} new packs` },
    { name: `checkout <= ${TARGET_RATIO} x cp+sync`, pass: coS <= TARGET_RATIO * cp.seconds, value: `${(coS / cp.seconds).toFixed(2)} x (${coS.toFixed(2)} s)` },
    { name: 'mvc peak RSS <= 300 MiB', pass: maxRss <= TARGET_RSS, value: `${mib(maxRss)} MiB max over the mvc storage rows` }
  ]
  if (verifyOps.length > 0) {
    const firstV = byId.get('mvc-commit-verify')
    const coV = byId.get('mvc-checkout-verify')
    if (firstV !== undefined) targets.push({ name: `first commit, default flags <= ${TARGET_RATIO} x cp+sync`, pass: firstV.seconds <= TARGET_RATIO * cp.seconds, value: `${(firstV.seconds / cp.seconds).toFixed(2)} x (${firstV.seconds.toFixed(2)} s, one run)` })
    if (coV !== undefined) targets.push({ name: `checkout, default flags <= ${TARGET_RATIO} x cp+sync`, pass: coV.seconds <= TARGET_RATIO * cp.seconds, value: `${(coV.seconds / cp.seconds).toFixed(2)} x (${coV.seconds.toFixed(2)} s, one run)` })
    const vr = Math.max(...verifyOps.map(o => o.peakRss))
    targets.push({ name: 'mvc peak RSS <= 300 MiB, default flags', pass: vr <= TARGET_RSS, value: `${mib(vr)} MiB` })
  }
  log()
  log('targets:')
  for (const x of targets) log(`  ${x.pass ? 'PASS' : 'MISS'}  ${x.name}: ${x.value}`)

  if (profile !== undefined) {
    log()
    log(`profile of a first commit under --cpu-prof (${profile.seconds.toFixed(2)} s wall, ${(profile.durationMs / 1000).toFixed(2)} s sampled on the main thread; ${profile.file}):`)
    log('  self time (main thread):')
    for (const e of profile.top) log(`    ${e.selfPct.toFixed(1).padStart(5)} %  ${(e.selfMs / 1000).toFixed(2).padStart(6)} s  ${e.name}`)
    log('  inclusive time of selected functions:')
    for (const e of profile.inclusive) log(`    ${e.totalPct.toFixed(1).padStart(5)} %  ${(e.totalMs / 1000).toFixed(2).padStart(6)} s  ${e.name}`)
  }

  const report = {
    date: new Date().toISOString(),
    machine: mach,
    rssMethod: method,
    runs,
    loadAverage: { start: load0, end: loadavg()[0] },
    dataset: { bytes: ds.bytes, files: ds.files.length, changedBytes: ch.bytes, changedFiles: ch.files, tfjsModelJson: !plain },
    source: await sourceState(),
    gitLfs: lfsStatus,
    operations: ops,
    targets,
    profile: profile ?? null
  }
  const json = JSON.stringify(report, null, 2)
  if (jsonPath !== undefined && jsonPath !== '') {
    await writeFile(jsonPath, json + '\n')
    log(`raw numbers written to ${jsonPath}`)
  }
  if (jsonToStdout) process.stdout.write(json + '\n')
  return 0
}

main().then(code => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})
