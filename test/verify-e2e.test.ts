/**
 * Verification end to end with real TF.js inference (wasm and cpu): per-output rules recorded at
 * commit, a second backend measured, large outputs kept as samples, outputs after non-max suppression
 * recognised, a perturbed weight caught by verification and by `diff --outputs`, weights read into
 * tensors with names and shapes checked first, progress reported, and records of mvc 0.1 still
 * verified. Models are the project's fixtures (fixtures/build.ts) and small graph models written here
 * in the converter's layout, with seeded weights.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Repository } from '../src/index.js'
import type { VerificationRecord, VerifyProgress } from '../src/api/index.js'
import { buildFixtures, type FixtureInfo } from '../fixtures/build.js'
import { checkVerification, modelsOf, readTensorData, recordedInputs, storeTensorData, uniform01, verifyCheckout } from '../src/core/verify/index.js'
import { readCommit, readManifest, readFileBytes } from '../src/core/objects.js'
import { resolveRev } from '../src/core/refs.js'
import { DEFAULT_FORMATS } from '../src/formats/index.js'
import { loadRuntime } from '../src/formats/tfjs/runtime.js'
import { loadModel } from '../src/formats/tfjs/model.js'
import { mvcJson, mvcOk, runMvc } from './helpers.js'

const cleanup: string[] = []
let fixtures: FixtureInfo[] = []
let fxRoot = ''
before(async () => {
  fxRoot = await mkdtemp(join(tmpdir(), 'mvc-vfx-'))
  cleanup.push(fxRoot)
  fixtures = await buildFixtures(fxRoot)
})
after(async () => { for (const d of cleanup) await rm(d, { recursive: true, force: true }) })

async function newRepo (): Promise<{ dir: string, repo: Repository }> {
  const dir = await mkdtemp(join(tmpdir(), 'mvc-verify-e2e-'))
  cleanup.push(dir)
  await Repository.init({ dir })
  return { dir, repo: await Repository.open({ dir }) }
}

const fixtureDir = (name: string): string => fixtures.find(f => f.name === name)!.dir

const f32 = (v: Float32Array): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
function seeded (n: number, seed: number, scale = 1): Float32Array {
  const next = uniform01(seed)
  return Float32Array.from({ length: n }, () => (next() * 2 - 1) * scale)
}
const dim = (sizes: number[]): unknown => ({ dim: sizes.map(s => ({ size: String(s) })) })
const FLOAT = { type: 'DT_FLOAT' }
const constNode = (name: string, shape: number[], dtype = 'DT_FLOAT'): unknown => ({ name, op: 'Const', attr: { value: { tensor: { dtype, tensorShape: dim(shape) } }, dtype: { type: dtype } } })

/** x[-1, n] → MatMul(W[n, m]) → Tanh → Identity: a graph model with an output of m values per item. */
async function wideGraph (dir: string, n: number, m: number): Promise<void> {
  await mkdir(dir, { recursive: true })
  const json = {
    format: 'graph-model',
    modelTopology: {
      node: [
        constNode('W', [n, m]),
        { name: 'x', op: 'Placeholder', attr: { dtype: FLOAT, shape: { shape: dim([-1, n]) } } },
        { name: 'MatMul', op: 'MatMul', input: ['x', 'W'], attr: { transpose_a: { b: false }, transpose_b: { b: false }, T: FLOAT } },
        { name: 'Tanh', op: 'Tanh', input: ['MatMul'], attr: { T: FLOAT } },
        { name: 'Identity', op: 'Identity', input: ['Tanh'], attr: { T: FLOAT } }
      ],
      versions: { producer: 1645 }
    },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [{ name: 'W', shape: [n, m], dtype: 'float32' }] }]
  }
  await writeFile(join(dir, 'model.json'), JSON.stringify(json))
  await writeFile(join(dir, 'group1-shard1of1.bin'), f32(seeded(n * m, 11, 0.2)))
}

/** boxes[-1, 4], sigmoid(scores[-1]) → NonMaxSuppressionV3 (max 3, IoU 0.5, score 0) → Identity: indices after NMS; Identity_1: the sigmoid. */
async function nmsGraph (dir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  const json = {
    format: 'graph-model',
    modelTopology: {
      node: [
        { name: 'boxes', op: 'Placeholder', attr: { dtype: FLOAT, shape: { shape: dim([-1, 4]) } } },
        { name: 'scores', op: 'Placeholder', attr: { dtype: FLOAT, shape: { shape: dim([-1]) } } },
        constNode('max_out', [], 'DT_INT32'),
        constNode('iou', []),
        constNode('score_min', []),
        { name: 'nms', op: 'NonMaxSuppressionV3', input: ['boxes', 'Sig', 'max_out', 'iou', 'score_min'], attr: { T: FLOAT } },
        { name: 'Identity', op: 'Identity', input: ['nms'], attr: { T: { type: 'DT_INT32' } } },
        { name: 'Sig', op: 'Sigmoid', input: ['scores'], attr: { T: FLOAT } },
        { name: 'Identity_1', op: 'Identity', input: ['Sig'], attr: { T: FLOAT } }
      ],
      versions: { producer: 1645 }
    },
    weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'max_out', shape: [], dtype: 'int32' }, { name: 'iou', shape: [], dtype: 'float32' }, { name: 'score_min', shape: [], dtype: 'float32' }] }]
  }
  await writeFile(join(dir, 'model.json'), JSON.stringify(json))
  await writeFile(join(dir, 'w.bin'), Buffer.concat([Buffer.from(new Int32Array([3]).buffer), Buffer.from(new Float32Array([0.5, -10]).buffer)]))
}

/** Multiplies every float32 of a shard by 1 ± 1e-3 (seeded signs) from `offset` for `count` values. */
async function perturb (file: string, offset: number, count: number): Promise<void> {
  const b = new Uint8Array(await readFile(file))
  const dv = new DataView(b.buffer)
  const next = uniform01(5)
  for (let i = 0; i < count; i++) dv.setFloat32(offset + 4 * i, dv.getFloat32(offset + 4 * i, true) * (1 + (next() < 0.5 ? -1e-3 : 1e-3)), true)
  await writeFile(file, b)
}

test('commit records a rule per output from a second backend; the recording runtime must reproduce every byte; cpu passes by the measured rule', { timeout: 120_000 }, async () => {
  const { dir, repo } = await newRepo()
  try {
    await cp(fixtureDir('two-io'), join(dir, 'model'), { recursive: true })
    const c = await repo.commit({ path: join(dir, 'model'), message: 'v1', verify: { backend: 'wasm', measure: 'always' }, code: false })
    const m = c.verification!.models[0]!
    assert.equal(m.status, 'recorded')
    if (m.status !== 'recorded') return
    assert.equal(m.runtime?.backend, 'wasm')
    assert.match(m.runtime?.fingerprint ?? '', /^tfjs 4\.\d+\.\d+ wasm simd=[01] threads=\d+$/)
    assert.equal(m.inputs.length, 0, 'generated inputs are not stored')
    assert.equal(m.reference!.generated!.specs.length, 2)
    for (const o of m.reference!.outputs) {
      assert.deepEqual([o.check.rule, o.check.basis, o.check.measured?.backend], ['allclose', 'measured', 'cpu'])
      assert.ok(o.check.atol > 0 && o.check.atol >= 10 * o.check.measured!.maxAbsDiff)
    }
    const same = await repo.verify({ rev: 'v1', backend: 'wasm' })
    assert.equal(same.pass, true)
    assert.ok(same.models[0]!.sameRuntime)
    assert.ok(same.models[0]!.outputs.every(o => o.rule === 'exact (same runtime)' && o.identical))
    const cpu = await repo.verify({ rev: 'v1', backend: 'cpu' })
    assert.equal(cpu.pass, true)
    assert.ok(cpu.models[0]!.outputs.every(o => o.rule === 'allclose' && o.maxAbsDiff <= o.atol))
  } finally { await repo.close() }
})

test('a large output is kept as a seeded sample with its digest and statistics (≤ 1 % of the model), and still verifies everywhere', { timeout: 120_000 }, async () => {
  const { dir, repo } = await newRepo()
  try {
    await wideGraph(join(dir, 'model'), 64, 512)
    const c = await repo.commit({ path: join(dir, 'model'), message: 'wide', verify: { backend: 'wasm', measure: 'always' }, code: false })
    const m = c.verification!.models[0]!
    if (m.status !== 'recorded') assert.fail(JSON.stringify(m))
    const o = m.reference!.outputs[0]!
    assert.deepEqual(o.shape, [2, 512])
    // 64 × 512 float32 = 131 072 bytes; 1 % of it for one output = 327 elements of 1024.
    assert.equal(o.sample?.count, 327)
    const kept = await readTensorData(repo.store, o.kept)
    assert.deepEqual(kept.shape, [327])
    assert.equal(o.stats?.finite, 1024)
    assert.equal((await repo.verify({ rev: 'v1', backend: 'wasm' })).pass, true)
    const cpu = await repo.verify({ rev: 'v1', backend: 'cpu' })
    assert.deepEqual([cpu.pass, cpu.models[0]!.outputs[0]!.sampled, cpu.models[0]!.outputs[0]!.elements], [true, true, 327])
  } finally { await repo.close() }
})

test('outputs after non-max suppression are recognised from the graph and get a rule that fits them; the values NMS chooses from are probed', { timeout: 120_000 }, async () => {
  const { dir, repo } = await newRepo()
  try {
    await nmsGraph(join(dir, 'model'))
    const c = await repo.commit({ path: join(dir, 'model'), message: 'nms', verify: { backend: 'wasm', measure: 'never' }, code: false })
    const m = c.verification!.models[0]!
    if (m.status !== 'recorded') assert.fail(JSON.stringify(m))
    const byName = new Map(m.reference!.outputs.map(o => [o.name, o.check]))
    assert.equal(byName.get('Identity')!.rule, 'exact', 'integer indices compare exactly')
    assert.match(byName.get('Identity')!.note ?? '', /NonMaxSuppressionV3/)
    assert.equal(byName.get('Identity_1')!.rule, 'allclose', 'not downstream of NMS')
    assert.equal(byName.get('Identity_1')!.basis, 'fallback')
    // The scores NMS chooses from are recorded as a probe (inputs and constants never are).
    const probes = m.reference!.outputs.filter(o => o.probe === true).map(o => o.name)
    assert.deepEqual(probes, ['Sig:0'])
    const r = await repo.verify({ rev: 'v1', backend: 'cpu' })
    assert.equal(r.pass, true)
  } finally { await repo.close() }
})

test('a weight perturbed by 1e-3 fails verification on the recording runtime and shows in diff --outputs (CLI, exit code)', { timeout: 120_000 }, async () => {
  const { dir, repo } = await newRepo()
  const model = join(dir, 'model')
  try {
    await cp(fixtureDir('dense'), model, { recursive: true })
    await repo.commit({ path: model, message: 'v1', verify: { backend: 'wasm' }, code: false })
    // dense: hidden/kernel [8,16] first in the shard.
    await perturb(join(model, 'weights.bin'), 0, 8 * 16)
    const commit = await readCommit(repo.store, await resolveRev(repo.store, 'v1'))
    const manifest = await readManifest(repo.store, commit.model!)
    await assert.rejects(verifyCheckout({ store: repo.store, record: commit.verification!, parts: [{ path: commit.path!, manifest, dir: model }], prefixed: false, version: 1, formats: DEFAULT_FORMATS, backend: 'wasm' }),
      (e: unknown) => (e as { code?: string }).code === 'VERIFICATION_FAILED')
    const d = await repo.diffOutputs({ a: 'v1', backend: 'wasm' })
    assert.equal(d.changed, true)
    const o = d.models[0]!.outputs[0]!
    assert.equal(o.status, 'changed')
    assert.ok((o.maxAbsDiff ?? 0) > 0 && (o.changedElements ?? 0) > 0)
    await repo.commit({ path: model, message: 'v2', verify: { backend: 'wasm' }, code: false })
  } finally { await repo.close() }
  const cli = await runMvc(['diff', 'v1', 'v2', '--outputs', '--backend', 'wasm', '--exit-code'], { cwd: dir })
  assert.equal(cli.code, 1, cli.stderr)
  assert.match(cli.stdout, /outputs \(both versions run on the same inputs\)/)
  assert.match(cli.stdout, /CHANGED/)
  assert.match(cli.stdout, /behaviour changed/)
  const same = await mvcJson<{ outputs: { changed: boolean, models: Array<{ inputs: string, outputs: Array<{ status: string }> }> } }>(['diff', 'v2', 'v2', '--outputs', '--backend', 'wasm'], { cwd: dir })
  assert.equal(same.outputs.changed, false)
  assert.deepEqual(same.outputs.models[0]!.outputs.map(x => x.status), ['same'])
  assert.equal(same.outputs.models[0]!.inputs, 'recorded')
  // A second tracked path: v3 is a version of several paths, where models are named under their paths.
  // Narrowed to the model's path, v1 (one path) and v3 pair up, on v1's recorded inputs.
  await mkdir(join(dir, 'notes'))
  await writeFile(join(dir, 'notes', 'README.txt'), 'the dense model\n')
  await mvcOk(['commit', 'notes', '-m', 'v3', '--no-verify'], { cwd: dir })
  type Outputs = { outputs: { changed: boolean, models: Array<{ path: string, status: string, inputs: string }> } }
  const narrowed = JSON.parse((await mvcOk(['diff', 'v1', 'v3', '--outputs', '--backend', 'wasm', '--json', '--', 'model'], { cwd: dir })).stdout) as Outputs
  assert.deepEqual(narrowed.outputs.models.map(m => [m.path, m.status, m.inputs]), [['model.json', 'compared', 'recorded']])
  assert.equal(narrowed.outputs.changed, true)
  const whole = await mvcJson<Outputs>(['diff', 'v2', 'v3', '--outputs', '--backend', 'wasm'], { cwd: dir })
  assert.deepEqual(whole.outputs.models.map(m => [m.path, m.status, m.inputs]), [['model/model.json', 'compared', 'recorded']])
  assert.equal(whole.outputs.changed, false)
})

test('weights are read into tensors only after names and shapes match the topology: a mismatch fails fast without reading a weight', async () => {
  const model = join(await mkdtemp(join(tmpdir(), 'mvc-ff-')), 'm')
  cleanup.push(model)
  await cp(fixtureDir('dense'), model, { recursive: true })
  const json = JSON.parse(await readFile(join(model, 'model.json'), 'utf8')) as { weightsManifest: Array<{ weights: Array<{ name: string, shape: number[] }> }> }
  json.weightsManifest[0]!.weights[0]!.shape = [8, 17]
  const reads: string[] = []
  const files = {
    size: async (p: string) => (await readFile(join(model, p))).length + 4096,
    readRange: async (p: string) => { reads.push(p); throw new Error('no weight may be read') }
  }
  const readFileFn = async (p: string): Promise<Uint8Array> => {
    if (p !== 'model.json') { reads.push(p); throw new Error('no shard may be read whole') }
    return new TextEncoder().encode(JSON.stringify(json))
  }
  for (const backend of ['wasm', 'cpu'] as const) {
    const rt = await loadRuntime(backend)
    await assert.rejects(loadModel(rt, 'model.json', readFileFn, files), (e: unknown) => (e as { code?: string }).code === 'INVALID_MODEL' && /checked before reading weights/.test((e as Error).message) && /\[8,17\]/.test((e as Error).message))
  }
  assert.deepEqual(reads, [])
  // Shards shorter than the manifest needs: refused before reading too.
  json.weightsManifest[0]!.weights[0]!.shape = [8, 16]
  const short = { ...files, size: async () => 100 }
  await assert.rejects(loadModel(await loadRuntime('wasm'), 'model.json', readFileFn, short), (e: unknown) => (e as { code?: string }).code === 'INVALID_MODEL')
  assert.deepEqual(reads, [])
})

test('progress: each model is reported as it is loaded and run (model i of n, elapsed)', { timeout: 120_000 }, async () => {
  const { dir, repo } = await newRepo()
  try {
    await mkdir(join(dir, 'model'))
    await cp(fixtureDir('dense'), join(dir, 'model', 'a'), { recursive: true })
    await cp(fixtureDir('conv-bn'), join(dir, 'model', 'b'), { recursive: true })
    const seen: VerifyProgress[] = []
    await repo.commit({ path: join(dir, 'model'), message: 'two', verify: { backend: 'cpu', measure: 'always', onProgress: p => seen.push(p) }, code: false })
    assert.deepEqual(seen.filter(p => p.phase === 'load').map(p => [p.model, p.index, p.total]), [['a/model.json', 1, 2], ['b/model.json', 2, 2]])
    assert.ok(seen.some(p => p.phase === 'second-backend'), 'the second backend is reported too')
    const checked: VerifyProgress[] = []
    await repo.verify({ rev: 'v1', backend: 'cpu', onProgress: p => checked.push(p) })
    assert.deepEqual(checked.map(p => p.phase), ['load', 'run', 'done', 'load', 'run', 'done'])
    assert.ok(checked.every((p, i) => i === 0 || p.elapsedMs >= checked[i - 1]!.elapsedMs))
  } finally { await repo.close() }
})

test('records of mvc 0.1 (whole inputs and outputs, one tolerance) still verify, and still fail on a change', { timeout: 120_000 }, async () => {
  const { dir, repo } = await newRepo()
  const model = join(dir, 'model')
  try {
    await cp(fixtureDir('conv-bn'), model, { recursive: true })
    await repo.commit({ path: model, message: 'v1', verify: { backend: 'wasm' }, code: false })
    const commit = await readCommit(repo.store, await resolveRev(repo.store, 'v1'))
    const m = commit.verification!.models[0]!
    if (m.status !== 'recorded') assert.fail()
    // The same behaviour in mvc 0.1's shape: stored inputs, whole outputs, no runtime, one tolerance.
    const inputs = await recordedInputs(repo.store, m)
    const tx = await repo.store.transaction()
    const inCids = []; const outCids = []
    for (const t of inputs) inCids.push(await storeTensorData(tx, t))
    for (const c of m.outputs) outCids.push(await storeTensorData(tx, await readTensorData(repo.store, c)))
    await tx.commit()
    const legacy: VerificationRecord = { backend: 'wasm', tfjsVersion: '4.22.0', tolerance: { atol: 1e-5, rtol: 1e-5 }, models: [{ path: 'model.json', status: 'recorded', inputs: inCids, outputs: outCids }] }
    const manifest = await readManifest(repo.store, commit.model!)
    const files = new Map(manifest.entries.map(e => [e.path, e.file]))
    const check = async (backend: string): Promise<boolean> => (await checkVerification({
      store: repo.store, record: legacy, models: await modelsOf(repo.store, manifest, DEFAULT_FORMATS), backend,
      readFile: async rel => await readFileBytes(repo.store, files.get(rel)!), dir: async () => undefined
    })).pass
    assert.equal(await check('wasm'), true)
    assert.equal(await check('cpu'), true)
    await perturb(join(model, 'weights.bin'), 0, 16)
    const r = await checkVerification({ store: repo.store, record: legacy, models: await modelsOf(repo.store, manifest, DEFAULT_FORMATS), backend: 'wasm', readFile: async rel => new Uint8Array(await readFile(join(model, rel))), dir: async () => model })
    assert.equal(r.pass, false)
    assert.equal(r.models[0]!.outputs[0]!.rule, 'allclose')
  } finally { await repo.close() }
})
