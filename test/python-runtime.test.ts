/**
 * The Python-TensorFlow runtime, for real: a SavedModel (which no in-process runtime can run here)
 * committed through the CLI records its outputs with TensorFlow; `mvc verify` (from the store, rebuilt
 * in a temporary folder) and `mvc checkout --to` verify it; without Python the reason is recorded and
 * `mvc verify` exits 9 saying what is needed.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { cp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO_ROOT, jsonError, mvcJson, mvcOk, newRepo, runMvc } from './helpers.js'
import { python } from './tf-reference.js'

const FIXTURES = join(REPO_ROOT, 'fixtures', 'tf', 'checked-in')
const TIMEOUT = { timeout: 300_000 }
const cleanup: string[] = []
let py = ''

before(async () => { py = await python() }, { timeout: 900_000 })
after(async () => { for (const d of cleanup) await rm(d, { recursive: true, force: true }) })

interface Verification { models: Array<{ path: string, status: string, reason?: string, runtime?: { id: string, version: string, backend: string } }> }
interface Report { pass: boolean, verified: boolean, models: Array<{ path: string, status: string, runtime?: { id: string }, outputs: Array<{ name: string, maxAbsDiff: number, pass: boolean }> }> }

describe('python-tensorflow runtime', () => {
  test('a SavedModel is recorded and verified with real TensorFlow (commit, verify from the store, checkout)', TIMEOUT, async () => {
    const { root } = await newRepo(cleanup)
    await cp(join(FIXTURES, 'mlp-savedmodel'), join(root, 'model'), { recursive: true })
    const env = { MVC_PYTHON: py }
    const c = await mvcJson<{ verification: Verification }>(['commit', 'model', '-m', 'savedmodel'], { cwd: root, env })
    const m = c.verification.models.find(x => x.path === 'saved_model.pb')
    assert.ok(m !== undefined, JSON.stringify(c.verification))
    assert.equal(m.status, 'recorded', m.reason)
    assert.equal(m.runtime?.id, 'python-tensorflow')
    assert.match(m.runtime?.version ?? '', /^tensorflow 2\.21\./)

    // From the store: the runtime needs a folder, so the version is rebuilt in a temporary one.
    const v = await mvcJson<Report>(['verify', 'v1'], { cwd: root, env })
    assert.equal(v.verified, true)
    assert.equal(v.pass, true)
    assert.equal(v.models[0]!.runtime?.id, 'python-tensorflow')
    // The same runtime and version, on the same files: outputs are reproduced exactly.
    for (const o of v.models[0]!.outputs) assert.equal(o.maxAbsDiff, 0, o.name)

    const co = await mvcJson<{ verification: Report }>(['checkout', 'v1', '--to', join(root, '..', 'out')], { cwd: root, env })
    assert.equal(co.verification.pass, true)
    assert.deepEqual(await readFile(join(root, '..', 'out', 'saved_model.pb')), await readFile(join(root, 'model', 'saved_model.pb')))
  })

  test('a runtime that behaves differently FAILs verification, and checkout then leaves the files as they were', TIMEOUT, async () => {
    const { base, root } = await newRepo(cleanup)
    await cp(join(FIXTURES, 'mlp-savedmodel'), join(root, 'model'), { recursive: true })
    const env = { MVC_PYTHON: py }
    await mvcOk(['commit', 'model', '-m', 'v1'], { cwd: root, env })
    // A "library upgrade" that changes numerics: every variable scaled by 1.01 once loaded.
    const perturb = join(base, 'perturb.py')
    await writeFile(perturb, [
      'import tensorflow as tf',
      '_load = tf.saved_model.load',
      'def _perturbed(*args, **kwargs):',
      '    m = _load(*args, **kwargs)',
      '    for v in m.variables:',
      '        v.assign(v * 1.01)',
      '    return m',
      'tf.saved_model.load = _perturbed',
      ''
    ].join('\n'))
    const v = await runMvc(['verify', 'v1', '--custom-objects', perturb, '--json'], { cwd: root, env })
    assert.equal(v.code, 9, v.stderr)
    assert.equal(jsonError(v).code, 'VERIFICATION_FAILED')
    const report = JSON.parse(v.stdout) as Report
    assert.equal(report.pass, false)
    assert.ok(report.models[0]!.outputs[0]!.maxAbsDiff > 1e-4, String(report.models[0]!.outputs[0]!.maxAbsDiff))

    // The working folder holds other files; a checkout of v1 that fails verification must not touch them.
    await rm(join(root, 'model'), { recursive: true })
    await cp(join(FIXTURES, 'mlp-tf-checkpoint-optimizer'), join(root, 'model'), { recursive: true })
    await mvcOk(['commit', 'model', '-m', 'v2: another model at the same path', '--no-verify'], { cwd: root, env })
    const before = await readFile(join(root, 'model', 'metadata.json'))
    const co = await runMvc(['checkout', 'v1', '--custom-objects', perturb], { cwd: root, env })
    assert.equal(co.code, 9, co.stderr)
    assert.match(co.stdout, /FAIL/)
    assert.deepEqual(await readFile(join(root, 'model', 'metadata.json')), before, 'the files are v2 still')
    const st = await mvcJson<{ clean: boolean, base: { version: number } }>(['status'], { cwd: root, env })
    assert.equal(st.base.version, 2)
    assert.equal(st.clean, true)
    // --keep-on-fail puts v1 in place, and status says its verification failed.
    const kept = await runMvc(['checkout', 'v1', '--custom-objects', perturb, '--keep-on-fail'], { cwd: root, env })
    assert.equal(kept.code, 9, kept.stderr)
    const st2 = await mvcJson<{ base: { version: number }, failedVerification?: { version: number } }>(['status'], { cwd: root, env })
    assert.equal(st2.base.version, 1)
    assert.equal(st2.failedVerification?.version, 1)
    const human = await mvcOk(['status'], { cwd: root, env })
    assert.match(human.stdout, /FAILED verification/)
  })

  test('without Python the reason is recorded at commit and `mvc verify` exits 9 naming what is needed', TIMEOUT, async () => {
    const { root } = await newRepo(cleanup)
    await cp(join(FIXTURES, 'mlp-savedmodel'), join(root, 'model'), { recursive: true })
    const env = { MVC_PYTHON: join(root, 'no-such-python') }
    const c = await mvcJson<{ verification: Verification }>(['commit', 'model', '-m', 'no python'], { cwd: root, env })
    const m = c.verification.models.find(x => x.path === 'saved_model.pb')!
    assert.equal(m.status, 'skipped')
    assert.match(m.reason ?? '', /Python/)
    assert.match(m.reason ?? '', /--python|MVC_PYTHON/)
    const v = await runMvc(['verify', 'v1', '--json'], { cwd: root, env })
    assert.equal(v.code, 9, v.stderr)
    assert.equal(jsonError(v).code, 'VERIFICATION_UNAVAILABLE')
    const report = JSON.parse(v.stdout) as Report & { error: { code: string } }
    assert.equal(report.verified, false, 'verify --json prints its report on stdout whatever the result')
    assert.equal(report.error.code, 'VERIFICATION_UNAVAILABLE')
    // --require-verify refuses to commit with the real reason.
    await writeFile(join(root, 'model', 'note.txt'), 'x')
    const req = await runMvc(['commit', 'model', '-m', 'required', '--require-verify', '--json'], { cwd: root, env })
    assert.equal(req.code, 9, req.stderr)
    assert.match(jsonError(req).message, /saved_model\.pb: .*Python/)
  })
})
