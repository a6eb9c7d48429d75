/**
 * `mvc diff` (issue #4): real repositories in temporary folders, through the library and through the CLI
 * as a child process. Expected values are computed here from the bytes written, never copied from output.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, cp, mkdir, readFile, realpath, rm, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Repository } from '../src/api/repository.js'
import { buildFixtures, type FixtureInfo } from '../fixtures/build.js'
import type { DiffResult, TensorDiff } from '../src/core/diff/index.js'
import { mulberry32, mvcJson, mvcOk, runMvc, jsonError, tmpdir, removeDir, MiB } from './helpers.js'

const NO_VERIFY = { verify: false } as const
const TIMEOUT = { timeout: 180_000 }
let fixtures: FixtureInfo[]
let fixtureRoot: string
const cleanup: string[] = []

before(async () => {
  fixtureRoot = await tmpdir('mvc-diff-fixtures-')
  fixtures = await buildFixtures(fixtureRoot)
})
after(async () => {
  await removeDir(fixtureRoot)
  await Promise.all(cleanup.map(removeDir))
})

async function newRepo (): Promise<{ root: string, repo: Repository }> {
  const root = await realpath(await tmpdir('mvc-diff-'))
  cleanup.push(root)
  await Repository.init({ dir: root })
  return { root, repo: await Repository.open({ dir: root }) }
}

async function copyFixture (name: string, to: string): Promise<string> {
  const f = fixtures.find(x => x.name === name)
  if (f === undefined) throw new Error(`no fixture ${name}`)
  await cp(f.dir, to, { recursive: true })
  return to
}

async function codeOf (p: Promise<unknown>): Promise<string | undefined> {
  try { await p } catch (err) { return (err as { code?: string }).code }
  return undefined
}

// ---------------------------------------------------------------------------------------------------
// first-principles helpers: weight layout from model.json, float32 bytes, statistics

interface Weight { name: string, shape: number[], dtype: string, offset: number, bytes: number }

/** Offsets of the weights in the (single-group) concatenated shards, from the manifest in model.json. */
async function layout (dir: string, json = 'model.json'): Promise<{ weights: Weight[], paths: string[] }> {
  const m = JSON.parse(await readFile(join(dir, json), 'utf8')) as { weightsManifest: Array<{ paths: string[], weights: Array<{ name: string, shape: number[], dtype: string }> }> }
  const g = m.weightsManifest[0]!
  let offset = 0
  const weights = g.weights.map(w => {
    const bytes = w.shape.reduce((a, b) => a * b, 1) * 4
    const out = { ...w, offset, bytes }
    offset += bytes
    return out
  })
  return { weights, paths: g.paths }
}

function f32 (buf: Uint8Array, offset: number, n: number): number[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  return Array.from({ length: n }, (_, i) => dv.getFloat32(offset + 4 * i, true))
}

function putF32 (buf: Uint8Array, offset: number, values: readonly number[]): void {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  values.forEach((v, i) => dv.setFloat32(offset + 4 * i, v, true))
}

function f32Bytes (values: readonly number[]): Buffer {
  const b = Buffer.alloc(values.length * 4)
  putF32(b, 0, values)
  return b
}

/** max |b-a|, Σ|b-a| / n, ||b-a|| / ||a||, over the whole tensor. */
function expectedStats (a: readonly number[], b: readonly number[]): { maxAbs: number, meanAbs: number, relL2: number, changed: number } {
  let max = 0; let sum = 0; let sq = 0; let sqA = 0; let changed = 0
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(b[i]! - a[i]!)
    if (d !== 0) changed++
    max = Math.max(max, d); sum += d; sq += d * d; sqA += a[i]! * a[i]!
  }
  return { maxAbs: max, meanAbs: sum / a.length, relL2: Math.sqrt(sq) / Math.sqrt(sqA), changed }
}

function near (actual: number | null | undefined, expected: number, tol: number, what: string): void {
  assert.ok(typeof actual === 'number' && Math.abs(actual - expected) <= tol, `${what}: expected ${expected} ± ${tol}, got ${String(actual)}`)
}

function only<T> (xs: readonly T[], what: string): T {
  assert.equal(xs.length, 1, `exactly one ${what}: ${JSON.stringify(xs)}`)
  return xs[0]!
}

function tensor (d: DiffResult, name: string): TensorDiff {
  const t = d.tensors.find(x => x.name === name)
  assert.ok(t !== undefined, `tensor ${name} in ${JSON.stringify(d.tensors.map(x => x.name))}`)
  return t
}

/** Adds `delta` to every float of weight `name` of a single-shard layers model, writing the shard in place. */
async function addToWeight (dir: string, name: string, delta: number): Promise<{ before: number[], after: number[] }> {
  const { weights, paths } = await layout(dir)
  const w = weights.find(x => x.name === name)!
  const shard = join(dir, paths[0]!)
  const buf = await readFile(shard)
  const before = f32(buf, w.offset, w.bytes / 4)
  const after = before.map(v => Math.fround(v + delta))
  putF32(buf, w.offset, after)
  await writeFile(shard, buf)
  return { before, after }
}

// ---------------------------------------------------------------------------------------------------
// the documented --json shape (docs/cli.md, "mvc diff"), checked key by key

type Check = (v: unknown, at: string) => void
const fail = (at: string, why: string, v: unknown): never => { throw new assert.AssertionError({ message: `${at}: ${why} (got ${JSON.stringify(v)})` }) }
const str: Check = (v, at) => { if (typeof v !== 'string') fail(at, 'string', v) }
const num: Check = (v, at) => { if (typeof v !== 'number' || !Number.isFinite(v)) fail(at, 'number', v) }
const int: Check = (v, at) => { if (!Number.isSafeInteger(v) || (v as number) < 0) fail(at, 'count', v) }
const bool: Check = (v, at) => { if (typeof v !== 'boolean') fail(at, 'boolean', v) }
const any: Check = () => {}
const cid: Check = (v, at) => { if (typeof v !== 'string' || !/^b[a-z2-7]{20,}$/.test(v)) fail(at, 'CID string', v) }
const nullable = (c: Check): Check => (v, at) => { if (v !== null) c(v, at) }
const oneOf = (...xs: string[]): Check => (v, at) => { if (typeof v !== 'string' || !xs.includes(v)) fail(at, xs.join('|'), v) }
const arr = (c: Check): Check => (v, at) => { if (!Array.isArray(v)) fail(at, 'array', v); (v as unknown[]).forEach((x, i) => c(x, `${at}[${i}]`)) }
const obj = (shape: Record<string, Check>): Check => (v, at) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(at, 'object', v)
  const o = v as Record<string, unknown>
  assert.deepEqual(Object.keys(o).sort(), Object.keys(shape).sort(), `${at}: keys`)
  for (const [k, c] of Object.entries(shape)) c(o[k], `${at}.${k}`)
}
const LINEAGE = oneOf('none', 'same', 'changed', 'added', 'removed')
const endpointShape = obj({ rev: nullable(str), cid: nullable(cid), version: nullable(int), path: str, manifest: nullable(cid), worktree: bool, exists: bool })
const tensorMeta = obj({ dtype: str, shape: arr(int), quantization: any, size: int, cid })
const counts3 = obj({ added: int, removed: int, changed: int })
const named = obj({ name: str, value: any })
const validateDiffJson: Check = obj({
  a: endpointShape,
  b: endpointShape,
  identical: bool,
  models: arr(obj({ path: str, status: oneOf('added', 'removed', 'modified', 'unchanged'), format: obj({ a: nullable(str), b: nullable(str) }), a: nullable(cid), b: nullable(cid), shards: nullable(obj({ a: arr(str), b: arr(str) })), jsonChanged: bool })),
  topology: arr(obj({
    model: str,
    changes: arr(obj({
      kind: oneOf('layer-added', 'layer-removed', 'layer-changed', 'layer-order-changed', 'node-added', 'node-removed', 'node-changed', 'weight-shape-changed', 'config-changed', 'meta-changed', 'format-changed'),
      name: nullable(str),
      type: nullable(str),
      fields: arr(str),
      shapes: arr(obj({ field: str, a: any, b: any }))
    }))
  })),
  tensors: arr(obj({
    model: str,
    name: str,
    status: oneOf('changed', 'added', 'removed'),
    kind: nullable(oneOf('values', 'shape', 'dtype', 'quantization')),
    a: nullable(tensorMeta),
    b: nullable(tensorMeta),
    stats: nullable(obj({ elements: int, changedElements: int, maxAbs: num, meanAbs: num, relL2: nullable(num), relL2Exact: bool, nonFinite: int, chunks: int, chunksRead: int, chunksSkipped: int })),
    note: nullable(str)
  })),
  contracts: arr(obj({ model: str, a: any, b: any, breaking: bool, changes: arr(str) })),
  files: obj({ added: arr(str), removed: arr(str), modified: arr(obj({ path: str, content: bool, mode: nullable(obj({ a: int, b: int })) })), dirsAdded: arr(str), dirsRemoved: arr(str) }),
  params: nullable(obj({ added: arr(named), removed: arr(named), changed: arr(obj({ name: str, a: any, b: any })) })),
  metrics: nullable(obj({ added: arr(named), removed: arr(named), changed: arr(obj({ name: str, a: any, b: any, delta: nullable(num) })) })),
  data: nullable(obj({ status: LINEAGE, a: any, b: any, files: nullable(obj({ added: arr(str), modified: arr(str), removed: arr(str) })) })),
  code: nullable(obj({ status: LINEAGE, a: any, b: any })),
  summary: obj({
    models: obj({ added: int, removed: int, modified: int, unchanged: int }),
    topology: obj({ added: int, removed: int, changed: int, shapes: int }),
    tensors: obj({ changed: int, added: int, removed: int, unchanged: int }),
    files: obj({ added: int, removed: int, modified: int }),
    params: nullable(counts3),
    metrics: nullable(counts3),
    data: nullable(LINEAGE),
    code: nullable(LINEAGE)
  }),
  stats: obj({ tensorsCompared: int, chunksRead: int, bytesRead: int, chunksSkipped: int, normChunksRead: int })
})

function assertNoOtherChanges (d: DiffResult): void {
  assert.deepEqual(d.files, { added: [], removed: [], modified: [], dirsAdded: [], dirsRemoved: [] })
}

// ---------------------------------------------------------------------------------------------------

describe('mvc diff: tensors', () => {
  test('fine-tune of one layer: exactly that tensor changed, max/mean abs 0.5, rel_l2 from the bytes (library and CLI --json)', TIMEOUT, async () => {
    const { root, repo } = await newRepo()
    const model = await copyFixture('dense', join(root, 'model'))
    try {
      await repo.commit({ path: model, message: 'base', ...NO_VERIFY })
      const { before: a, after: b } = await addToWeight(model, 'probs/kernel', 0.5)
      await repo.commit({ path: model, message: 'fine-tuned', ...NO_VERIFY })
      const d = await repo.diff({ a: 'v1', b: 'v2' })
      const exp = expectedStats(a, b)
      const t = only(d.tensors, 'changed tensor')
      assert.equal(t.name, 'probs/kernel')
      assert.equal(t.status, 'changed')
      assert.equal(t.kind, 'values')
      assert.deepEqual(t.b?.shape, [16, 4])
      near(t.stats?.maxAbs, 0.5, 1e-6, 'maxAbs')
      near(t.stats?.meanAbs, 0.5, 1e-6, 'meanAbs')
      near(t.stats?.maxAbs, exp.maxAbs, 1e-12, 'maxAbs from the bytes')
      near(t.stats?.meanAbs, exp.meanAbs, 1e-12, 'meanAbs from the bytes')
      near(t.stats?.relL2, exp.relL2, 1e-9, 'relL2')
      assert.equal(t.stats?.relL2Exact, true)
      assert.equal(t.stats?.elements, 64)
      assert.equal(t.stats?.changedElements, exp.changed)
      assert.deepEqual(d.summary.tensors, { changed: 1, added: 0, removed: 0, unchanged: 3 })
      assert.deepEqual(d.topology, [])
      assertNoOtherChanges(d)
      assert.equal(d.identical, false)
      assert.equal(d.a.version, 1)
      assert.equal(d.b.version, 2)
      assert.equal(only(d.models, 'model').status, 'modified')
      // One chunk per side, nothing else read.
      assert.equal(d.stats.chunksRead, 2)
      assert.equal(d.stats.tensorsCompared, 1)
      // Reversed: same magnitudes.
      const r = await repo.diff({ a: 'v2', b: 'v1' })
      near(only(r.tensors, 'changed tensor').stats?.maxAbs, exp.maxAbs, 1e-12, 'reversed maxAbs')
    } finally { await repo.close() }

    // The same through the CLI, validated against the documented JSON shape.
    const j = await mvcJson(['diff', 'v1', 'v2'], { cwd: root })
    validateDiffJson(j, '$')
    assert.equal(j.tensors[0].name, 'probs/kernel')
    near(j.tensors[0].stats.maxAbs, 0.5, 1e-6, 'CLI maxAbs')
    assert.equal(j.a.cid, (await mvcJson(['show', 'v1'], { cwd: root })).cid)
    const table = await mvcOk(['diff', 'HEAD~1', 'HEAD'], { cwd: root })
    const row = table.stdout.split('\n').find(l => l.includes('probs/kernel'))
    assert.ok(row !== undefined, table.stdout)
    assert.match(row, /\[16,4\]\s+float32\s+0\.5\s+0\.5\s+\d/)
    assert.ok(!table.stdout.includes('hidden/kernel'), 'unchanged tensors are not listed')
    const stat = await mvcOk(['diff', 'v1', 'v2', '--stat'], { cwd: root })
    assert.match(stat.stdout, /tensors: +1 changed, 0 added, 0 removed, 3 unchanged/)
  })

  test('a layer added: topology shows it, its weights are added tensors', TIMEOUT, async () => {
    const { root, repo } = await newRepo()
    const model = await copyFixture('dense', join(root, 'model'))
    try {
      await repo.commit({ path: model, message: 'base', ...NO_VERIFY })
      const json = JSON.parse(await readFile(join(model, 'model.json'), 'utf8'))
      json.modelTopology.config.layers.push({ class_name: 'Dense', config: { units: 3, activation: 'linear', use_bias: true, name: 'extra', trainable: true } })
      json.weightsManifest[0].weights.push({ name: 'extra/kernel', shape: [4, 3], dtype: 'float32' }, { name: 'extra/bias', shape: [3], dtype: 'float32' })
      await writeFile(join(model, 'model.json'), JSON.stringify(json))
      const extra = Array.from({ length: 15 }, (_, i) => (i - 7) / 8)
      await writeFile(join(model, 'weights.bin'), Buffer.concat([await readFile(join(model, 'weights.bin')), f32Bytes(extra)]))
      await repo.commit({ path: model, message: 'extra layer', ...NO_VERIFY })

      const d = await repo.diff({ a: 'v1', b: 'v2' })
      const topo = only(d.topology, 'model with topology changes')
      assert.equal(topo.model, 'model.json')
      const added = only(topo.changes.filter(c => c.kind === 'layer-added'), 'added layer')
      assert.equal(added.name, 'extra')
      assert.equal(added.type, 'Dense')
      assert.deepEqual(topo.changes.filter(c => c.kind === 'layer-removed' || c.kind === 'layer-changed'), [])
      assert.deepEqual(d.tensors.map(t => [t.name, t.status, t.b?.shape]), [['extra/kernel', 'added', [4, 3]], ['extra/bias', 'added', [3]]])
      assert.deepEqual(d.summary.tensors, { changed: 0, added: 2, removed: 0, unchanged: 4 })
      assert.equal(d.summary.topology.added, 1)
      assert.equal(d.stats.chunksRead, 0, 'added tensors are not read')
      assertNoOtherChanges(d)
      // And the other way round: removed.
      const r = await repo.diff({ a: 'v2', b: 'v1' })
      assert.equal(only(r.topology[0]!.changes.filter(c => c.kind === 'layer-removed'), 'removed layer').name, 'extra')
      assert.deepEqual(r.tensors.map(t => t.status), ['removed', 'removed'])
    } finally { await repo.close() }
  })

  test('shapes changed: layer config fields and shapes, weight shapes, tensors marked shape (no stats)', TIMEOUT, async () => {
    const { root, repo } = await newRepo()
    const model = await copyFixture('dense', join(root, 'model'))
    try {
      await repo.commit({ path: model, message: 'base', ...NO_VERIFY })
      const { weights } = await layout(model)
      const old = await readFile(join(model, 'weights.bin'))
      const w = (name: string): number[] => { const x = weights.find(y => y.name === name)!; return f32(old, x.offset, x.bytes / 4) }
      // Input 8 → 9 (hidden/kernel gains a row), probs units 4 → 5; hidden/bias keeps its bytes.
      const json = JSON.parse(await readFile(join(model, 'model.json'), 'utf8'))
      json.modelTopology.config.layers[0].config.batch_input_shape = [null, 9]
      json.modelTopology.config.layers[1].config.units = 5
      json.weightsManifest[0].weights = [
        { name: 'hidden/kernel', shape: [9, 16], dtype: 'float32' },
        { name: 'hidden/bias', shape: [16], dtype: 'float32' },
        { name: 'probs/kernel', shape: [16, 5], dtype: 'float32' },
        { name: 'probs/bias', shape: [5], dtype: 'float32' }
      ]
      await writeFile(join(model, 'model.json'), JSON.stringify(json))
      await writeFile(join(model, 'weights.bin'), f32Bytes([
        ...w('hidden/kernel'), ...Array<number>(16).fill(0.25), ...w('hidden/bias'), ...Array<number>(80).fill(0.125), ...w('probs/bias'), 0
      ]))
      await repo.commit({ path: model, message: 'reshaped', ...NO_VERIFY })

      const d = await repo.diff({ a: 'v1', b: 'v2' })
      const changes = only(d.topology, 'model').changes
      const hidden = changes.find(c => c.kind === 'layer-changed' && c.name === 'hidden')
      assert.ok(hidden !== undefined, JSON.stringify(changes))
      assert.deepEqual(hidden.shapes, [{ field: 'config.batch_input_shape', a: [null, 8], b: [null, 9] }])
      const probs = changes.find(c => c.kind === 'layer-changed' && c.name === 'probs')
      assert.ok(probs !== undefined && probs.fields.includes('config.units'), JSON.stringify(changes))
      const ws = changes.filter(c => c.kind === 'weight-shape-changed').map(c => [c.name, c.shapes[0]?.a, c.shapes[0]?.b])
      assert.deepEqual(ws, [['hidden/kernel', [8, 16], [9, 16]], ['probs/kernel', [16, 4], [16, 5]], ['probs/bias', [4], [5]]])
      for (const name of ['hidden/kernel', 'probs/kernel', 'probs/bias']) {
        const t = tensor(d, name)
        assert.equal(t.status, 'changed')
        assert.equal(t.kind, 'shape')
        assert.equal(t.stats, null)
      }
      assert.deepEqual(d.summary.tensors, { changed: 3, added: 0, removed: 0, unchanged: 1 })
      assert.equal(d.stats.chunksRead, 0, 'shape changes are not read')
    } finally { await repo.close() }
  })

  test('graph model: node op and attr changes, nodes added', TIMEOUT, async () => {
    const { root, repo } = await newRepo()
    const model = await copyFixture('graph', join(root, 'model'))
    try {
      await repo.commit({ path: model, message: 'base', ...NO_VERIFY })
      const json = JSON.parse(await readFile(join(model, 'model.json'), 'utf8'))
      const nodes = json.modelTopology.node as Array<{ name: string, op: string, input?: string[], attr?: Record<string, unknown> }>
      const relu = nodes.find(n => n.op === 'Relu')!
      relu.op = 'Relu6'
      const x = nodes.find(n => n.op === 'Placeholder')!
      x.attr = { ...x.attr, shape: { shape: { dim: [{ size: '-1' }, { size: '9' }] } } }
      nodes.push({ name: 'Extra', op: 'Identity', input: [relu.name], attr: {} })
      await writeFile(join(model, 'model.json'), JSON.stringify(json))
      await repo.commit({ path: model, message: 'graph edit', ...NO_VERIFY })
      const d = await repo.diff({ a: 'v1', b: 'v2' })
      const changes = only(d.topology, 'model').changes
      const r = changes.find(c => c.name === relu.name)
      assert.equal(r?.kind, 'node-changed')
      assert.deepEqual(r?.fields, ['op'])
      assert.equal(r?.type, 'Relu6')
      const p = changes.find(c => c.name === x.name)
      assert.deepEqual(p?.fields, ['attr.shape'])
      assert.deepEqual(p?.shapes, [{ field: 'attr.shape', a: [-1, 8], b: [-1, 9] }])
      assert.deepEqual(changes.filter(c => c.kind === 'node-added').map(c => [c.name, c.type]), [['Extra', 'Identity']])
      assert.deepEqual(d.tensors, [], 'weights did not change')
    } finally { await repo.close() }
  })

  test('quantized (uint8) weights are compared dequantized; string tensors say bytes differ', TIMEOUT, async () => {
    const { root, repo } = await newRepo()
    const model = await copyFixture('weights-only', join(root, 'model'))
    try {
      await repo.commit({ path: model, message: 'base', ...NO_VERIFY })
      const manifest = JSON.parse(await readFile(join(model, 'model-weights_manifest.json'), 'utf8')) as Array<{ paths: string[], weights: Array<{ name: string, quantization?: { scale: number, min: number } }> }>
      const q = manifest[0]!.weights.find(w => w.name === 'q')!.quantization!
      // q is the last weight (3×4 uint8): its last element is the last byte of the last shard.
      const last = join(model, manifest[0]!.paths.at(-1)!)
      const bytes = await readFile(last)
      const before = bytes[bytes.length - 1]!
      const after = before >= 128 ? before - 7 : before + 7
      bytes[bytes.length - 1] = after
      // labels (string) start right after w (4×5 float32) and ids (6 int32): offset 104 of the group.
      const group = Buffer.concat(await Promise.all(manifest[0]!.paths.map(async p => await readFile(join(model, p)))))
      const labelStart = 104 + 4
      assert.ok(group.readUInt32LE(104) > 0)
      const first = manifest[0]!.paths[0]!
      const shard1 = await readFile(join(model, first))
      assert.ok(labelStart < shard1.length, 'first label byte is in the first shard')
      shard1[labelStart] = shard1[labelStart]! ^ 0x20 // flip case: same length
      await writeFile(join(model, first), shard1)
      await writeFile(last, bytes)
      await repo.commit({ path: model, message: 'edited', ...NO_VERIFY })
      const d = await repo.diff({ a: 'v1', b: 'v2' })
      const tq = tensor(d, 'q')
      const expected = Math.abs((after - before) * q.scale)
      near(tq.stats?.maxAbs, expected, 1e-12, 'dequantized max abs')
      near(tq.stats?.meanAbs, expected / 12, 1e-12, 'dequantized mean abs')
      assert.equal(tq.stats?.changedElements, 1)
      const tl = tensor(d, 'labels')
      assert.equal(tl.stats, null)
      assert.match(tl.note ?? '', /bytes differ/)
      assert.deepEqual(d.summary.tensors, { changed: 2, added: 0, removed: 0, unchanged: 4 })
    } finally { await repo.close() }
  })
})

describe('mvc diff: lineage, identical versions, errors', () => {
  test('params and metrics with deltas, data files and code commits', TIMEOUT, async () => {
    const { root, repo } = await newRepo()
    try {
      const data = join(root, 'data')
      await mkdir(data)
      await writeFile(join(data, 'train.csv'), 'x,y\n1,2\n')
      await writeFile(join(data, 'val.csv'), 'x,y\n3,4\n')
      await repo.commit({ path: data, message: 'data 1', ...NO_VERIFY })
      await writeFile(join(data, 'train.csv'), 'x,y\n1,2\n5,6\n')
      await writeFile(join(data, 'test.csv'), 'x,y\n7,8\n')
      await repo.commit({ path: data, message: 'data 2', ...NO_VERIFY })
      const m1 = (await repo.show({ rev: 'v1' })).commit.model!
      const m2 = (await repo.show({ rev: 'v2' })).commit.model!
      const model = await copyFixture('dense', join(root, 'model'))
      const git = (oid: string, dirty: boolean): unknown => ({ kind: 'git', oid, branch: 'main', remote: null, dirty, dirtyPaths: dirty ? ['train.py'] : [] })
      await repo.commit({
        path: model,
        message: 'run 1',
        ...NO_VERIFY,
        lineage: {
          params: { lr: 0.01, epochs: 3, opt: 'adam' },
          metrics: { acc: 0.9, loss: 0.3, note: 'first' },
          data: { kind: 'snapshot', manifest: m1, path: 'data', files: 2, bytes: 16 },
          code: git('a'.repeat(40), false)
        }
      })
      await repo.commit({
        path: model,
        message: 'run 2',
        allowEmpty: true,
        ...NO_VERIFY,
        lineage: {
          params: { lr: 0.001, epochs: 3, batch: 32 },
          metrics: { acc: 0.925, loss: 0.25, f1: 0.8, note: 'second' },
          data: { kind: 'snapshot', manifest: m2, path: 'data', files: 3, bytes: 28 },
          code: git('b'.repeat(40), true)
        }
      })
      const d = await repo.diff({ a: 'v3', b: 'v4' })
      assert.deepEqual(d.params, { added: [{ name: 'batch', value: 32 }], removed: [{ name: 'opt', value: 'adam' }], changed: [{ name: 'lr', a: 0.01, b: 0.001 }] })
      assert.deepEqual(d.metrics?.added, [{ name: 'f1', value: 0.8 }])
      assert.deepEqual(d.metrics?.removed, [])
      assert.deepEqual(d.metrics?.changed, [
        { name: 'acc', a: 0.9, b: 0.925, delta: 0.925 - 0.9 },
        { name: 'loss', a: 0.3, b: 0.25, delta: 0.25 - 0.3 },
        { name: 'note', a: 'first', b: 'second', delta: null }
      ])
      assert.equal(d.data?.status, 'changed')
      assert.deepEqual(d.data?.files, { added: ['test.csv'], modified: ['train.csv'], removed: [] })
      assert.equal(d.code?.status, 'changed')
      assert.equal((d.code?.a as { oid: string }).oid, 'a'.repeat(40))
      assert.equal((d.code?.b as { dirty: boolean }).dirty, true)
      assert.deepEqual(d.tensors, [])
      assert.equal(d.identical, false)
      const same = await repo.diff({ a: 'v3', b: 'v3' })
      assert.equal(same.data?.status, 'same')
      assert.equal(same.code?.status, 'same')
      assert.equal(same.identical, true)
    } finally { await repo.close() }
    const stat = await mvcOk(['diff', 'v3', 'v4', '--stat'], { cwd: root })
    assert.match(stat.stdout, /params: +1 added, 1 removed, 1 changed/)
    assert.match(stat.stdout, /metrics: +1 added, 0 removed, 3 changed/)
    assert.match(stat.stdout, /data: +changed/)
    const table = await mvcOk(['diff', 'v3', 'v4'], { cwd: root })
    assert.ok(table.stdout.split('\n').some(l => l.includes('acc') && l.includes('+0.025')), table.stdout)
    validateDiffJson(await mvcJson(['diff', 'v3', 'v4'], { cwd: root }), '$')
  })

  test('identical versions and an untouched working folder: no differences, nothing read, exit 0', TIMEOUT, async () => {
    const { root, repo } = await newRepo()
    const model = await copyFixture('conv-bn', join(root, 'model'))
    try {
      await repo.commit({ path: model, message: 'one', ...NO_VERIFY })
      await repo.commit({ path: model, message: 'two', allowEmpty: true, ...NO_VERIFY })
      for (const [a, b] of [['v1', 'v2'], ['v1', 'v1'], ['v1', undefined]] as const) {
        const d = await repo.diff({ a, b })
        assert.equal(d.identical, true, `${a}..${String(b)}`)
        assert.deepEqual([d.topology, d.tensors], [[], []])
        assertNoOtherChanges(d)
        assert.deepEqual(d.stats, { tensorsCompared: 0, chunksRead: 0, bytesRead: 0, chunksSkipped: 0, normChunksRead: 0 })
        assert.equal(d.summary.tensors.changed + d.summary.tensors.added + d.summary.tensors.removed, 0)
        assert.ok(d.summary.tensors.unchanged > 0)
        assert.equal(d.b.worktree, b === undefined)
      }
    } finally { await repo.close() }
    const r = await runMvc(['diff', 'v1', 'v2'], { cwd: root })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /no differences/)
  })

  test('unknown revisions fail with their code (library and CLI exit 4)', TIMEOUT, async () => {
    const { root, repo } = await newRepo()
    try {
      await repo.commit({ path: await copyFixture('dense', join(root, 'model')), message: 'one', ...NO_VERIFY })
      assert.equal(await codeOf(repo.diff({ a: 'v1', b: 'v9' })), 'UNKNOWN_REVISION')
      assert.equal(await codeOf(repo.diff({ a: 'nope' })), 'UNKNOWN_REVISION')
    } finally { await repo.close() }
    const r = await runMvc(['diff', 'v7', '--json'], { cwd: root })
    assert.equal(r.code, 4)
    assert.equal(jsonError(r).code, 'UNKNOWN_REVISION')
  })
})

describe('mvc diff: the working folder', () => {
  test('edited, added, removed and chmod-ed files and a changed weight, through the CLI', TIMEOUT, async () => {
    const root = await realpath(await tmpdir('mvc-diff-cli-'))
    cleanup.push(root)
    await mvcOk(['init'], { cwd: root })
    const model = await copyFixture('dense', join(root, 'model'))
    await writeFile(join(model, 'notes.txt'), 'v1 notes\n')
    await writeFile(join(model, 'old.txt'), 'to be removed\n')
    await writeFile(join(model, 'run.sh'), 'echo train\n', { mode: 0o644 })
    await chmod(join(model, 'run.sh'), 0o644)
    await mvcOk(['commit', 'model', '-m', 'one', '--no-verify'], { cwd: root })

    await writeFile(join(model, 'notes.txt'), 'v2 notes, longer\n')
    await rm(join(model, 'old.txt'))
    await writeFile(join(model, 'new.txt'), 'new\n')
    await chmod(join(model, 'run.sh'), 0o755)
    await mkdir(join(model, 'empty'))
    const { before, after } = await addToWeight(model, 'hidden/bias', -0.25)
    const exp = expectedStats(before, after)

    const j = await mvcJson(['diff', 'v1'], { cwd: root })
    validateDiffJson(j, '$')
    assert.equal(j.b.worktree, true)
    assert.equal(j.b.path, 'model')
    assert.equal(j.b.cid, null)
    assert.equal(j.params, null)
    assert.deepEqual(j.files, {
      added: ['new.txt'],
      removed: ['old.txt'],
      modified: [{ path: 'notes.txt', content: true, mode: null }, { path: 'run.sh', content: false, mode: { a: 0o644, b: 0o755 } }],
      dirsAdded: ['empty'],
      dirsRemoved: []
    })
    const t = j.tensors as TensorDiff[]
    assert.equal(t.length, 1)
    assert.equal(t[0]!.name, 'hidden/bias')
    near(t[0]!.stats?.maxAbs, exp.maxAbs, 1e-12, 'maxAbs from disk')
    near(t[0]!.stats?.meanAbs, exp.meanAbs, 1e-12, 'meanAbs from disk')
    near(t[0]!.stats?.relL2, exp.relL2, 1e-9, 'relL2 from disk')
    assert.equal(j.stats.chunksRead, 2)

    const table = await mvcOk(['diff', 'v1'], { cwd: root })
    for (const s of ['new.txt', 'old.txt', 'notes.txt', 'run.sh', 'mode 0644 → 0755', 'hidden/bias']) assert.ok(table.stdout.includes(s), `${s} in\n${table.stdout}`)
    // Nothing was stored by diffing: committing still stores the change.
    const c = await mvcJson(['commit', 'model', '-m', 'two', '--no-verify'], { cwd: root })
    assert.equal(c.committed, true)
    const after2 = await mvcJson(['diff', 'v2'], { cwd: root })
    assert.equal(after2.identical, true)
  })
})

describe('mvc diff: streaming', () => {
  const ROWS = 1024
  const COLS = 2048 // 8 KiB rows: an 8 MiB float32 kernel in 1 MiB row-aligned chunks
  const ROW_BYTES = COLS * 4
  const CHUNK_BYTES = Math.floor((1 << 20) / ROW_BYTES) * ROW_BYTES
  const SHARD1 = 4.5 * MiB // the shard boundary falls inside a chunk

  async function writeBig (dir: string, kernel: Float32Array, bias: Float32Array): Promise<void> {
    const all = Buffer.concat([Buffer.from(kernel.buffer, kernel.byteOffset, kernel.byteLength), Buffer.from(bias.buffer, bias.byteOffset, bias.byteLength)])
    await writeFile(join(dir, 'group1-shard1of2.bin'), all.subarray(0, SHARD1))
    await writeFile(join(dir, 'group1-shard2of2.bin'), all.subarray(SHARD1))
  }

  async function bigModel (dir: string): Promise<{ kernel: Float32Array, bias: Float32Array }> {
    await mkdir(dir, { recursive: true })
    const rng = mulberry32(42)
    const kernel = Float32Array.from({ length: ROWS * COLS }, () => rng() * 2 - 1)
    const bias = Float32Array.from({ length: COLS }, () => rng() / 10)
    await writeFile(join(dir, 'model.json'), JSON.stringify({
      modelTopology: { class_name: 'Sequential', config: { name: 'big', layers: [{ class_name: 'Dense', config: { name: 'big', units: COLS, batch_input_shape: [null, ROWS] } }] } },
      weightsManifest: [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: [{ name: 'big/kernel', shape: [ROWS, COLS], dtype: 'float32' }, { name: 'big/bias', shape: [COLS], dtype: 'float32' }] }],
      format: 'layers-model'
    }))
    await writeBig(dir, kernel, bias)
    return { kernel, bias }
  }

  /** Changes one row; returns the expected statistics over the whole tensor. */
  function editRow (kernel: Float32Array, row: number, seed: number): Float32Array {
    const next = kernel.slice()
    const rng = mulberry32(seed)
    for (let c = 0; c < COLS; c++) next[row * COLS + c] = Math.fround(next[row * COLS + c]! + (rng() - 0.5))
    return next
  }

  test('one row of an 8 MiB tensor over two shards: only the changed chunk is read, between versions and from disk', TIMEOUT, async () => {
    const { root, repo } = await newRepo()
    const model = join(root, 'model')
    try {
      const { kernel, bias } = await bigModel(model)
      await repo.commit({ path: model, message: 'base', ...NO_VERIFY })
      const row = 100
      const k2 = editRow(kernel, row, 7)
      await writeBig(model, k2, bias)
      await repo.commit({ path: model, message: 'one row', ...NO_VERIFY })

      const chunks = Math.ceil(ROWS * ROW_BYTES / CHUNK_BYTES)
      const changedChunks = new Set([Math.floor(row * ROW_BYTES / CHUNK_BYTES)]).size
      const exp = expectedStats(Array.from(kernel), Array.from(k2))

      const d = await repo.diff({ a: 'v1', b: 'v2' })
      const t = only(d.tensors, 'changed tensor')
      assert.equal(t.name, 'big/kernel')
      assert.equal(t.stats?.changedElements, exp.changed)
      assert.equal(t.stats?.elements, ROWS * COLS)
      near(t.stats?.maxAbs, exp.maxAbs, 1e-12, 'maxAbs')
      near(t.stats?.meanAbs, exp.meanAbs, 1e-15, 'meanAbs over all elements')
      assert.ok(d.stats.chunksRead <= 2 + changedChunks, `read ${d.stats.chunksRead} chunks, ${changedChunks} changed`)
      assert.equal(d.stats.chunksSkipped, chunks - changedChunks)
      assert.equal(t.stats?.chunks, chunks)
      // ||a|| covered only the chunks read: an upper bound, flagged.
      assert.equal(t.stats?.relL2Exact, false)
      assert.ok((t.stats?.relL2 ?? 0) >= exp.relL2 * (1 - 1e-9), 'relL2 is an upper bound')
      // --exact-norm reads a's identical chunks once for the norm.
      const e = await repo.diff({ a: 'v1', b: 'v2', exactNorm: true })
      const te = only(e.tensors, 'changed tensor')
      assert.equal(te.stats?.relL2Exact, true)
      near(te.stats?.relL2, exp.relL2, exp.relL2 * 1e-9, 'exact relL2')
      assert.equal(e.stats.normChunksRead, chunks - changedChunks)
      assert.equal(e.stats.chunksRead, 2 * changedChunks + (chunks - changedChunks))

      // From disk: a row in the chunk that straddles the two shards.
      const row3 = 600
      assert.ok(Math.floor(row3 * ROW_BYTES / CHUNK_BYTES) === Math.floor(SHARD1 / CHUNK_BYTES), 'row 600 is in the chunk holding the shard boundary')
      const k3 = editRow(k2, row3, 9)
      await writeBig(model, k3, bias)
      const exp3 = expectedStats(Array.from(k2), Array.from(k3))
      const w = await repo.diff({ a: 'v2' })
      const tw = only(w.tensors, 'changed tensor')
      assert.equal(w.b.worktree, true)
      near(tw.stats?.maxAbs, exp3.maxAbs, 1e-12, 'maxAbs from disk')
      assert.equal(tw.stats?.changedElements, exp3.changed)
      assert.ok(w.stats.chunksRead <= 2 + 1, `read ${w.stats.chunksRead} chunks from the store and disk`)
      assert.equal(w.stats.chunksSkipped, chunks - 1)

      // The model cache can name a model an earlier dry run computed and never stored (status records
      // it once the files are old enough to trust): diff must still find its tensors.
      const old = new Date(Date.now() - 60_000)
      for (const f of ['model.json', 'group1-shard1of2.bin', 'group1-shard2of2.bin']) await utimes(join(model, f), old, old)
      await repo.status({ path: model })
      const again = await repo.diff({ a: 'v2' })
      near(only(again.tensors, 'changed tensor').stats?.maxAbs, exp3.maxAbs, 1e-12, 'maxAbs after status cached the model')
    } finally { await repo.close() }
  })
})

describe('mvc diff --exit-code', () => {
  test('exits 1 when the versions differ and 0 when they do not', async () => {
    const dir = await realpath(await tmpdir('mvc-diff-exit-'))
    try {
      await mvcOk(['init'], { cwd: dir })
      await mkdir(join(dir, 'model'))
      await writeFile(join(dir, 'model', 'a.txt'), 'one')
      await mvcOk(['commit', 'model', '-m', 'one', '--no-verify', '--no-code'], { cwd: dir })
      await writeFile(join(dir, 'model', 'a.txt'), 'two')
      await mvcOk(['commit', 'model', '-m', 'two', '--no-verify', '--no-code'], { cwd: dir })
      assert.equal((await runMvc(['diff', 'v1', 'v2', '--exit-code'], { cwd: dir })).code, 1)
      assert.equal((await runMvc(['diff', 'v1', 'v1', '--exit-code'], { cwd: dir })).code, 0)
      assert.equal((await runMvc(['diff', 'v1', 'v2'], { cwd: dir })).code, 0, 'without --exit-code a difference is not an error')
      assert.equal((await runMvc(['diff', 'v2', '--exit-code'], { cwd: dir })).code, 0, 'the working folder matches v2')
    } finally { await removeDir(dir) }
  })
})
