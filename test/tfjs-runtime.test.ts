/**
 * Behaviour verification with real TF.js inference (no mocks). Models are built here with seeded
 * initializers on the cpu backend, saved through tf.io.withSaveHandler into an in-memory file map in
 * the tfjs file layout, loaded back through loadModel on cpu and on wasm, and compared.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import type * as TF from '@tensorflow/tfjs'
import { DEFAULT_SEED, DEFAULT_TOLERANCE, compareOutputs, parseInputsFile, referenceInputs } from '../src/core/verify/index.js'
import { decodeTensor, encodeTensor, inputSignature, loadModel, readFileIOHandler, runModel } from '../src/formats/tfjs/model.js'
import { loadRuntime } from '../src/formats/tfjs/runtime.js'
import type { LoadedModel, ReadFile } from '../src/formats/tfjs/model.js'
import type { LoadedRuntime } from '../src/formats/tfjs/runtime.js'
import type { TensorData } from '../src/formats/tensor-data.js'
import type { Tolerance } from '../src/core/verify/index.js'

type Files = Map<string, Uint8Array>

const cpu = await loadRuntime('cpu')
const tf = cpu.tf

// ---------------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------------

function readFrom (files: Files): ReadFile {
  return async (p: string): Promise<Uint8Array> => {
    const b = files.get(p)
    if (b === undefined) throw new Error(`test readFile: no file ${p}`)
    return b
  }
}

/** Saves a layers model as <dir>/model.json + weight shards (split at `splitAt` bytes when given). */
async function saveLayers (model: TF.LayersModel, dir: string, splitAt?: number): Promise<Files> {
  const files: Files = new Map()
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0)))
    const shards = splitAt === undefined ? [weights] : [weights.slice(0, splitAt), weights.slice(splitAt)]
    const paths = shards.map((_, i) => `group1-shard${i + 1}of${shards.length}.bin`)
    shards.forEach((s, i) => files.set(`${dir}/${paths[i] ?? ''}`, s))
    const json = {
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths, weights: artifacts.weightSpecs }]
    }
    files.set(`${dir}/model.json`, new TextEncoder().encode(JSON.stringify(json)))
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
  }))
  return files
}

/** The original in-memory model's predict on cpu, encoded (the ground truth for the loaded copies). */
async function predictOriginal (model: TF.LayersModel, inputs: readonly TensorData[]): Promise<TensorData[]> {
  await loadRuntime('cpu')
  const outs = tf.tidy(() => {
    const xs = inputs.map(d => decodeTensor(cpu, d))
    const y = model.predict(xs.length === 1 ? xs[0] as TF.Tensor : xs)
    return Array.isArray(y) ? y : [y]
  })
  try {
    return await Promise.all(outs.map(async (t, i) => await encodeTensor(model.outputNames[i] ?? '', t)))
  } finally {
    tf.dispose(outs)
  }
}

function f32 (name: string, shape: number[], values: number[]): TensorData {
  const b = new Uint8Array(values.length * 4)
  const dv = new DataView(b.buffer)
  values.forEach((v, i) => dv.setFloat32(i * 4, v, true))
  return { name, dtype: 'float32', shape, data: b }
}

function i32 (name: string, shape: number[], values: number[]): TensorData {
  const b = new Uint8Array(values.length * 4)
  const dv = new DataView(b.buffer)
  values.forEach((v, i) => dv.setInt32(i * 4, v, true))
  return { name, dtype: 'int32', shape, data: b }
}

function floats (d: TensorData): number[] {
  const dv = new DataView(d.data.buffer, d.data.byteOffset, d.data.byteLength)
  return Array.from({ length: d.data.byteLength / 4 }, (_, i) => dv.getFloat32(i * 4, true))
}

function ints (d: TensorData): number[] {
  const dv = new DataView(d.data.buffer, d.data.byteOffset, d.data.byteLength)
  return Array.from({ length: d.data.byteLength / 4 }, (_, i) => dv.getInt32(i * 4, true))
}

function errCode (e: unknown): unknown {
  return typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined
}

function snapshot (files: Files): Map<string, string> {
  return new Map([...files].map(([k, v]) => [k, Buffer.from(v).toString('hex')]))
}

/** Load through loadModel on `rt`, run the inputs, checking that no tensor is leaked. */
async function loadAndRun (rt: LoadedRuntime, files: Files, jsonPath: string, inputs: readonly TensorData[]): Promise<{ model: LoadedModel, outputs: TensorData[] }> {
  const model = await loadModel(rt, jsonPath, readFrom(files))
  const before = rt.tf.memory().numTensors
  const outputs = await runModel(rt, model, inputs)
  assert.equal(rt.tf.memory().numTensors, before, `runModel on ${rt.backend} leaked tensors`)
  return { model, outputs }
}

function disposeModel (m: LoadedModel): void {
  m.model.dispose()
}

const init = {
  kernel: (seed: number) => tf.initializers.glorotUniform({ seed }),
  bias: (seed: number) => tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed })
}

// ---------------------------------------------------------------------------------------------------
// runtime loading
// ---------------------------------------------------------------------------------------------------

const tfjsNodePresent = ((): boolean => {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node')
    return true
  } catch {
    return false
  }
})()

test('loadRuntime caches per backend and reports what it runs on', async () => {
  assert.equal(await loadRuntime('cpu'), cpu)
  assert.equal(cpu.backend, 'cpu')
  assert.equal(cpu.tfjsVersion, '4.22.0')
  const wasm = await loadRuntime('wasm')
  assert.equal(await loadRuntime('wasm'), wasm)
  assert.equal(wasm.backend, 'wasm')
  assert.equal(wasm.tf.getBackend(), 'wasm')
  assert.ok(wasm.wasm !== undefined)
  // tfjs never enables wasm threads in Node; SIMD is what V8 supports, a boolean either way.
  assert.equal(wasm.wasm.multithread, false)
  assert.equal(wasm.wasm.threads, 1)
  assert.equal(typeof wasm.wasm.simd, 'boolean')
  const def = await loadRuntime()
  assert.equal(await loadRuntime(), def)
  assert.equal(def.backend, tfjsNodePresent ? 'tensorflow' : 'wasm')
  await assert.rejects(loadRuntime('gpu' as 'cpu'), (e: unknown) => errCode(e) === 'INVALID_ARGUMENT')
  await loadRuntime('cpu')
  assert.equal(tf.getBackend(), 'cpu')
})

test(`requesting 'tensorflow' ${tfjsNodePresent ? 'loads tfjs-node (it is installed)' : 'fails with VERIFICATION_UNAVAILABLE (tfjs-node is absent)'}`, async () => {
  if (tfjsNodePresent) {
    const rt = await loadRuntime('tensorflow')
    assert.equal(rt.backend, 'tensorflow')
    assert.equal(rt.tf.getBackend(), 'tensorflow')
  } else {
    await assert.rejects(loadRuntime('tensorflow'), (e: unknown) => {
      assert.equal(errCode(e), 'VERIFICATION_UNAVAILABLE')
      assert.match((e as Error).message, /@tensorflow\/tfjs-node/)
      assert.match((e as Error).message, /npm install/)
      return true
    })
    // The failure leaves the selected backend usable.
    assert.equal((await loadRuntime('cpu')).tf.getBackend(), 'cpu')
  }
})

test('importing the module does not load TF.js, and using it prints nothing', () => {
  const modUrl = new URL('../src/formats/tfjs/index.js', import.meta.url).href
  const script = `
    import { createRequire } from 'node:module'
    const req = createRequire(${JSON.stringify(fileURLToPath(import.meta.url))})
    const loaded = () => Object.keys(req.cache).filter(k => k.includes('@tensorflow')).length
    const m = await import(${JSON.stringify(modUrl)})
    if (loaded() !== 0) throw new Error('tfjs was imported eagerly')
    const cpu = await m.loadRuntime('cpu')
    if (loaded() === 0) throw new Error('probe is broken: tfjs not seen after loadRuntime')
    cpu.tf.tidy(() => cpu.tf.tensor([1, 2, 3]).square().dataSync())
    const wasm = await m.loadRuntime('wasm')
    wasm.tf.tidy(() => wasm.tf.tensor([1, 2, 3]).square().dataSync())
    await m.loadRuntime()
    await m.loadRuntime('cpu')
    cpu.tf.tidy(() => cpu.tf.tensor([4]).dataSync())
  `
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
  assert.equal(r.stderr, '')
  assert.equal(r.stdout, '')
  assert.equal(r.status, 0)
})

// ---------------------------------------------------------------------------------------------------
// reference inputs
// ---------------------------------------------------------------------------------------------------

test('referenceInputs are deterministic, backend-independent and in range', async () => {
  const wasm = await loadRuntime('wasm')
  const sig = [
    { name: 'x', shape: [null, 3, null], dtype: 'float32' },
    { name: 'ids', shape: [null, 7], dtype: 'int32' },
    { name: 'mask', shape: [5], dtype: 'bool' },
    { name: 'emb', shape: [null, 6], dtype: 'float32', indexBound: 4 }
  ]
  const a = referenceInputs(cpu, sig)
  const b = referenceInputs(cpu, sig)
  const c = referenceInputs(wasm, sig, DEFAULT_SEED)
  assert.deepEqual(a, b)
  assert.deepEqual(a, c)
  assert.notDeepEqual(referenceInputs(cpu, sig, 7)[0]?.data, a[0]?.data)
  const [x, ids, mask, emb] = a as [TensorData, TensorData, TensorData, TensorData]
  assert.deepEqual(x.shape, [2, 3, 4])
  assert.deepEqual(ids.shape, [2, 7])
  assert.deepEqual(mask.shape, [5])
  assert.deepEqual(a.map(t => t.dtype), ['float32', 'int32', 'bool', 'float32'])
  const xv = floats(x)
  assert.equal(xv.length, 24)
  assert.ok(xv.every(v => v >= -1 && v < 1))
  assert.ok(new Set(xv).size > 20, 'values look random')
  assert.ok(ints(ids).every(v => Number.isInteger(v) && v >= 0 && v < 10))
  assert.ok([...mask.data].every(v => v === 0 || v === 1))
  assert.ok(floats(emb).every(v => Number.isInteger(v) && v >= 0 && v < 4))
  // Different inputs of the same spec get different streams.
  const twin = referenceInputs(cpu, [sig[0] as typeof sig[0], sig[0] as typeof sig[0]])
  assert.notDeepEqual(twin[0]?.data, twin[1]?.data)
  assert.throws(() => referenceInputs(cpu, [{ name: 's', shape: [1], dtype: 'string' }]), (e: unknown) => errCode(e) === 'INVALID_ARGUMENT')
})

// ---------------------------------------------------------------------------------------------------
// layers models
// ---------------------------------------------------------------------------------------------------

function sequentialModel (): TF.LayersModel {
  const m = tf.sequential()
  m.add(tf.layers.dense({ inputShape: [6], units: 8, activation: 'relu', kernelInitializer: init.kernel(1), biasInitializer: init.bias(2) }))
  m.add(tf.layers.dense({ units: 3, activation: 'tanh', kernelInitializer: init.kernel(3), biasInitializer: init.bias(4) }))
  return m
}

test('sequential model: loaded copy matches the original on cpu and wasm; shards straddle a weight', async () => {
  await loadRuntime('cpu')
  const original = sequentialModel()
  // 6*8 floats = 192 bytes of kernel: split at 100 puts the cut inside the first kernel.
  const files = await saveLayers(original, 'models/seq', 100)
  const before = snapshot(files)
  for (const rt of [cpu, await loadRuntime('wasm')]) {
    const m = await loadModel(rt, 'models/seq/model.json', readFrom(files))
    assert.equal(m.kind, 'layers')
    const sig = inputSignature(m)
    assert.deepEqual(sig.map(s => [s.shape, s.dtype]), [[[null, 6], 'float32']])
    const inputs = referenceInputs(rt, sig)
    assert.deepEqual(inputs, referenceInputs(rt, sig), 'same bytes twice')
    const n0 = rt.tf.memory().numTensors
    const outputs = await runModel(rt, m, inputs)
    assert.equal(rt.tf.memory().numTensors, n0, `numTensors back to baseline on ${rt.backend}`)
    // predict builds the (lazily built) Sequential, after which it has output names.
    const expected = await predictOriginal(original, inputs)
    assert.ok((original.outputNames[0] ?? '').length > 0)
    assert.deepEqual(outputs.map(o => [o.name, o.dtype, o.shape]), [[original.outputNames[0], 'float32', [2, 3]]])
    const cmp = compareOutputs(expected, outputs, DEFAULT_TOLERANCE)
    assert.ok(cmp.pass, `${rt.backend}: ${JSON.stringify(cmp.outputs)}`)
    if (rt.backend === 'cpu') assert.equal(cmp.outputs[0]?.maxAbsDiff, 0, 'same backend, same kernels: bit-identical')
    disposeModel(m)
  }
  assert.deepEqual(snapshot(files), before, 'loading does not mutate the files it was given')
  original.dispose()
})

function twoInTwoOut (): TF.LayersModel {
  const a = tf.input({ shape: [4], name: 'in_a' })
  const b = tf.input({ shape: [3], name: 'in_b' })
  const joined = tf.layers.concatenate().apply([a, b]) as TF.SymbolicTensor
  const hidden = tf.layers.dense({ units: 5, activation: 'relu', kernelInitializer: init.kernel(11), biasInitializer: init.bias(12), name: 'hidden' }).apply(joined) as TF.SymbolicTensor
  const outA = tf.layers.dense({ units: 2, kernelInitializer: init.kernel(13), biasInitializer: init.bias(14), name: 'out_a' }).apply(hidden) as TF.SymbolicTensor
  const outB = tf.layers.dense({ units: 1, activation: 'sigmoid', kernelInitializer: init.kernel(15), biasInitializer: init.bias(16), name: 'out_b' }).apply(hidden) as TF.SymbolicTensor
  return tf.model({ inputs: [a, b], outputs: [outA, outB] })
}

test('two inputs and two outputs: names, binding by name or position, cpu and wasm', async () => {
  await loadRuntime('cpu')
  const original = twoInTwoOut()
  const files = await saveLayers(original, 'm2')
  for (const rt of [cpu, await loadRuntime('wasm')]) {
    const m = await loadModel(rt, 'm2/model.json', readFrom(files))
    const sig = inputSignature(m)
    assert.deepEqual(sig.map(s => s.name), ['in_a', 'in_b'])
    assert.deepEqual(sig.map(s => s.shape), [[null, 4], [null, 3]])
    const inputs = referenceInputs(rt, sig)
    const { outputs } = await loadAndRun(rt, files, 'm2/model.json', inputs)
    assert.deepEqual(outputs.map(o => o.name), ['out_a', 'out_b'])
    assert.deepEqual(outputs.map(o => o.shape), [[2, 2], [2, 1]])
    const expected = await predictOriginal(original, inputs)
    const cmp = compareOutputs(expected, outputs, DEFAULT_TOLERANCE)
    assert.ok(cmp.pass, `${rt.backend}: ${JSON.stringify(cmp.outputs)}`)
    // Named inputs in the wrong order are bound by name; unnamed ones by position.
    const reversed = await runModel(rt, m, [...inputs].reverse())
    assert.ok(compareOutputs(outputs, reversed, { atol: 0, rtol: 0 }).pass)
    const positional = await runModel(rt, m, inputs.map((t, i) => ({ ...t, name: `#${i}` })))
    assert.ok(compareOutputs(outputs, positional, { atol: 0, rtol: 0 }).pass)
    await assert.rejects(runModel(rt, m, inputs.slice(0, 1)), (e: unknown) => errCode(e) === 'INVALID_ARGUMENT')
    await assert.rejects(runModel(rt, m, [inputs[0] as TensorData, { ...(inputs[0] as TensorData), name: 'in_b' }]), (e: unknown) => errCode(e) === 'INVALID_ARGUMENT' && /in_b/.test((e as Error).message))
    disposeModel(m)
  }
  original.dispose()
})

test('perturbing one weight by 1e-3 fails verification at atol 0/rtol 0 and names the output', async () => {
  await loadRuntime('cpu')
  const original = twoInTwoOut()
  const files = await saveLayers(original, 'm2')
  const json = JSON.parse(new TextDecoder().decode(files.get('m2/model.json'))) as { weightsManifest: Array<{ weights: Array<{ name: string, shape: number[] }> }> }
  // Find out_b's kernel in the manifest (all float32) and nudge its first element.
  let offset = 0
  let target = -1
  for (const w of json.weightsManifest[0]?.weights ?? []) {
    if (w.name.startsWith('out_b') && w.name.includes('kernel')) { target = offset; break }
    offset += w.shape.reduce((a, b) => a * b, 1) * 4
  }
  assert.ok(target >= 0, 'out_b kernel found in the manifest')
  const shard = (files.get('m2/group1-shard1of1.bin') as Uint8Array).slice()
  const dv = new DataView(shard.buffer)
  dv.setFloat32(target, dv.getFloat32(target, true) + 1e-3, true)
  const perturbed: Files = new Map(files)
  perturbed.set('m2/group1-shard1of1.bin', shard)

  const recorded = await runModel(cpu, await loadModel(cpu, 'm2/model.json', readFrom(files)), referenceInputs(cpu, inputSignature(await loadModel(cpu, 'm2/model.json', readFrom(files)))))
  for (const rt of [cpu, await loadRuntime('wasm')]) {
    const m = await loadModel(rt, 'm2/model.json', readFrom(perturbed))
    const outputs = await runModel(rt, m, referenceInputs(rt, inputSignature(m)))
    const exact: Tolerance = { atol: 0, rtol: 0 }
    const cmp = compareOutputs(recorded, outputs, exact)
    assert.equal(cmp.pass, false)
    const failing = cmp.outputs.filter(o => !o.pass).map(o => o.name)
    assert.ok(failing.includes('out_b'), `out_b fails on ${rt.backend}: ${JSON.stringify(cmp.outputs)}`)
    if (rt.backend === 'cpu') assert.deepEqual(failing, ['out_b'], 'out_a does not depend on the nudged weight')
    const b = cmp.outputs.find(o => o.name === 'out_b')
    assert.ok(b !== undefined && b.maxAbsDiff > 0 && b.maxAllowedExcess > 0)
    disposeModel(m)
  }
  original.dispose()
})

test('Embedding models: int32 token inputs, and float inputs feeding an Embedding get valid ids', async () => {
  await loadRuntime('cpu')
  const tokens = tf.input({ shape: [5], dtype: 'int32', name: 'tokens' })
  const emb = tf.layers.embedding({ inputDim: 10, outputDim: 4, embeddingsInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed: 21 }) }).apply(tokens) as TF.SymbolicTensor
  const flat = tf.layers.flatten().apply(emb) as TF.SymbolicTensor
  const out = tf.layers.dense({ units: 2, kernelInitializer: init.kernel(22), biasInitializer: init.bias(23), name: 'logits' }).apply(flat) as TF.SymbolicTensor
  const intModel = tf.model({ inputs: tokens, outputs: out })

  // Keras-style: a Sequential whose Embedding input is declared float32, with a vocabulary of 7.
  const seq = tf.sequential()
  seq.add(tf.layers.embedding({ inputDim: 7, outputDim: 3, inputLength: 4, inputShape: [4], embeddingsInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed: 24 }) }))
  seq.add(tf.layers.flatten())
  seq.add(tf.layers.dense({ units: 2, kernelInitializer: init.kernel(25), biasInitializer: init.bias(26) }))

  for (const [original, dir, dtype, bound] of [[intModel, 'emb-int', 'int32', 10], [seq, 'emb-float', 'float32', 7]] as const) {
    const files = await saveLayers(original, dir)
    for (const rt of [cpu, await loadRuntime('wasm')]) {
      const m = await loadModel(rt, `${dir}/model.json`, readFrom(files))
      const sig = inputSignature(m)
      assert.equal(sig[0]?.dtype, dtype)
      assert.equal(sig[0]?.indexBound, bound)
      const inputs = referenceInputs(rt, sig)
      assert.equal(inputs[0]?.dtype, dtype)
      const vals = dtype === 'int32' ? ints(inputs[0] as TensorData) : floats(inputs[0] as TensorData)
      assert.ok(vals.every(v => Number.isInteger(v) && v >= 0 && v < bound), `ids in [0, ${bound})`)
      const { outputs } = await loadAndRun(rt, files, `${dir}/model.json`, inputs)
      const cmp = compareOutputs(await predictOriginal(original, inputs), outputs, DEFAULT_TOLERANCE)
      assert.ok(cmp.pass, `${dir} on ${rt.backend}: ${JSON.stringify(cmp.outputs)}`)
      disposeModel(m)
    }
    original.dispose()
  }
})

// ---------------------------------------------------------------------------------------------------
// graph models (hand-written converter-style JSON)
// ---------------------------------------------------------------------------------------------------

const W = [0.5, -1.25, 2, 0.75, -0.5, 1.5] // [3, 2], row-major

function graphFiles (): Files {
  const dims = (...d: number[]): { dim: Array<{ size: string }> } => ({ dim: d.map(n => ({ size: String(n) })) })
  const json = {
    format: 'graph-model',
    generatedBy: '2.15.0',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    signature: {
      inputs: { features: { name: 'x:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 3) } },
      outputs: { scores: { name: 'Relu:0', dtype: 'DT_FLOAT', tensorShape: dims(-1, 2) } }
    },
    modelTopology: {
      node: [
        { name: 'W', op: 'Const', attr: { value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims(3, 2) } }, dtype: { type: 'DT_FLOAT' } } },
        { name: 'x', op: 'Placeholder', attr: { shape: { shape: dims(-1, 3) }, dtype: { type: 'DT_FLOAT' } } },
        { name: 'MatMul', op: 'MatMul', input: ['x', 'W'], attr: { transpose_a: { b: false }, transpose_b: { b: false }, T: { type: 'DT_FLOAT' } } },
        { name: 'Relu', op: 'Relu', input: ['MatMul'], attr: { T: { type: 'DT_FLOAT' } } }
      ],
      library: {},
      versions: { producer: 1482 }
    },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [{ name: 'W', shape: [3, 2], dtype: 'float32' }] }]
  }
  return new Map([
    ['g/model.json', new TextEncoder().encode(JSON.stringify(json))],
    ['g/group1-shard1of1.bin', f32('W', [3, 2], W).data]
  ])
}

test('graph model: Placeholder → MatMul(Const) → Relu matches first principles on cpu and wasm', async () => {
  const files = graphFiles()
  for (const rt of [cpu, await loadRuntime('wasm')]) {
    const m = await loadModel(rt, 'g/model.json', readFrom(files))
    assert.equal(m.kind, 'graph')
    const sig = inputSignature(m)
    assert.deepEqual(sig, [{ name: 'x', shape: [null, 3], dtype: 'float32' }])
    const inputs = referenceInputs(rt, sig)
    assert.deepEqual(inputs[0]?.shape, [2, 3])
    const { outputs } = await loadAndRun(rt, files, 'g/model.json', inputs)
    assert.deepEqual(outputs.map(o => [o.name, o.dtype, o.shape]), [['scores', 'float32', [2, 2]]])
    const x = floats(inputs[0] as TensorData)
    const y: number[] = []
    for (let r = 0; r < 2; r++) {
      for (let c = 0; c < 2; c++) {
        let s = 0
        for (let k = 0; k < 3; k++) s += (x[r * 3 + k] as number) * (W[k * 2 + c] as number)
        y.push(Math.max(0, s))
      }
    }
    const cmp = compareOutputs([f32('scores', [2, 2], y)], outputs, DEFAULT_TOLERANCE)
    assert.ok(cmp.pass, `${rt.backend}: ${JSON.stringify(cmp.outputs)}`)
    // A wrong dtype is rejected by the executor inside runModel, without leaking tensors.
    const n0 = rt.tf.memory().numTensors
    await assert.rejects(runModel(rt, m, [i32('x', [2, 3], [1, 2, 3, 4, 5, 6])]), (e: unknown) => errCode(e) === 'INVALID_MODEL')
    assert.equal(rt.tf.memory().numTensors, n0)
    disposeModel(m)
  }
})

test('graph model with a dynamic op (Where) runs through executeAsync, bool inputs, no leaks', async () => {
  const json = {
    format: 'graph-model',
    modelTopology: {
      node: [
        { name: 'flags', op: 'Placeholder', attr: { shape: { shape: { dim: [{ size: '-1' }, { size: '3' }] } }, dtype: { type: 'DT_BOOL' } } },
        { name: 'Where', op: 'Where', input: ['flags'], attr: { T: { type: 'DT_BOOL' } } }
      ],
      versions: { producer: 1482 }
    },
    weightsManifest: []
  }
  const files: Files = new Map([['w/model.json', new TextEncoder().encode(JSON.stringify(json))]])
  for (const rt of [cpu, await loadRuntime('wasm')]) {
    const m = await loadModel(rt, 'w/model.json', readFrom(files))
    const sig = inputSignature(m)
    assert.deepEqual(sig, [{ name: 'flags', shape: [null, 3], dtype: 'bool' }])
    const inputs = referenceInputs(rt, sig)
    const { outputs } = await loadAndRun(rt, files, 'w/model.json', inputs)
    const mask = [...(inputs[0] as TensorData).data]
    const coords: number[] = []
    mask.forEach((v, i) => { if (v === 1) coords.push(Math.floor(i / 3), i % 3) })
    const expected: TensorData = { ...i32('Where', [coords.length / 2, 2], coords) }
    assert.equal(outputs[0]?.dtype, 'int32')
    assert.ok(compareOutputs([expected], outputs, DEFAULT_TOLERANCE).pass, JSON.stringify({ mask, outputs: ints(outputs[0] as TensorData) }))
    disposeModel(m)
  }
})

// ---------------------------------------------------------------------------------------------------
// IO handler and input files
// ---------------------------------------------------------------------------------------------------

test('readFileIOHandler returns ModelArtifacts and refuses weight paths outside the model folder', async () => {
  const files = graphFiles()
  const artifacts = await readFileIOHandler(cpu, 'g/model.json', readFrom(files)).load?.()
  assert.ok(artifacts !== undefined)
  assert.equal(artifacts.format, 'graph-model')
  assert.deepEqual(artifacts.weightSpecs, [{ name: 'W', shape: [3, 2], dtype: 'float32' }])
  assert.deepEqual(floats({ name: 'W', dtype: 'float32', shape: [6], data: new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? [])) }), W)

  const evil = JSON.parse(new TextDecoder().decode(files.get('g/model.json'))) as { weightsManifest: Array<{ paths: string[] }> }
  for (const bad of ['../secret.bin', '/etc/passwd', 'https://example.com/w.bin']) {
    const copy = structuredClone(evil)
    copy.weightsManifest[0] = { ...copy.weightsManifest[0], paths: [bad] }
    const f: Files = new Map([['g/model.json', new TextEncoder().encode(JSON.stringify(copy))]])
    await assert.rejects(loadModel(cpu, 'g/model.json', readFrom(f)), (e: unknown) => errCode(e) === 'INVALID_MODEL', bad)
  }
  await assert.rejects(loadModel(cpu, 'x/model.json', readFrom(new Map([['x/model.json', new TextEncoder().encode('{"nope": 1}')]]))), (e: unknown) => errCode(e) === 'INVALID_MODEL')
  await assert.rejects(loadModel(cpu, 'x/model.json', readFrom(new Map([['x/model.json', new TextEncoder().encode('not json')]]))), (e: unknown) => errCode(e) === 'INVALID_MODEL')
})

test('parseInputsFile: flat and nested values, special floats, validation errors', async () => {
  const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
  const parsed = parseInputsFile(enc({
    inputs: [
      { name: 'x', shape: [2, 3], dtype: 'float32', values: [[1, 2.5, -3], [0, 'NaN', '-Infinity']] },
      { shape: [3], dtype: 'int32', values: [7, -2, 0] },
      { shape: [2], dtype: 'bool', values: [true, 0] },
      { shape: [2], dtype: 'string', values: ['hé', ''] }
    ]
  }))
  assert.deepEqual(parsed.map(t => [t.name, t.dtype, t.shape]), [['x', 'float32', [2, 3]], ['#1', 'int32', [3]], ['#2', 'bool', [2]], ['#3', 'string', [2]]])
  const xv = floats(parsed[0] as TensorData)
  assert.deepEqual(xv.slice(0, 4), [1, 2.5, -3, 0])
  assert.ok(Number.isNaN(xv[4]) && xv[5] === -Infinity)
  assert.deepEqual(ints(parsed[1] as TensorData), [7, -2, 0])
  assert.deepEqual([...(parsed[2] as TensorData).data], [1, 0])
  const hé = new TextEncoder().encode('hé')
  assert.deepEqual([...(parsed[3] as TensorData).data], [hé.length, 0, 0, 0, ...hé, 0, 0, 0, 0])
  // The string encoding round-trips through TF.js.
  const s = decodeTensor(cpu, parsed[3] as TensorData)
  assert.deepEqual(await s.data(), ['hé', ''])
  assert.deepEqual(await encodeTensor('#3', s), parsed[3])
  s.dispose()

  const bad: Array<[unknown, RegExp]> = [
    [{ inputs: [{ shape: [2, 2], dtype: 'float32', values: [1, 2, 3] }] }, /3 elements but shape \[2, 2\] needs 4/],
    [{ inputs: [{ shape: [2, 2], dtype: 'float32', values: [[1, 2, 3], [4]] }] }, /length 2/],
    [{ inputs: [{ shape: [2], dtype: 'float64', values: [1, 2] }] }, /dtype/],
    [{ inputs: [{ shape: [2], dtype: 'int32', values: [1, 2.5] }] }, /element 1/],
    [{ inputs: [{ shape: [1], dtype: 'bool', values: ['yes'] }] }, /boolean/],
    [{ inputs: [{ shape: [-1], dtype: 'int32', values: [] }] }, /shape/],
    [{ inputs: {} }, /"inputs" array/],
    ['not an object', /"inputs" array/]
  ]
  for (const [doc, msg] of bad) {
    assert.throws(() => parseInputsFile(enc(doc)), (e: unknown) => errCode(e) === 'INVALID_ARGUMENT' && msg.test((e as Error).message), JSON.stringify(doc))
  }
  assert.throws(() => parseInputsFile(new TextEncoder().encode('{')), (e: unknown) => errCode(e) === 'INVALID_ARGUMENT')
})

test('inputs from a file run through the model by position', async () => {
  const files = graphFiles()
  const m = await loadModel(cpu, 'g/model.json', readFrom(files))
  const inputs = parseInputsFile(new TextEncoder().encode(JSON.stringify({ inputs: [{ shape: [1, 3], dtype: 'float32', values: [[1, 1, 1]] }] })))
  const out = await runModel(cpu, m, inputs)
  // [1,1,1] · W = [0.5+2-0.5, -1.25+0.75+1.5] = [2, 1]
  assert.deepEqual(floats(out[0] as TensorData), [2, 1])
  disposeModel(m)
})

// ---------------------------------------------------------------------------------------------------
// compareOutputs, from first principles
// ---------------------------------------------------------------------------------------------------

test('compareOutputs follows numpy.allclose', () => {
  const fr = Math.fround
  /** The excess a float32 pair really has (values are stored as float32). */
  const excess = (e: number, a: number, t: Tolerance): number => Math.abs(fr(a) - fr(e)) - (t.atol + t.rtol * Math.abs(fr(e)))
  const t55: Tolerance = { atol: 1e-5, rtol: 1e-5 }
  const cases: Array<{ what: string, e: TensorData, a: TensorData, tol: Tolerance, pass: boolean, maxAbsDiff?: number, excess?: number, extra?: Record<string, unknown> }> = [
    { what: 'equal', e: f32('y', [3], [1, -2, 3]), a: f32('y', [3], [1, -2, 3]), tol: t55, pass: true, maxAbsDiff: 0, excess: Math.max(...[1, -2, 3].map(v => excess(v, v, t55))) },
    { what: 'within atol', e: f32('y', [2], [0, 1]), a: f32('y', [2], [9e-6, 1]), tol: { atol: 1e-5, rtol: 0 }, pass: true, maxAbsDiff: fr(9e-6), excess: excess(0, 9e-6, { atol: 1e-5, rtol: 0 }) },
    { what: 'within rtol only', e: f32('y', [1], [1000]), a: f32('y', [1], [1000.005]), tol: { atol: 1e-5, rtol: 1e-5 }, pass: true, maxAbsDiff: fr(1000.005) - 1000, excess: excess(1000, 1000.005, t55) },
    { what: 'same pair fails without rtol', e: f32('y', [1], [1000]), a: f32('y', [1], [1000.005]), tol: { atol: 1e-5, rtol: 0 }, pass: false, maxAbsDiff: fr(1000.005) - 1000, excess: excess(1000, 1000.005, { atol: 1e-5, rtol: 0 }) },
    { what: 'just outside', e: f32('y', [2], [1, 0]), a: f32('y', [2], [1 + 2.5e-5, 0]), tol: t55, pass: false, maxAbsDiff: fr(1 + 2.5e-5) - 1, excess: excess(1, 1 + 2.5e-5, t55) },
    { what: 'just inside', e: f32('y', [1], [1]), a: f32('y', [1], [1 + 1.5e-5]), tol: t55, pass: true, excess: excess(1, 1 + 1.5e-5, t55) },
    { what: 'NaN at the same positions', e: f32('y', [3], [NaN, 1, 2]), a: f32('y', [3], [NaN, 1, 2]), tol: t55, pass: true, maxAbsDiff: 0, extra: { nonFinite: true } },
    { what: 'NaN at different positions', e: f32('y', [3], [NaN, 1, 2]), a: f32('y', [3], [1, NaN, 2]), tol: t55, pass: false, maxAbsDiff: Infinity, extra: { nonFinite: true } },
    { what: 'NaN against a number', e: f32('y', [1], [NaN]), a: f32('y', [1], [0]), tol: { atol: 1e9, rtol: 1 }, pass: false, maxAbsDiff: Infinity },
    { what: 'equal infinities', e: f32('y', [2], [Infinity, -Infinity]), a: f32('y', [2], [Infinity, -Infinity]), tol: t55, pass: true, maxAbsDiff: 0 },
    { what: 'opposite infinities', e: f32('y', [1], [Infinity]), a: f32('y', [1], [-Infinity]), tol: t55, pass: false, maxAbsDiff: Infinity },
    { what: 'shape mismatch', e: f32('y', [2, 2], [1, 2, 3, 4]), a: f32('y', [4], [1, 2, 3, 4]), tol: t55, pass: false, extra: { shapeMismatch: { expected: [2, 2], actual: [4] } } },
    { what: 'dtype mismatch', e: f32('y', [2], [1, 2]), a: i32('y', [2], [1, 2]), tol: t55, pass: false, extra: { dtypeMismatch: { expected: 'float32', actual: 'int32' } } },
    { what: 'int exact', e: i32('y', [2], [1, 2]), a: i32('y', [2], [1, 2]), tol: t55, pass: true, maxAbsDiff: 0, excess: 0 },
    { what: 'int off by one fails despite a huge tolerance', e: i32('y', [2], [1, 2]), a: i32('y', [2], [1, 3]), tol: { atol: 10, rtol: 10 }, pass: false, maxAbsDiff: 1, excess: 1 },
    { what: 'bool exact', e: { name: 'y', dtype: 'bool', shape: [2], data: new Uint8Array([1, 0]) }, a: { name: 'y', dtype: 'bool', shape: [2], data: new Uint8Array([1, 1]) }, tol: t55, pass: false, maxAbsDiff: 1 },
    { what: 'empty tensors', e: f32('y', [0, 3], []), a: f32('y', [0, 3], []), tol: t55, pass: true, maxAbsDiff: 0, excess: 0 }
  ]
  for (const c of cases) {
    const r = compareOutputs([c.e], [c.a], c.tol)
    const o = r.outputs[0]
    assert.ok(o !== undefined)
    assert.equal(r.pass, c.pass, c.what)
    assert.equal(o.pass, c.pass, c.what)
    assert.equal(o.name, 'y')
    assert.equal(o.maxAllowedExcess <= 0, c.pass, `${c.what}: excess sign`)
    if (c.maxAbsDiff !== undefined) assert.equal(o.maxAbsDiff, c.maxAbsDiff, `${c.what}: maxAbsDiff`)
    if (c.excess !== undefined) assert.ok(Math.abs(o.maxAllowedExcess - c.excess) < 1e-12, `${c.what}: excess ${o.maxAllowedExcess} vs ${c.excess}`)
    for (const [k, v] of Object.entries(c.extra ?? {})) assert.deepEqual((o as unknown as Record<string, unknown>)[k], v, `${c.what}: ${k}`)
  }

  // Outputs are paired by name, whatever their order; missing ones fail and say which side lacks them.
  const a = f32('a', [1], [1])
  const b = f32('b', [1], [2])
  assert.equal(compareOutputs([a, b], [b, a], { atol: 0, rtol: 0 }).pass, true)
  const missing = compareOutputs([a, b], [a], t55)
  assert.equal(missing.pass, false)
  assert.deepEqual(missing.outputs.map(o => [o.name, o.pass, o.missing]), [['a', true, undefined], ['b', false, 'actual']])
  const extra = compareOutputs([a], [a, b], t55)
  assert.deepEqual(extra.outputs.map(o => [o.name, o.pass, o.missing]), [['a', true, undefined], ['b', false, 'expected']])
  // Malformed bytes are an error, not a silent pass.
  assert.throws(() => compareOutputs([{ ...a, data: new Uint8Array(3) }], [a], t55), (e: unknown) => errCode(e) === 'INVALID_ARGUMENT')
  assert.throws(() => compareOutputs([a], [a], { atol: -1, rtol: 0 }), (e: unknown) => errCode(e) === 'INVALID_ARGUMENT')
})

test('encodeTensor/decodeTensor round-trip every dtype on cpu and wasm', async () => {
  for (const rt of [cpu, await loadRuntime('wasm')]) {
    const n0 = rt.tf.memory().numTensors
    const cases: TensorData[] = [
      f32('f', [2, 2], [1.5, -0, NaN, -Infinity]),
      i32('i', [3], [-(2 ** 31), 0, 2 ** 31 - 1]),
      { name: 'b', dtype: 'bool', shape: [3], data: new Uint8Array([1, 0, 1]) },
      f32('scalar', [], [3.25])
    ]
    for (const d of cases) {
      const t = decodeTensor(rt, d)
      assert.deepEqual(t.shape, d.shape)
      assert.equal(t.dtype, d.dtype)
      assert.deepEqual(await encodeTensor(d.name, t), d, `${d.name} on ${rt.backend}`)
      t.dispose()
    }
    assert.equal(rt.tf.memory().numTensors, n0)
  }
  await loadRuntime('cpu')
})
