/**
 * Reference inputs as NumPy files, written by real NumPy (the project's pinned venv) from literals
 * that are also written here: .npy of every supported dtype (float16/32/64, big-endian, (u)int8–64,
 * bool, Fortran order), .npz stored (`savez`) and deflated (`savez_compressed`), named and positional
 * arrays; unsupported and damaged files are INVALID_ARGUMENT. Then, end to end, `mvc commit --inputs
 * x.npz` records them against the model's input contract and `mvc verify` replays them.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile, cp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { conformInputs, parseInputs, parseNpy, parseNpz } from '../src/core/verify/index.js'
import { decodeTensorData, type TensorData } from '../src/formats/tensor-data.js'
import { python } from './tf-reference.js'
import { mvcJson, mvcOk, newRepo, runMvc } from './helpers.js'
import { buildFixtures } from '../fixtures/build.js'

const run = promisify(execFile)
let dir = ''
const cleanup: string[] = []

const SCRIPT = `
import numpy as np, sys, os
d = sys.argv[1]
np.save(os.path.join(d, 'f32.npy'), np.array([[1.5, -2.25, 3.0], [0.0, 1e-3, -7.0]], dtype=np.float32))
np.save(os.path.join(d, 'f64.npy'), np.array([0.1, 0.2, 1e300], dtype=np.float64))
np.save(os.path.join(d, 'f16.npy'), np.array([0.5, -1.0, 65504.0], dtype=np.float16))
np.save(os.path.join(d, 'be.npy'), np.array([1.0, 2.0, -3.5], dtype='>f4'))
np.save(os.path.join(d, 'u8.npy'), np.arange(12, dtype=np.uint8).reshape(2, 2, 3) * 20)
np.save(os.path.join(d, 'i64.npy'), np.array([-5, 2**31 - 1], dtype=np.int64))
np.save(os.path.join(d, 'big.npy'), np.array([2**31], dtype=np.int64))
np.save(os.path.join(d, 'bool.npy'), np.array([True, False, True]))
np.save(os.path.join(d, 'fortran.npy'), np.asfortranarray(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32)))
np.save(os.path.join(d, 'str.npy'), np.array(['abc']))
np.save(os.path.join(d, 'scalar.npy'), np.float32(2.5))
np.savez(os.path.join(d, 'named.npz'), x=np.ones((2, 8), dtype=np.float32), t=np.array([1, 2], dtype=np.int32))
np.savez_compressed(os.path.join(d, 'deflated.npz'), x=np.full((2, 8), 0.25, dtype=np.float32))
np.savez(os.path.join(d, 'positional.npz'), np.zeros(3, dtype=np.float32), np.arange(2, dtype=np.int16))
x = np.linspace(-1, 1, 16, dtype=np.float64).reshape(2, 8)
np.savez(os.path.join(d, 'dense.npz'), features=x)
print(np.__version__)
`

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mvc-npy-'))
  cleanup.push(dir)
  const py = await python()
  await writeFile(join(dir, 'make.py'), SCRIPT)
  await run(py, [join(dir, 'make.py'), dir])
}, { timeout: 900_000 })
after(async () => { for (const d of cleanup) await rm(d, { recursive: true, force: true }) })

const values = (t: TensorData): number[] => Array.from(decodeTensorData(t).values as ArrayLike<number>)
const file = async (name: string): Promise<Uint8Array> => new Uint8Array(await readFile(join(dir, name)))
const code = (f: () => unknown): string | undefined => { try { f(); return undefined } catch (e) { return (e as { code?: string }).code } }

test('.npy of each supported dtype becomes float32, int32 or bool with its shape, in C order', async () => {
  const f32 = parseNpy(await file('f32.npy'), 'a')
  assert.deepEqual([f32.dtype, f32.shape], ['float32', [2, 3]])
  assert.deepEqual(values(f32), [1.5, -2.25, 3, 0, Math.fround(1e-3), -7])
  const f64 = parseNpy(await file('f64.npy'), 'a')
  assert.deepEqual(values(f64), [Math.fround(0.1), Math.fround(0.2), Infinity], 'float64 narrowed to float32 (1e300 overflows to Infinity)')
  assert.deepEqual(values(parseNpy(await file('f16.npy'), 'a')), [0.5, -1, 65504])
  assert.deepEqual(values(parseNpy(await file('be.npy'), 'a')), [1, 2, -3.5])
  const u8 = parseNpy(await file('u8.npy'), 'a')
  assert.deepEqual([u8.dtype, u8.shape, values(u8)], ['int32', [2, 2, 3], Array.from({ length: 12 }, (_, i) => i * 20)])
  assert.deepEqual(values(parseNpy(await file('i64.npy'), 'a')), [-5, 2 ** 31 - 1])
  const b = parseNpy(await file('bool.npy'), 'a')
  assert.deepEqual([b.dtype, values(b)], ['bool', [1, 0, 1]])
  const fo = parseNpy(await file('fortran.npy'), 'a')
  assert.deepEqual([fo.shape, values(fo)], [[2, 3], [1, 2, 3, 4, 5, 6]])
  const sc = parseNpy(await file('scalar.npy'), 'a')
  assert.deepEqual([sc.shape, values(sc)], [[], [2.5]])
})

test('refused: strings, int64 beyond int32, truncated data, a file that is not .npy', async () => {
  assert.equal(code(() => parseNpy(new Uint8Array(0), 'a')), 'INVALID_ARGUMENT')
  const s = await file('str.npy')
  assert.equal(code(() => parseNpy(s, 'a')), 'INVALID_ARGUMENT')
  const big = await file('big.npy')
  assert.equal(code(() => parseNpy(big, 'a')), 'INVALID_ARGUMENT')
  const f = await file('f32.npy')
  assert.equal(code(() => parseNpy(f.subarray(0, f.length - 1), 'a')), 'INVALID_ARGUMENT')
  assert.equal(code(() => parseInputs(new TextEncoder().encode('not json'))), 'INVALID_ARGUMENT')
  const z = await file('named.npz')
  assert.equal(code(() => parseNpz(z.subarray(0, z.length - 30))), 'INVALID_ARGUMENT', 'a zip without its end record')
})

test('.npz: named arrays keep their names, positional ones (arr_0…) bind by position; stored and deflated members', async () => {
  const named = parseInputs(await file('named.npz'))
  assert.deepEqual(named.map(t => [t.name, t.dtype, t.shape]), [['x', 'float32', [2, 8]], ['t', 'int32', [2]]])
  assert.deepEqual(values(named[0]!), new Array(16).fill(1))
  const deflated = parseInputs(await file('deflated.npz'))
  assert.deepEqual(values(deflated[0]!), new Array(16).fill(0.25))
  const pos = parseInputs(await file('positional.npz'))
  assert.deepEqual(pos.map(t => [t.name, t.dtype, values(t)]), [['#0', 'float32', [0, 0, 0]], ['#1', 'int32', [0, 1]]])
})

test('inputs are checked against the input contract: counts, shapes, dtypes (ints for a float input are converted, fractions for an int input refused)', async () => {
  const sig = [{ name: 'x', shape: [null, 8], dtype: 'float32' }]
  const f32 = parseNpy(await file('f32.npy'), '#0')
  assert.equal(code(() => conformInputs(sig, [f32])), 'INVALID_ARGUMENT', 'shape [2,3] against [?,8]')
  assert.equal(code(() => conformInputs(sig, [f32, f32])), 'INVALID_ARGUMENT', 'two inputs for one')
  const ints: TensorData = { name: 'x', dtype: 'int32', shape: [1, 8], data: new Uint8Array(new Int32Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer) }
  const conv = conformInputs(sig, [ints])[0]!
  assert.deepEqual([conv.dtype, values(conv)], ['float32', [1, 2, 3, 4, 5, 6, 7, 8]])
  const frac: TensorData = { name: 'ids', dtype: 'float32', shape: [2], data: new Uint8Array(new Float32Array([1, 2.5]).buffer) }
  assert.equal(code(() => conformInputs([{ name: 'ids', shape: [null], dtype: 'int32' }], [frac])), 'INVALID_ARGUMENT')
  const whole: TensorData = { name: 'ids', dtype: 'float32', shape: [2], data: new Uint8Array(new Float32Array([1, 2]).buffer) }
  assert.deepEqual(values(conformInputs([{ name: 'ids', shape: [null], dtype: 'int32' }], [whole])[0]!), [1, 2])
  const str: TensorData = { name: 'x', dtype: 'string', shape: [1, 8], data: new Uint8Array(0) }
  assert.equal(code(() => conformInputs(sig, [str])), 'INVALID_ARGUMENT')
})

test('mvc commit --inputs features.npz records NumPy inputs (float64 narrowed), mvc verify replays them', async () => {
  const { root } = await newRepo(cleanup)
  const fx = await buildFixtures(join(root, 'fx'))
  await cp(fx.find(f => f.name === 'dense')!.dir, join(root, 'model'), { recursive: true })
  const c = await mvcJson<{ verification: { models: Array<{ status: string, inputs: string[], reference: { generated: unknown, inputDigests: string[] } }> } }>(['commit', 'model', '-m', 'npz', '--inputs', join(dir, 'dense.npz'), '--backend', 'cpu', '--measure', 'never'], { cwd: root })
  const m = c.verification.models[0]!
  assert.equal(m.status, 'recorded')
  assert.equal(m.reference.generated, null, 'given inputs are stored, not generated')
  assert.equal(m.inputs.length, 1)
  const show = await mvcOk(['show', 'v1'], { cwd: root })
  assert.match(show.stdout, /1 given input/)
  const v = await mvcJson<{ pass: boolean, verified: boolean }>(['verify', '--backend', 'cpu'], { cwd: root })
  assert.deepEqual([v.pass, v.verified], [true, true])
  const bad = await runMvc(['commit', 'model', '-m', 'x', '--allow-empty', '--inputs', join(dir, 'named.npz'), '--require-verify'], { cwd: root })
  assert.equal(bad.code, 9, bad.stderr)
  assert.match(bad.stderr, /input/)
})
