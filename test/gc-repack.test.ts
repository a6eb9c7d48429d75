/**
 * gc's packs through the real CLI: repacking packs that are mostly garbage, deferring the deletion of
 * packs a live reader's snapshot may still read, and kill -9 at every durable step of a gc that
 * repacks and deletes (store/faults.ts's points): whatever the kill left, the repository is sound
 * (fsck), the versions kept are rebuilt byte for byte, and the next gc finishes the job.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { cp, mkdir, rm, writeFile } from 'node:fs/promises'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { exists, mvcJson, mvcOk, newRepo, removeDir, runMvc, sha256File } from './helpers.js'
import { NOW, commitVersions, fsckOk, packBytes, writeModel } from './gc-lib.js'
import { hostTag } from '../src/store/leftovers.js'
import { openDiskStore } from '../src/store/open.js'
import { fsck } from '../src/core/fsck.js'
import { gc } from '../src/core/gc.js'
import { openRepo } from '../src/core/repo.js'
import { checkout } from '../src/core/checkout.js'

const TIMEOUT = { timeout: 90_000 }
const cleanup: string[] = []
after(async () => { for (const d of cleanup) await removeDir(d) })

/**
 * v1: eight models (m0…m7) in one folder, so one pack holds all their tensors; v2: only m0 and m1.
 * Deleting v1 leaves that pack with a quarter of live bytes: it is repacked.
 */
async function eightThenTwo (root: string): Promise<{ m0: string, m1: string }> {
  for (let i = 0; i < 8; i++) await writeModel(join(root, 'model', `m${i}`), `m${i}`, 512 * 1024, 64 * 1024)
  await mvcOk(['commit', 'model', '-m', 'eight models', '--no-verify'], { cwd: root })
  for (let i = 2; i < 8; i++) await rm(join(root, 'model', `m${i}`), { recursive: true })
  await mvcOk(['commit', 'model', '-m', 'two models', '--no-verify'], { cwd: root })
  return { m0: await sha256File(join(root, 'model', 'm0', 'w.bin')), m1: await sha256File(join(root, 'model', 'm1', 'w.bin')) }
}

describe('gc: packs', () => {
  test('repack: after deleting most of a pack\'s versions the packs shrink to the live bytes, and every remaining object re-hashes', TIMEOUT, async () => {
    const { root } = await newRepo(cleanup)
    const sums = await eightThenTwo(root)
    const before = await packBytes(root)
    assert.equal(before.count, 1, 'v2 added no chunk: one pack')
    await mvcOk(['rm', 'v1'], { cwd: root, env: NOW() })
    const r = await mvcJson(['gc', '--prune=now'], { cwd: root })
    assert.equal(r.packs.repacked.length, 1)
    assert.equal(r.packs.written.length, 1)
    assert.equal(r.packs.deleted.length, 1)
    const afterGc = await packBytes(root)
    assert.equal(afterGc.count, 1)
    // What is left: m0's and m1's own tensors (512 KiB each) and the shared one (64 KiB), plus entry headers.
    const live = 2 * 512 * 1024 + 64 * 1024
    assert.ok(afterGc.total >= live && afterGc.total < live + 4096, `the new pack holds ${afterGc.total} bytes for ${live} live bytes`)
    assert.ok(before.total - afterGc.total >= 6 * 512 * 1024, 'six tensors freed')
    assert.equal(r.disk.packsBefore - r.disk.packsAfter, before.total - afterGc.total)
    const f = await fsckOk(root)
    assert.ok((f.bytes as number) >= live, 'fsck re-hashed every reachable object, chunks included')
    const to = join(root, '..', 'v2-out')
    await mvcOk(['checkout', 'v2', '--to', to, '--no-verify'], { cwd: root })
    assert.equal(await sha256File(join(to, 'm0', 'w.bin')), sums.m0)
    assert.equal(await sha256File(join(to, 'm1', 'w.bin')), sums.m1)
  })

  test('a live reader\'s snapshot defers deleting packs; the next gc deletes them', TIMEOUT, async () => {
    const { root } = await newRepo(cleanup)
    // v2's pack holds only v2's own tensor (the shared one is in v1's): deleting v2 empties it.
    const sums = await commitVersions(root, 3, 512 * 1024)
    await mvcOk(['rm', 'v2'], { cwd: root, env: NOW() })
    const packsBefore = await packBytes(root)
    // A reader's snapshot folder, named as store/snapshot.ts names them, of a live process (this test).
    const snap = join(root, '.mvc', 'tmp', `read-${process.pid}-${hostTag()}0badcafe`)
    await mkdir(snap, { recursive: true })
    // And a leftover of a dead writer on this host (a temporary pack): gc reports it removed.
    const dead = spawnSync(process.execPath, ['-e', '']).pid!
    const leftover = join(root, '.mvc', 'packs', `tmp-${dead}-${hostTag()}deadbeef.pack`)
    await writeFile(leftover, 'MVCPACK\x01')
    const r = await mvcJson(['gc', '--prune=now'], { cwd: root })
    assert.ok(r.leftovers.includes(leftover), `gc reports the leftover it removed: ${JSON.stringify(r.leftovers)}`)
    assert.equal(await exists(leftover), false)
    assert.ok(r.removed.chunks >= 1)
    assert.equal(r.packs.deleted.length, 0)
    assert.equal(r.packs.deferred.length, 1)
    assert.deepEqual(r.packs.readers, [snap])
    assert.deepEqual(await packBytes(root), packsBefore, 'the pack file is still there')
    await fsckOk(root)
    await rm(snap, { recursive: true })
    const r2 = await mvcJson(['gc', '--prune=now'], { cwd: root })
    assert.deepEqual(r2.packs.deleted, r.packs.deferred)
    assert.equal((await packBytes(root)).count, packsBefore.count - 1)
    await fsckOk(root)
    const to = join(root, '..', 'v3-out')
    await mvcOk(['checkout', 'v3', '--to', to, '--no-verify'], { cwd: root })
    assert.equal(await sha256File(join(to, 'w.bin')), sums.get(3))
  })

  test('kill -9 at every durable step of a gc that repacks and deletes: fsck is clean, v2 is intact, the next gc finishes', TIMEOUT, async () => {
    // The state before gc, built once; each run (the traced one, each kill) starts from a copy of it.
    const { base, root: pristine } = await newRepo(cleanup)
    const sums = await eightThenTwo(pristine)
    await mvcOk(['rm', 'v1'], { cwd: pristine, env: NOW() })
    const fresh = async (name: string): Promise<string> => {
      const d = join(base, name)
      await cp(pristine, d, { recursive: true })
      return d
    }
    const args = ['gc', '--prune=now', '--prune-unreferenced=now']
    const whole = await fresh('traced')
    const traced = await runMvc(args, { cwd: whole, env: { MVC_FAULT_TRACE: '1' } })
    assert.equal(traced.code, 0, traced.stderr)
    const points = traced.stderr.split('\n').filter(l => l.startsWith('mvc-fault ')).map(l => l.split(' ')[2]!)
    for (const p of ['pack.rename', 'gc.repacked', 'gc.batch', 'gc.batch.done', 'gc.unlink']) assert.ok(points.includes(p), `gc passes ${p}: ${points.join(' ')}`)
    const expected = (await packBytes(whole)).total
    for (let k = 1; k <= points.length; k++) {
      const d = await fresh(`k${k}`)
      const killed = await runMvc(args, { cwd: d, env: { MVC_FAULT_KILL_AT: String(k) } })
      assert.equal(killed.signal, 'SIGKILL', `kill at point ${k} (${points[k - 1]!}): exit ${String(killed.code)} ${killed.stderr}`)
      // In process (no CLI start-up per check): fsck, gc again, then v2 byte for byte.
      const store = await openDiskStore(join(d, '.mvc'))
      try {
        const f = await fsck(store)
        assert.equal(f.ok, true, `after a kill at ${points[k - 1]!}: ${JSON.stringify({ missing: f.missing, corrupt: f.corrupt })}`)
        await gc(store, { prune: 'now', pruneUnreferenced: 'now' })
        const f2 = await fsck(store)
        assert.equal(f2.ok, true, `after a kill at ${points[k - 1]!} and gc: ${JSON.stringify({ missing: f2.missing, corrupt: f2.corrupt })}`)
        assert.deepEqual(f2.danglingPacks, [], `the next gc left no dangling pack after a kill at ${points[k - 1]!}`)
      } finally { await store.close() }
      assert.equal((await packBytes(d)).total, expected, `after a kill at ${points[k - 1]!} and another gc, the packs are what one gc leaves`)
      const repo = await openRepo(d)
      try {
        await checkout({ repo, rev: 'v2', to: join(d, '..', `out-${k}`) })
      } finally { await repo.store.close() }
      assert.equal(await sha256File(join(d, '..', `out-${k}`, 'm0', 'w.bin')), sums.m0)
      await rm(d, { recursive: true })
      await rm(join(d, '..', `out-${k}`), { recursive: true })
    }
    console.log(`# gc: killed at each of its ${points.length} fault points (${[...new Set(points)].join(', ')}), 0 broken repositories`)
  })
})
