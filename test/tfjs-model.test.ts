/**
 * Tests for src/model/tfjs.ts (recognising TF.js model files and laying tensors over shards) and for
 * fixtures/build.ts (deterministic fixture models that real tfjs loads and runs).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { MvcError } from '../src/errors.js'
import { dtypeByteSize, parseModelJson, planNeedsBytes, planTensors } from '../src/formats/tfjs/manifest.js'
import type { ModelDescriptor, TensorPlan } from '../src/formats/tfjs/manifest.js'
import { buildFixtures, FIXTURE_NAMES } from '../fixtures/build.js'
import type { FixtureInfo, ReferenceInputs } from '../fixtures/build.js'

let root = ''
let fixtures: FixtureInfo[] = []
let second: FixtureInfo[] = []

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'mvc-tfjs-model-'))
  fixtures = await buildFixtures(path.join(root, 'a'))
  second = await buildFixtures(path.join(root, 'b'))
})

after(async () => {
  if (root !== '') await rm(root, { recursive: true, force: true })
})

// ---------------------------------------------------------------------------------------------------
// helpers

function fixture (name: string): FixtureInfo {
  const f = fixtures.find(x => x.name === name)
  if (f === undefined) throw new Error(`no fixture ${name}`)
  return f
}

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))

async function loadDescriptor (f: FixtureInfo): Promise<ModelDescriptor> {
  const d = parseModelJson(f.jsonPath, await readFile(path.join(f.dir, f.jsonPath)))
  assert.ok(d !== null, `${f.name} not recognised`)
  return d
}

async function shardSizes (f: FixtureInfo, d: ModelDescriptor): Promise<Map<string, number>> {
  const m = new Map<string, number>()
  for (const s of d.shards) m.set(s, (await stat(path.join(f.dir, s))).size)
  return m
}

async function shardBytes (f: FixtureInfo, d: ModelDescriptor): Promise<Map<string, Uint8Array>> {
  const m = new Map<string, Uint8Array>()
  for (const s of d.shards) m.set(s, new Uint8Array(await readFile(path.join(f.dir, s))))
  return m
}

function reader (bytes: ReadonlyMap<string, Uint8Array>): (shard: string, offset: number, length: number) => Uint8Array {
  return (shard, offset, length) => {
    const b = bytes.get(shard)
    if (b === undefined) throw new Error(`no shard ${shard}`)
    return b.subarray(offset, offset + length)
  }
}

function concat (parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.byteLength }
  return out
}

function toArrayBuffer (b: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(b.byteLength)
  new Uint8Array(out).set(b)
  return out
}

/** Asserts that fn throws an MvcError with this code (codes are the contract; messages are not). */
function throwsCode (fn: () => unknown, code: string, check?: (e: MvcError) => void): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof MvcError, `expected an MvcError, got ${String(e)}`)
    assert.equal(e.code, code)
    check?.(e)
    return true
  })
}

/** A one-group LayersModel-style model.json at `jsonPath` with the given paths and weights. */
function modelJson (paths: unknown, weights: unknown, extra: Record<string, unknown> = {}): Uint8Array {
  return enc({ modelTopology: { class_name: 'Sequential', config: { layers: [] } }, format: 'layers-model', weightsManifest: [{ paths, weights }], ...extra })
}

function parse (bytes: Uint8Array, jsonPath = 'model.json'): ModelDescriptor {
  const d = parseModelJson(jsonPath, bytes)
  assert.ok(d !== null)
  return d
}

const KERNEL = { name: 'dense/kernel', shape: [32, 32], dtype: 'float32' }

// ---------------------------------------------------------------------------------------------------
// recognition

test('parseModelJson recognises every fixture with the right format and shards', async () => {
  assert.deepEqual(fixtures.map(f => f.name), [...FIXTURE_NAMES])
  const expected: Record<string, string> = {
    dense: 'layers-model', 'conv-bn': 'layers-model', 'embed-lstm': 'layers-model', 'two-io': 'layers-model',
    graph: 'graph-model', 'weights-only': 'weights-manifest', sharded: 'layers-model'
  }
  for (const f of fixtures) {
    const d = await loadDescriptor(f)
    assert.equal(d.format, expected[f.name], f.name)
    assert.equal(d.format, f.format, f.name)
    const binFiles = (await readdir(f.dir)).filter(n => n.endsWith('.bin')).sort()
    assert.deepEqual([...d.shards].sort(), binFiles, f.name)
    if (d.format === 'weights-manifest') {
      assert.equal(d.topology, null)
      assert.deepEqual(d.meta, {})
    } else {
      assert.ok(d.topology !== null && typeof d.topology === 'object')
      assert.equal(d.meta.format, d.format)
      assert.ok(!('modelTopology' in d.meta) && !('weightsManifest' in d.meta))
    }
  }
  const graph = await loadDescriptor(fixture('graph'))
  assert.ok(graph.meta.signature !== undefined && graph.meta.convertedBy !== undefined)
  assert.equal(fixture('embed-lstm').inputs, 'inputs.json')
})

test('parseModelJson resolves shard paths against the model file folder', () => {
  const d = parse(modelJson(['w.bin', './x.bin', '../shared/y.bin'], []), 'models/dense/model.json')
  assert.deepEqual(d.shards, ['models/dense/w.bin', 'models/dense/x.bin', 'models/shared/y.bin'])
  assert.deepEqual(d.weightsManifest[0]?.paths, ['w.bin', './x.bin', '../shared/y.bin'])
})

test('parseModelJson returns null for JSON that is not a TF.js model', () => {
  const notModels: unknown[] = [
    { name: 'pkg', version: '1.0.0', dependencies: { '@tensorflow/tfjs': '^4' }, main: 'index.js' },
    ['the', 'quick', 'brown', 'fox'],
    {},
    [],
    [{ paths: 'nope' }],
    { generatedBy: 'some tool', config: { layers: 3 } },
    { format: 'some-other-model', modelTopology: {}, weightsManifest: [] },
    42,
    null
  ]
  for (const v of notModels) assert.equal(parseModelJson('x.json', enc(v)), null, JSON.stringify(v))
  assert.equal(parseModelJson('x.json', new TextEncoder().encode('{not json')), null)
  assert.equal(parseModelJson('x.json', Uint8Array.from([0xff, 0xfe, 0x7b, 0x7d])), null)
})

test('parseModelJson: topology-only, graph without format, and weights-only objects', () => {
  const topoOnly = parse(enc({ modelTopology: { class_name: 'Sequential' } }))
  assert.equal(topoOnly.format, 'layers-model')
  assert.deepEqual(topoOnly.shards, [])
  assert.equal(parse(enc({ modelTopology: { node: [] }, convertedBy: 'TensorFlow.js Converter v1.0.0' })).format, 'graph-model')
  const weightsOnly = parse(enc({ format: 'layers-model', weightsManifest: [{ paths: ['a.bin'], weights: [] }] }))
  assert.equal(weightsOnly.topology, null)
  assert.deepEqual(weightsOnly.shards, ['a.bin'])
})

test('parseModelJson rejects malformed models with INVALID_MODEL', () => {
  const top = { modelTopology: { class_name: 'Sequential' }, format: 'layers-model' }
  throwsCode(() => parseModelJson('model.json', enc({ ...top, weightsManifest: { paths: ['a.bin'] } })), 'INVALID_MODEL')
  throwsCode(() => parseModelJson('model.json', enc({ ...top, weightsManifest: ['x'] })), 'INVALID_MODEL')
  throwsCode(() => parseModelJson('model.json', modelJson(['a.bin', 7], [])), 'INVALID_MODEL')
  throwsCode(() => parseModelJson('model.json', modelJson('a.bin', [])), 'INVALID_MODEL')
  throwsCode(() => parseModelJson('model.json', modelJson(['a.bin'], { name: 'w' })), 'INVALID_MODEL')
  throwsCode(() => parseModelJson('model.json', modelJson(['a.bin'], [{ shape: [1], dtype: 'float32' }])), 'INVALID_MODEL')
  throwsCode(() => parseModelJson('model.json', modelJson(['a.bin'], [{ name: 'w', dtype: 'float32' }])), 'INVALID_MODEL',
    e => assert.equal(e.data.tensor, 'w'))
  throwsCode(() => parseModelJson('model.json', modelJson(['a.bin'], [{ name: 'w', shape: [1] }])), 'INVALID_MODEL')
  throwsCode(() => parseModelJson('model.json', modelJson(['a.bin'], [{ name: 'w', shape: ['1'], dtype: 'float32' }])), 'INVALID_MODEL')
  throwsCode(() => parseModelJson('model.json', modelJson(['a.bin'], [{ ...KERNEL, quantization: 'uint8' }])), 'INVALID_MODEL')
  throwsCode(() => parseModelJson('model.json', enc({ modelTopology: 'Sequential', format: 'layers-model' })), 'INVALID_MODEL')
  throwsCode(() => parseModelJson('model.json', enc({ modelTopology: {}, format: 'graph-model' })), 'INVALID_MODEL')
  throwsCode(() => parseModelJson('model.json', enc({ modelTopology: {}, format: 3 })), 'INVALID_MODEL')
  throwsCode(() => parseModelJson('model.json', enc({ format: 'graph-model' })), 'INVALID_MODEL')
  throwsCode(() => parseModelJson('m.json', enc([{ paths: ['a.bin'], weights: [] }, { paths: ['b.bin'] }])), 'INVALID_MODEL')
  throwsCode(() => parseModelJson('model.json', modelJson(['a.bin', './a.bin'], [])), 'INVALID_MODEL')
})

test('parseModelJson refuses shard paths that leave the committed folder with UNSAFE_PATH', () => {
  const cases: Array<[string, string]> = [
    ['../x.bin', 'model.json'],
    ['../../x.bin', 'sub/model.json'],
    ['a/../../x.bin', 'model.json'],
    ['/abs.bin', 'model.json'],
    ['a\0.bin', 'model.json'],
    ['a\\b.bin', 'model.json'],
    ['a//b.bin', 'model.json'],
    ['', 'model.json'],
    ['http://example.com/w.bin', 'model.json'],
    ['C:/w.bin', 'model.json'],
    ['%2e%2e/w.bin', 'sub/model.json'],
    ['.mvc/objects/w.bin', 'model.json'],
    ['.', 'model.json']
  ]
  for (const [entry, jsonPath] of cases) {
    throwsCode(() => parseModelJson(jsonPath, modelJson([entry], [])), 'UNSAFE_PATH', e => {
      assert.equal(e.data.path, entry)
      assert.equal(e.data.file, jsonPath)
    })
  }
  // the same checks guard the array form
  throwsCode(() => parseModelJson('w.json', enc([{ paths: ['../x.bin'], weights: [] }])), 'UNSAFE_PATH')
})

// ---------------------------------------------------------------------------------------------------
// planning

/** Spans, in plan order, must tile every shard from 0 to its size with no gap or overlap. */
function assertTiles (plans: readonly TensorPlan[], sizes: ReadonlyMap<string, number>, shards: readonly string[]): void {
  const next = new Map<string, number>(shards.map(s => [s, 0]))
  let lastShard = -1
  for (const p of plans) {
    assert.equal(p.spans.reduce((n, s) => n + s.length, 0), p.byteLength, p.spec.name)
    for (const s of p.spans) {
      assert.ok(s.length > 0, `${p.spec.name}: empty span`)
      const idx = shards.indexOf(s.shard)
      assert.ok(idx >= lastShard, `${p.spec.name}: spans go back to an earlier shard`)
      lastShard = idx
      assert.equal(s.offset, next.get(s.shard), `${p.spec.name}: gap or overlap in ${s.shard}`)
      next.set(s.shard, s.offset + s.length)
    }
  }
  for (const s of shards) assert.equal(next.get(s), sizes.get(s), `${s} not covered to its end`)
}

test('planTensors spans cover every shard byte exactly once, in order', async () => {
  for (const f of fixtures) {
    const d = await loadDescriptor(f)
    const sizes = await shardSizes(f, d)
    const bytes = await shardBytes(f, d)
    const plans = planTensors(d, sizes, planNeedsBytes(d) ? reader(bytes) : undefined)
    assert.equal(plans.length, d.weightsManifest.reduce((n, g) => n + g.weights.length, 0), f.name)
    assertTiles(plans, sizes, d.shards)
  }
})

test('planTensors splits a tensor that crosses a shard boundary into two spans', async () => {
  const sharded = fixture('sharded')
  const d = await loadDescriptor(sharded)
  assert.equal(d.shards.length, 4)
  const plans = planTensors(d, await shardSizes(sharded, d))
  const crossing = plans.filter(p => p.spans.length > 1)
  assert.ok(crossing.length >= 1)
  const narrow = plans.find(p => p.spec.name === 'narrow/kernel')
  assert.ok(narrow !== undefined)
  assert.deepEqual(narrow.spans.map(s => [path.basename(s.shard), s.offset, s.length]),
    [['group1-shard3of4.bin', 1024, 64512], ['group1-shard4of4.bin', 0, 1024]])
  assert.equal(narrow.rowBytes, 64 * 4)
  assert.equal(plans.find(p => p.spec.name === 'wide/kernel')?.rowBytes, 256 * 4)

  // the weights-only fixture: the string tensor crosses, with a length prefix split across files
  const wo = fixture('weights-only')
  const wd = await loadDescriptor(wo)
  assert.equal(wd.shards.length, 2)
  assert.ok(planNeedsBytes(wd))
  const bytes = await shardBytes(wo, wd)
  const wp = planTensors(wd, await shardSizes(wo, wd), reader(bytes))
  const labels = wp.find(p => p.spec.name === 'labels')
  assert.ok(labels !== undefined)
  assert.equal(labels.byteLength, 3 * 4 + 3 + 3 + 4)
  assert.equal(labels.rowBytes, labels.byteLength)
  assert.deepEqual(labels.spans.map(s => [s.shard, s.length]), [['group1-shard1of2.bin', 8], ['group1-shard2of2.bin', 14]])
  const q = wp.find(p => p.spec.name === 'q')
  assert.equal(q?.byteLength, 12)
  assert.deepEqual(q?.spec.quantization, { dtype: 'uint8', min: -1, scale: 2 / 255 })

  // every tensor rebuilt from its spans decodes exactly like tfjs decodes the whole group
  const whole = concat(wd.shards.map(s => bytes.get(s) ?? new Uint8Array(0)))
  const specs = wd.weightsManifest[0]?.weights.map(w => ({ ...w })) as unknown as tf.io.WeightsManifestEntry[]
  const all = tf.io.decodeWeights(toArrayBuffer(whole), specs)
  for (const p of wp) {
    const own = concat(p.spans.map(s => reader(bytes)(s.shard, s.offset, s.length)))
    const one = tf.io.decodeWeights(toArrayBuffer(own), [p.spec as unknown as tf.io.WeightsManifestEntry])
    const a = all[p.spec.name]
    const b = one[p.spec.name]
    assert.ok(a !== undefined && b !== undefined)
    assert.deepEqual(b.arraySync(), a.arraySync(), p.spec.name)
  }
  const labelsTensor = all.labels
  assert.ok(labelsTensor !== undefined)
  assert.deepEqual(labelsTensor.arraySync(), ['cat', 'dog', 'bird'])
  tf.dispose(Object.values(all))
})

test('planTensors: short shard, extra bytes and missing shard are INVALID_MODEL', () => {
  const d = parse(modelJson(['group1-shard1of1.bin'], [KERNEL]))
  const ok = planTensors(d, new Map([['group1-shard1of1.bin', 4096]]))
  assert.deepEqual(ok[0]?.spans, [{ shard: 'group1-shard1of1.bin', offset: 0, length: 4096 }])
  assert.equal(ok[0]?.rowBytes, 128)

  throwsCode(() => planTensors(d, new Map([['group1-shard1of1.bin', 120]])), 'INVALID_MODEL', e => {
    assert.equal(e.data.tensor, 'dense/kernel')
    assert.equal(e.data.file, 'model.json')
    assert.equal(e.data.available, 120)
  })
  throwsCode(() => planTensors(d, new Map([['group1-shard1of1.bin', 4096 + 8]])), 'INVALID_MODEL', e => {
    assert.equal(e.data.extraBytes, 8)
  })
  throwsCode(() => planTensors(d, new Map([['other.bin', 4096]])), 'INVALID_MODEL', e => {
    assert.equal(e.data.shard, 'group1-shard1of1.bin')
  })
  // across two shards: short by one byte in the second names the second tensor
  const two = parse(modelJson(['a.bin', 'b.bin'], [KERNEL, { name: 'dense/bias', shape: [32], dtype: 'float32' }]), 'm/model.json')
  const plans = planTensors(two, new Map([['m/a.bin', 4000], ['m/b.bin', 224]]))
  assert.deepEqual(plans[0]?.spans, [{ shard: 'm/a.bin', offset: 0, length: 4000 }, { shard: 'm/b.bin', offset: 0, length: 96 }])
  assert.deepEqual(plans[1]?.spans, [{ shard: 'm/b.bin', offset: 96, length: 128 }])
  throwsCode(() => planTensors(two, new Map([['m/a.bin', 4000], ['m/b.bin', 223]])), 'INVALID_MODEL', e => {
    assert.equal(e.data.tensor, 'dense/bias')
  })
  // a group with weights but no shard at all
  throwsCode(() => planTensors(parse(modelJson([], [KERNEL])), new Map()), 'INVALID_MODEL', e => assert.equal(e.data.tensor, 'dense/kernel'))
})

test('planTensors: unknown dtypes, bad shapes and quantization are INVALID_MODEL', () => {
  const plan = (w: Record<string, unknown>, size: number): TensorPlan[] =>
    planTensors(parse(modelJson(['w.bin'], [w])), new Map([['w.bin', size]]))
  throwsCode(() => plan({ name: 'w', shape: [4], dtype: 'float64' }, 32), 'INVALID_MODEL', e => assert.equal(e.data.tensor, 'w'))
  throwsCode(() => plan({ name: 'w', shape: [4], dtype: 'uint8' }, 4), 'INVALID_MODEL')
  throwsCode(() => plan({ name: 'w', shape: [-4], dtype: 'float32' }, 16), 'INVALID_MODEL', e => assert.equal(e.data.tensor, 'w'))
  throwsCode(() => plan({ name: 'w', shape: [2.5, 2], dtype: 'float32' }, 20), 'INVALID_MODEL')

  // quantized uint8: one byte per element, whatever the weight's dtype says
  const q8 = { name: 'q', shape: [10, 10], dtype: 'float32', quantization: { dtype: 'uint8', min: -1, scale: 0.01 } }
  const okPlan = plan(q8, 100)
  assert.equal(okPlan[0]?.byteLength, 100)
  assert.equal(okPlan[0]?.rowBytes, 10)
  throwsCode(() => plan(q8, 400), 'INVALID_MODEL', e => assert.equal(e.data.extraBytes, 300))
  throwsCode(() => plan(q8, 99), 'INVALID_MODEL', e => assert.equal(e.data.tensor, 'q'))
  assert.equal(plan({ name: 'h', shape: [3], dtype: 'float32', quantization: { dtype: 'float16' } }, 6)[0]?.byteLength, 6)
  assert.equal(plan({ name: 'i', shape: [3], dtype: 'int32', quantization: { dtype: 'uint16', min: 0, scale: 1 } }, 6)[0]?.byteLength, 6)
  throwsCode(() => plan({ name: 'q', shape: [4], dtype: 'float32', quantization: { dtype: 'int4', min: 0, scale: 1 } }, 2), 'INVALID_MODEL')
  throwsCode(() => plan({ name: 'q', shape: [4], dtype: 'float32', quantization: { dtype: 'uint8' } }, 4), 'INVALID_MODEL')
  throwsCode(() => plan({ name: 'q', shape: [4], dtype: 'int32', quantization: { dtype: 'float16' } }, 8), 'INVALID_MODEL')
  throwsCode(() => plan({ name: 'q', shape: [4], dtype: 'bool', quantization: { dtype: 'uint8', min: 0, scale: 1 } }, 4), 'INVALID_MODEL')

  // scalars and empty tensors
  const scalar = plan({ name: 's', shape: [], dtype: 'int32' }, 4)[0]
  assert.equal(scalar?.byteLength, 4)
  assert.equal(scalar?.rowBytes, 4)
  const empty = planTensors(parse(modelJson(['w.bin'], [{ name: 'e', shape: [0, 3], dtype: 'float32' }, { name: 'c', shape: [2], dtype: 'complex64' }])), new Map([['w.bin', 16]]))
  assert.deepEqual(empty.map(p => [p.byteLength, p.spans.length, p.rowBytes]), [[0, 0, 0], [16, 1, 8]])
})

test('planTensors: string tensors read their length prefixes', () => {
  const bytes = Uint8Array.from([2, 0, 0, 0, 104, 105, 0, 0, 0, 0, 3, 0, 0, 0, 97, 98, 99])
  const d = parse(enc([{ paths: ['s.bin'], weights: [{ name: 'words', shape: [3], dtype: 'string' }] }]), 'vocab/m.json')
  assert.equal(d.format, 'weights-manifest')
  assert.ok(planNeedsBytes(d))
  const read = reader(new Map([['vocab/s.bin', bytes]]))
  const p = planTensors(d, new Map([['vocab/s.bin', bytes.length]]), read)
  assert.deepEqual(p[0]?.spans, [{ shard: 'vocab/s.bin', offset: 0, length: 17 }])
  // without the reader it is a programmer error, not a model error
  assert.throws(() => planTensors(d, new Map([['vocab/s.bin', bytes.length]])), TypeError)
  // a length prefix that runs past the end
  const cut = bytes.subarray(0, 15)
  throwsCode(() => planTensors(d, new Map([['vocab/s.bin', 15]]), reader(new Map([['vocab/s.bin', cut]]))), 'INVALID_MODEL', e => assert.equal(e.data.tensor, 'words'))
  assert.equal(planNeedsBytes(parse(modelJson(['w.bin'], [KERNEL]))), false)
})

test('dtypeByteSize', () => {
  assert.deepEqual(['float32', 'int32', 'bool', 'complex64', 'uint8', 'uint16', 'float16'].map(dtypeByteSize), [4, 4, 1, 8, 1, 2, 2])
  throwsCode(() => dtypeByteSize('string'), 'INVALID_MODEL')
  throwsCode(() => dtypeByteSize('float64'), 'INVALID_MODEL')
})

// ---------------------------------------------------------------------------------------------------
// fixtures

async function hashTree (dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const name of (await readdir(dir, { recursive: true })).sort()) {
    const p = path.join(dir, name)
    if ((await stat(p)).isFile()) out.set(name, createHash('sha256').update(await readFile(p)).digest('hex'))
  }
  return out
}

test('fixtures build twice to identical bytes', async () => {
  const a = await hashTree(path.join(root, 'a'))
  const b = await hashTree(path.join(root, 'b'))
  assert.ok(a.size >= 17)
  assert.deepEqual([...b.entries()], [...a.entries()])
  assert.deepEqual(second.map(f => f.files), fixtures.map(f => f.files))
  for (const f of fixtures) {
    for (const file of f.files) assert.equal((await stat(path.join(f.dir, file.path))).size, file.size)
    const text = await readFile(path.join(f.dir, f.jsonPath), 'utf8')
    assert.ok(!/dateSaved/.test(text))
  }
})

async function artifacts (f: FixtureInfo): Promise<tf.io.ModelArtifacts> {
  const d = await loadDescriptor(f)
  const json = JSON.parse(await readFile(path.join(f.dir, f.jsonPath), 'utf8')) as Record<string, unknown>
  const bytes = await shardBytes(f, d)
  const a: tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology as object,
    weightSpecs: d.weightsManifest.flatMap(g => g.weights) as unknown as tf.io.WeightsManifestEntry[],
    weightData: toArrayBuffer(concat(d.shards.map(s => bytes.get(s) ?? new Uint8Array(0)))),
    format: json.format as string
  }
  if (json.signature !== undefined) a.signature = json.signature as object
  return a
}

function noise (shape: number[], seed: number): tf.Tensor {
  let x = seed
  const n = shape.reduce((a, b) => a * b, 1)
  const v = new Float32Array(n)
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) % 2147483648; v[i] = x / 2147483648 - 0.5 }
  return tf.tensor(v, shape)
}

test('each Layers fixture loads back with tf.loadLayersModel and predicts', async () => {
  await tf.setBackend('cpu')
  const expectOut: Record<string, number[][]> = {
    dense: [[2, 4]], 'conv-bn': [[2, 3]], 'embed-lstm': [[2, 2]], 'two-io': [[2, 3], [2, 1]], sharded: [[2, 64]]
  }
  for (const f of fixtures.filter(x => x.format === 'layers-model')) {
    const model = await tf.loadLayersModel(tf.io.fromMemory(await artifacts(f)))
    let inputs: tf.Tensor[]
    if (f.inputs !== undefined) {
      const ref = JSON.parse(await readFile(path.join(f.dir, f.inputs), 'utf8')) as ReferenceInputs
      assert.deepEqual(ref.inputs.map(i => i.name), model.inputNames)
      inputs = ref.inputs.map(i => tf.tensor(i.values as number[], i.shape as number[], i.dtype))
      assert.ok(ref.inputs.every(i => i.values.every(v => Number.isInteger(v) && v >= 0 && v < 100)))
    } else {
      inputs = model.inputs.map((inp, i) => noise([2, ...inp.shape.slice(1).map(d => d ?? 1)], 7 + i))
    }
    const out = model.predict(inputs.length === 1 ? inputs[0] as tf.Tensor : inputs)
    const outs = Array.isArray(out) ? out : [out]
    assert.deepEqual(outs.map(o => o.shape), expectOut[f.name], f.name)
    for (const o of outs) assert.ok(Array.from(o.dataSync()).every(Number.isFinite), f.name)
    if (f.name === 'dense') {
      for (const row of outs[0]?.arraySync() as number[][]) assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5)
    }
    // the weights in the files are the seeded ones, not zeros
    assert.ok(model.getWeights().every(w => w.size === 0 || w.abs().max().dataSync()[0]! > 0), f.name)
    tf.dispose([...inputs, ...outs])
    model.dispose()
  }
})

test('the graph fixture loads with tf.loadGraphModel and executes', async () => {
  await tf.setBackend('cpu')
  const f = fixture('graph')
  const a = await artifacts(f)
  const model = await tf.loadGraphModel(tf.io.fromMemory(a))
  const x = noise([2, 8], 3)
  const y = model.execute(x) as tf.Tensor
  assert.deepEqual(y.shape, [2, 4])
  // relu(x · W + b) computed by hand from the shard bytes
  const w = new Float32Array(a.weightData as ArrayBuffer, 0, 32)
  const b = new Float32Array(a.weightData as ArrayBuffer, 128, 4)
  const xs = x.arraySync() as number[][]
  const expected = xs.map(row => [0, 1, 2, 3].map(j => Math.max(0, row.reduce((s, v, i) => s + v * (w[i * 4 + j] as number), b[j] as number))))
  const got = y.arraySync() as number[][]
  got.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - (expected[i]?.[j] as number)) < 1e-5)))
  assert.ok(got.flat().some(v => v > 0))
  const p = model.predict(x) as tf.Tensor
  assert.deepEqual(p.arraySync(), got)
  tf.dispose([x, y, p])
  model.dispose()
})
