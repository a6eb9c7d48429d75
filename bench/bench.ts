/**
 * The performance benchmark of issue 11: mvc against the physical baseline (`cp -r` + `sync`),
 * `sha256sum`, git, git LFS, restic, borg and DVC, on the same synthetic TF.js model, in one run.
 *
 * Method (measurement helpers in bench/lib.ts):
 *   - Data: bench/dataset.ts's TF.js-layout folder of MVC_BENCH_BYTES (default 1GiB): 4 MiB group1
 *     shards holding 11/16 of the bytes with tensors straddling shard boundaries, two larger group2
 *     files, and a model.json manifest, so mvc stores it tensor by tensor. AES-CTR keystream content:
 *     incompressible, reproducible.
 *   - Every operation is a child process: wall time from spawn to exit; CPU (user + sys) and peak RSS
 *     from GNU time (`/usr/bin/time`, wait4 rusage of the command tree), else /proc polling.
 *     `sync` runs untimed before each operation, and every operation that writes is timed INCLUDING a
 *     trailing `sync`: every tool is compared at equal durability. The page cache stays warm for all.
 *   - Paired, interleaved runs: the machine is shared, so each round runs every tool once, one after
 *     the other, in an order rotated from round to round; a tool's figure is the median over rounds and
 *     its ratio is the median of its per-round ratios to cp+sync of the same round. MVC_BENCH_RUNS
 *     rounds (default 3); git's first commit (30x cp) runs in round 1 only.
 *   - Operations:
 *       first commit   cp -r, sha256sum, git add+commit, git lfs add+commit, restic backup, borg create,
 *                      dvc add, mvc init+commit --no-verify (each into a fresh repository)
 *       unchanged      the same again with nothing changed (git status for git)
 *       fine-tune      the tensors of two transformer-like layer blocks rewritten in place (about 54 MiB
 *                      at 1 GiB, 14 shards touched), then each tool commits; one new fine-tune per round
 *       checkout v1    cp -r (baseline), mvc checkout v1 --to <new>, git checkout into a new work tree,
 *                      git lfs likewise, restic restore, borg extract, dvc checkout (into an emptied
 *                      workspace); each checked byte-identical to the first version (diff -r, untimed)
 *       push           mvc push to a folder remote (every version), dvc push to a local remote (what the
 *                      workspace's .dvc file names: the last version)
 *       everyday       node -e 0 (the floor), mvc --version, --help, status (unchanged), status right after
 *                      an in-place checkout of the whole model, git status
 *       log            mvc log and git log over MVC_BENCH_LOG_COMMITS (default 10 000) commits of a small
 *                      file (mvc's made through the library API, git's with git fast-import)
 *   - Goals (issue 11) are printed as PASS/MISS; a MISS does not change the exit code. The run exits 1
 *     only when something breaks (a tool fails, a checkout differs).
 * Env: MVC_BENCH_BYTES, MVC_BENCH_RUNS, MVC_BENCH_KEEP=1, MVC_BENCH_JSON=<file>, MVC_BENCH_LOG_COMMITS
 * (0 skips the log rows), MVC_BENCH_PEERS (comma list to restrict: git,git-lfs,restic,borg,dvc),
 * MVC_BENCH_PROFILE=1 (adds a --cpu-prof'd first commit, summarised), MVC_BENCH_GENERATE_ONLY=1,
 * MVC_BENCH_BASELINE=<another build's bin/mvc.js> (an older mvc measured in the same rounds).
 * DVC comes from scripts/dvc-env.sh (a pinned venv under ~/.cache/mvc); restic, borg and git-lfs from
 * Debian (`apt-get install -y restic borgbackup git-lfs`); a missing peer is reported and skipped.
 *
 * Usage: npm run bench   (quick: MVC_BENCH_BYTES=256MiB MVC_BENCH_LOG_COMMITS=1000 node dist/bench/bench.js)
 */
import { mkdtemp, mkdir, rm, writeFile, readdir } from 'node:fs/promises'
import { rmSync, writeFileSync } from 'node:fs'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tmpdir, cpus, totalmem, release, platform, arch, loadavg } from 'node:os'
import { spawn } from 'node:child_process'
import { fineTuneRanges, writeModelFolder, type DataFile } from './dataset.js'
import {
  MiB, formatTable, listFiles, mib, parseBytes, pickRssMethod, quiet, run, summariseProfile, treeBytes, works, writeKeystream,
  type RssMethod, type RunOptions, type RunResult
} from './lib.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const MVC_BIN = join(ROOT, 'bin', 'mvc.js')
const jsonToStdout = process.argv.includes('--json')
const log = (s = ''): void => { (jsonToStdout ? process.stderr : process.stdout).write(s + '\n') }

interface Step { readonly cmd: string, readonly args: readonly string[], readonly options?: RunOptions }
const step = (cmd: string, args: readonly string[], options?: RunOptions): Step => ({ cmd, args, options })

/** One measured run of one tool's operation. */
interface Sample { readonly seconds: number, readonly cpu: number, readonly rss: number, readonly stored: number | null, readonly results: RunResult[] }

/** A tool's operation over the rounds. */
interface Row {
  readonly op: string
  readonly tool: string
  readonly samples: Sample[]
  /** Per-round ratio to cp+sync of the same round (first commit and checkout rows). */
  readonly ratios: number[]
  note: string
}

function median (xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

async function syncNow (): Promise<void> { await quiet('sync', []) }

class Bench {
  readonly rows: Row[] = []
  constructor (readonly method: RssMethod) {}

  row (op: string, tool: string): Row {
    let r = this.rows.find(x => x.op === op && x.tool === tool)
    if (r === undefined) { r = { op, tool, samples: [], ratios: [], note: '' }; this.rows.push(r) }
    return r
  }

  /** Runs the steps (plus a timed sync when `durable`) after an untimed sync; records one sample. */
  async measure (op: string, tool: string, steps: readonly Step[], opts: { durable: boolean, store?: readonly string[] }): Promise<Sample> {
    await syncNow()
    const before = opts.store === undefined ? 0 : await sumBytes(opts.store)
    let seconds = 0
    let cpu = 0
    let rss = 0
    const results: RunResult[] = []
    for (const s of opts.durable ? [...steps, step('sync', [])] : steps) {
      const r = await run(this.method, s.cmd, s.args, s.options)
      results.push(r)
      seconds += r.seconds
      cpu += r.cpuSeconds
      rss = Math.max(rss, r.peakRss)
    }
    const stored = opts.store === undefined ? null : await sumBytes(opts.store) - before
    const sample = { seconds, cpu, rss, stored, results }
    this.row(op, tool).samples.push(sample)
    log(`  ${op.padEnd(14)} ${tool.padEnd(26)} ${seconds.toFixed(2).padStart(7)} s  CPU ${cpu.toFixed(2).padStart(6)} s  RSS ${mib(rss).padStart(7)} MiB${stored !== null ? `  stored +${mib(stored)} MiB` : ''}`)
    return sample
  }
}

async function sumBytes (paths: readonly string[]): Promise<number> {
  let t = 0
  for (const p of paths) t += await treeBytes(p)
  return t
}

async function diffTrees (a: string, b: string, what: string): Promise<void> {
  const r = await run('proc-poll', 'diff', ['-r', '-q', a, b], { check: false })
  if (r.code !== 0) throw new Error(`VERIFICATION FAILED: ${what} is not byte-identical (diff -r ${a} ${b}):\n${r.stdout.slice(0, 3000)}${r.stderr.slice(0, 1000)}`)
}


async function applyFineTune (dir: string, ranges: ReadonlyArray<{ rel: string, offset: number, length: number }>, label: string): Promise<Set<string>> {
  const touched = new Set<string>()
  for (const r of ranges) {
    await writeKeystream(join(dir, r.rel), `${label}:${r.rel}:${r.offset}`, r.offset, r.length, false)
    touched.add(r.rel)
  }
  return touched
}

/** Runs a command and returns its exit code, stdout and wall time (no RSS), for the quick commands. */
async function available (cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<boolean> {
  return await works(cmd, args, env)
}

async function main (): Promise<number> {
  const total = parseBytes(process.env.MVC_BENCH_BYTES ?? '1GiB')
  if (total < 32 * MiB) throw new TypeError('MVC_BENCH_BYTES must be at least 32 MiB')
  const keep = process.env.MVC_BENCH_KEEP === '1' || process.env.MVC_BENCH_GENERATE_ONLY === '1'
  const base = await mkdtemp(join(tmpdir(), 'mvc-bench-'))
  const cleanup = (): void => { if (!keep) rmSync(base, { recursive: true, force: true }) }
  process.once('SIGINT', () => { cleanup(); process.exit(130) })
  try {
    return await bench(base, total)
  } finally {
    if (keep) log(`kept ${base} (MVC_BENCH_KEEP=1)`)
    cleanup()
  }
}

async function bench (base: string, total: number): Promise<number> {
  const load0 = loadavg()
  const method = await pickRssMethod()
  const b = new Bench(method)
  const runs = Math.max(1, Math.floor(Number(process.env.MVC_BENCH_RUNS ?? '3')) || 1)
  const logCommits = Math.max(0, Math.floor(Number(process.env.MVC_BENCH_LOG_COMMITS ?? '10000')))
  const peersWanted = new Set((process.env.MVC_BENCH_PEERS ?? 'git,git-lfs,restic,borg,dvc').split(',').map(s => s.trim()).filter(s => s !== ''))
  const work = join(base, 'work')
  const model = join(work, 'model')
  log(`mvc bench (issue 11): ${mib(total)} MiB in ${base}; ${runs} rounds; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM, ${platform()} ${release()} ${arch()}, node ${process.version}`)
  log(`load average at start: ${load0.map(x => x.toFixed(2)).join(' / ')}; RSS/CPU by ${method === 'gnu-time' ? 'GNU time' : '/proc polling'}`)
  let t = performance.now()
  const { files, json } = await writeModelFolder(model, total)
  const dsFiles = [...files, { rel: 'model.json', size: Buffer.byteLength(json ?? ''), label: '' }]
  const dsBytes = dsFiles.reduce((a, f) => a + f.size, 0)
  await syncNow()
  log(`generated ${dsFiles.length} files, ${dsBytes} bytes in ${((performance.now() - t) / 1000).toFixed(1)} s (untimed)`)
  // A model is not usually committed within a second of being written: wait out the stat cache's
  // racy window (2 s), which would otherwise make the first re-commit read files it has seen.
  await new Promise(resolve => setTimeout(resolve, 2500))
  if (process.env.MVC_BENCH_GENERATE_ONLY === '1') { log(`model in ${model}`); return 0 }
  const v1copy = join(base, 'v1-copy')

  // ---- peers available
  const gitEnv: NodeJS.ProcessEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LC_ALL: 'C', GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@example.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@example.invalid' }
  const versions: Record<string, string> = { node: process.version }
  const have = new Map<string, boolean>()
  have.set('git', peersWanted.has('git') && await available('git', ['--version']))
  have.set('git-lfs', peersWanted.has('git-lfs') && await available('git', ['lfs', 'version'], gitEnv))
  have.set('restic', peersWanted.has('restic') && await available('restic', ['version']))
  have.set('borg', peersWanted.has('borg') && await available('borg', ['--version']))
  let dvc: string | undefined
  if (peersWanted.has('dvc')) {
    dvc = (await quiet('bash', [join(ROOT, 'scripts', 'dvc-env.sh')], { check: false }).catch(() => '')).trim().split('\n').pop()
    if (dvc === '' || dvc === undefined || !(await available(dvc, ['--version']))) dvc = undefined
  }
  have.set('dvc', dvc !== undefined)
  for (const [tool, cmd] of [['git', ['git', '--version']], ['git-lfs', ['git', 'lfs', 'version']], ['restic', ['restic', 'version']], ['borg', ['borg', '--version']]] as const) {
    if (have.get(tool) === true) versions[tool] = (await quiet(cmd[0], cmd.slice(1), { env: gitEnv })).trim().split('\n')[0]!
  }
  if (dvc !== undefined) versions.dvc = 'dvc ' + (await quiet(dvc, ['--version'])).trim()
  for (const [tool, ok] of have) if (!ok) log(`  ${tool}: not available (${peersWanted.has(tool) ? 'not installed: apt-get install -y restic borgbackup git-lfs; DVC: bash scripts/dvc-env.sh' : 'left out by MVC_BENCH_PEERS'}) — skipped`)
  log(`versions: ${Object.values(versions).join('; ')}`)

  // ---- tools: each a folder of its own, reset before a first commit
  const mvc = (cwd: string, ...args: string[]): Step => step(process.execPath, [MVC_BIN, ...args], { cwd })
  const gitDir = join(base, 'git.git')
  const lfsDir = join(base, 'lfs.git')
  const git = (dir: string, ...args: string[]): Step => step('git', ['--git-dir', dir, '--work-tree', model, '-c', 'gc.auto=0', '-c', 'commit.gpgsign=false', ...args], { env: gitEnv, cwd: base })
  const resticRepo = join(base, 'restic')
  const resticEnv: NodeJS.ProcessEnv = { ...process.env, RESTIC_PASSWORD: 'bench', RESTIC_REPOSITORY: resticRepo, RESTIC_CACHE_DIR: join(base, 'restic-cache') }
  const restic = (...args: string[]): Step => step('restic', ['--quiet', ...args], { env: resticEnv, cwd: work })
  const borgRepo = join(base, 'borg')
  const borgEnv: NodeJS.ProcessEnv = { ...process.env, BORG_REPO: borgRepo, BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes', BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes', BORG_BASE_DIR: join(base, 'borg-home') }
  const borg = (...args: string[]): Step => step('borg', args, { env: borgEnv, cwd: work })
  // DVC tracks work/model from a project rooted at work/ (its own .dvc, no git).
  const dvcEnv: NodeJS.ProcessEnv = { ...process.env, DVC_NO_ANALYTICS: '1', DVC_SITE_CACHE_DIR: join(base, 'dvc-site') }
  const dvcStep = (...args: string[]): Step => step(dvc ?? 'dvc', args, { env: dvcEnv, cwd: work })
  const mvcDir = join(work, '.mvc')

  interface Tool { readonly name: string, readonly first: () => Promise<Step[]>, readonly reset: () => Promise<void>, readonly store: string[], readonly again: () => Step[], readonly commit: (label: string) => Step[] }
  const tools: Tool[] = [
    {
      name: 'mvc',
      reset: async () => { await rm(mvcDir, { recursive: true, force: true }) },
      first: async () => [mvc(work, 'init', work), mvc(work, 'commit', model, '-m', 'v1', '--no-verify', '--no-code', '--json')],
      store: [mvcDir],
      again: () => [mvc(work, 'commit', '-m', 'again', '--no-verify', '--no-code', '--json')],
      commit: label => [mvc(work, 'commit', '-m', label, '--no-verify', '--no-code', '--json')]
    }
  ]
  if (have.get('git') === true) {
    tools.push({
      name: 'git',
      reset: async () => { await rm(gitDir, { recursive: true, force: true }) },
      first: async () => [git(gitDir, 'init', '-q'), git(gitDir, 'add', '-A'), git(gitDir, 'commit', '-q', '-m', 'v1')],
      store: [join(gitDir, 'objects')],
      again: () => [git(gitDir, 'status', '--porcelain')],
      commit: label => [git(gitDir, 'add', '-A'), git(gitDir, 'commit', '-q', '-m', label)]
    })
  }
  if (have.get('git-lfs') === true) {
    tools.push({
      name: 'git-lfs',
      reset: async () => {
        await rm(lfsDir, { recursive: true, force: true })
        await quiet('git', git(lfsDir, 'init', '-q').args, { env: gitEnv, cwd: base })
        await quiet('git', git(lfsDir, 'lfs', 'install', '--local').args, { env: gitEnv, cwd: base })
        await mkdir(join(lfsDir, 'info'), { recursive: true })
        await writeFile(join(lfsDir, 'info', 'attributes'), '*.bin filter=lfs diff=lfs merge=lfs -text\n')
      },
      first: async () => [git(lfsDir, 'add', '-A'), git(lfsDir, 'commit', '-q', '-m', 'v1')],
      store: [join(lfsDir, 'objects'), join(lfsDir, 'lfs')],
      again: () => [git(lfsDir, 'add', '-A'), git(lfsDir, 'status', '--porcelain')],
      commit: label => [git(lfsDir, 'add', '-A'), git(lfsDir, 'commit', '-q', '-m', label)]
    })
  }
  if (have.get('restic') === true) {
    tools.push({
      name: 'restic',
      reset: async () => {
        await rm(resticRepo, { recursive: true, force: true })
        await rm(join(base, 'restic-cache'), { recursive: true, force: true })
        await quiet('restic', ['--quiet', 'init'], { env: resticEnv })
      },
      first: async () => [restic('backup', 'model')],
      store: [resticRepo],
      again: () => [restic('backup', 'model')],
      commit: () => [restic('backup', 'model')]
    })
  }
  if (have.get('borg') === true) {
    let n = 0
    tools.push({
      name: 'borg',
      reset: async () => {
        await rm(borgRepo, { recursive: true, force: true })
        await rm(join(base, 'borg-home'), { recursive: true, force: true })
        await quiet('borg', ['init', '-e', 'none'], { env: borgEnv })
      },
      first: async () => [borg('create', `::a${++n}`, 'model')],
      store: [borgRepo],
      again: () => [borg('create', `::again${++n}`, 'model')],
      commit: label => [borg('create', `::${label}`, 'model')]
    })
  }
  if (dvc !== undefined) {
    tools.push({
      name: 'dvc',
      reset: async () => {
        for (const p of ['.dvc', 'model.dvc', '.dvcignore', 'dvc-remote']) await rm(join(work, p), { recursive: true, force: true })
        await rm(join(base, 'dvc-site'), { recursive: true, force: true })
        await quiet(dvc!, ['init', '--no-scm', '-q'], { env: dvcEnv, cwd: work })
        // Keep mvc's repository out of DVC's view.
        await writeFile(join(work, '.dvcignore'), '.mvc\n')
      },
      first: async () => [dvcStep('add', '-q', 'model')],
      store: [join(work, '.dvc', 'cache')],
      again: () => [dvcStep('add', '-q', 'model')],
      commit: () => [dvcStep('add', '-q', 'model')]
    })
  }
  // An older mvc (MVC_BENCH_BASELINE=<its bin/mvc.js>) measured in the same rounds: the change, paired.
  // Its repository is rooted one folder up (base/.mvc), so both see the same model folder.
  const baselineBin = process.env.MVC_BENCH_BASELINE
  const baseMvc = (cwd: string, ...args: string[]): Step => step(process.execPath, [baselineBin!, ...args], { cwd })
  if (baselineBin !== undefined && baselineBin !== '') {
    tools.push({
      name: 'mvc (baseline)',
      reset: async () => { await rm(join(base, '.mvc'), { recursive: true, force: true }) },
      first: async () => [baseMvc(base, 'init', base), baseMvc(base, 'commit', model, '-m', 'v1', '--no-verify', '--no-code', '--json')],
      store: [join(base, '.mvc')],
      again: () => [baseMvc(base, 'commit', model, '-m', 'again', '--no-verify', '--no-code', '--json')],
      commit: label => [baseMvc(base, 'commit', model, '-m', label, '--no-verify', '--no-code', '--json')]
    })
    versions['mvc (baseline)'] = baselineBin
  }
  const rotate = <T>(xs: readonly T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length]!)

  // ---- 1. first commit, in rounds
  log('\n1. first commit (fresh repository each round; cp -r + sync is the baseline of its round)')
  for (let r = 0; r < runs; r++) {
    await rm(v1copy, { recursive: true, force: true })
    const cp = await b.measure('first commit', 'cp -r + sync', [step('cp', ['-r', model, v1copy])], { durable: true })
    await b.measure('first commit', 'sha256sum (all files)', [step('sha256sum', ['--', ...(await listFiles(model))], { cwd: model })], { durable: false })
    for (const tool of rotate(tools, r)) {
      if (tool.name === 'git' && r > 0) continue // 30x cp: one round is enough
      await tool.reset()
      const s = await b.measure('first commit', tool.name, await tool.first(), { durable: true, store: tool.store })
      b.row('first commit', tool.name).ratios.push(s.seconds / cp.seconds)
    }
    b.row('first commit', 'sha256sum (all files)').ratios.push(b.row('first commit', 'sha256sum (all files)').samples[r]!.seconds / cp.seconds)
  }
  const firstJson = JSON.parse(b.row('first commit', 'mvc').samples.at(-1)!.results[1]!.stdout) as { newBytes: number, newObjects: number }
  b.row('first commit', 'mvc').note = `${mib(firstJson.newBytes)} MiB in ${firstJson.newObjects} objects`

  // ---- 2. unchanged
  log('\n2. commit again, nothing changed')
  for (let r = 0; r < runs; r++) {
    for (const tool of rotate(tools, r)) await b.measure('unchanged', tool.name, tool.again(), { durable: true, store: tool.store })
  }
  const againJson = JSON.parse(b.row('unchanged', 'mvc').samples.at(-1)!.results[0]!.stdout) as { committed: boolean, newBytes: number, stats: { hashedBytes: number } }
  b.row('unchanged', 'mvc').note = `committed=${String(againJson.committed)}, ${againJson.newBytes} object bytes added, ${againJson.stats.hashedBytes} bytes read`

  // ---- 3. fine-tune: two layer blocks rewritten in place, then each tool commits; a new fine-tune per round
  const ft = fineTuneRanges(files)
  log(`\n3. fine-tune: ${ft.tensors} tensors of two layer blocks, ${mib(ft.bytes)} MiB, rewritten in place each round; then every tool commits`)
  let touched = new Set<string>()
  for (let r = 0; r < runs; r++) {
    touched = await applyFineTune(model, ft.ranges, `ft${r}`)
    await syncNow()
    for (const tool of rotate(tools, r)) {
      const s = await b.measure('fine-tune', tool.name, tool.commit(`ft${r}`), { durable: true, store: tool.store })
      if (tool.name === 'mvc') {
        const j = JSON.parse(s.results[0]!.stdout) as { committed: boolean, newBytes: number, stats: { hashedBytes: number } }
        if (!j.committed) throw new Error(`mvc did not commit the fine-tune: ${s.results[0]!.stdout}`)
        b.row('fine-tune', 'mvc').note = `${mib(j.newBytes)} MiB added, ${mib(j.stats.hashedBytes)} MiB read`
      }
    }
  }
  log(`  (${touched.size} shard files touched per fine-tune)`)

  // ---- 4. checkout v1 into a new folder (restore)
  log('\n4. check out the first version into a new folder (cp -r + sync of the v1 copy is the baseline of its round)')
  const out = join(base, 'out')
  const mvcV1 = 'v1'
  const gitV1 = have.get('git') === true ? (await quiet('git', ['--git-dir', gitDir, 'rev-list', '--max-parents=0', 'HEAD'], { env: gitEnv })).trim() : ''
  const lfsV1 = have.get('git-lfs') === true ? (await quiet('git', ['--git-dir', lfsDir, 'rev-list', '--reverse', 'HEAD'], { env: gitEnv })).trim().split('\n')[0]! : ''
  const resticV1 = have.get('restic') === true ? (JSON.parse(await quiet('restic', ['snapshots', '--json'], { env: resticEnv })) as Array<{ short_id: string, time: string }>).sort((a, c) => a.time.localeCompare(c.time))[0]!.short_id : ''
  const borgV1 = have.get('borg') === true ? (await quiet('borg', ['list', '--short'], { env: borgEnv })).trim().split('\n')[0]! : ''
  const checkouts: Array<{ name: string, steps: () => Promise<Step[]>, after?: () => Promise<void>, result: string }> = [
    { name: 'mvc', steps: async () => [mvc(work, 'checkout', mvcV1, '--to', out, '--no-verify', '--json')], result: out }
  ]
  if (baselineBin !== undefined && baselineBin !== '') checkouts.push({ name: 'mvc (baseline)', steps: async () => [baseMvc(base, 'checkout', 'v1', '--to', out, '--no-verify', '--json')], result: out })
  if (gitV1 !== '') {
    checkouts.push({ name: 'git', steps: async () => { await mkdir(out, { recursive: true }); return [step('git', ['--git-dir', gitDir, '--work-tree', out, 'checkout', '-f', gitV1, '--', '.'], { env: gitEnv, cwd: base })] }, result: out })
  }
  if (lfsV1 !== '') {
    checkouts.push({ name: 'git-lfs', steps: async () => { await mkdir(out, { recursive: true }); return [step('git', ['--git-dir', lfsDir, '--work-tree', out, 'checkout', '-f', lfsV1, '--', '.'], { env: gitEnv, cwd: base })] }, result: out })
  }
  if (resticV1 !== '') checkouts.push({ name: 'restic', steps: async () => [restic('restore', resticV1, '--target', out)], result: join(out, 'model') })
  if (borgV1 !== '') checkouts.push({ name: 'borg', steps: async () => { await mkdir(out, { recursive: true }); return [step('borg', ['extract', `::${borgV1}`], { env: borgEnv, cwd: out })] }, result: join(out, 'model') })
  for (let r = 0; r < runs; r++) {
    await rm(out, { recursive: true, force: true })
    const cpOut = join(base, 'cp-out')
    await rm(cpOut, { recursive: true, force: true })
    const cp = await b.measure('checkout v1', 'cp -r + sync', [step('cp', ['-r', v1copy, cpOut])], { durable: true })
    await rm(cpOut, { recursive: true, force: true })
    for (const c of rotate(checkouts, r)) {
      await rm(out, { recursive: true, force: true })
      const s = await b.measure('checkout v1', c.name, await c.steps(), { durable: true })
      b.row('checkout v1', c.name).ratios.push(s.seconds / cp.seconds)
      if (r === 0) await diffTrees(v1copy, c.result, `${c.name} checkout of v1`)
      await rm(out, { recursive: true, force: true })
    }
  }
  // DVC checks out in place: the workspace is emptied and `dvc checkout` restores what model.dvc names
  // (the last `dvc add`), so its row restores the last version rather than v1.
  if (dvc !== undefined) {
    const saved = join(base, 'last-copy')
    await rm(saved, { recursive: true, force: true })
    await quiet('cp', ['-r', model, saved])
    for (let r = 0; r < runs; r++) {
      const cpOut = join(base, 'cp-out')
      await rm(cpOut, { recursive: true, force: true })
      const cp = await b.measure('checkout v1', 'cp -r + sync (dvc round)', [step('cp', ['-r', saved, cpOut])], { durable: true })
      await rm(cpOut, { recursive: true, force: true })
      await rm(model, { recursive: true, force: true })
      const s = await b.measure('checkout v1', 'dvc (last version, in place)', [dvcStep('checkout', '-q', '-f')], { durable: true })
      b.row('checkout v1', 'dvc (last version, in place)').ratios.push(s.seconds / cp.seconds)
      if (r === 0) await diffTrees(saved, model, 'dvc checkout')
    }
    await rm(saved, { recursive: true, force: true })
  }

  // ---- 5. push to a local remote
  log('\n5. push every version to a new local remote')
  const pushes: Array<{ name: string, prepare: () => Promise<void>, steps: Step[], dir: string }> = [
    {
      name: 'mvc push (folder remote)',
      dir: join(base, 'mvc-remote'),
      prepare: async () => {
        await rm(join(base, 'mvc-remote'), { recursive: true, force: true })
        await quiet(process.execPath, [MVC_BIN, 'remote', 'remove', 'bench'], { cwd: work, check: false })
        await quiet(process.execPath, [MVC_BIN, 'remote', 'add', 'bench', join(base, 'mvc-remote')], { cwd: work })
      },
      steps: [mvc(work, 'push', 'bench')]
    }
  ]
  if (dvc !== undefined) {
    pushes.push({
      name: 'dvc push (local remote)',
      dir: join(base, 'dvc-remote'),
      prepare: async () => {
        await rm(join(base, 'dvc-remote'), { recursive: true, force: true })
        await quiet(dvc!, ['remote', 'add', '-f', '-d', 'bench', join(base, 'dvc-remote')], { env: dvcEnv, cwd: work })
      },
      steps: [dvcStep('push', '-q')]
    })
  }
  for (let r = 0; r < runs; r++) {
    for (const p of rotate(pushes, r)) {
      await p.prepare()
      await b.measure('push', p.name, p.steps, { durable: true, store: [p.dir] })
    }
  }
  for (const p of pushes) await rm(p.dir, { recursive: true, force: true })

  // ---- 6. everyday commands (mvc's repository holds v1 + fine-tunes; the model is the last fine-tune)
  log('\n6. everyday commands')
  const quick: Array<{ name: string, steps: Step[] }> = [
    { name: 'node -e 0 (floor)', steps: [step(process.execPath, ['-e', '0'])] },
    { name: 'mvc --version', steps: [mvc(work, '--version')] },
    { name: 'mvc --help', steps: [mvc(work, '--help')] },
    { name: 'mvc status (unchanged)', steps: [mvc(work, 'status')] }
  ]
  if (have.get('git') === true) quick.push({ name: 'git status', steps: [git(gitDir, 'status', '--porcelain')] })
  if (baselineBin !== undefined && baselineBin !== '') {
    quick.push({ name: 'mvc (baseline) --version', steps: [baseMvc(base, '--version')] })
    quick.push({ name: 'mvc (baseline) --help', steps: [baseMvc(base, '--help')] })
    quick.push({ name: 'mvc (baseline) status', steps: [baseMvc(base, 'status', 'work/model')] })
  }
  for (let r = 0; r < Math.max(5, runs); r++) for (const q of rotate(quick, r)) await b.measure('everyday', q.name, q.steps, { durable: false })
  // status right after an in-place checkout of the whole model (v1 differs from the files there now)
  for (let r = 0; r < runs; r++) {
    await b.measure('in-place', `mvc checkout ${r % 2 === 0 ? 'v1' : 'HEAD'} (in place) + sync`, [mvc(work, 'checkout', r % 2 === 0 ? 'v1' : 'HEAD', '--force', '--no-verify')], { durable: true })
    const s = await b.measure('in-place', 'mvc status right after', [mvc(work, 'status', '--json')], { durable: false })
    const st = JSON.parse(s.results[0]!.stdout) as { clean: boolean }
    if (!st.clean) throw new Error(`status after checkout is not clean: ${s.results[0]!.stdout.slice(0, 500)}`)
    await b.measure('in-place', 'mvc commit right after (reads nothing)', [mvc(work, 'commit', '-m', 'same', '--no-verify', '--no-code', '--json')], { durable: true })
  }
  const afterJson = JSON.parse(b.row('in-place', 'mvc commit right after (reads nothing)').samples.at(-1)!.results[0]!.stdout) as { stats: { hashedBytes: number } }
  b.row('in-place', 'mvc commit right after (reads nothing)').note = `${afterJson.stats.hashedBytes} bytes read`
  await rm(v1copy, { recursive: true, force: true })

  // ---- 7. log over many commits
  if (logCommits > 0) {
    log(`\n7. log over ${logCommits} commits`)
    const lr = join(base, 'log-repo')
    t = performance.now()
    await makeMvcHistory(lr, logCommits)
    log(`  made ${logCommits} mvc commits through the library in ${((performance.now() - t) / 1000).toFixed(0)} s (untimed)`)
    const lg = join(base, 'log.git')
    if (have.get('git') === true) await makeGitHistory(lg, logCommits, gitEnv)
    // The first log reads the commits and fills the log index; the rows measure the runs after it.
    const first = await b.measure('log', 'mvc log (first, fills the index)', [step(process.execPath, [MVC_BIN, 'log'], { cwd: lr })], { durable: false })
    b.row('log', 'mvc log (first, fills the index)').note = `${first.results[0]!.stdout.split('\n').filter(l => l !== '').length} lines`
    for (let r = 0; r < Math.max(5, runs); r++) {
      await b.measure('log', 'mvc log', [step(process.execPath, [MVC_BIN, 'log'], { cwd: lr })], { durable: false })
      if (have.get('git') === true) await b.measure('log', 'git log', [step('git', ['--git-dir', lg, 'log', 'main'], { env: gitEnv })], { durable: false })
      if (baselineBin !== undefined && baselineBin !== '') await b.measure('log', 'mvc (baseline) log', [step(process.execPath, [baselineBin, 'log'], { cwd: lr })], { durable: false })
    }
  }

  // ---- optional profile
  let profile: Awaited<ReturnType<typeof summariseProfile>> | undefined
  if (process.env.MVC_BENCH_PROFILE !== undefined && process.env.MVC_BENCH_PROFILE !== '0') {
    const profDir = join(base, 'cpuprof')
    await mkdir(profDir, { recursive: true })
    await rm(mvcDir, { recursive: true, force: true })
    await quiet(process.execPath, [MVC_BIN, 'init', work], { cwd: work })
    await run(method, process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, MVC_BIN, 'commit', model, '-m', 'profiled', '--no-verify', '--no-code'], { cwd: work })
    const made = (await readdir(profDir)).filter(f => f.endsWith('.cpuprofile'))
    profile = await summariseProfile(join(profDir, made[0]!))
  }

  return report(b, { total: dsBytes, files: dsFiles.length, runs, load0, versions, ft, logCommits, profile })
}

/** `logCommits` commits of a one-line file, through the library API (as fast as mvc can be driven). */
async function makeMvcHistory (dir: string, n: number): Promise<void> {
  await mkdir(join(dir, 'model'), { recursive: true })
  await writeFile(join(dir, 'model', 'notes.txt'), 'a small file\n')
  const { Repository } = await import('../src/index.js')
  await Repository.init({ dir })
  const repo = await Repository.open({ dir })
  try {
    for (let i = 0; i < n; i++) {
      await repo.commit({ path: join(dir, 'model'), message: `commit ${i}`, allowEmpty: true, verify: false, code: false, metrics: { acc: i / n }, timestamp: 1700000000000 + i * 1000, author: { name: 'Ada', email: 'ada@example.com' } })
    }
  } finally {
    await repo.close()
  }
}

/** The same number of commits in git, through git fast-import. */
async function makeGitHistory (dir: string, n: number, env: NodeJS.ProcessEnv): Promise<void> {
  await quiet('git', ['init', '-q', '--bare', dir], { env })
  const parts: string[] = []
  for (let i = 0; i < n; i++) {
    const msg = `commit ${i}\n`
    parts.push(`commit refs/heads/main\ncommitter Ada <ada@example.com> ${1700000000 + i} +0000\ndata ${Buffer.byteLength(msg)}\n${msg}`)
    if (i === 0) parts.push('M 644 inline notes.txt\ndata 13\na small file\n')
    parts.push('\n')
  }
  await new Promise<void>((resolve, reject) => {
    const child = spawn('git', ['--git-dir', dir, 'fast-import', '--quiet'], { env, stdio: ['pipe', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.on('error', reject)
    child.on('close', code => { if (code === 0) resolve(); else reject(new Error(`git fast-import failed: ${err}`)) })
    child.stdin.end(parts.join(''))
  })
}

interface ReportInfo {
  readonly total: number
  readonly files: number
  readonly runs: number
  readonly load0: number[]
  readonly versions: Record<string, string>
  readonly ft: { bytes: number, tensors: number }
  readonly logCommits: number
  readonly profile?: Awaited<ReturnType<typeof summariseProfile>>
}

function report (b: Bench, info: ReportInfo): number {
  const med = (r: Row | undefined, f: (s: Sample) => number): number => r === undefined ? NaN : median(r.samples.map(f))
  const get = (op: string, tool: string): Row | undefined => b.rows.find(r => r.op === op && r.tool === tool)
  const opsBytes = (op: string): number | null => op === 'first commit' || op === 'checkout v1' || op === 'push' ? info.total : op === 'fine-tune' ? info.ft.bytes : null
  log(`\ndataset: ${info.files} files, ${mib(info.total)} MiB; fine-tune ${mib(info.ft.bytes)} MiB (${info.ft.tensors} tensors)`)
  const rows = b.rows.map(r => {
    const s = med(r, x => x.seconds)
    const bytes = opsBytes(r.op)
    const stored = r.samples.map(x => x.stored).filter((x): x is number => x !== null)
    return [
      r.op, r.tool, s.toFixed(3),
      r.samples.length > 1 ? `${Math.min(...r.samples.map(x => x.seconds)).toFixed(2)}–${Math.max(...r.samples.map(x => x.seconds)).toFixed(2)}` : '',
      med(r, x => x.cpu).toFixed(2),
      bytes === null ? '—' : (bytes / s / 1e6).toFixed(0),
      r.ratios.length > 0 ? median(r.ratios).toFixed(2) : '—',
      stored.length > 0 ? mib(median(stored)) : '—',
      mib(Math.max(...r.samples.map(x => x.rss)))
    ]
  })
  log(formatTable(['operation', 'tool', 'seconds (median)', 'range', 'CPU s', 'MB/s', 'x cp+sync (paired)', 'stored MiB', 'peak RSS MiB'], rows))
  for (const r of b.rows) if (r.note !== '') log(`  ${r.op} / ${r.tool}: ${r.note}`)
  log(`  MB/s: bytes of the operation (whole model; the fine-tune's changed bytes) / median seconds, MB = 10^6 B. Writes include a trailing sync.`)
  log(`  load average: start ${info.load0.map(x => x.toFixed(2)).join(' / ')}, end ${loadavg().map(x => x.toFixed(2)).join(' / ')} on ${cpus().length} cores`)

  const ratio = (op: string, tool: string): number => median(get(op, tool)?.ratios ?? [])
  const secs = (op: string, tool: string): number => med(get(op, tool), x => x.seconds)
  const peers = ['git', 'git-lfs', 'restic', 'borg', 'dvc'].filter(p => get('fine-tune', p) !== undefined)
  const ftMvc = secs('fine-tune', 'mvc')
  const bestPeer = peers.map(p => [p, secs('fine-tune', p)] as const).sort((a, c) => a[1] - c[1])[0]
  const mvcRows = b.rows.filter(r => r.tool.startsWith('mvc') && ['first commit', 'fine-tune', 'checkout v1', 'push', 'unchanged'].includes(r.op))
  const goals = [
    { goal: 'first commit <= 1.25 x cp+sync', value: ratio('first commit', 'mvc'), pass: ratio('first commit', 'mvc') <= 1.25, text: `${ratio('first commit', 'mvc').toFixed(2)} x` },
    { goal: 'fine-tune commit <= 0.25 s and faster than every peer', value: ftMvc, pass: ftMvc <= 0.25 && (bestPeer === undefined || ftMvc < bestPeer[1]), text: `${ftMvc.toFixed(3)} s${bestPeer !== undefined ? ` (fastest peer: ${bestPeer[0]} ${bestPeer[1].toFixed(3)} s)` : ''}` },
    { goal: 're-commit unchanged <= 0.1 s', value: secs('unchanged', 'mvc'), pass: secs('unchanged', 'mvc') <= 0.1, text: `${secs('unchanged', 'mvc').toFixed(3)} s` },
    { goal: 'checkout <= 1.5 x cp+sync', value: ratio('checkout v1', 'mvc'), pass: ratio('checkout v1', 'mvc') <= 1.5, text: `${ratio('checkout v1', 'mvc').toFixed(2)} x` },
    { goal: 'mvc --help <= 0.12 s', value: secs('everyday', 'mvc --help'), pass: secs('everyday', 'mvc --help') <= 0.12, text: `${secs('everyday', 'mvc --help').toFixed(3)} s` },
    { goal: 'mvc --version <= 0.12 s', value: secs('everyday', 'mvc --version'), pass: secs('everyday', 'mvc --version') <= 0.12, text: `${secs('everyday', 'mvc --version').toFixed(3)} s` },
    { goal: 'mvc status (unchanged) <= 0.12 s', value: secs('everyday', 'mvc status (unchanged)'), pass: secs('everyday', 'mvc status (unchanged)') <= 0.12, text: `${secs('everyday', 'mvc status (unchanged)').toFixed(3)} s` },
    { goal: 'status right after an in-place checkout reads nothing', value: secs('in-place', 'mvc status right after'), pass: (JSON.parse(get('in-place', 'mvc commit right after (reads nothing)')!.samples.at(-1)!.results[0]!.stdout) as { stats: { hashedBytes: number } }).stats.hashedBytes === 0, text: `${secs('in-place', 'mvc status right after').toFixed(3)} s; the commit after it read ${get('in-place', 'mvc commit right after (reads nothing)')!.note}` },
    ...(info.logCommits > 0 ? [{ goal: `log over ${info.logCommits} commits <= 0.2 s`, value: secs('log', 'mvc log'), pass: secs('log', 'mvc log') <= 0.2, text: `${secs('log', 'mvc log').toFixed(3)} s (git log ${secs('log', 'git log').toFixed(3)} s)` }] : []),
    { goal: 'peak RSS <= 300 MiB (storage operations)', value: Math.max(...mvcRows.map(r => Math.max(...r.samples.map(x => x.rss)))), pass: Math.max(...mvcRows.map(r => Math.max(...r.samples.map(x => x.rss)))) <= 300 * MiB, text: `${mib(Math.max(...mvcRows.map(r => Math.max(...r.samples.map(x => x.rss)))))} MiB` }
  ]
  log('\ngoals (issue 11):')
  for (const g of goals) log(`  ${g.pass ? 'PASS' : 'MISS'}  ${g.goal}: ${g.text}`)
  const floor = secs('everyday', 'node -e 0 (floor)')
  log(`  (Node's own start-up on this machine now: ${floor.toFixed(3)} s)`)
  if (info.profile !== undefined) {
    log(`\nprofile of a first commit (main thread, ${(info.profile.durationMs / 1000).toFixed(2)} s sampled):`)
    for (const e of info.profile.top) log(`  ${e.selfPct.toFixed(1).padStart(5)} %  ${e.name}`)
  }
  const json = JSON.stringify({
    date: new Date().toISOString(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), os: `${platform()} ${release()}`, node: process.version },
    versions: info.versions,
    loadAverage: { start: info.load0, end: loadavg() },
    dataset: { bytes: info.total, files: info.files, fineTuneBytes: info.ft.bytes },
    rows: b.rows.map(r => ({ op: r.op, tool: r.tool, seconds: r.samples.map(s => s.seconds), cpu: r.samples.map(s => s.cpu), peakRss: r.samples.map(s => s.rss), stored: r.samples.map(s => s.stored), ratios: r.ratios, note: r.note })),
    goals: goals.map(g => ({ goal: g.goal, pass: g.pass, value: g.value, text: g.text }))
  }, null, 2)
  const path = process.env.MVC_BENCH_JSON
  if (path !== undefined && path !== '') writeFileSync(path, json + '\n')
  if (jsonToStdout) process.stdout.write(json + '\n')
  return 0
}

main().then(code => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})
