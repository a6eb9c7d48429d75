/**
 * What verification costs in memory and time on a large model (issue #10, item 4): peak RSS against
 * the model's size, and time against loading and predicting by hand.
 *
 * Model: bench/model-bench.ts's generator — Sequential Embedding(inputDim, 1024) → GlobalAveragePooling1D
 * → Dense(256, relu) → Dense(10, softmax), MVC_BENCH_MODEL_MIB MiB (default 1024) of seeded float32
 * weights, written like the TF.js converter writes it (4 MiB shards, model.json). The embedding is one
 * tensor of nearly the whole model, the hardest case for memory: it cannot be loaded weight by weight.
 *
 * Each row is a child process measured with bench/lib.ts (wall time, CPU, peak RSS via GNU time):
 *   1. mvc commit --no-verify                        (storage alone)
 *   2. mvc commit --backend wasm                     (storage + recording; the second backend is not
 *                                                    measured at this size: --measure auto)
 *   3. mvc verify v1 --backend wasm                  (from the store)
 *   4. mvc checkout v1 --to new --no-verify
 *   5. mvc checkout v1 --to new --backend wasm       (rebuild + verify)
 *   6. by hand: tf.loadLayersModel (files read with fs, as getModelArtifactsForJSON does) + one predict
 * Goals: peak RSS of 3 and 5 ≤ 1.5 × model + 200 MiB; time of 3 ≤ 1.2 × (6), and (5) − (4) ≤ 1.2 × (6).
 *
 * Usage: npm run build && node dist/bench/verify-memory.js   (MVC_BENCH_MODEL_MIB=256 for a quicker run)
 */
import { mkdtemp, mkdir, readFile, rm } from 'node:fs/promises'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tmpdir, cpus, totalmem, loadavg } from 'node:os'
import type * as TF from '@tensorflow/tfjs'
import { MiB, formatTable, mib, pickRssMethod, quiet, run, type RunResult } from './lib.js'
import { writeModel as writeEmbeddingModel } from './embedding-model.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const MVC_BIN = join(ROOT, 'bin', 'mvc.js')
const SELF = fileURLToPath(import.meta.url)
const log = (s = ''): void => { process.stdout.write(s + '\n') }

/** The generator of bench/model-bench.ts (bench/embedding-model.ts); returns the bytes written. */
async function writeModel (dir: string, modelMiB: number): Promise<number> {
  return (await writeEmbeddingModel(dir, modelMiB)).bytes
}

/** What a user does without mvc: model.json + shards read with fs into one buffer, loadLayersModel, one predict. */
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
        for (const g of manifest) { specs.push(...g.weights); for (const p of g.paths) bufs.push(await readFile(join(dir, p))) }
        const all = Buffer.concat(bufs)
        return [specs, all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength)]
      })
    }
  }
  const model = await tf.loadLayersModel(handler)
  const { referenceInputs, concreteShape } = await import('../src/core/verify/inputs.js')
  const { inputSignature } = await import('../src/formats/tfjs/model.js')
  const sig = inputSignature({ kind: 'layers', model }).map(s => ({ ...s, shape: concreteShape(s.shape) }))
  const [input] = referenceInputs(undefined, sig)
  const x = tf.tensor(new Float32Array(input!.data.slice().buffer), [...input!.shape], 'float32')
  const y = model.predict(x) as TF.Tensor
  const out = await y.data()
  let sum = 0
  for (let k = 0; k < out.length; k++) sum += Number(out[k])
  process.stdout.write(`by-hand predict ${JSON.stringify(y.shape)} sum ${sum.toFixed(6)}\n`)
}

async function main (): Promise<number> {
  const modelMiB = Number(process.env.MVC_BENCH_MODEL_MIB ?? '1024')
  const method = await pickRssMethod()
  const tmp = await mkdtemp(join(tmpdir(), 'mvc-verify-memory-'))
  let failed = false
  try {
    const model = join(tmp, 'repo', 'model')
    const t0 = performance.now()
    const bytes = await writeModel(model, modelMiB)
    log(`model: ${mib(bytes)} MiB (generated in ${((performance.now() - t0) / 1000).toFixed(1)} s); ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, RSS via ${method}, load ${loadavg().map(v => v.toFixed(2)).join(' ')}`)
    const repo = join(tmp, 'repo')
    const repoB = join(tmp, 'repoB')
    await mkdir(repoB)
    await quiet('cp', ['-r', model, join(repoB, 'model')])
    await quiet(process.execPath, [MVC_BIN, 'init'], { cwd: repo })
    await quiet(process.execPath, [MVC_BIN, 'init'], { cwd: repoB })
    const rows: Array<{ label: string, r: RunResult }> = []
    const mvc = async (label: string, cwd: string, ...args: string[]): Promise<RunResult> => {
      await quiet('sync', [])
      const r = await run(method, process.execPath, [MVC_BIN, ...args], { cwd, check: false })
      rows.push({ label, r })
      if (r.code !== 0) { log(`FAIL: ${label}: exit ${r.code}\n${r.stdout}${r.stderr}`); failed = true }
      return r
    }
    await mvc('1. commit --no-verify', repoB, 'commit', 'model', '-m', 'x', '--no-verify')
    const c = await mvc('2. commit (verify, wasm)', repo, 'commit', 'model', '-m', 'x', '--backend', 'wasm')
    if (!/recorded \(/.test(c.stderr)) { log(`FAIL: verification not recorded: ${c.stderr}`); failed = true }
    const v = await mvc('3. verify v1 (wasm)', repo, 'verify', 'v1', '--backend', 'wasm')
    if (!/\bPASS\b/.test(v.stdout)) failed = true
    await mvc('4. checkout v1 --to new --no-verify', repo, 'checkout', 'v1', '--to', join(tmp, 'co1'), '--no-verify')
    const co = await mvc('5. checkout v1 --to new (verify, wasm)', repo, 'checkout', 'v1', '--to', join(tmp, 'co2'), '--backend', 'wasm')
    if (!/\bPASS\b/.test(co.stdout)) failed = true
    await quiet('sync', [])
    const h = await run(method, process.execPath, [SELF, '--by-hand', model])
    rows.push({ label: '6. by hand: loadLayersModel + predict (wasm)', r: h })
    log(h.stdout.trim())
    const ref = h.seconds
    log()
    log(formatTable(['operation', 'seconds', 'CPU s', 'peak RSS MiB', 'RSS / model', 'x (6) time'], rows.map(({ label, r }) => [label, r.seconds.toFixed(2), r.cpuSeconds.toFixed(2), mib(r.peakRss), (r.peakRss / bytes).toFixed(2), (r.seconds / ref).toFixed(2)])))
    const goal = 1.5 * bytes + 200 * MiB
    const r = (i: number): RunResult => rows[i]!.r
    log()
    log(`memory goal 1.5 × model + 200 MiB = ${mib(goal)} MiB: commit+verify ${mib(r(1).peakRss)}, verify ${mib(r(2).peakRss)}, checkout+verify ${mib(r(4).peakRss)}, by hand ${mib(h.peakRss)}`)
    log(`time: verify / by hand = ${(r(2).seconds / ref).toFixed(2)} (CPU ${(r(2).cpuSeconds / h.cpuSeconds).toFixed(2)}); checkout overhead (5) − (4) = ${(r(4).seconds - r(3).seconds).toFixed(2)} s = ${((r(4).seconds - r(3).seconds) / ref).toFixed(2)} × by hand (CPU ${((r(4).cpuSeconds - r(3).cpuSeconds) / h.cpuSeconds).toFixed(2)}); commit overhead (2) − (1) = ${(r(1).seconds - r(0).seconds).toFixed(2)} s = ${((r(1).seconds - r(0).seconds) / ref).toFixed(2)} × by hand`)
    log(`load average at end ${loadavg().map(x => x.toFixed(2)).join(' ')}`)
  } finally {
    if (process.env.MVC_BENCH_KEEP === '1') log(`kept ${tmp}`)
    else await rm(tmp, { recursive: true, force: true })
  }
  log(failed ? 'RESULT: FAIL' : 'RESULT: ok')
  return failed ? 1 : 0
}

const i = process.argv.indexOf('--by-hand')
if (i >= 0) byHand(process.argv[i + 1] ?? '.').then(() => { process.exitCode = 0 }, (e: unknown) => { console.error(e); process.exitCode = 1 })
else main().then(code => { process.exitCode = code }, (e: unknown) => { console.error(e); process.exitCode = 1 })
