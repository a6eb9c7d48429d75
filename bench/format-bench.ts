/**
 * Per-format storage and throughput benchmark (issue 9, "Measured"): the same MLP saved as a TF.js
 * layers model, Keras 2 `.h5` (full and weights-only), Keras 3 `.keras` and `.weights.h5`, two kinds of
 * SavedModel and two kinds of TF checkpoint, committed and checked out with the real CLI
 * (`node bin/mvc.js`), nothing else.
 *
 * Models: fixtures/tf/make_bench_models.py (run with the pinned TensorFlow venv, scripts/python-env.sh)
 * writes, for an MLP of MVC_BENCH_FORMAT_MIB MiB of float32 weights (default 64), three versions in
 * every format — v2 = v1 after a real fine-tune of the `head` layer alone, v3 = v2 after one of
 * `hidden2` alone — and v1's weights re-saved by another library or setting (HDF5 1.12.2 instead of
 * 1.14.6, libver='latest', Keras 3 instead of tf_keras, a second save, other TF.js shard sizes), and
 * records in bench.json which tensors changed (names, bytes) and how many bytes of each folder are
 * tensor values (the rest is container: headers, indexes, configs, graphs).
 *
 * Goals (each printed MET / MISSED; a miss does not change the exit code):
 *   fine-tune   store growth of v2 (and v3) <= 1.05 x changed tensor bytes + 64 KiB
 *   re-save     bytes added by v1's weights re-saved <= the re-saved files' container bytes + 64 KiB
 *               (i.e. no tensor value is stored again)
 *   .h5 + TF.js one folder: the .h5 committed, then its TF.js conversion added (and the other order):
 *               bytes added by the second <= its container bytes + 64 KiB
 *   throughput  commit and checkout (--no-verify) wall time <= 1.2 x the TF.js model's, paired per round
 *
 * Method:
 *   - Storage (one fresh repository per format): commit v1, v2, v3, then each re-save of v1, all with
 *     `commit --json --no-verify`. "Store growth" is measured twice: `newBytes` of the commit's JSON
 *     (bytes of the objects the commit added) and on disk: the apparent size of `.mvc/packs` plus the
 *     LevelDB folder `.mvc/db` before and after (this includes index entries, the stat and model
 *     caches, and LevelDB's log; compaction can make it move by a few KiB either way). The goal is
 *     checked on the larger of the two. Every version is checked out afterwards (`checkout vN --to`,
 *     untimed) and compared byte for byte with what was committed; `show vN --json` must name the
 *     expected format with at least the model's tensors; `diff` v1..v2 and v2..v3 must report exactly the tensors the
 *     script changed (by name suffix, element counts from TensorFlow's own arrays).
 *   - Cross-format: one folder, the .h5 committed first, then the TF.js files added beside it; and the
 *     other order; and every format's v1 added one by one under one folder (TF.js first).
 *   - Throughput: MVC_BENCH_RUNS rounds (default 4); in each round every format (order rotated)
 *     gets a fresh repository: `mvc init` (untimed), `mvc commit model --no-verify` and
 *     `mvc checkout v1 --to <new> --no-verify`, each timed with a trailing `sync` after an untimed
 *     one (bench/lib.ts `run`: wall from spawn to exit, CPU and peak RSS from GNU time). Ratios to
 *     the TF.js model are taken per round and the median is reported (the machine is shared). Each
 *     round also times `mvc --version`, the start-up floor every operation pays.
 *   - Verification (MVC_BENCH_VERIFY=0 skips): one round of commit and checkout with verification,
 *     default runtime (TF.js in-process, wasm); SavedModels get `--python <the venv>` (they need
 *     Python TensorFlow or tfjs-node). Reported, not a goal.
 *
 * Env: MVC_BENCH_FORMAT_MIB (64), MVC_BENCH_FORMAT_MODELS=<folder already written by
 * make_bench_models.py> (else generated into the temp folder), MVC_BENCH_RUNS (4), MVC_BENCH_VERIFY
 * (1), MVC_PYTHON (interpreter with the pinned TensorFlow; default: scripts/python-env.sh),
 * MVC_BENCH_JSON=<file> (results), MVC_BENCH_KEEP=1 (keep the temp folder).
 * Exit 1 when something breaks (a command fails, a checkout differs, diff disagrees with the script).
 *
 * Usage: npm run build && node dist/bench/format-bench.js
 */
import { mkdtemp, mkdir, readFile, rm, cp } from 'node:fs/promises'
import { writeFileSync } from 'node:fs'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tmpdir, cpus, totalmem, loadavg, release, platform } from 'node:os'
import { MiB, formatTable, listFiles, pickRssMethod, quiet, run, treeBytes, type RssMethod, type RunResult } from './lib.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const MVC_BIN = join(ROOT, 'bin', 'mvc.js')
const SCRIPT = join(ROOT, 'fixtures', 'tf', 'make_bench_models.py')
const KiB = 1024
const SLACK = 64 * KiB
const NODE = process.execPath

const log = (s = ''): void => { process.stdout.write(s + '\n') }

// ---------------------------------------------------------------------------------------------
// bench.json (written by fixtures/tf/make_bench_models.py)

interface Folder { readonly path: string, readonly files: string[], readonly bytes: number, readonly tensor_bytes: number }
interface FormatRecord { readonly id: string, readonly label: string, readonly written_by: string, readonly main: string, readonly v1: Folder, readonly v2: Folder, readonly v3: Folder }
interface ResaveRecord extends Folder { readonly format: string, readonly variant: string, readonly label: string, readonly library: Record<string, unknown> | null }
interface ChangedTensor { readonly name: string, readonly shape: number[], readonly bytes: number, readonly elements_changed: number, readonly elements: number }
interface Step { readonly layer: string, readonly tensors: ChangedTensor[], readonly bytes: number }
interface Models {
  readonly versions: Record<string, unknown>
  readonly architecture: string
  readonly width: number
  readonly weight_bytes: number
  readonly tensors: Array<{ name: string, shape: number[], bytes: number }>
  readonly training: string
  readonly steps: { readonly v2: Step, readonly v3: Step }
  readonly formats: FormatRecord[]
  readonly resaves: ResaveRecord[]
  readonly alt_h5py: Record<string, string> | null
  readonly seconds: { train: number, total: number }
}

// ---------------------------------------------------------------------------------------------
// helpers

function median (xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

const kib = (n: number): string => (n / KiB).toFixed(1)
const mibs = (n: number): string => (n / MiB).toFixed(2)
const rotate = <T>(xs: readonly T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length]!)

async function pythonPath (): Promise<string> {
  const given = process.env.MVC_PYTHON
  if (given !== undefined && given !== '') return given
  const out = await quiet('bash', [join(ROOT, 'scripts', 'python-env.sh')])
  return out.trim().split('\n').pop()!
}

/** Store size on disk: packs, the LevelDB folder, and both. */
async function storeBytes (repo: string): Promise<{ packs: number, db: number, total: number }> {
  const packs = await treeBytes(join(repo, '.mvc', 'packs'))
  const db = await treeBytes(join(repo, '.mvc', 'db'))
  return { packs, db, total: packs + db }
}

/** Replaces `dest` by a copy of `src` (files get fresh mtimes, as a new save would). */
async function place (src: string, dest: string): Promise<void> {
  await rm(dest, { recursive: true, force: true })
  await cp(src, dest, { recursive: true })
}

/** Every regular file of `a` is in `b` with the same bytes, and b has no other file. */
async function sameFiles (a: string, b: string): Promise<string | null> {
  const fa = await listFiles(a)
  const fb = await listFiles(b)
  if (fa.join('\n') !== fb.join('\n')) return `file lists differ: ${fa.join(', ')} vs ${fb.join(', ')}`
  for (const f of fa) {
    const [x, y] = await Promise.all([readFile(join(a, f)), readFile(join(b, f))])
    if (!x.equals(y)) return `${f} differs`
  }
  return null
}

function mvcArgs (...args: string[]): string[] { return [MVC_BIN, ...args] }

async function mvcJson<T> (cwd: string, ...args: string[]): Promise<T> {
  return JSON.parse(await quiet(NODE, mvcArgs(...args, '--json'), { cwd })) as T
}

interface CommitJson { committed: boolean, version: number, newBytes: number, newObjects: number, warnings?: string[], verification?: { models?: Array<{ path: string, status: string, reason?: string | null, runtime?: { id?: string, version?: string } | null }> } | null }
interface ShowJson { models?: Array<{ path: string, format: string, tensors: number, runnable?: boolean }> }
interface DiffTensor { model: string, name: string, status: string, a: { size: number, shape: number[] } | null, b: { size: number, shape: number[] } | null, stats: { changedElements?: number, elements?: number } | null }
interface DiffJson { identical: boolean, tensors?: DiffTensor[] }
interface CheckoutJson { verification?: { pass?: boolean, verified?: boolean, models?: Array<{ path: string, status: string, reason?: string | null, runtime?: unknown }> } | null }

// ---------------------------------------------------------------------------------------------
// 1. storage per format

interface StoreStep {
  readonly step: string
  readonly label: string
  readonly fileBytes: number
  readonly containerBytes: number
  /** Bytes the goal compares against: changed tensor bytes (fine-tune) or container bytes (re-save). */
  readonly basis: number
  readonly bound: number | null
  readonly newBytes: number
  readonly newObjects: number
  readonly diskAdded: number
  readonly packsAdded: number
  readonly dbAdded: number
  readonly met: boolean | null
  readonly recognised: string
  readonly warnings: string[]
  readonly diff: string | null
  readonly problems: string[]
}

interface FormatStorage { readonly id: string, readonly label: string, readonly steps: StoreStep[] }

/**
 * The diff must report exactly the tensors the script changed: each changed tensor matches one the
 * script recorded by shape and by the count of changed elements (TensorFlow's own arrays compared in
 * Python), and every recorded tensor is matched. Names are not compared: each format names variables
 * its own way (`head/kernel:0`, `layers/head/vars/0`, `_all_variables/10`, object-graph paths), and a
 * SavedModel from Keras 3 export holds every variable twice.
 */
function checkDiff (d: DiffJson, expected: Step): { text: string, problems: string[] } {
  const changed = (d.tensors ?? []).filter(t => t.status !== 'unchanged')
  const problems: string[] = []
  const matched = new Set<string>()
  for (const t of changed) {
    const shape = JSON.stringify(t.b?.shape ?? null)
    const want = expected.tensors.find(e => JSON.stringify(e.shape) === shape && e.elements_changed === t.stats?.changedElements)
    if (t.status !== 'changed') problems.push(`diff: ${t.name} is ${t.status}`)
    else if (want === undefined) problems.push(`diff: ${t.name} ${shape} changed (${String(t.stats?.changedElements)} elements), matching none of ${expected.tensors.map(e => `${e.name} ${JSON.stringify(e.shape)} (${e.elements_changed})`).join(', ')}`)
    else matched.add(want.name)
  }
  for (const e of expected.tensors) if (!matched.has(e.name)) problems.push(`diff: ${e.name} changed, but the diff does not say so`)
  const bytes = changed.reduce((s, t) => s + (t.b?.size ?? 0), 0)
  return { text: `${changed.length} tensors (${changed.map(t => t.name).join(', ')}), ${bytes} B`, problems }
}

/** The format `mvc show` must report for each folder of make_bench_models.py. */
const EXPECTED_FORMAT: Readonly<Record<string, string>> = {
  tfjs: 'layers-model',
  'keras-h5': 'keras-h5',
  'keras-h5-weights': 'keras-h5-weights',
  'keras-v3': 'keras-v3',
  'keras-v3-weights': 'keras-v3-weights',
  'saved-model': 'saved-model',
  'saved-model-tfkeras': 'saved-model',
  'tf-checkpoint': 'tf-checkpoint',
  'tf-keras-weights-tf': 'tf-checkpoint'
}

async function storageOf (tmp: string, models: string, m: Models, f: FormatRecord): Promise<FormatStorage> {
  const repo = join(tmp, `store-${f.id}`)
  const work = join(repo, 'model')
  await mkdir(repo, { recursive: true })
  await quiet(NODE, mvcArgs('init'), { cwd: repo })
  const steps: StoreStep[] = []
  const folders: Array<{ step: string, label: string, folder: Folder, expect?: Step }> = [
    { step: 'v1', label: 'v1 (first commit)', folder: f.v1 },
    { step: 'v2', label: `v2: ${m.steps.v2.layer} fine-tuned`, folder: f.v2, expect: m.steps.v2 },
    { step: 'v3', label: `v3: ${m.steps.v3.layer} fine-tuned`, folder: f.v3, expect: m.steps.v3 },
    ...m.resaves.filter(r => r.format === f.id).map(r => ({ step: `resave:${r.variant}`, label: `v1 re-saved: ${r.label}`, folder: r }))
  ]
  for (const s of folders) {
    await place(join(models, s.folder.path), work)
    const before = await storeBytes(repo)
    const c = await mvcJson<CommitJson>(repo, 'commit', 'model', '-m', s.step, '--no-verify')
    const after = await storeBytes(repo)
    const problems: string[] = []
    if (!c.committed) problems.push('nothing committed')
    const show = await mvcJson<ShowJson>(repo, 'show', `v${c.version}`)
    const recognised = (show.models ?? []).map(x => `${x.format} (${x.tensors} tensors)`).join(', ') || 'no model recognised'
    const want = EXPECTED_FORMAT[f.id]
    if ((show.models ?? []).length !== 1 || show.models![0]!.format !== want || show.models![0]!.tensors < m.tensors.length) {
      problems.push(`show v${c.version}: ${recognised}, expected one ${String(want)} model with at least ${m.tensors.length} tensors`)
    }
    let diff: string | null = null
    if (s.expect !== undefined) {
      const d = await mvcJson<DiffJson>(repo, 'diff', `v${c.version - 1}`, `v${c.version}`)
      const r = checkDiff(d, s.expect)
      diff = r.text
      problems.push(...r.problems)
    }
    const container = s.folder.bytes - s.folder.tensor_bytes
    const basis = s.expect !== undefined ? s.expect.bytes : s.step === 'v1' ? 0 : container
    const bound = s.step === 'v1' ? null : s.expect !== undefined ? 1.05 * basis + SLACK : basis + SLACK
    const grown = Math.max(c.newBytes, after.total - before.total)
    steps.push({
      step: s.step,
      label: s.label,
      fileBytes: s.folder.bytes,
      containerBytes: container,
      basis,
      bound,
      newBytes: c.newBytes,
      newObjects: c.newObjects,
      diskAdded: after.total - before.total,
      packsAdded: after.packs - before.packs,
      dbAdded: after.db - before.db,
      met: bound === null ? null : grown <= bound,
      recognised,
      warnings: c.warnings ?? [],
      diff,
      problems
    })
  }
  // every version rebuilt byte for byte (untimed)
  for (let i = 0; i < folders.length; i++) {
    const co = join(tmp, `co-${f.id}-${i + 1}`)
    await quiet(NODE, mvcArgs('checkout', `v${i + 1}`, '--to', co, '--no-verify'), { cwd: repo })
    const bad = await sameFiles(join(models, folders[i]!.folder.path), co)
    if (bad !== null) steps[i]!.problems.push(`checkout v${i + 1}: ${bad}`)
    await rm(co, { recursive: true, force: true })
  }
  await rm(repo, { recursive: true, force: true })
  return { id: f.id, label: f.label, steps }
}

// ---------------------------------------------------------------------------------------------
// 2. several formats in one folder

interface CrossStep { readonly label: string, readonly fileBytes: number, readonly containerBytes: number, readonly newBytes: number, readonly diskAdded: number, readonly bound: number | null, readonly met: boolean | null }
interface Cross { readonly name: string, readonly steps: CrossStep[], readonly problems: string[] }

async function crossFormat (tmp: string, models: string, name: string, order: FormatRecord[], goal: boolean): Promise<Cross> {
  const repo = join(tmp, `cross-${name}`)
  const work = join(repo, 'model')
  await mkdir(work, { recursive: true })
  await quiet(NODE, mvcArgs('init'), { cwd: repo })
  const steps: CrossStep[] = []
  const problems: string[] = []
  const nested = order.length > 2
  for (const [i, f] of order.entries()) {
    // two formats share the folder itself (model.h5 beside model.json); more go in subfolders
    const src = join(models, f.v1.path)
    if (nested) await cp(src, join(work, f.id), { recursive: true })
    else for (const file of f.v1.files) await cp(join(src, file), join(work, file))
    const before = await storeBytes(repo)
    const c = await mvcJson<CommitJson>(repo, 'commit', 'model', '-m', `+ ${f.id}`, '--no-verify')
    const after = await storeBytes(repo)
    const container = f.v1.bytes - f.v1.tensor_bytes
    const bound = i === 0 || !goal ? null : container + SLACK
    const grown = Math.max(c.newBytes, after.total - before.total)
    steps.push({ label: i === 0 ? `${f.label} alone` : `+ ${f.label}`, fileBytes: f.v1.bytes, containerBytes: container, newBytes: c.newBytes, diskAdded: after.total - before.total, bound, met: bound === null ? null : grown <= bound })
    const show = await mvcJson<ShowJson>(repo, 'show', `v${c.version}`)
    if ((show.models ?? []).length !== i + 1) problems.push(`after ${f.id}: ${(show.models ?? []).length} models recognised, expected ${i + 1}: ${JSON.stringify(show.models?.map(x => [x.path, x.format]))}`)
  }
  const co = join(tmp, `co-cross-${name}`)
  await quiet(NODE, mvcArgs('checkout', `v${order.length}`, '--to', co, '--no-verify'), { cwd: repo })
  const bad = await sameFiles(work, co)
  if (bad !== null) problems.push(`checkout: ${bad}`)
  await rm(co, { recursive: true, force: true })
  await rm(repo, { recursive: true, force: true })
  return { name, steps, problems }
}

// ---------------------------------------------------------------------------------------------
// 3. throughput

interface Timing { seconds: number[], cpu: number[], rss: number[], ratio: number[], cpuRatio: number[] }
interface Throughput { readonly id: string, readonly label: string, readonly bytes: number, readonly commit: Timing, readonly checkout: Timing }
/** `mvc --version` per round: Node's start-up and the CLI's own imports, which every operation pays. */
interface Floor { seconds: number[], cpu: number[] }

const timing = (): Timing => ({ seconds: [], cpu: [], rss: [], ratio: [], cpuRatio: [] })

async function durable (method: RssMethod, cwd: string, args: string[]): Promise<RunResult> {
  await quiet('sync', [])
  return await run(method, 'sh', ['-c', '"$@" && sync', 'sh', NODE, ...mvcArgs(...args)], { cwd })
}

async function throughput (tmp: string, models: string, m: Models, method: RssMethod, rounds: number, floor: Floor): Promise<Throughput[]> {
  const out = m.formats.map(f => ({ id: f.id, label: f.label, bytes: f.v1.bytes, commit: timing(), checkout: timing() }))
  for (let r = 0; r < rounds; r++) {
    const v = await run(method, NODE, mvcArgs('--version'))
    floor.seconds.push(v.seconds)
    floor.cpu.push(v.cpuSeconds)
    const round = new Map<string, { commit: RunResult, checkout: RunResult }>()
    for (const f of rotate(m.formats, r)) {
      const repo = join(tmp, `tp-${f.id}`)
      const co = join(tmp, `tp-co-${f.id}`)
      await mkdir(repo, { recursive: true })
      await cp(join(models, f.v1.path), join(repo, 'model'), { recursive: true })
      await quiet(NODE, mvcArgs('init'), { cwd: repo })
      const commit = await durable(method, repo, ['commit', 'model', '-m', 'v1', '--no-verify'])
      const checkout = await durable(method, repo, ['checkout', 'v1', '--to', co, '--no-verify'])
      if (r === 0) {
        const bad = await sameFiles(join(models, f.v1.path), co)
        if (bad !== null) throw new Error(`throughput ${f.id}: checkout differs: ${bad}`)
      }
      round.set(f.id, { commit, checkout })
      log(`  round ${r + 1} ${f.id.padEnd(20)} commit ${commit.seconds.toFixed(2)} s (CPU ${commit.cpuSeconds.toFixed(2)})  checkout ${checkout.seconds.toFixed(2)} s (CPU ${checkout.cpuSeconds.toFixed(2)})`)
      await rm(repo, { recursive: true, force: true })
      await rm(co, { recursive: true, force: true })
    }
    const ref = round.get('tfjs')!
    for (const t of out) {
      const x = round.get(t.id)!
      for (const op of ['commit', 'checkout'] as const) {
        t[op].seconds.push(x[op].seconds)
        t[op].cpu.push(x[op].cpuSeconds)
        t[op].rss.push(x[op].peakRss)
        t[op].ratio.push(x[op].seconds / ref[op].seconds)
        t[op].cpuRatio.push(x[op].cpuSeconds / ref[op].cpuSeconds)
      }
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// 4. verification (one round)

interface Verified { readonly id: string, readonly commitSeconds: number, readonly commitCpu: number, readonly commitRss: number, readonly recorded: string, readonly checkoutSeconds: number, readonly checkoutCpu: number, readonly checkoutRss: number, readonly checkout: string, readonly code: number | null }

function statusText (models: Array<{ status: string, reason?: string | null, runtime?: unknown }> | undefined): string {
  if (models === undefined || models.length === 0) return 'none'
  return models.map(x => {
    const rt = x.runtime as { id?: string } | string | null | undefined
    const id = typeof rt === 'string' ? rt : rt?.id
    return `${x.status}${id !== undefined && id !== null ? ` (${id})` : ''}${x.status === 'skipped' && x.reason !== undefined && x.reason !== null ? `: ${x.reason.slice(0, 80)}` : ''}`
  }).join('; ')
}

async function verification (tmp: string, models: string, m: Models, method: RssMethod, python: string): Promise<Verified[]> {
  const out: Verified[] = []
  for (const f of m.formats) {
    const repo = join(tmp, `vf-${f.id}`)
    const co = join(tmp, `vf-co-${f.id}`)
    await mkdir(repo, { recursive: true })
    await cp(join(models, f.v1.path), join(repo, 'model'), { recursive: true })
    await quiet(NODE, mvcArgs('init'), { cwd: repo })
    const extra = f.id.startsWith('saved-model') ? ['--python', python] : []
    const c = await durable(method, repo, ['commit', 'model', '-m', 'v1', '--json', ...extra])
    const cj = JSON.parse(c.stdout) as CommitJson
    const k = await run(method, 'sh', ['-c', '"$@"; s=$?; sync; exit $s', 'sh', NODE, ...mvcArgs('checkout', 'v1', '--to', co, '--json', ...extra)], { cwd: repo, check: false })
    let checkout = `exit ${String(k.code)}`
    try {
      const kj = JSON.parse(k.stdout) as CheckoutJson
      const v = kj.verification
      checkout = `${v?.verified === true ? (v.pass === true ? 'PASS' : 'FAIL') : 'not verified'}: ${statusText(v?.models)}`
    } catch { checkout += `: ${k.stderr.trim().split('\n').pop() ?? ''}` }
    const row = { id: f.id, commitSeconds: c.seconds, commitCpu: c.cpuSeconds, commitRss: c.peakRss, recorded: statusText(cj.verification?.models), checkoutSeconds: k.seconds, checkoutCpu: k.cpuSeconds, checkoutRss: k.peakRss, checkout, code: k.code }
    out.push(row)
    log(`  verify ${f.id.padEnd(20)} commit ${c.seconds.toFixed(2)} s: ${row.recorded.slice(0, 60)} | checkout ${k.seconds.toFixed(2)} s: ${checkout.slice(0, 60)}`)
    await rm(repo, { recursive: true, force: true })
    await rm(co, { recursive: true, force: true })
  }
  return out
}

// ---------------------------------------------------------------------------------------------

async function main (): Promise<number> {
  const t0 = performance.now()
  const mib = Number(process.env.MVC_BENCH_FORMAT_MIB ?? '64')
  if (!Number.isFinite(mib) || mib <= 0) throw new TypeError('MVC_BENCH_FORMAT_MIB must be a positive number')
  const rounds = Number(process.env.MVC_BENCH_RUNS ?? '4')
  if (!Number.isInteger(rounds) || rounds < 1) throw new TypeError('MVC_BENCH_RUNS must be a positive integer')
  const method = await pickRssMethod()
  const tmp = await mkdtemp(join(tmpdir(), 'mvc-format-bench-'))
  const keep = process.env.MVC_BENCH_KEEP === '1'
  const load0 = loadavg()
  let failed = false
  try {
    const python = await pythonPath()
    const parts: Record<string, number> = {}
    let tPart = performance.now()
    const endPart = (name: string): void => { parts[name] = (performance.now() - tPart) / 1000; tPart = performance.now(); log(`  (${name}: ${parts[name]!.toFixed(0)} s)`) }
    let models = process.env.MVC_BENCH_FORMAT_MODELS ?? ''
    if (models === '') {
      models = join(tmp, 'models')
      log(`generating the models (${mib} MiB) with ${python} ${SCRIPT} …`)
      await quiet(python, [SCRIPT, models, '--mib', String(mib)])
      endPart('generate')
    }
    const m = JSON.parse(await readFile(join(models, 'bench.json'), 'utf8')) as Models
    const tfjs = m.formats.find(f => f.id === 'tfjs')
    const h5 = m.formats.find(f => f.id === 'keras-h5')
    if (tfjs === undefined || h5 === undefined) throw new Error(`${models}/bench.json lacks the tfjs or keras-h5 format`)
    log(`model: ${m.architecture}; ${mibs(m.weight_bytes)} MiB of float32 weights (${m.tensors.length} tensors)`)
    log(`  v2 changes ${m.steps.v2.tensors.map(t => t.name).join(', ')} (${m.steps.v2.bytes} B); v3 changes ${m.steps.v3.tensors.map(t => t.name).join(', ')} (${m.steps.v3.bytes} B)`)
    log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, node ${process.version}, RSS via ${method}, load average ${load0.map(v => v.toFixed(2)).join(' ')}`)

    // 1. storage
    tPart = performance.now()
    log('\nstorage (one repository per format) …')
    const storage: FormatStorage[] = []
    for (const f of m.formats) {
      const s = await storageOf(tmp, models, m, f)
      storage.push(s)
      for (const st of s.steps) {
        log(`  ${f.id.padEnd(20)} ${st.step.padEnd(22)} +${kib(st.newBytes).padStart(9)} KiB (disk +${kib(st.diskAdded)} KiB)${st.met === null ? '' : st.met ? ' MET' : ' MISSED'}${st.problems.length > 0 ? `  PROBLEMS: ${st.problems.join('; ')}` : ''}`)
        if (st.problems.length > 0) failed = true
      }
    }

    endPart('storage')

    // 2. cross-format
    log('\nseveral formats in one folder …')
    const cross: Cross[] = [
      await crossFormat(tmp, models, 'h5-then-tfjs', [h5, tfjs], true),
      await crossFormat(tmp, models, 'tfjs-then-h5', [tfjs, h5], true),
      await crossFormat(tmp, models, 'all', [tfjs, ...m.formats.filter(f => f.id !== 'tfjs')], true)
    ]
    for (const c of cross) {
      for (const s of c.steps) log(`  ${c.name.padEnd(14)} ${s.label.padEnd(40)} +${kib(s.newBytes).padStart(9)} KiB (disk +${kib(s.diskAdded)} KiB)${s.met === null ? '' : s.met ? ' MET' : ' MISSED'}`)
      if (c.problems.length > 0) { failed = true; log(`  PROBLEMS: ${c.problems.join('; ')}`) }
    }

    endPart('cross-format')

    // 3. throughput
    log(`\nthroughput (${rounds} rounds, --no-verify, each with a trailing sync) …`)
    const floor: Floor = { seconds: [], cpu: [] }
    const tp = await throughput(tmp, models, m, method, rounds, floor)
    endPart('throughput')

    // 4. verification
    let verified: Verified[] = []
    if (process.env.MVC_BENCH_VERIFY !== '0') {
      log('\nwith verification (one round) …')
      verified = await verification(tmp, models, m, method, python)
      endPart('verification')
    }

    // ---- tables
    log('\n## Storage: store growth per commit (newBytes of commit --json; disk = .mvc/packs + .mvc/db)\n')
    const rows: string[][] = []
    for (const s of storage) {
      for (const st of s.steps) {
        rows.push([s.id, st.step, mibs(st.fileBytes), kib(st.containerBytes), st.step === 'v1' ? '—' : kib(st.basis), kib(st.newBytes), kib(st.diskAdded),
          st.basis > 0 ? (Math.max(st.newBytes, st.diskAdded) / st.basis).toFixed(2) : '—', st.bound === null ? '—' : kib(st.bound), st.met === null ? '' : st.met ? 'met' : 'MISSED'])
      }
    }
    log(formatTable(['format', 'step', 'files MiB', 'container KiB', 'basis KiB', 'added KiB', 'disk KiB', 'x basis', 'bound KiB', 'goal'], rows))
    log('  basis: changed tensor bytes (v2, v3) or the files\' container bytes (re-saves); bound = 1.05 x changed + 64 KiB, or container + 64 KiB')
    const warned = storage.flatMap(s => s.steps.flatMap(st => st.warnings.map(w => `${s.id} ${st.step}: ${w}`)))
    if (warned.length > 0) { log('  commit warnings:'); for (const w of warned) log(`    ${w}`) }
    log(`  recognised: ${storage.map(s => `${s.id} = ${s.steps[0]!.recognised}`).join('; ')}`)

    log('\n## Several formats in one folder\n')
    log(formatTable(['folder', 'commit', 'files MiB', 'container KiB', 'added KiB', 'disk KiB', 'bound KiB', 'goal'],
      cross.flatMap(c => c.steps.map(s => [c.name, s.label, mibs(s.fileBytes), kib(s.containerBytes), kib(s.newBytes), kib(s.diskAdded), s.bound === null ? '—' : kib(s.bound), s.met === null ? '' : s.met ? 'met' : 'MISSED']))))

    log(`\n## Throughput (median of ${rounds} rounds; x TF.js = median of per-round ratios)\n`)
    const trow = (t: Throughput, op: 'commit' | 'checkout'): string[] => {
      const sec = median(t[op].seconds)
      const ratio = median(t[op].ratio)
      return [t.id, op, mibs(t.bytes), sec.toFixed(2), `${Math.min(...t[op].seconds).toFixed(2)}–${Math.max(...t[op].seconds).toFixed(2)}`, median(t[op].cpu).toFixed(2), (t.bytes / 1e6 / sec).toFixed(0),
        (median(t[op].rss) / MiB).toFixed(0), ratio.toFixed(2), median(t[op].cpuRatio).toFixed(2), t.id === 'tfjs' ? '' : ratio <= 1.2 ? 'met' : 'MISSED']
    }
    log(formatTable(['format', 'op', 'files MiB', 'seconds', 'range', 'CPU s', 'MB/s', 'RSS MiB', 'x TF.js', 'x TF.js CPU', 'goal'], tp.flatMap(t => [trow(t, 'commit'), trow(t, 'checkout')])))
    log(`  start-up floor (mvc --version): median ${median(floor.seconds).toFixed(2)} s, CPU ${median(floor.cpu).toFixed(2)} s; writes include a trailing sync; MB = 10^6 B`)

    if (verified.length > 0) {
      const ref = verified.find(v => v.id === 'tfjs')!
      log('\n## With verification (one round; default runtime, SavedModels with --python)\n')
      log(formatTable(['format', 'commit s', 'CPU s', 'RSS MiB', 'x TF.js', 'recorded', 'checkout s', 'CPU s', 'RSS MiB', 'x TF.js', 'checkout'],
        verified.map(v => [v.id, v.commitSeconds.toFixed(2), v.commitCpu.toFixed(2), (v.commitRss / MiB).toFixed(0), (v.commitSeconds / ref.commitSeconds).toFixed(2), v.recorded.slice(0, 50),
          v.checkoutSeconds.toFixed(2), v.checkoutCpu.toFixed(2), (v.checkoutRss / MiB).toFixed(0), (v.checkoutSeconds / ref.checkoutSeconds).toFixed(2), v.checkout.slice(0, 50)])))
    }
    const seconds = (performance.now() - t0) / 1000
    log(`\nload average at end ${loadavg().map(v => v.toFixed(2)).join(' ')}; bench took ${seconds.toFixed(0)} s`)
    log(failed ? 'RESULT: FAIL' : 'RESULT: ok')

    const path = process.env.MVC_BENCH_JSON
    if (path !== undefined && path !== '') {
      writeFileSync(path, JSON.stringify({
        date: new Date().toISOString(),
        machine: { cores: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), os: `${platform()} ${release()}`, node: process.version, rss: method },
        loadAverage: { start: load0, end: loadavg() },
        seconds,
        parts,
        models: { architecture: m.architecture, width: m.width, weightBytes: m.weight_bytes, tensors: m.tensors.length, training: m.training, steps: m.steps, versions: m.versions, altH5py: m.alt_h5py, formats: m.formats, resaves: m.resaves },
        storage,
        cross,
        throughput: tp,
        floor,
        verification: verified,
        failed
      }, null, 2) + '\n')
      log(`results: ${path}`)
    }
  } catch (e) {
    log(`FAIL: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
    failed = true
  } finally {
    if (keep) log(`kept ${tmp}`)
    else await rm(tmp, { recursive: true, force: true })
  }
  return failed ? 1 : 0
}

main().then(code => { process.exitCode = code }, (e: unknown) => { console.error(e); process.exitCode = 1 })
