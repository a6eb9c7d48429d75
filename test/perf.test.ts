/**
 * The behaviour behind issue 11's speed-ups (never their timing): a fine-tune reads only what changed
 * and stores exactly what a full read stores; status and commit right after an in-place checkout read
 * nothing, yet see a later edit; `log` from its index says what the commits say, also in a clone that
 * has no index yet; hashing on worker threads gives node:crypto's digests; the ordered pipeline keeps
 * order and stops cleanly on an error; the quick command-line parser hands what it does not model to
 * yargs.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, open, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MiB, keystream, mvcJson, mvcOk, newRepo, removeDir, runMvc, writeRandomFile } from './helpers.js'
import { BufferPool, Hasher } from '../src/core/hashing.js'
import { ordered } from '../src/core/pipeline.js'

const cleanup: string[] = []
after(async () => { for (const d of cleanup) await removeDir(d) })

const SHARD = MiB
const SHARDS = 6

/**
 * A TF.js weights layout over six 1 MiB shards: a 64 KiB bias first, then five [256, 1024] float32
 * tensors, so every 1 MiB tensor straddles two shards (as the TF.js converter lays them out).
 */
async function writeModel (dir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  const weights = [{ name: 'bias', shape: [16384], dtype: 'float32' }]
  for (let i = 0; i < 5; i++) weights.push({ name: `dense_${i}/kernel`, shape: [256, 1024], dtype: 'float32' })
  // 64 KiB + 5 MiB = the shards minus 960 KiB: the last shard is short.
  const total = 65536 + 5 * MiB
  const paths: string[] = []
  for (let i = 0; i < SHARDS; i++) {
    const rel = `group1-shard${i + 1}of${SHARDS}.bin`
    paths.push(rel)
    await writeRandomFile(join(dir, rel), Math.min(SHARD, total - i * SHARD), `shard-${i}`)
  }
  await writeFile(join(dir, 'model.json'), JSON.stringify({
    format: 'layers-model',
    generatedBy: 'mvc-test',
    convertedBy: null,
    modelTopology: { class_name: 'Sequential', config: { name: 'perf', layers: [] } },
    weightsManifest: [{ paths, weights }]
  }))
}

/** Gives every file of a folder a modification time an hour ago (past the stat cache's racy window). */
async function age (dir: string, files: readonly string[], secondsAgo = 3600): Promise<void> {
  const t = Date.now() / 1000 - secondsAgo
  for (const f of files) await utimes(join(dir, f), t, t)
}

async function overwrite (path: string, offset: number, length: number, seed: string): Promise<void> {
  const fh = await open(path, 'r+')
  try { await fh.write(keystream(seed, length), 0, length, offset) } finally { await fh.close() }
}

const FILES = [...Array.from({ length: SHARDS }, (_, i) => `group1-shard${i + 1}of${SHARDS}.bin`), 'model.json']

test('a fine-tune reads only the chunks that touch changed files, and stores what a full read of the folder stores', async () => {
  const { root } = await newRepo(cleanup)
  const model = join(root, 'model')
  await writeModel(model)
  await age(model, FILES)
  const v1 = await mvcJson(['commit', 'model', '-m', 'v1', '--no-verify', '--no-code', '--json'], { cwd: root })
  assert.equal(v1.stats.hashedBytes, v1.stats.bytes, 'the first commit reads everything')
  // Fine-tune: dense_2/kernel lies in shards 3 and 4; rewrite 64 KiB inside shard 3 only.
  await overwrite(join(model, 'group1-shard3of6.bin'), 100_000, 65536, 'tuned')
  await age(model, ['group1-shard3of6.bin'], 1800)
  const v2 = await mvcJson(['commit', '-m', 'v2', '--no-verify', '--no-code', '--json'], { cwd: root })
  assert.equal(v2.committed, true)
  // The chunks touching shard 3 (two tensor chunks of 1 MiB) are read; the other four are not.
  assert.ok(v2.stats.hashedBytes <= 2 * MiB + 65536, `read ${v2.stats.hashedBytes} bytes`)
  assert.ok(v2.stats.hashedBytes > 0)
  // A fresh repository reading the whole folder agrees on every object (the manifest CID covers them).
  const other = await newRepo(cleanup)
  await writeModel(join(other.root, 'model'))
  await overwrite(join(other.root, 'model', 'group1-shard3of6.bin'), 100_000, 65536, 'tuned')
  const full = await mvcJson(['commit', 'model', '-m', 'full', '--no-verify', '--no-code', '--json'], { cwd: other.root })
  assert.equal(full.stats.hashedBytes, full.stats.bytes)
  assert.equal(v2.manifest, full.manifest)
  // And a second fine-tune of the same shard, after the first, reads as little again.
  await overwrite(join(model, 'group1-shard3of6.bin'), 200_000, 4096, 'tuned-again')
  await age(model, ['group1-shard3of6.bin'], 1700)
  const v3 = await mvcJson(['commit', '-m', 'v3', '--no-verify', '--no-code', '--json'], { cwd: root })
  assert.ok(v3.stats.hashedBytes <= 2 * MiB + 65536, `read ${v3.stats.hashedBytes} bytes`)
})

test('status and commit right after an in-place checkout read nothing, and a later edit is still seen', async () => {
  const { root } = await newRepo(cleanup)
  const model = join(root, 'model')
  await writeModel(model)
  await age(model, FILES)
  const v1 = await mvcJson(['commit', 'model', '-m', 'v1', '--no-verify', '--no-code', '--json'], { cwd: root })
  await overwrite(join(model, 'group1-shard5of6.bin'), 0, 4096, 'v2')
  await age(model, ['group1-shard5of6.bin'], 1800)
  await mvcOk(['commit', '-m', 'v2', '--no-verify', '--no-code'], { cwd: root })
  const started = Date.now()
  await mvcOk(['checkout', 'v1', '--force', '--no-verify'], { cwd: root })
  // The files carry a modification time before the checkout, past the racy window.
  for (const f of FILES) assert.ok((await stat(join(model, f))).mtimeMs < started - 2000, `${f} mtime`)
  const st = await mvcJson(['status', '--json'], { cwd: root })
  assert.equal(st.clean, true)
  assert.equal(st.base.version, 1)
  const again = await mvcJson(['commit', '-m', 'back to v1', '--no-verify', '--no-code', '--json'], { cwd: root })
  assert.equal(again.stats.hashedBytes, 0, 'nothing was read')
  assert.equal(again.manifest, v1.manifest)
  // An edit right after (same size) is seen: the modification time is now, not the one checkout set.
  await overwrite(join(model, 'group1-shard2of6.bin'), 10, 10, 'edit')
  // (shard 1 may be listed too: the edited tensor chunk straddles shards 1 and 2, and file objects name chunks.)
  const edited = await mvcJson(['status', '--json'], { cwd: root })
  assert.equal(edited.clean, false)
  assert.ok(edited.modified.includes('group1-shard2of6.bin'), JSON.stringify(edited.modified))
})

test('log from its index says what the commits say, in the repository and in a clone without an index', async () => {
  const { base, root } = await newRepo(cleanup)
  await mkdir(join(root, 'm'))
  for (let i = 1; i <= 4; i++) {
    await writeFile(join(root, 'm', 'f.txt'), `version ${i}\n`)
    await mvcOk(['commit', 'm', '-m', `message ${i}`, '--no-verify', '--no-code', '--metric', `acc=0.${i}`], { cwd: root })
  }
  const expected = (await mvcJson(['log', '--json'], { cwd: root })).map((e: { version: number, message: string, metrics: { acc: number } }) => `v${e.version} ${e.message} acc=${e.metrics.acc}`)
  const lines = async (cwd: string, args: string[] = []): Promise<string[]> => (await mvcOk(['log', ...args], { cwd })).stdout.trim().split('\n')
    .map(l => { const p = l.split('  '); return `${p[0]!} ${p[5]!} ${p[6]!.replace(/^\[|\]$/g, '')}` })
  assert.deepEqual(await lines(root), expected) // fills the index
  assert.deepEqual(await lines(root), expected) // reads it
  assert.deepEqual(await lines(root, ['--where', 'acc>0.25']), expected.slice(0, 2))
  assert.deepEqual(await lines(root, ['-n', '1']), expected.slice(0, 1))
  const clone = join(base, 'clone')
  await mvcOk(['remote', 'add', 'bak', join(base, 'remote')], { cwd: root })
  await mvcOk(['push', 'bak'], { cwd: root })
  await mvcOk(['clone', join(base, 'remote'), clone, '--no-verify'], { cwd: base })
  assert.deepEqual(await lines(clone), expected)
  assert.deepEqual(await lines(clone), expected)
})

test('hashing on worker threads gives node:crypto\'s digests of the same bytes, handed back intact', async () => {
  const hasher = new Hasher({ threads: 2, inlineBytes: 0 })
  const pool = new BufferPool()
  try {
    const inputs = Array.from({ length: 12 }, (_, i) => randomBytes(4096 + i * 77_777))
    const results = await Promise.all(inputs.map(async input => {
      const buf = pool.take(input.length)
      buf.set(input)
      return await hasher.hash(buf, true)
    }))
    results.forEach((r, i) => {
      assert.equal(Buffer.from(r.digest).toString('hex'), createHash('sha256').update(inputs[i]!).digest('hex'))
      assert.ok(Buffer.from(r.bytes).equals(inputs[i]!), 'the bytes come back unchanged')
      pool.give(r.bytes)
    })
    // Not lent: hashed where it is, the caller's buffer untouched.
    const plain = randomBytes(100_000)
    const r = await hasher.hash(plain)
    assert.equal(r.bytes, plain)
    assert.equal(Buffer.from(r.digest).toString('hex'), createHash('sha256').update(plain).digest('hex'))
  } finally {
    await hasher.close()
  }
  await assert.rejects(hasher.hash(new Uint8Array(10)), TypeError)
})

test('the ordered pipeline consumes in order, in batches, with a bounded window, and settles everything before rethrowing', async () => {
  const seen: number[] = []
  let running = 0
  let most = 0
  await ordered<number>({
    count: 50,
    window: 5,
    batch: 3,
    produce: async i => {
      running++
      most = Math.max(most, running)
      await new Promise(resolve => setTimeout(resolve, (i * 7) % 5))
      running--
      return i
    },
    consume: async (items, first) => {
      assert.ok(items.length <= 3)
      assert.equal(items[0], first)
      seen.push(...items)
    }
  })
  assert.deepEqual(seen, Array.from({ length: 50 }, (_, i) => i))
  assert.ok(most <= 5, `at most the window runs at once (${most})`)
  let settled = 0
  await assert.rejects(ordered<number>({
    count: 20,
    window: 4,
    batch: 2,
    produce: async i => {
      await new Promise(resolve => setTimeout(resolve, 5))
      settled++
      if (i === 6) throw new Error('boom')
      return i
    },
    consume: async () => {}
  }), /boom/)
  const at = settled
  await new Promise(resolve => setTimeout(resolve, 30))
  assert.equal(settled, at, 'nothing still runs after the error')
})

test('the quick parser hands what it does not model to yargs: help, unknown options, missing values, conflicts', async () => {
  const { base, root } = await newRepo(cleanup)
  await mkdir(join(root, 'm'))
  await writeFile(join(root, 'm', 'a.txt'), 'a\n')
  await mvcOk(['commit', 'm', '-m', 'one', '--no-verify', '--no-code'], { cwd: root })
  // -C from elsewhere; a positional default (show's rev is HEAD).
  assert.equal((await mvcJson(['-C', root, 'show', '--json'], { cwd: base })).commit.version, 1)
  assert.match((await mvcOk(['status', '--help'], { cwd: root })).stdout, /Show files added, modified or removed/)
  for (const [args, pattern] of [
    [['log', '--bogus'], /Unknown argument: bogus/],
    [['commit', 'm'], /Missing required argument: message/],
    [['log', 'v1', '--all'], /mutually exclusive/],
    [['checkout'], /Not enough non-option arguments/]
  ] as const) {
    const r = await runMvc([...args], { cwd: root })
    assert.equal(r.code, 2, args.join(' '))
    assert.match(r.stderr, pattern)
  }
})
