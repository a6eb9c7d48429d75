/**
 * Benchmark of signing, signature verification and CAR files (issue #14), side by side with OpenSSF
 * model signing (`model_signing` 1.1.1 from PyPI, scripts/model-signing-env.sh) on the same folder.
 *
 * For each size (MVC_BENCH_SIGN_GIB, default "1,10"): a TF.js-layout model folder of that many GiB of
 * incompressible weights (bench/dataset.ts), committed with `mvc commit --no-verify` (untimed), then,
 * each a child process timed with wall time, CPU and peak RSS (bench/lib.ts `run`):
 *   - sha256sum of every file (the floor for anything that must hash the bytes once);
 *   - `mvc sign v1 --key ec` (mvc's own signature: the commit CID), `mvc verify v1 --signature`;
 *   - `mvc sign v1 --openssf` cold (per-file SHA-256 from the store) and again (digests cached);
 *   - `model_signing sign key` and `verify key` on the committed folder (which is the version checked out);
 *   - `model_signing verify key` of mvc's bundle; `mvc verify --bundle` of model_signing's bundle, on the
 *     folder (hashing it, as model_signing does) and on the version (cached digests);
 *   - `mvc export v1 -o v1.car`, then `mvc import v1.car` into an empty repository.
 * The files stay in the page cache (23 GB RAM): figures are CPU-bound, not disk-bound. Everything is
 * deleted at the end (MVC_BENCH_KEEP=1 keeps it).
 *
 * Usage: npm run build && node dist/bench/sign-bench.js   (MVC_BENCH_SIGN_GIB=0.25 for a quick run)
 */
import { mkdtemp, rm, mkdir, readdir } from 'node:fs/promises'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tmpdir, cpus, totalmem } from 'node:os'
import { formatTable, pickRssMethod, quiet, run, treeBytes, MiB, type RunResult } from './lib.js'
import { writeModelFolder } from './dataset.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const MVC = join(ROOT, 'bin', 'mvc.js')
const log = (s = ''): void => { process.stdout.write(s + '\n') }
const ENV = { ...process.env, MVC_AUTHOR_NAME: 'Bench', MVC_AUTHOR_EMAIL: 'bench@example.com', MVC_DATE: '2026-01-01T00:00:00Z' }

async function main (): Promise<void> {
  const sizes = (process.env.MVC_BENCH_SIGN_GIB ?? '1,10').split(',').map(Number)
  const method = await pickRssMethod()
  const ms = (await quiet('bash', [join(ROOT, 'scripts', 'model-signing-env.sh')])).trim().split('\n').pop()!
  log(`# sign-bench: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, node ${process.version}, RSS by ${method}`)
  log(`model_signing: ${(await quiet(ms, ['--version'])).trim()}`)
  for (const gib of sizes) {
    const bytes = Math.round(gib * 1024) * MiB
    const dir = await mkdtemp(join(tmpdir(), 'mvc-sign-bench-'))
    try {
      const repo = join(dir, 'repo')
      const model = join(repo, 'model')
      await mkdir(repo)
      await writeModelFolder(model, bytes)
      await quiet('sync', [])
      const files = await readdir(model)
      const opt = { cwd: repo, env: ENV }
      await quiet(process.execPath, [MVC, 'init'], opt)
      const commit = await run(method, process.execPath, [MVC, 'commit', 'model', '-m', 'bench', '--no-verify', '--no-code'], opt)
      await quiet(process.execPath, [MVC, 'keygen', join(dir, 'ec'), '--type', 'ecdsa-p256'], opt)
      const rows: Array<[string, RunResult, boolean]> = []
      /** `perByte`: the step reads every byte, so a rate is meaningful. */
      const step = async (label: string, cmd: string, args: string[], cwd = repo, perByte = true): Promise<RunResult> => {
        const r = await run(method, cmd, args, { cwd, env: ENV })
        rows.push([label, r, perByte])
        return r
      }
      await step('sha256sum of every file (floor)', 'sh', ['-c', `cd model && sha256sum ${files.map(f => `'${f}'`).join(' ')} > /dev/null`])
      await step('mvc sign v1 (commit CID)', process.execPath, [MVC, 'sign', 'v1', '--key', join(dir, 'ec')], repo, false)
      await step('mvc verify v1 --signature', process.execPath, [MVC, 'verify', 'v1', '--signature', '--trusted-key', join(dir, 'ec.pub')], repo, false)
      await step('mvc sign --openssf (cold: hashes the store)', process.execPath, [MVC, 'sign', 'v1', '--key', join(dir, 'ec'), '--force', '--openssf', join(dir, 'mvc.sig')])
      await step('mvc sign --openssf (digests cached)', process.execPath, [MVC, 'sign', 'v1', '--key', join(dir, 'ec'), '--force', '--openssf', join(dir, 'mvc.sig')], repo, false)
      await step('model_signing sign key (folder)', ms, ['sign', 'key', '--private_key', join(dir, 'ec'), '--signature', join(dir, 'ms.sig'), model])
      await step('model_signing verify key (its own bundle)', ms, ['verify', 'key', '--signature', join(dir, 'ms.sig'), '--public_key', join(dir, 'ec.pub'), model])
      await step('model_signing verify key (mvc\'s bundle)', ms, ['verify', 'key', '--signature', join(dir, 'mvc.sig'), '--public_key', join(dir, 'ec.pub'), model])
      await step('mvc verify --bundle ms.sig --path model', process.execPath, [MVC, 'verify', '--bundle', join(dir, 'ms.sig'), '--trusted-key', join(dir, 'ec.pub'), '--path', model])
      await step('mvc verify v1 --bundle ms.sig (cached)', process.execPath, [MVC, 'verify', 'v1', '--bundle', join(dir, 'ms.sig'), '--trusted-key', join(dir, 'ec.pub')], repo, false)
      const car = join(dir, 'v1.car')
      await step('mvc export v1 -o v1.car', process.execPath, [MVC, 'export', 'v1', '-o', car])
      const carBytes = await treeBytes(car)
      const other = join(dir, 'other')
      await mkdir(other)
      await quiet(process.execPath, [MVC, 'init'], { cwd: other, env: ENV })
      await step('mvc import v1.car (empty repository)', process.execPath, [MVC, 'import', car], other)
      await rm(other, { recursive: true, force: true })
      await rm(car, { force: true })
      log()
      log(`## ${gib} GiB (${(bytes / 2 ** 30).toFixed(2)} GiB in ${files.length} files; commit ${commit.seconds.toFixed(1)} s; CAR ${(carBytes / 2 ** 30).toFixed(3)} GiB)`)
      log()
      log(formatTable(['operation', 'wall s', 'CPU s', 'MB/s', 'peak RSS MiB'], rows.map(([label, r, perByte]) => [
        label, r.seconds.toFixed(2), r.cpuSeconds.toFixed(2), perByte ? (bytes / 1e6 / r.seconds).toFixed(0) : '—', (r.peakRss / MiB).toFixed(0)
      ])))
    } finally {
      if (process.env.MVC_BENCH_KEEP !== '1') await rm(dir, { recursive: true, force: true })
      else log(`kept ${dir}`)
    }
  }
}

main().catch(e => { process.stderr.write(`${(e as Error).stack ?? String(e)}\n`); process.exit(1) })
