/**
 * TensorFlow checkpoints and SavedModels end to end, on real files written by TensorFlow
 * (fixtures/tf/make_fixtures.py, see tf-reference.ts): detection of each kind (a SavedModel claims
 * its variables), every tensor's bytes, dtype and shape equal what TensorFlow reads, names from the
 * object graph, optimizer roles, sharded and partitioned checkpoints; through the CLI, commit →
 * checkout is byte-identical, a fine-tune of the last layer stores about that layer, damaged files
 * are INVALID_MODEL and store nothing, and the SavedModel's serving signature is recorded.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { cp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import type { CID } from 'multiformats/cid'
import { Repository } from '../src/index.js'
import { decodeObject } from '../src/content/block.js'
import { parseCommit, parseManifest } from '../src/format/objects.js'
import { DEFAULT_FORMATS } from '../src/formats/index.js'
import type { FileAccess, ModelLayout, SnapshotFile } from '../src/formats/interface.js'
import { layoutCheckpoint, readCheckpoint, type CheckpointTensor } from '../src/formats/tf-checkpoint/index.js'
import { savedModelFormat } from '../src/formats/saved-model/index.js'
import { jsonError, mvcJson, mvcOk, newRepo, removeDir, runMvc, tmpdir, treeSnapshot } from './helpers.js'
import { CHECKPOINTS, runInput, tfFixtures, type TfReference } from './tf-reference.js'
import { VerificationUnavailableError } from '../src/errors.js'

let root = ''
let reference: TfReference
const cleanup: string[] = []

before(async () => {
  ({ root, reference } = await tfFixtures())
})

after(async () => {
  for (const d of cleanup) await removeDir(d)
})

// ---------------------------------------------------------------------------------------------------
// helpers

async function folderAccess (dir: string): Promise<FileAccess> {
  const files = new Map<string, SnapshotFile>()
  const bytes = new Map<string, Uint8Array>()
  async function visit (d: string): Promise<void> {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) { await visit(p); continue }
      const rel = relative(dir, p)
      const b = new Uint8Array(await readFile(p))
      bytes.set(rel, b)
      files.set(rel, { path: rel, size: b.length })
    }
  }
  await visit(dir)
  return {
    files,
    async read (path, offset, length) { return bytes.get(path)!.slice(offset, offset + length) },
    async readAll (path) { return bytes.get(path)!.slice() }
  }
}

/** Detection as commit runs it: every default adapter in turn, with the files taken so far. */
async function detectAll (dir: string): Promise<ModelLayout[]> {
  const access = await folderAccess(dir)
  const claimed = new Set<string>()
  const out: ModelLayout[] = []
  for (const f of DEFAULT_FORMATS) {
    for (const l of await f.detect(access, claimed)) {
      claimed.add(l.path)
      for (const x of l.files) claimed.add(x)
      out.push(l)
    }
  }
  return out
}

async function tensorBytes (access: FileAccess, t: CheckpointTensor): Promise<string> {
  const parts: Buffer[] = []
  for (const s of t.layout.spans) parts.push(Buffer.from(await access.read(s.file, s.offset, s.length)))
  return Buffer.concat(parts).toString('hex')
}

async function checkpointTensors (prefix: string): Promise<{ tensors: readonly CheckpointTensor[], warnings: readonly string[], access: FileAccess }> {
  const slash = prefix.lastIndexOf('/')
  const dir = join(root, prefix.slice(0, slash))
  const access = await folderAccess(dir)
  const laid = layoutCheckpoint(await readCheckpoint(access, `${prefix.slice(slash + 1)}.index`))
  return { ...laid, access }
}

async function copyInto (dest: string, names: readonly string[]): Promise<void> {
  await mkdir(dest, { recursive: true })
  for (const n of names) await cp(join(root, n), join(dest, n.split('/').pop()!), { recursive: true })
}

/** The `mvc/model` objects of a version, by model path, read through the store. */
async function storedModels (repoRoot: string, rev: string): Promise<Map<string, Record<string, unknown>>> {
  const repo = await Repository.open({ dir: repoRoot })
  try {
    const get = async (c: CID): Promise<unknown> => decodeObject(c, await repo.store.get(c), 'test')
    const commit = parseCommit(await get(await repo.resolve(rev)))
    const manifest = parseManifest(await get(commit.model!))
    const out = new Map<string, Record<string, unknown>>()
    for (const m of manifest.models) out.set(m.path, await get(m.model) as Record<string, unknown>)
    return out
  } finally {
    await repo.close()
  }
}

async function storedCount (repoRoot: string): Promise<number> {
  const repo = await Repository.open({ dir: repoRoot })
  try {
    let n = 0
    for await (const _ of repo.store.cids()) n++
    return n
  } finally {
    await repo.close()
  }
}

// ---------------------------------------------------------------------------------------------------
// detection and layout

test('detection: each checkpoint and SavedModel is found once, by the right adapter; a SavedModel claims its variables', async () => {
  const cases: Array<[string, Array<[string, string, number]>]> = [
    ['mlp-tf-checkpoint', [['tf-checkpoint', 'ckpt-1.index', 2]]],
    ['mlp-tf-checkpoint-optimizer', [['tf-checkpoint', 'ckpt-1.index', 2]]],
    ['mlp-tf-checkpoint-sharded', [['tf-checkpoint', 'weights.index', 13]]],
    ['mlp-keras3-tf-checkpoint', [['tf-checkpoint', 'ckpt-1.index', 2]]],
    ['mlp-tfkeras-weights-tf', [['tf-checkpoint', 'weights.index', 2]]],
    ['mlp-savedmodel', [['saved-model', 'saved_model.pb', 2]]],
    ['mlp-savedmodel-tfkeras', [['saved-model', 'saved_model.pb', 2]]],
    ['seeds-savedmodel', [['saved-model', 'saved_model.pb', 2]]]
  ]
  for (const [dir, expected] of cases) {
    const found = await detectAll(join(root, dir))
    assert.deepEqual(found.map(l => [l.format, l.path, l.files.length]), expected, dir)
  }
  // Nested: a SavedModel and a checkpoint in sub-folders of the committed one.
  const base = await tmpdir('mvc-tf-nested-')
  cleanup.push(base)
  await copyInto(join(base, 'export'), ['mlp-savedmodel'])
  await copyInto(join(base, 'train'), ['mlp-tf-checkpoint-optimizer'])
  const nested = await detectAll(base)
  assert.deepEqual(nested.map(l => [l.format, l.path]).sort(), [
    ['saved-model', 'export/mlp-savedmodel/saved_model.pb'],
    ['tf-checkpoint', 'train/mlp-tf-checkpoint-optimizer/ckpt-1.index']
  ])
  const sm = nested.find(l => l.format === 'saved-model')!
  assert.deepEqual(sm.files, ['export/mlp-savedmodel/variables/variables.index', 'export/mlp-savedmodel/variables/variables.data-00000-of-00001'])
  assert.equal(sm.runnable, true)
  const ck = nested.find(l => l.format === 'tf-checkpoint')!
  assert.equal(ck.runnable, false)
  assert.match(ck.notRunnableReason ?? '', /code that built the model/)
})

test('every tensor: bytes, dtype and shape are what TensorFlow reads; every plain numeric variable is a tensor', async () => {
  let total = 0
  for (const prefix of CHECKPOINTS) {
    const { tensors, access } = await checkpointTensors(prefix)
    const tf = reference.checkpoints[prefix]!
    for (const t of tensors) {
      const v = tf[t.key]
      assert.ok(v !== undefined, `${prefix}: ${t.key} is not a TensorFlow variable`)
      assert.equal(t.layout.dtype, v.dtype, `${prefix}: ${t.key} dtype`)
      assert.deepEqual(t.layout.shape, v.shape, `${prefix}: ${t.key} shape`)
      assert.equal(await tensorBytes(access, t), v.hex, `${prefix}: ${t.key} bytes`)
      assert.equal(t.layout.byteLength, v.hex!.length / 2)
      total++
    }
    // Completeness: what is not a tensor is a string or a partitioned variable (sharded fixture).
    const mapped = new Set(tensors.map(t => t.key))
    const missing = Object.keys(tf).filter(k => !mapped.has(k) && tf[k]!.dtype !== 'string')
    if (prefix === 'mlp-tf-checkpoint-sharded/weights') {
      assert.deepEqual(missing.sort(), [
        'model/layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE',
        'model/optimizer/_variables/1/.ATTRIBUTES/VARIABLE_VALUE',
        'model/optimizer/_variables/2/.ATTRIBUTES/VARIABLE_VALUE',
        'model/optimizer/_variables/5/.ATTRIBUTES/VARIABLE_VALUE',
        'model/optimizer/_variables/6/.ATTRIBUTES/VARIABLE_VALUE'
      ])
    } else {
      assert.deepEqual(missing, [], prefix)
    }
  }
  assert.ok(total >= 150, `${total} tensors compared`)
})

test('names come from the object graph; duplicates and unnamed keys keep the raw key', async () => {
  for (const prefix of CHECKPOINTS) {
    const { tensors } = await checkpointTensors(prefix)
    const names = reference.names[prefix]!
    assert.equal(new Set(tensors.map(t => t.layout.name)).size, tensors.length, `${prefix}: names are unique`)
    const fullNames = tensors.map(t => names[t.key]).filter(n => n !== undefined)
    const duplicated = new Set(fullNames.filter((n, i) => fullNames.indexOf(n) !== i))
    for (const t of tensors) {
      const full = names[t.key]
      if (full === undefined) assert.equal(t.layout.name, t.key)
      else if (!duplicated.has(full)) assert.equal(t.layout.name, full, `${prefix}: ${t.key}`)
      else assert.ok(t.layout.name === full || t.layout.name === `${t.key.split('/')[0]!}/${full}`, `${prefix}: ${t.key} → ${t.layout.name}`)
    }
  }
  const { tensors } = await checkpointTensors('mlp-tf-checkpoint/ckpt-1')
  assert.equal(tensors.find(t => t.key === 'model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE')?.layout.name, 'hidden1/kernel')
  // A Keras 3 export lists each variable under variables/ and _all_variables/: the first gets the name.
  const sm = await checkpointTensors('mlp-savedmodel/variables/variables')
  assert.equal(sm.tensors.find(t => t.key === 'variables/0/.ATTRIBUTES/VARIABLE_VALUE')?.layout.name, 'hidden1/kernel')
  const dup = sm.tensors.find(t => t.key.startsWith('_all_variables/'))!
  assert.equal(dup.layout.name, `_all_variables/${reference.names['mlp-savedmodel/variables/variables']![dup.key]!}`)
})

test('optimizer state has the optimizer role, model variables (also a Keras 3 optimizer\'s copies) the weights role', async () => {
  const roles = async (prefix: string): Promise<Record<string, string[]>> => {
    const out: Record<string, string[]> = {}
    for (const t of (await checkpointTensors(prefix)).tensors) (out[t.role] ??= []).push(t.layout.name)
    for (const v of Object.values(out)) v.sort()
    return out
  }
  const k2 = await roles('mlp-tf-checkpoint-optimizer/ckpt-1')
  assert.deepEqual(k2.weights, ['head/bias', 'head/kernel', 'hidden1/bias', 'hidden1/kernel', 'hidden2/bias', 'hidden2/kernel', 'save_counter'])
  assert.equal(k2.optimizer?.length, 14)
  assert.ok(k2.optimizer.includes('Adam/m/head/kernel') && k2.optimizer.includes('iteration') && k2.optimizer.includes('learning_rate'))
  const k3 = await roles('mlp-keras3-tf-checkpoint/ckpt-1')
  assert.deepEqual(k3.weights, ['head/bias', 'head/kernel', 'hidden1/bias', 'hidden1/kernel', 'hidden2/bias', 'hidden2/kernel', 'save_counter'])
  assert.equal(k3.optimizer?.length, 14)
  assert.deepEqual(await roles('mlp-tf-checkpoint/ckpt-1'), { weights: ['head/bias', 'head/kernel', 'hidden1/bias', 'hidden1/kernel', 'hidden2/bias', 'hidden2/kernel', 'save_counter'] })
})

test('sharded checkpoint: tensors span many shards; partitioned variables are named in a warning', async () => {
  const { tensors, warnings } = await checkpointTensors('mlp-tf-checkpoint-sharded/weights')
  const shards = new Set(tensors.flatMap(t => t.layout.spans.map(s => s.file)))
  assert.ok(shards.size >= 5, `tensors in ${shards.size} shards`)
  assert.equal(warnings.length, 1)
  assert.match(warnings[0]!, /^partitioned \(sliced\) variable\(s\) stored as plain bytes/)
  assert.match(warnings[0]!, /layer_with_weights-1\/kernel/)
})

// ---------------------------------------------------------------------------------------------------
// through the CLI

const ALL = ['mlp-tf-checkpoint', 'mlp-tf-checkpoint-optimizer', 'mlp-tf-checkpoint-sharded', 'mlp-keras3-tf-checkpoint',
  'mlp-tfkeras-weights-tf', 'mlp-savedmodel', 'mlp-savedmodel-tfkeras', 'seeds-savedmodel']

test('CLI: commit → checkout rebuilds every checkpoint and SavedModel byte for byte; the serving signature is recorded', async () => {
  const { root: repo } = await newRepo(cleanup)
  const models = join(repo, 'models')
  await copyInto(models, ALL)
  const before = await treeSnapshot(models)
  const c = await mvcJson<{ version: number, warnings: string[] }>(['commit', 'models', '-m', 'tf formats'], { cwd: repo })
  assert.equal(c.version, 1)
  const [skips, others] = [c.warnings.filter(w => w.startsWith('verification skipped: ')), c.warnings.filter(w => !w.startsWith('verification skipped: '))]
  assert.deepEqual(others.map(w => w.split(':')[0]), ['mlp-tf-checkpoint-sharded/weights.index'], c.warnings.join('\n'))
  // Checkpoints hold values only: each is recorded as not runnable, and --json says so like the text.
  const ckpts = ['mlp-keras3-tf-checkpoint/ckpt-1.index', 'mlp-tf-checkpoint-optimizer/ckpt-1.index', 'mlp-tf-checkpoint-sharded/weights.index', 'mlp-tf-checkpoint/ckpt-1.index', 'mlp-tfkeras-weights-tf/weights.index']
  for (const p of ckpts) assert.ok(skips.some(w => w.startsWith(`verification skipped: ${p}: `) && /variable values only/.test(w)), `${p} skipped as weights only`)
  const stored = await storedModels(repo, 'v1')
  assert.deepEqual([...stored.keys()].sort(), [
    'mlp-keras3-tf-checkpoint/ckpt-1.index', 'mlp-savedmodel-tfkeras/saved_model.pb', 'mlp-savedmodel/saved_model.pb',
    'mlp-tf-checkpoint-optimizer/ckpt-1.index', 'mlp-tf-checkpoint-sharded/weights.index', 'mlp-tf-checkpoint/ckpt-1.index',
    'mlp-tfkeras-weights-tf/weights.index', 'seeds-savedmodel/saved_model.pb'
  ])
  for (const d of ['mlp-savedmodel', 'mlp-savedmodel-tfkeras', 'seeds-savedmodel']) {
    const m = savedModelFormat.readModel(stored.get(`${d}/saved_model.pb`))
    const sig = reference.signatures[d]!
    assert.deepEqual(m.contract, sig, `${d}: contract = TensorFlow's serving_default signature`)
    assert.equal(m.runnable, true)
  }
  // Damage the working folder, then check out v1.
  await rm(join(models, 'mlp-tf-checkpoint-sharded', 'weights.data-00003-of-00012'))
  await writeFile(join(models, 'mlp-savedmodel', 'variables', 'variables.data-00000-of-00001'), 'x')
  await rm(join(models, 'seeds-savedmodel'), { recursive: true })
  await mvcOk(['checkout', 'v1', '--force'], { cwd: repo })
  assert.deepEqual(await treeSnapshot(models), before)
})

test('CLI: a fine-tune of the last layer stores about that layer (≤ 1.05 × changed bytes + 64 KiB), and diff names it', async (t) => {
  for (const fmt of ['mlp-tf-checkpoint', 'mlp-savedmodel', 'mlp-savedmodel-tfkeras', 'mlp-tfkeras-weights-tf']) {
    const { root: repo } = await newRepo(cleanup)
    await cp(join(root, 'finetune', 'v1', fmt), join(repo, 'm'), { recursive: true })
    const v1 = await mvcJson<{ newBytes: number }>(['commit', 'm', '-m', 'v1'], { cwd: repo })
    await rm(join(repo, 'm'), { recursive: true })
    await cp(join(root, 'finetune', 'v2', fmt), join(repo, 'm'), { recursive: true })
    const v2 = await mvcJson<{ newBytes: number, version: number }>(['commit', 'm', '-m', 'v2'], { cwd: repo })
    assert.equal(v2.version, 2)
    // Changed bytes, from TensorFlow's reading of both versions.
    const prefix = (await readdir(join(root, 'finetune', 'v1', fmt), { recursive: true })).find(p => p.endsWith('.index'))!.replace(/\.index$/, '')
    const a = reference.checkpoints[`finetune/v1/${fmt}/${prefix}`]!
    const b = reference.checkpoints[`finetune/v2/${fmt}/${prefix}`]!
    // Compared by variable name: a Keras 3 export's `_all_variables/N` keys are numbered differently in each save.
    const namesA = reference.names[`finetune/v1/${fmt}/${prefix}`]!
    const namesB = reference.names[`finetune/v2/${fmt}/${prefix}`]!
    const before = new Map(Object.keys(a).map(k => [namesA[k] ?? k, a[k]!.hex]))
    const changed = Object.keys(b).filter(k => b[k]!.hex !== undefined && before.get(namesB[k] ?? k) !== b[k]!.hex)
    const changedBytes = changed.reduce((n, k) => n + b[k]!.hex!.length / 2, 0)
    assert.deepEqual([...new Set(changed.map(k => namesB[k]))].sort(), ['head/bias', 'head/kernel'], `${fmt}: TensorFlow sees only the head change`)
    t.diagnostic(`${fmt}: v1 added ${v1.newBytes} B; v2 added ${v2.newBytes} B for ${changedBytes} B of changed tensors`)
    assert.ok(v2.newBytes <= 1.05 * changedBytes + 64 * 1024, `${fmt}: v2 added ${v2.newBytes} bytes`)
    const diff = await mvcJson<{ tensors: Array<{ name: string, status: string }> }>(['diff', 'v1', 'v2'], { cwd: repo })
    // The head, and in a Keras 3 export also its second listing (`_all_variables/head/kernel`).
    const changedNames = diff.tensors.filter(x => x.status === 'changed').map(x => x.name.replace(/^_all_variables\//, ''))
    assert.deepEqual([...new Set(changedNames)].sort(), ['head/bias', 'head/kernel'], `${fmt}: diff`)
    assert.equal(diff.tensors.length, changedNames.length, `${fmt}: nothing added or removed`)
  }
})

test('CLI: a truncated or damaged index, or a garbage saved_model.pb, is INVALID_MODEL and stores nothing', async () => {
  const { root: repo } = await newRepo(cleanup)
  const count = await storedCount(repo)
  const cases: Array<[string, (dir: string) => Promise<void>, RegExp]> = [
    ['mlp-tf-checkpoint', async d => { const b = await readFile(join(d, 'ckpt-1.index')); await writeFile(join(d, 'ckpt-1.index'), b.subarray(0, b.length - 20)) }, /ckpt-1\.index: .*truncated/],
    ['mlp-tf-checkpoint-optimizer', async d => { const b = await readFile(join(d, 'ckpt-1.index')); b[40]! ^= 0x10; await writeFile(join(d, 'ckpt-1.index'), b) }, /checksum/],
    ['mlp-tf-checkpoint-sharded', async d => { await rm(join(d, 'weights.data-00011-of-00012')) }, /weights\.data-00011-of-00012/],
    ['mlp-savedmodel', async d => { await writeFile(join(d, 'saved_model.pb'), Buffer.from('\x0a\xff\xff\xff\xff\x0fnot a SavedModel')) }, /saved_model\.pb is not a SavedModel/],
    ['mlp-savedmodel-tfkeras', async d => { const p = join(d, 'variables', 'variables.index'); const b = await readFile(p); await writeFile(p, b.subarray(0, 100)) }, /variables\/variables\.index: /]
  ]
  for (const [name, damage, message] of cases) {
    const dir = join(repo, name)
    await cp(join(root, name), dir, { recursive: true })
    await damage(dir)
    const r = await runMvc(['commit', name, '-m', 'damaged', '--json'], { cwd: repo })
    assert.equal(r.code, 8, `${name}: ${r.stderr}`)
    const e = jsonError(r)
    assert.equal(e.code, 'INVALID_MODEL')
    assert.match(e.message, message)
    assert.equal(await storedCount(repo), count, `${name}: nothing stored`)
  }
  assert.deepEqual(await mvcJson(['log'], { cwd: repo }), [], 'no commit was written')
})

// ---------------------------------------------------------------------------------------------------
// the tfjs-node runtime (optional: it runs where @tensorflow/tfjs-node is installed)

function tfjsNodeInstalled (): boolean {
  try {
    import.meta.resolve('@tensorflow/tfjs-node')
    return true
  } catch {
    return false
  }
}

test('SavedModel runtime without @tensorflow/tfjs-node: VERIFICATION_UNAVAILABLE saying what to install', { skip: tfjsNodeInstalled() && 'tfjs-node is installed here' }, async () => {
  const rt = savedModelFormat.runtimes.find(r => r.id === 'tfjs-node')!
  assert.equal(rt.id, 'tfjs-node')
  await assert.rejects(rt.open({}), (e: unknown) => {
    assert.ok(e instanceof VerificationUnavailableError)
    assert.equal(e.code, 'VERIFICATION_UNAVAILABLE')
    assert.match(e.message, /npm install @tensorflow\/tfjs-node/)
    return true
  })
})

test('SavedModel runtime with @tensorflow/tfjs-node: outputs equal TensorFlow\'s', { skip: !tfjsNodeInstalled() && '@tensorflow/tfjs-node is not installed' }, async () => {
  const rt = await savedModelFormat.runtimes.find(r => r.id === 'tfjs-node')!.open({})
  assert.equal(rt.backend, 'tensorflow')
  for (const d of ['mlp-savedmodel', 'mlp-savedmodel-tfkeras', 'seeds-savedmodel']) {
    const dir = join(root, d)
    const loaded = await rt.load({ format: 'saved-model', path: 'saved_model.pb' }, async p => new Uint8Array(await readFile(join(dir, p))))
    try {
      const [spec] = loaded.inputs
      const n = spec!.shape[1] as number
      const data = new Uint8Array(new Float32Array(Array.from({ length: 2 * n }, (_, i) => runInput(i))).buffer)
      const out = await loaded.run([{ name: spec!.name, dtype: 'float32', shape: [2, n], data }])
      const expected = reference.outputs[d]!
      assert.deepEqual(out.map(o => o.name), Object.keys(expected).sort())
      for (const o of out) {
        const got = new Float32Array(o.data.slice().buffer)
        const want = new Float32Array(new Uint8Array(Buffer.from(expected[o.name]!, 'hex')).buffer)
        assert.equal(got.length, want.length)
        for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-5, `${d} ${o.name}[${i}]: ${got[i]} vs ${want[i]}`)
      }
    } finally {
      loaded.dispose()
    }
  }
})
