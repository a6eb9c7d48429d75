/**
 * Round trips through the real CLI: what is committed comes back byte for byte, with the same
 * permission bits and the same empty folders, for random trees (seeded, so failures reproduce), for a
 * 200 MiB folder, and content-defined chunking keeps the cost of a small edit to a big file small.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdir, open, realpath, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { DEFAULT_CHUNKING } from '../src/content/chunker.js'
import {
  keystream, ls, MiB, MODES, mulberry32, mvcJson, mvcOk, pick, randInt, randomTree, removeDir, tmpdir, treeSnapshot,
  writeRandomFile, type RandomTree, type Rng,
  newRepo as newRepoIn
} from './helpers.js'

const cleanup: string[] = []
after(async () => { await Promise.all(cleanup.map(removeDir)) })

const newRepo = async (): Promise<{ base: string, root: string }> => await newRepoIn(cleanup)

/** Overwrites `length` bytes at `offset` with pseudo-random bytes, keeping the file's mode. */
async function overwrite (path: string, offset: number, length: number, seed: string): Promise<void> {
  const mode = (await stat(path)).mode & 0o777
  await chmod(path, 0o644)
  const fh = await open(path, 'r+')
  try {
    const bytes = keystream(seed, length)
    let done = 0
    while (done < length) done += (await fh.write(bytes, done, length - done, offset + done)).bytesWritten
  } finally { await fh.close() }
  await chmod(path, mode)
}

/**
 * A random edit of a tree made by randomTree: bytes changed in the middle of a big file, one other
 * file deleted, one file added, one file's mode changed. Returns what was done, for messages.
 */
async function modifyTree (rng: Rng, root: string, tree: RandomTree): Promise<string> {
  const big = pick(rng, tree.big)
  const size = (await stat(join(root, big))).size
  const len = randInt(rng, 16, 64 * 1024)
  const at = Math.floor(size / 2) - randInt(rng, 0, len)
  await overwrite(join(root, big), at, len, `edit:${big}:${rng()}`)

  const others = tree.files.filter(f => f !== big)
  const deleted = pick(rng, others)
  await rm(join(root, deleted))

  const dir = pick(rng, ['', ...tree.dirs])
  const name = `added-${randInt(rng, 0, 9999)}.bin`
  const added = dir === '' ? name : `${dir}/${name}`
  await writeRandomFile(join(root, added), randInt(rng, 0, 2 * MiB), `added:${rng()}`, pick(rng, MODES))

  const rest = others.filter(f => f !== deleted)
  const chmodded = pick(rng, rest)
  const old = (await stat(join(root, chmodded))).mode & 0o777
  await chmod(join(root, chmodded), pick(rng, MODES.filter(m => m !== old)))
  return `changed ${len} bytes of ${big} at ${at}, deleted ${deleted}, added ${added}, chmod ${chmodded}`
}

describe('round trip of random trees', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    test(`seed ${seed}: commit, modify, commit; both versions check out exactly (bytes, modes, empty folders)`, { timeout: 120_000 }, async () => {
      const { base, root } = await newRepo()
      const rng = mulberry32(seed)
      const model = join(root, 'model')
      const tree = await randomTree(rng, model)
      const snap1 = await treeSnapshot(model)
      for (const d of tree.emptyDirs) assert.ok(snap1.some(e => e[0] === `${d}/`), `the tree has the empty folder ${d}`)
      assert.ok(snap1.some(e => e[2] === 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'), 'the tree has an empty file')

      const c1 = await mvcJson(['commit', 'model', '-m', `seed ${seed} v1`], { cwd: root })
      assert.equal(c1.version, 1)
      const what = await modifyTree(rng, model, tree)
      const snap2 = await treeSnapshot(model)
      assert.notDeepEqual(snap2, snap1)
      const c2 = await mvcJson(['commit', '-m', `seed ${seed} v2`], { cwd: root })
      assert.equal(c2.version, 2, what)

      const out1 = join(base, 'out-v1')
      const out2 = join(base, 'out-v2')
      await mvcOk(['checkout', 'v1', '--to', out1], { cwd: root })
      await mvcOk(['checkout', 'v2', '--to', out2], { cwd: root })
      assert.deepEqual(await treeSnapshot(out1), snap1, `v1 of seed ${seed}`)
      assert.deepEqual(await treeSnapshot(out2), snap2, `v2 of seed ${seed} (${what})`)

      // In place, through the swap of the committed folder.
      await mvcOk(['checkout', 'v1'], { cwd: root })
      assert.deepEqual(await treeSnapshot(model), snap1, `v1 in place, seed ${seed}`)
      assert.equal((await mvcJson(['status'], { cwd: root })).clean, true)
      await mvcOk(['checkout', 'v2'], { cwd: root })
      assert.deepEqual(await treeSnapshot(model), snap2, `v2 in place, seed ${seed}`)
      assert.equal((await mvcJson(['status'], { cwd: root })).clean, true)

      assert.deepEqual(await ls(root), ['.mvc', 'model'], 'no staging or old folders left behind')
      assert.deepEqual(await ls(base), ['out-v1', 'out-v2', 'repo'])
    })
  }
})

describe('big files', () => {
  test('a 200 MiB folder round-trips byte for byte', { timeout: 300_000 }, async () => {
    const { base, root } = await newRepo()
    const model = join(root, 'big')
    await mkdir(join(model, 'nested'), { recursive: true })
    const files: Array<[string, number, number]> = [
      ['weights-a.bin', 96 * MiB + 1, 0o644],
      ['weights-b.bin', 64 * MiB - 7, 0o600],
      ['nested/weights-c.bin', 40 * MiB + 6, 0o755]
    ]
    for (const [rel, size, mode] of files) await writeRandomFile(join(model, rel), size, `200MiB:${rel}`, mode)
    const total = files.reduce((a, [, s]) => a + s, 0)
    assert.equal(total, 200 * MiB)
    const snap = await treeSnapshot(model)

    const c = await mvcJson(['commit', 'big', '-m', '200 MiB'], { cwd: root })
    assert.equal(c.version, 1)
    assert.equal(c.stats.bytes, total)
    assert.ok(c.newBytes >= total, `all ${total} bytes are new (${String(c.newBytes)})`)

    const out = join(base, 'out')
    const r = await mvcJson(['checkout', 'v1', '--to', out], { cwd: root })
    assert.equal(r.bytes, total)
    assert.deepEqual(await treeSnapshot(out), snap)
  })

  test('changing 1 MiB in the middle of a 20 MiB file adds only a few chunks', { timeout: 120_000 }, async () => {
    const { base, root } = await newRepo()
    const model = join(root, 'model')
    await mkdir(model)
    const big = join(model, 'weights.bin')
    await writeRandomFile(big, 20 * MiB, 'twenty')
    await writeRandomFile(join(model, 'small.bin'), 1000, 'small')
    const c1 = await mvcJson(['commit', 'model', '-m', 'v1'], { cwd: root })
    assert.ok(c1.newBytes >= 20 * MiB, `first commit stores everything (${String(c1.newBytes)})`)
    const snap1 = await treeSnapshot(model)

    await overwrite(big, 10 * MiB - 300_000, MiB, 'edit')
    const snap2 = await treeSnapshot(model)
    const c2 = await mvcJson(['commit', '-m', 'v2'], { cwd: root })
    assert.equal(c2.version, 2)
    const bound = 3 * DEFAULT_CHUNKING.max
    assert.ok(c2.newBytes >= MiB, `the changed MiB is stored (${String(c2.newBytes)} new bytes)`)
    assert.ok(c2.newBytes <= bound, `a 1 MiB edit adds at most 3 max-size chunks: ${String(c2.newBytes)} > ${bound}`)

    await mvcOk(['checkout', 'v1', '--to', join(base, 'v1')], { cwd: root })
    await mvcOk(['checkout', 'v2', '--to', join(base, 'v2')], { cwd: root })
    assert.deepEqual(await treeSnapshot(join(base, 'v1')), snap1)
    assert.deepEqual(await treeSnapshot(join(base, 'v2')), snap2)
  })
})
