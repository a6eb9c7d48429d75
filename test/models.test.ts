/**
 * TF.js models end to end through the library: every fixture round-trips byte-identical and verifies;
 * the dedup consequences of tensor-level storage; bad manifests are refused and store nothing;
 * verification fails when it must and passes within tolerance; the IOHandlers.
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { cp, mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { Repository } from '../src/index.js'
import { buildFixtures, type FixtureInfo } from '../fixtures/build.js'
import { RAW } from '../src/content/block.js'
import { parseModelJson, planTensors } from '../src/formats/tfjs/manifest.js'
import { loadRuntime } from '../src/formats/tfjs/runtime.js'

const NO_VERIFY = { verify: false } as const
let fixtures: FixtureInfo[]
let fixtureRoot: string
const cleanup: string[] = []

async function newRepo (): Promise<{ dir: string, repo: Repository }> {
  const dir = await mkdtemp(join(tmpdir(), 'mvc-models-'))
  cleanup.push(dir)
  await Repository.init({ dir })
  return { dir, repo: await Repository.open({ dir }) }
}

function fixture (name: string): FixtureInfo {
  const f = fixtures.find(x => x.name === name)
  if (f === undefined) throw new Error(`no fixture ${name}`)
  return f
}

async function copyFixture (name: string, to: string): Promise<string> {
  await cp(fixture(name).dir, to, { recursive: true })
  return to
}

async function treeHashes (dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  async function visit (d: string, rel: string): Promise<void> {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`
      if (e.isDirectory()) await visit(join(d, e.name), r)
      else out.set(r, createHash('sha256').update(await readFile(join(d, e.name))).digest('hex'))
    }
  }
  await visit(dir, '')
  return out
}

/** Every stored CID, with the size of the raw ones. */
async function storedCids (repo: Repository): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for await (const c of repo.store.cids()) out.set(c.toString(), c.code === RAW ? (await repo.store.get(c)).length : 0)
  return out
}

/** Bytes of raw chunks present in `after` and not in `before`. */
function rawBytesAdded (before: Map<string, number>, after: Map<string, number>): number {
  let n = 0
  for (const [c, size] of after) if (!before.has(c)) n += size
  return n
}

async function tensorBytes (dir: string, json: string, name: string): Promise<number> {
  const desc = parseModelJson(json, await readFile(join(dir, json)))!
  const sizes = new Map<string, number>()
  for (const s of desc.shards) sizes.set(s, (await readFile(join(dir, s))).length)
  const plan = planTensors(desc, sizes).find(p => p.spec.name === name)
  if (plan === undefined) throw new Error(`no tensor ${name}`)
  return plan.byteLength
}

async function codeOf (p: Promise<unknown>): Promise<string | undefined> {
  try { await p } catch (err) { return (err as { code?: string }).code }
  return undefined
}

before(async () => {
  fixtureRoot = await mkdtemp(join(tmpdir(), 'mvc-fixtures-'))
  fixtures = await buildFixtures(fixtureRoot)
})
after(async () => {
  await rm(fixtureRoot, { recursive: true, force: true })
  for (const d of cleanup) await rm(d, { recursive: true, force: true })
})

describe('every fixture round-trips byte-identical and verifies', () => {
  for (const name of ['dense', 'conv-bn', 'embed-lstm', 'two-io', 'graph', 'weights-only', 'sharded']) {
    test(name, async () => {
      const { dir, repo } = await newRepo()
      try {
        const src = await copyFixture(name, join(dir, 'model'))
        const r = await repo.commit({ path: src, message: name, verify: { backend: 'cpu' } })
        assert.equal(r.committed, true)
        const show = await repo.show({ rev: 'v1' })
        assert.equal(show.manifest.models.length, 1, 'the model is recognised')
        const out = join(dir, 'out')
        const co = await repo.checkout({ rev: 'v1', to: out, verify: { backend: 'cpu' } })
        assert.deepEqual(await treeHashes(out), await treeHashes(src))
        if (fixture(name).format === 'weights-manifest') {
          assert.equal(co.verification?.verified ?? false, false, 'weights-only manifests cannot be run')
        } else {
          assert.equal(co.verification?.verified, true)
          assert.equal(co.verification?.pass, true)
          // Same backend, same bytes: outputs must be identical, not just close.
          for (const m of co.verification!.models) for (const o of m.outputs) assert.equal(o.maxAbsDiff, 0, `${m.path} ${o.name}`)
        }
      } finally { await repo.close() }
    })
  }
})

describe('tensor-level dedup', () => {
  test('re-sharding the same weights adds no tensor bytes', async () => {
    const { dir, repo } = await newRepo()
    try {
      const a = await copyFixture('sharded', join(dir, 'a'))
      await repo.commit({ path: a, message: 'four shards', ...NO_VERIFY })
      const before = await storedCids(repo)
      // Same weights as one shard.
      const json = JSON.parse(await readFile(join(a, 'model.json'), 'utf8')) as { weightsManifest: Array<{ paths: string[] }> }
      const parts: Buffer[] = []
      for (const p of json.weightsManifest[0]!.paths) parts.push(await readFile(join(a, p)))
      const b = join(dir, 'b')
      await mkdir(b)
      await writeFile(join(b, 'weights.bin'), Buffer.concat(parts))
      json.weightsManifest[0]!.paths = ['weights.bin']
      await writeFile(join(b, 'model.json'), JSON.stringify(json))
      await repo.commit({ path: b, message: 'one shard', ...NO_VERIFY })
      const afterCids = await storedCids(repo)
      // The only new raw chunk may be the rewritten model.json itself.
      const jsonSize = (await readFile(join(b, 'model.json'))).length
      assert.ok(rawBytesAdded(before, afterCids) <= jsonSize, `added ${rawBytesAdded(before, afterCids)} raw bytes; model.json is ${jsonSize}`)
      assert.deepEqual(await treeHashes(b), await (async () => { const o = join(dir, 'o'); await repo.checkout({ rev: 'v2', to: o, only: [b], ...NO_VERIFY }); return await treeHashes(o) })())
    } finally { await repo.close() }
  })

  test('a fine-tune of one layer adds that layer\'s bytes (±5 %), not the model\'s', async () => {
    const { dir, repo } = await newRepo()
    try {
      const m = await copyFixture('sharded', join(dir, 'model'))
      await repo.commit({ path: m, message: 'base', ...NO_VERIFY })
      const before = await storedCids(repo)
      // Rewrite one tensor in place: find its spans and add 0.5 to each float.
      const desc = parseModelJson('model.json', await readFile(join(m, 'model.json')))!
      const sizes = new Map<string, number>()
      for (const s of desc.shards) sizes.set(s, (await readFile(join(m, s))).length)
      const plans = planTensors(desc, sizes)
      const target = plans[plans.length - 2]! // a kernel of the last layer
      for (const span of target.spans) {
        const buf = await readFile(join(m, span.shard))
        for (let off = span.offset; off < span.offset + span.length; off += 4) buf.writeFloatLE(buf.readFloatLE(off) + 0.5, off)
        await writeFile(join(m, span.shard), buf)
      }
      const r = await repo.commit({ path: m, message: 'fine-tune', ...NO_VERIFY })
      assert.equal(r.committed, true)
      const added = rawBytesAdded(before, await storedCids(repo))
      const expected = await tensorBytes(m, 'model.json', target.spec.name)
      const total = [...sizes.values()].reduce((x, y) => x + y, 0)
      assert.ok(Math.abs(added - expected) <= 0.05 * expected, `added ${added} bytes for a ${expected}-byte tensor (model ${total})`)
      assert.ok(expected < total / 2, 'the tensor is a minority of the model, so the check is meaningful')
    } finally { await repo.close() }
  })

  test('changing a few rows of a large tensor stores only the chunks holding them', async () => {
    const { dir, repo } = await newRepo()
    try {
      const m = join(dir, 'model')
      await mkdir(m)
      const rows = 4096
      const cols = 256 // 1 KiB rows: a 4 MiB tensor in ~1 MiB row-aligned chunks
      const data = Buffer.alloc(rows * cols * 4)
      for (let i = 0; i < rows * cols; i++) data.writeFloatLE(Math.sin(i), i * 4)
      await writeFile(join(m, 'emb.bin'), data)
      await writeFile(join(m, 'emb-weights_manifest.json'), JSON.stringify([{ paths: ['emb.bin'], weights: [{ name: 'embedding', shape: [rows, cols], dtype: 'float32' }] }]))
      await repo.commit({ path: m, message: 'base', ...NO_VERIFY })
      const before = await storedCids(repo)
      for (const row of [10, 11]) data.writeFloatLE(42, (row * cols) * 4)
      await writeFile(join(m, 'emb.bin'), data)
      await repo.commit({ path: m, message: 'two rows', ...NO_VERIFY })
      const added = rawBytesAdded(before, await storedCids(repo))
      assert.ok(added > 0 && added <= (1 << 20), `two rows in one chunk should add at most one 1 MiB chunk, added ${added}`)
      assert.ok(added < data.length / 3, 'far less than the tensor')
    } finally { await repo.close() }
  })

  test('identical shard files under two names are stored once', async () => {
    const { dir, repo } = await newRepo()
    try {
      const m = join(dir, 'models')
      await copyFixture('dense', join(m, 'a'))
      await copyFixture('dense', join(m, 'b'))
      await repo.commit({ path: m, message: 'two copies', ...NO_VERIFY })
      const stored = await storedCids(repo)
      const raw = [...stored.values()].reduce((x, y) => x + y, 0)
      const oneCopy = [...(await treeHashes(fixture('dense').dir)).keys()].length
      const onDisk = (await readFile(join(m, 'a', 'weights.bin'))).length + (await readFile(join(m, 'a', 'model.json'))).length
      assert.equal(oneCopy, 2)
      assert.equal(raw, onDisk, 'raw bytes stored equal one copy of the model')
    } finally { await repo.close() }
  })
})

describe('bad manifests are refused with their error and store nothing', () => {
  const cases: Array<{ name: string, code: string, mutate: (dir: string) => Promise<void> }> = [
    { name: 'short shard', code: 'INVALID_MODEL', mutate: async d => { const b = await readFile(join(d, 'weights.bin')); await writeFile(join(d, 'weights.bin'), b.subarray(0, b.length - 8)) } },
    { name: 'extra bytes in the shard', code: 'INVALID_MODEL', mutate: async d => { const b = await readFile(join(d, 'weights.bin')); await writeFile(join(d, 'weights.bin'), Buffer.concat([b, Buffer.alloc(16)])) } },
    { name: 'missing shard', code: 'INVALID_MODEL', mutate: async d => { await rm(join(d, 'weights.bin')) } },
    { name: 'unknown dtype', code: 'INVALID_MODEL', mutate: async d => { await editJson(d, j => { groups(j)[0]!.weights[0]!.dtype = 'float128' }) } },
    { name: 'path escaping the folder', code: 'UNSAFE_PATH', mutate: async d => { await editJson(d, j => { groups(j)[0]!.paths = ['../../../etc/passwd'] }) } },
    { name: 'absolute shard path', code: 'UNSAFE_PATH', mutate: async d => { await editJson(d, j => { groups(j)[0]!.paths = ['/etc/passwd'] }) } },
    { name: 'malformed weightsManifest', code: 'INVALID_MODEL', mutate: async d => { await editJson(d, j => { j.weightsManifest = { paths: 'x' } }) } }
  ]
  for (const c of cases) {
    test(c.name, async () => {
      const { dir, repo } = await newRepo()
      try {
        const m = await copyFixture('dense', join(dir, 'model'))
        await c.mutate(m)
        const before = await storedCids(repo)
        const packsBefore = await readdir(join(dir, '.mvc', 'packs'))
        assert.equal(await codeOf(repo.commit({ path: m, message: 'bad', ...NO_VERIFY })), c.code)
        assert.deepEqual(await storedCids(repo), before, 'no object stored')
        assert.deepEqual(await readdir(join(dir, '.mvc', 'packs')), packsBefore, 'no pack left behind')
        assert.deepEqual(await repo.log(), [], 'no version created')
      } finally { await repo.close() }
    })
  }
})

interface ModelJson { modelTopology: { config: { layers: Array<{ class_name: string }> } }, weightsManifest: unknown }
interface Group { paths: unknown, weights: Array<{ dtype: string }> }
const groups = (j: ModelJson): Group[] => j.weightsManifest as Group[]
async function editJson (dir: string, fn: (j: ModelJson) => void): Promise<void> {
  const j = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as ModelJson
  fn(j)
  await writeFile(join(dir, 'model.json'), JSON.stringify(j))
}

describe('verification', () => {
  test('outputs recorded on wasm fail on cpu with atol 0 and pass within the default tolerance', async () => {
    const { dir, repo } = await newRepo()
    try {
      const m = await copyFixture('conv-bn', join(dir, 'model'))
      await repo.commit({ path: m, message: 'wasm', verify: { backend: 'wasm' } })
      const strict = repo.verify({ rev: 'v1', backend: 'cpu', tolerance: { atol: 0, rtol: 0 } })
      try {
        await strict
        assert.fail('cross-backend outputs were bitwise equal; expected a difference')
      } catch (err) {
        assert.equal((err as { code?: string }).code, 'VERIFICATION_FAILED')
        const report = (err as { data: { report: { models: Array<{ outputs: Array<{ name: string, maxAbsDiff: number }> }> } } }).data.report
        const diff = report.models[0]!.outputs[0]!.maxAbsDiff
        assert.ok(diff > 0 && diff < 1e-5, `difference ${diff} is a float rounding difference`)
      }
      const ok = await repo.verify({ rev: 'v1', backend: 'cpu' })
      assert.equal(ok.pass, true)
      const same = await repo.verify({ rev: 'v1', backend: 'wasm', tolerance: { atol: 0, rtol: 0 } })
      assert.equal(same.pass, true, 'the recording backend reproduces its outputs exactly')
    } finally { await repo.close() }
  })

  test('a model that cannot be loaded still commits with the reason, unless verification is required', async () => {
    const { dir, repo } = await newRepo()
    try {
      const m = await copyFixture('dense', join(dir, 'model'))
      await editJson(m, j => { j.modelTopology.config.layers[0]!.class_name = 'NoSuchLayer' })
      assert.equal(await codeOf(repo.commit({ path: m, message: 'required', verify: { backend: 'cpu', require: true } })), 'VERIFICATION_UNAVAILABLE')
      assert.deepEqual(await repo.log(), [], 'nothing committed when verification was required')
      const r = await repo.commit({ path: m, message: 'recorded', verify: { backend: 'cpu' } })
      const v = r.verification as unknown as { models: Array<{ status: string, reason?: string }> }
      assert.equal(v.models[0]!.status, 'skipped')
      assert.match(v.models[0]!.reason ?? '', /NoSuchLayer/)
    } finally { await repo.close() }
  })

  test('--inputs: user-supplied token ids are recorded and replayed', async () => {
    const { dir, repo } = await newRepo()
    try {
      const m = await copyFixture('embed-lstm', join(dir, 'model'))
      const inputs = await readFile(join(m, 'inputs.json'))
      const r = await repo.commit({ path: m, message: 'tokens', verify: { backend: 'cpu', inputs } })
      const v = r.verification as unknown as { models: Array<{ status: string, inputs: CID[] }> }
      assert.equal(v.models[0]!.status, 'recorded')
      const { readTensor } = await import('../src/core/verify/index.js')
      const t = await readTensor(repo.store, v.models[0]!.inputs[0]!)
      const given = JSON.parse(inputs.toString()) as { inputs: Array<{ shape: number[], values: number[] }> }
      assert.deepEqual([...t.tensor.shape], given.inputs[0]!.shape)
      assert.deepEqual([...new Int32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4)], given.inputs[0]!.values.flat())
      assert.equal((await repo.verify({ rev: 'v1', backend: 'cpu', tolerance: { atol: 0, rtol: 0 } })).pass, true)
    } finally { await repo.close() }
  })
})

describe('IOHandlers', () => {
  test('model.save(repo.saveHandler()) commits; tf.loadLayersModel(repo.loadHandler()) restores it', async () => {
    const { dir, repo } = await newRepo()
    try {
      const rt = await loadRuntime('cpu')
      const tf = rt.tf
      const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4], kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) })] })
      let version = 0
      await model.save(repo.saveHandler({ message: 'saved', metrics: { acc: 0.5 }, verify: false, onCommit: r => { version = r.version ?? 0 } }))
      assert.equal(version, 1)
      const { commit } = await repo.show({ rev: 'v1' })
      assert.deepEqual(commit.metrics, { acc: 0.5 })
      const restored = await tf.loadLayersModel(repo.loadHandler('v1'))
      const x = tf.tensor2d([[1, 2, 3, 4]])
      const a = model.predict(x) as import('@tensorflow/tfjs').Tensor
      const b = restored.predict(x) as import('@tensorflow/tfjs').Tensor
      assert.deepEqual([...a.dataSync()], [...b.dataSync()])
      tf.dispose([x, a, b]); model.dispose(); restored.dispose()
      assert.equal(await codeOf(tf.loadLayersModel(repo.loadHandler('v9'))), 'UNKNOWN_REVISION')
      assert.equal((await repo.log()).length, 1)
      assert.equal((await readdir(join(dir, 'model'))).sort().join(','), 'model.json,weights.bin', 'written in tfjs-node\'s file layout')
    } finally { await repo.close() }
  })
})
