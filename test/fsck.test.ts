/**
 * mvc fsck against real repositories and real damage: a healthy repository (model, data snapshot,
 * verification record) is ok; a flipped byte in a pack, a lost index entry, a ref to nothing, and
 * leftover packs are each reported, with exit 5 for damage.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { cp, realpath, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { openDiskStore } from '../src/store/open.js'
import { buildFixtures } from '../fixtures/build.js'
import { jsonError, mvcJson, mvcOk, put, removeDir, runMvc, tmpdir } from './helpers.js'
import { corruptStoredObject } from './store-suite.js'

const dirs: string[] = []
after(async () => { for (const d of dirs) await removeDir(d) })

interface Report { ok: boolean, objects: number, missing: Array<{ cid: string }>, corrupt: Array<{ cid: string }>, badRefs: Array<{ name: string }>, tempPacks: string[], danglingPacks: string[], unreachable: number }

async function repoWithHistory (): Promise<string> {
  const root = await realpath(await tmpdir('mvc-fsck-'))
  dirs.push(root)
  await mvcOk(['init'], { cwd: root })
  const fx = await buildFixtures(join(root, '.fixtures'))
  await cp(fx.find(f => f.name === 'dense')!.dir, join(root, 'model'), { recursive: true })
  await put(join(root, 'data', 'train.csv'), 'x,y\n1,2\n')
  await mvcOk(['commit', 'model', '-m', 'one', '--data', 'data', '--backend', 'cpu', '--no-code'], { cwd: root })
  await put(join(root, 'model', 'notes.txt'), 'second')
  await mvcOk(['commit', 'model', '-m', 'two', '--no-verify', '--no-code'], { cwd: root })
  return root
}

/** A raw chunk that v2 reaches: the chunk of model/notes.txt. */
async function someChunk (root: string): Promise<CID> {
  const show = await mvcJson<{ manifest: { entries: Array<{ path: string, file: string }> } }>(['show', 'v2'], { cwd: root })
  const file = show.manifest.entries.find(e => e.path === 'notes.txt')!.file
  const store = await openDiskStore(join(root, '.mvc'))
  try {
    const { decodeObject } = await import('../src/content/block.js')
    const obj = decodeObject<{ extents: Array<[CID, number]> }>(CID.parse(file), await store.get(CID.parse(file)), 'test')
    return obj.extents[0]![0]
  } finally { await store.close() }
}

test('a healthy repository with a model, a data snapshot and verification is ok', async () => {
  const root = await repoWithHistory()
  const r = await mvcJson<Report>(['fsck'], { cwd: root })
  assert.equal(r.ok, true)
  assert.ok(r.objects > 20, `checked ${r.objects} objects`)
  assert.deepEqual([r.missing, r.corrupt, r.badRefs, r.tempPacks, r.danglingPacks], [[], [], [], [], []])
})

test('a flipped byte in a pack is reported as corrupt with its CID (exit 5)', async () => {
  const root = await repoWithHistory()
  const chunk = await someChunk(root)
  const store = await openDiskStore(join(root, '.mvc'))
  try { await corruptStoredObject(store, chunk) } finally { await store.close() }
  const r = await runMvc(['fsck', '--json'], { cwd: root })
  assert.equal(r.code, 5)
  assert.equal(jsonError(r).code, 'CORRUPT_OBJECT')
  const report = JSON.parse(r.stdout) as Report
  assert.deepEqual(report.corrupt.map(p => p.cid), [chunk.toString()])
})

test('an object lost from the index is reported as missing (exit 5); a ref to nothing as a bad ref', async () => {
  const root = await repoWithHistory()
  const chunk = await someChunk(root)
  const store = await openDiskStore(join(root, '.mvc'))
  try {
    await store.kv.batch([{ type: 'del', key: 'o/' + chunk.toString() }], { sync: true })
    const tx = await store.transaction()
    tx.setRef({ name: 'refs/tags/broken', value: 'not-a-cid' })
    await tx.commit()
  } finally { await store.close() }
  const r = await runMvc(['fsck', '--json'], { cwd: root })
  assert.equal(r.code, 5)
  const report = JSON.parse(r.stdout) as Report
  assert.deepEqual(report.missing.map(p => p.cid), [chunk.toString()])
  assert.deepEqual(report.badRefs.map(b => b.name), ['refs/tags/broken'])
})

test('a temporary pack left by an interrupted write is reported but is not damage', async () => {
  const root = await repoWithHistory()
  await writeFile(join(root, '.mvc', 'packs', 'tmp-999-deadbeef.pack'), 'partial')
  const r = await mvcJson<Report>(['fsck'], { cwd: root })
  assert.equal(r.ok, true)
  assert.deepEqual(r.tempPacks, ['tmp-999-deadbeef.pack'])
})
