/**
 * Input/output contracts: which changes are breaking, and `mvc diff` flagging a changed
 * metadata.json input_signature between two versions.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { writeFile, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { Repository } from '../src/index.js'
import { diffContract } from '../src/core/diff/contract.js'

const x = (shape: Array<number | null>, dtype = 'float32', name = 'x'): { name: string, dtype: string, shape: Array<number | null> } => ({ name, dtype, shape })

test('contract: equal contracts are no change; dtype, rank, fixed dims, added or removed inputs are breaking', () => {
  const base = { inputs: [x([null, 8])], outputs: [x([null, 3], 'float32', 'y')] }
  assert.equal(diffContract('m', base, base), null)
  assert.equal(diffContract('m', null, null), null)
  const cases: Array<[string, typeof base, boolean]> = [
    ['dtype', { ...base, inputs: [x([null, 8], 'int32')] }, true],
    ['rank', { ...base, inputs: [x([null, 8, 1])] }, true],
    ['fixed dim', { ...base, inputs: [x([null, 9])] }, true],
    ['input added', { ...base, inputs: [x([null, 8]), x([null, 2], 'float32', 'mask')] }, true],
    ['input removed', { ...base, inputs: [] }, true],
    ['input renamed', { ...base, inputs: [x([null, 8], 'float32', 'features')] }, true],
    ['output dtype', { ...base, outputs: [x([null, 3], 'float16', 'y')] }, true],
    ['input widened to any size', { ...base, inputs: [x([null, null])] }, false],
    ['output added', { ...base, outputs: [...base.outputs, x([null], 'float32', 'z')] }, false]
  ]
  for (const [what, b, breaking] of cases) {
    const d = diffContract('m', base, b)
    assert.ok(d !== null, what)
    assert.equal(d.breaking, breaking, `${what}: ${d.changes.join('; ')}`)
    assert.ok(d.changes.length > 0, what)
  }
})

test('mvc diff flags a changed metadata.json input_signature as breaking', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mvc-contract-'))
  await Repository.init({ dir })
  const repo = await Repository.open({ dir })
  try {
    const m = join(dir, 'model')
    await mkdir(m, { recursive: true })
    await writeFile(join(m, 'w.bin'), 'w')
    const meta = (shape: Array<number | null>): string => JSON.stringify({ input_signature: [{ name: 'features', dtype: 'float32', shape }] })
    await writeFile(join(m, 'metadata.json'), meta([null, 8]))
    await repo.commit({ path: m, message: 'a', verify: false, code: false })
    await writeFile(join(m, 'metadata.json'), meta([null, 16]))
    await repo.commit({ path: m, message: 'b', verify: false, code: false })
    const d = await repo.diff({ a: 'v1', b: 'v2' })
    assert.equal(d.contracts.length, 1)
    assert.equal(d.contracts[0]!.model, 'metadata.json')
    assert.equal(d.contracts[0]!.breaking, true)
    assert.deepEqual(d.contracts[0]!.changes, ['input features: dimension 1 8 → 16'])
    assert.equal(d.identical, false)
  } finally { await repo.close(); await rm(dir, { recursive: true, force: true }) }
})
