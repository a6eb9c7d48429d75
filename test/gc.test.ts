/**
 * `mvc rm` and `mvc gc` through the real CLI on real LevelDB and pack files: deleting versions (log
 * marks them, undo, tags and aliases refused without --force, the keep-last policy), gc's grace periods
 * and dry run, the bytes freed measured on disk, byte-for-byte checkouts and a clean fsck after gc, the
 * documented error for a version whose content gc removed, version numbers never reused. Repacking,
 * readers and kill -9 are in gc-repack.test.ts, remotes in gc-remote.test.ts.
 *
 * Models are TF.js weights manifests with random tensors (mvc stores each tensor as its own chunks), so
 * what each version alone uses is known in advance: its unique tensor's bytes.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { MiB, jsonError, mvcJson, mvcOk, newRepo, removeDir, runMvc } from './helpers.js'
import { NOW, cachesNameStoredObjects, storeFormat, checksOut, commitVersions, fails, fsckOk, packBytes, writeModel } from './gc-lib.js'

const TIMEOUT = { timeout: 90_000 }
const cleanup: string[] = []
after(async () => { for (const d of cleanup) await removeDir(d) })

describe('mvc rm and mvc gc', () => {
  test('rm v2 → log marks it; gc --dry-run removes nothing; gc --prune=now frees exactly what only v2 used; v1, v3, v4 intact; v2 says it was deleted; v5 is next', TIMEOUT, async () => {
    const { root } = await newRepo(cleanup)
    const sums = await commitVersions(root, 4)
    const before = await packBytes(root)

    const rmOut = await mvcJson(['rm', 'v2'], { cwd: root, env: NOW() })
    assert.deepEqual(rmOut.removed.map((v: { version: number }) => v.version), [2])
    const log = (await mvcOk(['log'], { cwd: root })).stdout
    assert.match(log.split('\n').find(l => l.startsWith('v2 '))!, /\(deleted \d{4}-\d{2}-\d{2}\)/)
    assert.doesNotMatch(log.split('\n').find(l => l.startsWith('v3 '))!, /deleted/)

    // Default grace (2 weeks): v2 is restorable, nothing is removed.
    const kept = await mvcJson(['gc'], { cwd: root })
    assert.deepEqual(kept.versions, { purged: [], restorable: [2] })
    assert.equal(kept.removed.objects, 0)
    assert.deepEqual(await packBytes(root), before)

    // Dry run with --prune=now: reports v2's content, changes nothing.
    const dry = await mvcJson(['gc', '--dry-run', '--prune=now'], { cwd: root })
    assert.equal(dry.dryRun, true)
    assert.deepEqual(dry.versions.purged, [2])
    assert.ok(dry.removed.chunks >= 1 && dry.removed.bytes >= 2 * MiB, JSON.stringify(dry.removed))
    assert.deepEqual(await packBytes(root), before, 'a dry run changes no pack')
    assert.match((await mvcOk(['rm', '--list'], { cwd: root })).stdout, /v2 .*restorable/)

    // The real thing: v2's own tensor (2 MiB) and the objects only it had go; nothing else.
    const r = await mvcJson(['gc', '--prune=now'], { cwd: root })
    assert.deepEqual(r.versions.purged, [2])
    const afterGc = await packBytes(root)
    const freed = before.total - afterGc.total
    assert.ok(freed >= 2 * MiB && freed < 2 * MiB + 64 * 1024, `packs shrank by ${freed} bytes; v2's own tensor is ${2 * MiB}`)
    assert.equal(r.disk.packsBefore - r.disk.packsAfter, freed, 'the report gives the bytes measured on disk')
    assert.ok(r.removed.bytes >= 2 * MiB && r.removed.bytes < 2 * MiB + 64 * 1024)

    for (const v of [1, 3, 4]) await checksOut(root, `v${v}`, sums.get(v)!)
    const f = await fsckOk(root)
    assert.equal(f.purgedVersions, 1)
    assert.ok(r.cacheEntries >= 1, 'the model and pieces caches of v2 named removed objects')
    await cachesNameStoredObjects(root)
    // A store with a version whose content is gone is format 3: an mvc that reads only 1 and 2 refuses it.
    assert.equal(await storeFormat(root), '3')
    const co = await runMvc(['checkout', 'v2', '--to', join(root, '..', 'v2'), '--json'], { cwd: root })
    fails(co, 4, 'VERSION_DELETED')
    assert.match(jsonError(co).message, /v2 was deleted on .*its content was removed by gc/)
    fails(await runMvc(['diff', 'v1', 'v2', '--json'], { cwd: root }), 4, 'VERSION_DELETED')
    fails(await runMvc(['verify', 'v2', '--json'], { cwd: root }), 4, 'VERSION_DELETED')
    fails(await runMvc(['rm', '--undo', 'v2', '--json'], { cwd: root }), 4, 'VERSION_DELETED')
    assert.match((await mvcOk(['log'], { cwd: root })).stdout, /^v2 .*\(deleted \d{4}-\d{2}-\d{2}, content removed\)$/m)

    // Version numbers are never reused; history stays connected through v2.
    await writeModel(join(root, 'model'), 'v5')
    assert.equal((await mvcJson(['commit', 'model', '-m', 'five', '--no-verify'], { cwd: root })).version, 5)
    const versions = (await mvcJson(['log'], { cwd: root })).map((e: { version: number }) => e.version)
    assert.deepEqual(versions, [5, 4, 3, 2, 1])
    // A second gc has nothing left to do.
    const again = await mvcJson(['gc', '--prune=now'], { cwd: root })
    assert.equal(again.removed.objects, 0)
    assert.deepEqual(again.versions.purged, [])
    // repair keeps the history through a version whose content gc removed (its commit needs only its parents).
    const rep = await mvcJson(['repair'], { cwd: root })
    assert.equal(rep.ok, true)
    assert.deepEqual(rep.lost.versions, [])
    assert.equal(await storeFormat(root), '3', 'repair keeps format 3')
  })

  test('rm --undo before gc restores the version; tagged, aliased and branch-tip versions are refused without --force', TIMEOUT, async () => {
    const { root } = await newRepo(cleanup)
    const sums = await commitVersions(root, 4, 512 * 1024)
    await mvcOk(['rm', 'v3'], { cwd: root, env: NOW() })
    const undo = await mvcJson(['rm', '--undo', 'v3'], { cwd: root })
    assert.deepEqual(undo.restored.map((v: { version: number, wasDeleted: boolean }) => [v.version, v.wasDeleted]), [[3, true]])
    const r = await mvcJson(['gc', '--prune=now'], { cwd: root })
    assert.equal(r.removed.objects, 0)
    await checksOut(root, 'v3', sums.get(3)!)

    await mvcOk(['tag', 'release', 'v1'], { cwd: root })
    await mvcOk(['alias', 'production', 'v2'], { cwd: root })
    for (const [rev, name] of [['v1', /tag release/], ['v2', /alias production/], ['v4', /current branch main/]] as const) {
      const refused = await runMvc(['rm', rev, '--json'], { cwd: root })
      fails(refused, 7, 'VERSION_IN_USE')
      assert.match(jsonError(refused).message, name)
    }
    assert.equal((await mvcJson(['rm', '--list'], { cwd: root })).length, 0, 'a refused rm writes nothing')
    const forced = await mvcJson(['rm', 'v1', '--force'], { cwd: root, env: NOW() })
    assert.deepEqual(forced.removed[0].namedBy, ['tag release'])
    assert.match((await mvcOk(['rm', 'v2', '--force'], { cwd: root, env: NOW() })).stdout, /deleted v2 .*still named by alias production/)
    await mvcOk(['gc', '--prune=now'], { cwd: root })
    fails(await runMvc(['checkout', 'release', '--to', join(root, '..', 'rel'), '--json'], { cwd: root }), 4, 'VERSION_DELETED')
    await checksOut(root, 'v3', sums.get(3)!)
    await fsckOk(root)
    await cachesNameStoredObjects(root)
    // The grace period from `mvc config gc.prune` (a bad value is refused when set).
    fails(await runMvc(['config', 'gc.prune', 'fortnight', '--json'], { cwd: root }), 8, 'INVALID_ARGUMENT')
    await mvcOk(['config', 'gc.prune', 'now'], { cwd: root })
    await mvcOk(['rm', 'v3'], { cwd: root, env: NOW() })
    assert.deepEqual((await mvcJson(['gc'], { cwd: root })).versions.purged, [3])
  })

  test('rm --keep-last N keeps the last N, branch tips, tagged and aliased versions; --dry-run writes nothing', TIMEOUT, async () => {
    const { root } = await newRepo(cleanup)
    const sums = await commitVersions(root, 6, 256 * 1024)
    await mvcOk(['tag', 'good', 'v2'], { cwd: root })
    await mvcOk(['branch', 'experiment', 'v3'], { cwd: root })
    const dry = await mvcJson(['rm', '--keep-last', '2', '--dry-run'], { cwd: root })
    assert.deepEqual(dry.removed.map((v: { version: number }) => v.version), [1, 4])
    assert.deepEqual(dry.kept.map((k: { version: number }) => k.version), [2, 3, 5, 6])
    assert.equal((await mvcJson(['rm', '--list'], { cwd: root })).length, 0)
    await mvcOk(['rm', '--keep-last', '2'], { cwd: root, env: NOW() })
    assert.deepEqual((await mvcJson(['rm', '--list'], { cwd: root })).map((t: { version: number, reason: string }) => [t.version, t.reason]), [[1, 'keep-last'], [4, 'keep-last']])
    // The policy again deletes nothing more (deleted versions don't count among the last N).
    assert.deepEqual((await mvcJson(['rm', '--keep-last', '2'], { cwd: root })).removed, [])
    await mvcOk(['gc', '--prune=now'], { cwd: root })
    // A tagged one and a branch tip kept by the policy are whole; a deleted one says so.
    for (const v of [2, 3]) await checksOut(root, `v${v}`, sums.get(v)!)
    fails(await runMvc(['checkout', 'v4', '--to', join(root, '..', 'x4'), '--json'], { cwd: root }), 4, 'VERSION_DELETED')
    await fsckOk(root)
  })
})
