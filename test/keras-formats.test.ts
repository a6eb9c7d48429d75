/**
 * The Keras adapters (.h5 Keras 2 full and weights-only, .keras and .weights.h5 Keras 3) on real files
 * written by TensorFlow/Keras when the suite starts (fixtures/tf/make_fixtures.py and
 * test/keras_cases.py, through the project's venv): detection, tensor offsets against h5py's, names and
 * roles, contract and custom objects, commit → checkout byte for byte through the CLI, what a fine-tune,
 * an HDF5 rewrite and a second format of the same weights add to the store, malformed files refused
 * with nothing stored, and the in-process TF.js runtime against TensorFlow's own outputs.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { DEFAULT_FORMATS, type FileAccess, type ModelLayout } from '../src/formats/index.js'
import { DiskFileAccess } from '../src/core/models.js'
import type { WalkedFile } from '../src/core/walk.js'
import { isMvcError } from '../src/errors.js'
import { kerasH5Format } from '../src/formats/keras-h5/index.js'
import { kerasV3Format } from '../src/formats/keras-v3/index.js'
import type { TensorData } from '../src/formats/tensor-data.js'
import { CID } from 'multiformats/cid'
import { REPO_ROOT, jsonError, mvcJson, mvcOk, newRepo, removeDir, runMvc, tmpdir } from './helpers.js'
import { kerasFixtures, pythonEnv, readNpy, run } from './keras-fixtures.js'

interface FixtureEntry { id: string, format: string, path: string, reference: string | null, custom_objects: string | null }
interface Cases { weight_bytes: number, changed_bytes: number, offsets: Record<string, Record<string, number>> }

async function walked (root: string): Promise<WalkedFile[]> {
  const out: WalkedFile[] = []
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue
    const abs = join(e.parentPath, e.name)
    out.push({ rel: relative(root, abs).split('\\').join('/'), abs, stats: await stat(abs) } as unknown as WalkedFile)
  }
  return out
}

/** Every model the default adapters find in a folder, with the adapter's id. */
async function detectAll (root: string): Promise<Array<{ adapter: string, layout: ModelLayout }>> {
  const access = new DiskFileAccess(await walked(root))
  try {
    const claimed = new Set<string>()
    const out: Array<{ adapter: string, layout: ModelLayout }> = []
    for (const f of DEFAULT_FORMATS) {
      for (const layout of await f.detect(access as FileAccess, claimed)) {
        claimed.add(layout.path)
        for (const p of layout.files) claimed.add(p)
        out.push({ adapter: f.id, layout })
      }
    }
    return out
  } finally { await access.close() }
}

async function sha (path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex')
}

async function packBytes (root: string): Promise<{ names: string[], bytes: number }> {
  const dir = join(root, '.mvc', 'packs')
  const names = (await readdir(dir)).sort()
  let bytes = 0
  for (const n of names) bytes += (await stat(join(dir, n))).size
  return { names, bytes }
}

/** Any CID, to stand for stored tensors when reading a model object back. */
const SOME_CID = CID.parse('bafyreigv2cc4zurxqnuz7sluk25jibfxjfvefxgzw3s74se7rrfan2g6zy')

interface CommitJson { newBytes: number, newObjects: number, verification: { models: Array<{ path: string, status: string, reason?: string }> } | null }

describe('Keras formats', () => {
  let fx = ''
  let cases = ''
  let big: Cases
  let fixtures: FixtureEntry[] = []
  const cleanup: string[] = []

  before(async () => {
    const py = await pythonEnv()
    fx = await kerasFixtures()
    fixtures = (JSON.parse(await readFile(join(fx, 'fixtures.json'), 'utf8')) as { fixtures: FixtureEntry[] }).fixtures
    cases = await tmpdir('mvc-keras-cases-')
    cleanup.push(cases)
    big = JSON.parse((await run(py, [join(REPO_ROOT, 'test', 'keras_cases.py'), cases, fx])).stdout) as Cases
  }, { timeout: 30 * 60_000 })

  after(async () => { for (const d of cleanup) await removeDir(d) })

  const fixtureDir = (id: string): string => join(fx, id)

  test('detection: each Keras kind is recognised by content, other formats are not claimed', async () => {
    const kinds: Record<string, { adapter: string, format: string, runnable: boolean }> = {
      'keras-h5': { adapter: 'keras-h5', format: 'keras-h5', runnable: true },
      'keras-h5-weights': { adapter: 'keras-h5', format: 'keras-h5-weights', runnable: false },
      'keras-v3': { adapter: 'keras-v3', format: 'keras-v3', runnable: true },
      'keras-v3-weights': { adapter: 'keras-v3', format: 'keras-v3-weights', runnable: false }
    }
    let seen = 0
    for (const f of fixtures) {
      const found = await detectAll(fixtureDir(f.id))
      const keras = found.filter(m => m.adapter.startsWith('keras'))
      const want = kinds[f.format]
      if (want === undefined) {
        assert.deepEqual(keras.map(m => m.layout.path), [], `${f.id} (${f.format}) is not a Keras model`)
        continue
      }
      const main = f.path.slice(f.id.length + 1)
      const m = keras.find(k => k.layout.path === main)
      assert.ok(m !== undefined, `${f.id}: ${main} detected (found ${found.map(x => x.layout.path).join(', ')})`)
      assert.equal(m.adapter, want.adapter, f.id)
      assert.equal(m.layout.format, want.format, f.id)
      assert.equal(m.layout.runnable, want.runnable, f.id)
      if (!want.runnable) assert.match(m.layout.notRunnableReason ?? '', /weights only/)
      assert.ok(m.layout.tensors.length > 0, `${f.id}: tensors`)
      seen++
    }
    assert.ok(seen >= 15, `${seen} Keras fixtures`)
    // the TF.js conversion is TF.js's, a .h5 beside it is Keras's: one folder, two formats
    const both = await tmpdir('mvc-keras-both-')
    cleanup.push(both)
    await cp(fixtureDir('mlp-h5'), join(both, 'h5'), { recursive: true })
    await cp(fixtureDir('mlp-tfjs'), join(both, 'tfjs'), { recursive: true })
    assert.deepEqual((await detectAll(both)).map(m => `${m.adapter} ${m.layout.path}`).sort(), ['keras-h5 h5/model.h5', 'tfjs tfjs/model.json'])
    // an HDF5 file that is no model is no model (stored as a plain file)
    assert.deepEqual(await detectAll(join(cases, 'plain')), [])
  })

  test('tensor offsets equal h5py\'s get_offset() (inside .keras: member data offset + dataset offset)', async () => {
    let n = 0
    for (const [rel, want] of Object.entries(big.offsets)) {
      const dir = join(cases, rel.slice(0, rel.lastIndexOf('/')))
      const [m] = (await detectAll(dir)).filter(x => x.layout.path === rel.slice(rel.lastIndexOf('/') + 1))
      assert.ok(m !== undefined, rel)
      const obj = m.layout.modelObject({ tensors: m.layout.tensors.map(() => SOME_CID), topology: null }) as { tensors: Array<{ dataset: string }> }
      const mine = Object.fromEntries(m.layout.tensors.map((t, i) => [obj.tensors[i]!.dataset, t.spans[0]!.offset]))
      assert.deepEqual(mine, want, rel)
      n += Object.keys(want).length
    }
    assert.equal(n, 30)
  })

  test('names, roles, topology, contract and custom objects', async () => {
    const [h5] = await detectAll(fixtureDir('mlp-h5-trained'))
    const l = h5!.layout
    const obj = l.modelObject({ tensors: l.tensors.map(() => SOME_CID), topology: null }) as { tensors: Array<{ group: number }>, groups: string[] }
    const roles = l.tensors.map((t, i) => `${obj.groups[obj.tensors[i]!.group]!} ${t.name}`)
    assert.deepEqual(roles.slice(0, 7), [
      'weights hidden1/kernel:0', 'weights hidden1/bias:0', 'weights hidden2/kernel:0', 'weights hidden2/bias:0',
      'weights head/kernel:0', 'weights head/bias:0', 'optimizer iteration:0'])
    assert.equal(roles.filter(r => r.startsWith('optimizer ')).length, 13)
    assert.deepEqual(l.tensors[0]!.shape, [8, 16])
    assert.equal(l.tensors[6]!.dtype, 'int64')
    assert.equal((l.topology?.meta as { keras_version: string }).keras_version, '2.21.0')
    assert.equal((l.topology?.topology as { class_name: string }).class_name, 'Functional')
    assert.ok((l.topology?.meta as { training_config: unknown }).training_config !== null)
    const mlpContract = { inputs: [{ name: 'features', dtype: 'float32', shape: [null, 8] }], outputs: [{ name: 'head', dtype: 'float32', shape: [null, 3] }] }
    assert.deepEqual(l.contract, mlpContract)
    assert.deepEqual(l.customObjects, [])
    assert.deepEqual(l.warnings, [])

    const [k3] = await detectAll(fixtureDir('mlp-keras-trained'))
    assert.deepEqual(k3!.layout.tensors.slice(0, 6).map(t => t.name), ['hidden1/kernel', 'hidden1/bias', 'hidden2/kernel', 'hidden2/bias', 'head/kernel', 'head/bias'])
    assert.deepEqual(k3!.layout.contract, mlpContract)
    assert.equal((k3!.layout.topology?.meta as { keras_version: string }).keras_version, '3.15.1')
    const stored = kerasV3Format.readModel(k3!.layout.modelObject({ tensors: k3!.layout.tensors.map(() => SOME_CID), topology: null }))
    assert.equal(stored.tensors.filter(t => t.role === 'optimizer').length, 14)

    const [cnn] = await detectAll(fixtureDir('cnn-bn-keras'))
    assert.deepEqual(cnn!.layout.tensors.map(t => t.name), ['conv/kernel', 'conv/bias', 'bn/gamma', 'bn/beta', 'bn/moving_mean', 'bn/moving_variance', 'logits/kernel', 'logits/bias'])
    assert.deepEqual(cnn!.layout.contract?.outputs, [{ name: 'logits', dtype: 'float32', shape: [null, 5] }])

    for (const id of ['seeds-h5', 'seeds-keras']) {
      const [s] = await detectAll(fixtureDir(id))
      assert.deepEqual(s!.layout.customObjects, ['Course>ScaledDense', 'Course>WeightedMSE'], id)
      assert.deepEqual(s!.layout.contract?.inputs, [{ name: 'seed_features', dtype: 'float32', shape: [null, 7] }], id)
    }
    // the model object reads back with the same facts
    const back = kerasH5Format.readModel(l.modelObject({ tensors: l.tensors.map(() => SOME_CID), topology: null }))
    assert.equal(back.runnable, true)
    assert.deepEqual(back.contract, mlpContract)
  })

  test('commit → checkout is byte-identical for every Keras fixture, through the CLI', async () => {
    const { root } = await newRepo(cleanup)
    const models = join(root, 'models')
    const ids = ['mlp-h5-trained', 'mlp-h5-init', 'mlp-h5-weights', 'mlp-keras', 'mlp-keras-trained', 'mlp-weights-h5', 'cnn-bn-h5', 'cnn-bn-keras', 'seeds-h5', 'seeds-keras', 'hdf5-versions']
    for (const id of ids) await cp(fixtureDir(id), join(models, id), { recursive: true })
    await cp(join(cases, 'bad', 'deflated.keras'), join(models, 'deflated', 'model.keras'))
    const before = new Map<string, string>()
    for (const f of await walked(models)) before.set(f.rel, await sha(f.abs))
    const r = await runMvc(['commit', 'models', '-m', 'keras', '--json'], { cwd: root })
    assert.equal(r.code, 0, r.stderr)
    const c = JSON.parse(r.stdout) as CommitJson & { warnings?: string[] }
    const skips = (c.warnings ?? []).filter(w => w.startsWith('verification skipped: '))
    assert.deepEqual((c.warnings ?? []).filter(w => !skips.includes(w)).map(w => w.replace(/ \(method 8\).*/, '')), ['deflated/model.keras: model.weights.h5 is compressed inside the archive'])
    // Weights-only files cannot run alone; --json carries the same skip warnings as the text output.
    for (const p of ['mlp-h5-weights/weights.h5', 'mlp-weights-h5/model.weights.h5']) assert.ok(skips.some(w => w.startsWith(`verification skipped: ${p}: weights only`)), `${p}: ${skips.join('\n')}`)
    const status = Object.fromEntries(c.verification!.models.map(m => [m.path, m.status]))
    for (const p of ['mlp-h5-trained/model.h5', 'mlp-h5-init/model.h5', 'cnn-bn-h5/model.h5', 'mlp-keras/model.keras', 'mlp-keras-trained/model.keras', 'cnn-bn-keras/model.keras', 'deflated/model.keras', 'hdf5-versions/model.h5']) {
      assert.equal(status[p], 'recorded', `${p}: ${JSON.stringify(c.verification!.models.find(m => m.path === p))}`)
    }
    const show = await mvcJson<{ manifest: { models: Array<{ path: string }> } }>(['show', 'v1'], { cwd: root })
    assert.equal(show.manifest.models.length, 14) // 10 fixture folders, hdf5-versions holds 3 files, and deflated/model.keras
    await rm(models, { recursive: true })
    const co = await mvcOk(['checkout', 'v1'], { cwd: root })
    assert.match(co.stdout, /PASS\n?$/)
    assert.doesNotMatch(co.stdout, /FAIL/)
    for (const [rel, digest] of before) assert.equal(await sha(join(models, rel)), digest, rel)
  })

  test('a fine-tune of one layer adds about the changed tensors\' bytes', async () => {
    const rows: string[] = []
    for (const kind of ['model.h5', 'model.keras']) {
      const { root } = await newRepo(cleanup)
      const m = join(root, 'model')
      await mkdir(m)
      await cp(join(cases, 'big', 'v1', kind), join(m, kind))
      await mvcOk(['commit', 'model', '-m', 'v1', '--no-verify'], { cwd: root })
      await cp(join(cases, 'big', 'v2', kind), join(m, kind))
      const c = await mvcJson<CommitJson>(['commit', 'model', '-m', 'v2', '--no-verify'], { cwd: root })
      const bound = 1.05 * big.changed_bytes + 64 * 1024
      rows.push(`${kind}: changed tensors ${big.changed_bytes} B of ${big.weight_bytes} B, commit added ${c.newBytes} B (bound ${bound})`)
      assert.ok(c.newBytes <= bound, rows.at(-1))
      assert.ok(c.newBytes >= big.changed_bytes, rows.at(-1))
      const d = await mvcJson<{ tensors: Array<{ name: string, status: string }> }>(['diff', 'v1', 'v2'], { cwd: root })
      assert.deepEqual(d.tensors.filter(t => t.status !== 'unchanged').map(t => t.name).sort(),
        kind === 'model.h5' ? ['out/bias:0', 'out/kernel:0'] : ['out/bias', 'out/kernel'])
    }
    console.log(rows.join('\n'))
  })

  test('the fixtures\' fine-tune pair (finetune/v1 → v2) in every Keras format', async () => {
    for (const id of ['mlp-h5', 'mlp-h5-weights', 'mlp-keras', 'mlp-weights-h5']) {
      const { root } = await newRepo(cleanup)
      await cp(join(fx, 'finetune', 'v1', id), join(root, 'model'), { recursive: true })
      await mvcOk(['commit', 'model', '-m', 'v1', '--no-verify'], { cwd: root })
      await rm(join(root, 'model'), { recursive: true })
      await cp(join(fx, 'finetune', 'v2', id), join(root, 'model'), { recursive: true })
      const c = await mvcJson<CommitJson>(['commit', 'model', '-m', 'v2', '--no-verify'], { cwd: root })
      const changed = 16 * 3 * 4 + 3 * 4 // head kernel and bias: make_fixtures asserts only they differ
      assert.ok(c.newBytes <= 1.05 * changed + 64 * 1024, `${id}: added ${c.newBytes}`)
      const d = await mvcJson<{ tensors: Array<{ name: string, status: string }> }>(['diff', 'v1', 'v2'], { cwd: root })
      assert.equal(d.tensors.filter(t => t.status !== 'unchanged').length, 2, id)
    }
  })

  test('a single Keras file as a tracked path (mvc commit model.keras): stored tensor by tensor, diffed, rebuilt and verified', async () => {
    for (const [id, file, changed] of [['mlp-h5', 'model.h5', ['head/bias:0', 'head/kernel:0']], ['mlp-keras', 'model.keras', ['head/bias', 'head/kernel']], ['mlp-weights-h5', 'model.weights.h5', null]] as const) {
      const { root } = await newRepo(cleanup)
      await cp(join(fx, 'finetune', 'v1', id, file), join(root, file))
      const v1 = await mvcJson<CommitJson>(['commit', file, '-m', 'v1'], { cwd: root })
      const shown = await mvcJson<{ models: Array<{ path: string, format: string, tensors: number }> }>(['show', 'v1'], { cwd: root })
      assert.equal(shown.models.length, 1, `${file}: recognised as a model, not stored as plain bytes`)
      assert.equal(shown.models[0]!.path, file)
      assert.ok(shown.models[0]!.tensors >= 6, `${file}: every weight is a tensor (${shown.models[0]!.tensors})`)
      // Full models run at commit; weights-only files cannot, and say so.
      const status = v1.verification?.models[0]?.status
      assert.equal(status, file === 'model.weights.h5' ? 'skipped' : 'recorded', `${file}: ${JSON.stringify(v1.verification)}`)
      const before = await sha(join(root, file))
      await cp(join(fx, 'finetune', 'v2', id, file), join(root, file))
      const v2 = await mvcJson<CommitJson>(['commit', '-m', 'v2', '--no-verify'], { cwd: root })
      assert.ok(v2.newBytes <= 1.05 * (16 * 3 * 4 + 3 * 4) + 64 * 1024, `${file}: added ${v2.newBytes}`)
      const d = await mvcJson<{ tensors: Array<{ name: string, status: string }> }>(['diff', 'v1', 'v2'], { cwd: root })
      const moved = d.tensors.filter(t => t.status !== 'unchanged').map(t => t.name).sort()
      // A Keras 3 weights file has no config to name its variables: they keep their HDF5 paths, the head's two of one layer.
      if (changed === null) assert.match(moved.join(' '), /^layers\/(\w+)\/vars\/0 layers\/\1\/vars\/1$/)
      else assert.deepEqual(moved, [...changed])
      await mvcOk(['checkout', 'v1', ...(file === 'model.weights.h5' ? ['--no-verify'] : [])], { cwd: root })
      assert.equal(await sha(join(root, file)), before, `${file}: v1 rebuilt byte for byte`)
    }
  })

  test('the same weights rewritten by another HDF5 library add only metadata', async () => {
    const alt = (await run('bash', [join(REPO_ROOT, 'scripts', 'python-env.sh'), '--h5py-alt'])).stdout.trim().split('\n').pop()!
    const out = join(cases, 'alt')
    await mkdir(out, { recursive: true })
    const info = JSON.parse((await run(alt, [join(REPO_ROOT, 'fixtures', 'tf', 'h5_rewrite.py'), join(cases, 'big', 'v1', 'model.h5'), join(out, 'model.h5')])).stdout) as { hdf5: string }
    const { root } = await newRepo(cleanup)
    const m = join(root, 'model')
    await mkdir(m)
    await cp(join(cases, 'big', 'v1', 'model.h5'), join(m, 'model.h5'))
    await mvcOk(['commit', 'model', '-m', 'hdf5 1.14', '--no-verify'], { cwd: root })
    const a = await readFile(join(m, 'model.h5'))
    await cp(join(out, 'model.h5'), join(m, 'model.h5'))
    const b = await readFile(join(m, 'model.h5'))
    assert.notDeepEqual(a, b, 'the rewrite differs byte for byte')
    const c = await mvcJson<CommitJson>(['commit', 'model', '-m', `hdf5 ${info.hdf5}`, '--no-verify'], { cwd: root })
    const metadata = b.length - big.weight_bytes
    console.log(`rewrite by HDF5 ${info.hdf5}: file ${b.length} B, weights ${big.weight_bytes} B, commit added ${c.newBytes} B`)
    assert.ok(c.newBytes <= metadata + 16 * 1024, `added ${c.newBytes} B; the file has ${metadata} B of metadata`)
    const d = await mvcJson<{ tensors: Array<{ name: string, status: string }> }>(['diff', 'v1', 'v2'], { cwd: root })
    assert.deepEqual(d.tensors.filter(t => t.status !== 'unchanged'), [], 'no tensor changed')
  })

  test('one folder, two formats: a .h5 and its TF.js conversion share their weight bytes', async () => {
    const { root } = await newRepo(cleanup)
    const m = join(root, 'model')
    await mkdir(m)
    await cp(join(cases, 'big', 'v1', 'model.h5'), join(m, 'model.h5'))
    await mvcOk(['commit', 'model', '-m', 'h5', '--no-verify'], { cwd: root })
    await cp(join(cases, 'big', 'tfjs'), m, { recursive: true })
    const c = await mvcJson<CommitJson>(['commit', 'model', '-m', 'and tfjs', '--no-verify'], { cwd: root })
    const json = (await stat(join(m, 'model.json'))).size
    console.log(`TF.js conversion beside the .h5: weights ${big.weight_bytes} B, commit added ${c.newBytes} B (model.json ${json} B)`)
    assert.ok(c.newBytes <= 0.05 * big.weight_bytes + 64 * 1024, `added ${c.newBytes}`)
    const show = await mvcJson<{ manifest: { models: Array<{ path: string }> } }>(['show', 'v2'], { cwd: root })
    assert.deepEqual(show.manifest.models.map(x => x.path).sort(), ['model.h5', 'model.json'])
  })

  test('malformed and truncated .h5 and .keras files give INVALID_MODEL and store nothing', async () => {
    const h5 = await readFile(join(fixtureDir('mlp-h5-trained'), 'model.h5'))
    const keras = await readFile(join(fixtureDir('mlp-keras'), 'model.keras'))
    const bad: Array<[string, string, Uint8Array]> = [
      ['truncated half', 'model.h5', h5.subarray(0, h5.length >> 1)],
      ['truncated header', 'model.h5', h5.subarray(0, 600)],
      ['damaged group B-tree', 'model.h5', (() => { const c = Buffer.from(h5); const t = c.indexOf('TREE'); c.fill(0xff, t + 4, t + 40); return c })()],
      ['bad model_config', 'model.h5', (() => { const c = Buffer.from(h5); const t = c.indexOf('{"class_name"'); c.write('XX', t); return c })()],
      ['truncated archive', 'model.keras', keras.subarray(0, Math.floor(keras.length * 0.7))],
      ['not a zip', 'model.keras', new TextEncoder().encode('this is not a keras archive at all, just text')],
      ['config.json is not JSON', 'model.keras', await readFile(join(cases, 'bad', 'bad_config.keras'))],
      ['no config.json', 'model.keras', await readFile(join(cases, 'bad', 'no_config.keras'))],
      ['weights member truncated inside', 'model.keras', (() => { const c = Buffer.from(keras); const at = c.indexOf('\x89HDF'); c.fill(0, at + 8, at + 200); return c })()]
    ]
    const { root } = await newRepo(cleanup)
    const packs = await packBytes(root)
    for (const [what, name, bytes] of bad) {
      const m = join(root, 'model')
      await rm(m, { recursive: true, force: true })
      await mkdir(m)
      await writeFile(join(m, name), bytes)
      const r = await runMvc(['commit', 'model', '-m', what, '--json'], { cwd: root })
      assert.notEqual(r.code, 0, `${what}: ${r.stdout}`)
      const e = jsonError(r)
      assert.equal(e.code, 'INVALID_MODEL', `${what}: ${e.code} ${e.message}`)
      assert.match(e.message, new RegExp(name.replace('.', '\\.')), what)
      assert.deepEqual(await packBytes(root), packs, `${what}: nothing stored`)
    }
    const log = await runMvc(['log'], { cwd: root })
    assert.doesNotMatch(log.stdout, /^v1 /m)
  })

  test('in-process TF.js runtime reproduces TensorFlow\'s outputs', async () => {
    const pairs: Array<[string, string]> = [
      ['mlp-h5-trained', 'mlp'], ['mlp-h5-init', 'mlp_init'], ['cnn-bn-h5', 'cnn_bn'], ['finetune/v2/mlp-h5', 'mlp_finetuned'],
      ['mlp-keras', 'mlp'], ['mlp-keras-trained', 'mlp_keras3'], ['cnn-bn-keras', 'cnn_bn']
    ]
    const rows: string[] = []
    for (const backend of ['wasm', 'cpu']) {
      for (const [id, ref] of pairs) {
        const [m] = (await detectAll(fixtureDir(id))).filter(x => x.adapter.startsWith('keras'))
        const adapter = m!.adapter === 'keras-h5' ? kerasH5Format : kerasV3Format
        const rt = await adapter.runtimes.find(r => r.id === 'tfjs')!.open({ backend })
        const loaded = await rt.load({ format: m!.layout.format, path: m!.layout.path }, async p => new Uint8Array(await readFile(join(fixtureDir(id), p))))
        try {
          const x = await readNpy(join(fx, 'reference', `${ref}.input.npy`))
          const want = await readNpy(join(fx, 'reference', `${ref}.expected.npy`))
          const input: TensorData = { name: loaded.inputs[0]!.name, dtype: 'float32', shape: x.shape, data: new Uint8Array(x.data.buffer) }
          const [y] = await loaded.run([input])
          assert.deepEqual(y!.shape, want.shape, id)
          const got = new Float32Array(y!.data.buffer.slice(y!.data.byteOffset, y!.data.byteOffset + y!.data.byteLength))
          let max = 0
          for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i]! - want.data[i]!))
          rows.push(`${backend} ${id} vs TensorFlow (${ref}): max abs diff ${max.toExponential(3)}`)
          assert.ok(max <= 1e-5, rows.at(-1))
        } finally { loaded.dispose() }
      }
    }
    console.log(rows.join('\n'))
  })

  test('custom objects and layers TF.js lacks: a clear unavailable message, never a raw "Unknown layer"', async () => {
    for (const id of ['seeds-h5', 'seeds-keras']) {
      const [m] = (await detectAll(fixtureDir(id))).filter(x => x.adapter.startsWith('keras'))
      const adapter = m!.adapter === 'keras-h5' ? kerasH5Format : kerasV3Format
      const rt = await adapter.runtimes.find(r => r.id === 'tfjs')!.open({})
      await assert.rejects(rt.load({ format: m!.layout.format, path: m!.layout.path }, async p => new Uint8Array(await readFile(join(fixtureDir(id), p)))),
        (e: unknown) => isMvcError(e) && e.code === 'VERIFICATION_UNAVAILABLE' && /Course>ScaledDense/.test(e.message) && /--custom-objects <file>/.test(e.message) && !/Unknown layer/.test(e.message))
    }
    // a standard Keras layer TF.js does not implement: named, with what to do instead
    const [gn] = (await detectAll(join(cases, 'tfjs-lacks'))).filter(x => x.adapter.startsWith('keras'))
    const rt = await kerasV3Format.runtimes.find(r => r.id === 'tfjs')!.open({})
    await assert.rejects(rt.load({ format: gn!.layout.format, path: gn!.layout.path }, async p => new Uint8Array(await readFile(join(cases, 'tfjs-lacks', p)))),
      (e: unknown) => isMvcError(e) && e.code === 'VERIFICATION_UNAVAILABLE' && /does not implement GroupNormalization/.test(e.message))
    assert.deepEqual(gn!.layout.customObjects, [], 'GroupNormalization is Keras\'s own')

    const { root } = await newRepo(cleanup)
    await cp(fixtureDir('seeds-h5'), join(root, 'seeds'), { recursive: true })
    const strict = await runMvc(['commit', 'seeds', '-m', 'custom', '--require-verify', '--json'], { cwd: root })
    assert.equal(jsonError(strict).code, 'VERIFICATION_UNAVAILABLE')
    const r = await runMvc(['commit', 'seeds', '-m', 'custom'], { cwd: root })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout + r.stderr, /needs custom classes that TensorFlow\.js does not have: Course>ScaledDense\. Pass --custom-objects <file>/)
  })
})
