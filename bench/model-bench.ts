/**
 * Benchmark of mvc on a real, loadable TF.js LayersModel (issue #3): what storage costs, what
 * behaviour verification costs on top, and how that compares with what a user does without mvc
 * (load the model with TF.js and run one predict).
 *
 * Model: Sequential Embedding(inputDim = MiB × 256, outputDim 1024, inputLength 16) → GlobalAveragePooling1D
 * → Dense(256, relu) → Dense(10, softmax). The embedding alone is MVC_BENCH_MODEL_MIB MiB of float32
 * (default 256). Weights come from a seeded mulberry32 PRNG (uniform in [-0.05, 0.05)), set with
 * layer.setWeights on the cpu backend, so the model is byte-for-byte reproducible. It is saved with
 * `artifactsToFiles` and written the way the TF.js converter writes it: 4 MiB shards
 * `group1-shard{i}of{n}.bin` (tensors straddle shard boundaries) and a model.json listing them.
 *
 * Operations (each a child process; wall time, CPU user+sys and peak RSS via bench/lib.ts `run`;
 * operations that write include a trailing `sync`, as in bench/bench.ts; `sync` runs untimed before each):
 *   0. cp -r + sync of the model folder (physical baseline; the copy becomes repository B's model)
 *   1. repository A: mvc init (untimed), `mvc commit model -m x --no-verify`
 *   2. repository B: mvc init (untimed), `mvc commit model -m x --backend wasm` (verification);
 *      `show v1 --json` must say verification.models[0].status === 'recorded'
 *   3. B: `mvc checkout v1 --to <new> --no-verify`
 *   4. B: `mvc checkout v1 --to <new> --backend wasm` — must print PASS
 *   5. B: `mvc verify v1 --backend wasm` — must print PASS
 *   6. by hand: `node model-bench.js --by-hand <model dir>`: tf.loadLayersModel through a small
 *      file IOHandler (model.json + shards read with fs) on wasm, one predict on mvc's reference inputs.
 * Checkouts are compared with the source by `diff -r` (untimed). Exit 1 on any failure.
 * MVC_BENCH_KEEP=1 keeps the temp dir.
 *
 * Usage: npm run bench   (or: npm run build && MVC_BENCH_MODEL_MIB=64 node dist/bench/model-bench.js)
 */
import { mkdtemp, mkdir, rm, readFile } from 'node:fs/promises'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tmpdir, cpus, totalmem, loadavg } from 'node:os'
import type * as TF from '@tensorflow/tfjs'
import { MiB, formatTable, mib, pickRssMethod, quiet, run, type RssMethod, type RunResult } from './lib.js'
import { writeModel } from './embedding-model.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const MVC_BIN = join(ROOT, 'bin', 'mvc.js')
const SELF = fileURLToPath(import.meta.url)

const log = (s = ''): void => { process.stdout.write(s + '\n') }


// ---------------------------------------------------------------------------------------------
// Model generation (in this process, cpu backend)


// ---------------------------------------------------------------------------------------------
// "By hand": what a user does without mvc (child process mode)

async function byHand (dir: string): Promise<void> {
  const tfm = await import('@tensorflow/tfjs')
  const tf = ((tfm as { default?: unknown }).default ?? tfm) as typeof TF
  tf.env().set('PROD', true)
  await import('@tensorflow/tfjs-backend-wasm')
  if (!await tf.setBackend('wasm')) throw new Error('wasm backend unavailable')
  await tf.ready()
  const handler: TF.io.IOHandler = {
    load: async () => {
      const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as TF.io.ModelJSON
      return await tf.io.getModelArtifactsForJSON(json, async manifest => {
        const specs: TF.io.WeightsManifestEntry[] = []
        const bufs: Buffer[] = []
        for (const g of manifest) {
          specs.push(...g.weights)
          for (const p of g.paths) bufs.push(await readFile(join(dir, p)))
        }
        const all = Buffer.concat(bufs)
        return [specs, all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength)]
      })
    }
  }
  const model = await tf.loadLayersModel(handler)
  // mvc's reference inputs (pure function of the signature, no TF.js): ints in [0, 10) as float32.
  const { referenceInputs } = await import('../src/core/verify/inputs.js')
  const { inputSignature } = await import('../src/formats/tfjs/model.js')
  const [input] = referenceInputs(undefined, inputSignature({ kind: 'layers', model }))
  const x = tf.tensor(new Float32Array(input!.data.slice().buffer), [...input!.shape], 'float32')
  const y = model.predict(x) as TF.Tensor
  const out = await y.data()
  let sum = 0
  for (const v of out) sum += v
  process.stdout.write(`by-hand predict ${JSON.stringify(y.shape)} sum ${sum.toFixed(6)}\n`)
}

// ---------------------------------------------------------------------------------------------

interface Row { readonly label: string, readonly r: RunResult }

async function main (): Promise<number> {
  const modelMiB = Number(process.env.MVC_BENCH_MODEL_MIB ?? '256')
  if (!Number.isFinite(modelMiB) || modelMiB <= 0) throw new TypeError('MVC_BENCH_MODEL_MIB must be a positive number')
  const method: RssMethod = await pickRssMethod()
  const tmp = await mkdtemp(join(tmpdir(), 'mvc-model-bench-'))
  const keep = process.env.MVC_BENCH_KEEP === '1'
  const rows: Row[] = []
  let failed = false
  try {
    const srcDir = join(tmp, 'src')
    const model = join(srcDir, 'model')
    const t0 = performance.now()
    const { bytes, shards } = await writeModel(model, modelMiB)
    log(`model: ${mib(bytes)} MiB in ${shards} shards of 4 MiB + model.json (generated in ${((performance.now() - t0) / 1000).toFixed(1)} s)`)
    log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, node ${process.version}, RSS via ${method}, load average at start ${loadavg().map(v => v.toFixed(2)).join(' ')}`)
    const repoA = join(tmp, 'A')
    const repoB = join(tmp, 'B')
    await mkdir(repoA)
    await mkdir(repoB)
    const node = process.execPath
    const durable = async (label: string, cmd: string, args: string[], cwd: string): Promise<RunResult> => {
      await quiet('sync', [])
      const r = await run(method, 'sh', ['-c', '"$@" && sync', 'sh', cmd, ...args], { cwd })
      rows.push({ label, r })
      return r
    }
    const mvc = (cwd: string, ...args: string[]): Promise<RunResult> => durable('', node, [MVC_BIN, ...args], cwd)
    const measure = async (label: string, cwd: string, ...args: string[]): Promise<RunResult> => {
      const r = await mvc(cwd, ...args)
      rows[rows.length - 1] = { label, r }
      return r
    }

    await durable('cp -r + sync (baseline)', 'cp', ['-r', model, join(repoB, 'model')], tmp)
    await quiet('cp', ['-r', model, join(repoA, 'model')])
    await quiet(node, [MVC_BIN, 'init'], { cwd: repoA })
    await quiet(node, [MVC_BIN, 'init'], { cwd: repoB })

    await measure('1. commit --no-verify', repoA, 'commit', 'model', '-m', 'x', '--no-verify')
    await measure('2. commit (verify, wasm)', repoB, 'commit', 'model', '-m', 'x', '--backend', 'wasm')
    const show = JSON.parse(await quiet(node, [MVC_BIN, 'show', 'v1', '--json'], { cwd: repoB })) as { commit?: { verification?: { models?: Array<{ status?: string, reason?: string }> } } }
    const vm = show.commit?.verification?.models?.[0]
    if (vm?.status !== 'recorded') {
      log(`FAIL: commit did not record verification: ${JSON.stringify(show.commit?.verification ?? null)}`)
      failed = true
    }
    const co1 = join(tmp, 'co-noverify')
    const co2 = join(tmp, 'co-verify')
    const c1 = await measure('3. checkout v1 --no-verify', repoB, 'checkout', 'v1', '--to', co1, '--no-verify')
    const c2 = await measure('4. checkout v1 (verify, wasm)', repoB, 'checkout', 'v1', '--to', co2, '--backend', 'wasm')
    if (!/\bPASS\b/.test(c2.stdout + c2.stderr)) {
      log(`FAIL: checkout with verification did not print PASS:\n${c2.stdout}${c2.stderr}`)
      failed = true
    }
    for (const d of [co1, co2]) {
      const r = await run(method, 'diff', ['-r', model, d], { check: false })
      if (r.code !== 0) { log(`FAIL: ${d} differs from the source:\n${r.stdout.slice(0, 2000)}`); failed = true }
    }
    await quiet('sync', [])
    const v = await run(method, node, [MVC_BIN, 'verify', 'v1', '--backend', 'wasm'], { cwd: repoB })
    rows.push({ label: '5. verify v1 (wasm)', r: v })
    if (!/\bPASS\b/.test(v.stdout + v.stderr)) { log(`FAIL: verify did not print PASS:\n${v.stdout}${v.stderr}`); failed = true }
    await quiet('sync', [])
    const h = await run(method, node, [SELF, '--by-hand', model])
    rows.push({ label: '6. by hand: loadLayersModel + predict (wasm)', r: h })
    log(h.stdout.trim())

    const ref = h.seconds
    const table = rows.map(({ label, r }) => [label, r.seconds.toFixed(2), r.cpuSeconds.toFixed(2), mib(r.peakRss), (r.seconds / ref).toFixed(2)])
    log()
    log(formatTable(['operation', 'seconds', 'CPU s', 'peak RSS MiB', 'x (6)'], table))
    const overhead = c2.seconds - c1.seconds
    const overheadCpu = c2.cpuSeconds - c1.cpuSeconds
    log()
    log(`verification overhead at checkout = (4) - (3) = ${overhead.toFixed(2)} s wall, ${overheadCpu.toFixed(2)} s CPU; by hand (6) = ${ref.toFixed(2)} s wall, ${h.cpuSeconds.toFixed(2)} s CPU; ratio ${(overhead / ref).toFixed(2)}`)
    log(`peak RSS / model size: commit+verify ${(rows[2]!.r.peakRss / bytes).toFixed(2)}, checkout+verify ${(c2.peakRss / bytes).toFixed(2)}, verify ${(v.peakRss / bytes).toFixed(2)}, by hand ${(h.peakRss / bytes).toFixed(2)}`)
    log(`load average at end ${loadavg().map(x => x.toFixed(2)).join(' ')}`)
    log(failed ? 'RESULT: FAIL' : 'RESULT: ok')
  } catch (e) {
    log(`FAIL: ${e instanceof Error ? e.message : String(e)}`)
    failed = true
  } finally {
    if (keep) log(`kept ${tmp}`)
    else await rm(tmp, { recursive: true, force: true })
  }
  return failed ? 1 : 0
}

const i = process.argv.indexOf('--by-hand')
if (i >= 0) {
  byHand(process.argv[i + 1] ?? '.').then(() => { process.exitCode = 0 }, (e: unknown) => { console.error(e); process.exitCode = 1 })
} else {
  main().then(code => { process.exitCode = code }, (e: unknown) => { console.error(e); process.exitCode = 1 })
}
