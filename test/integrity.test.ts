/**
 * Integrity through the real CLI: corrupt and missing packs, crafted manifests that try to escape the
 * target folder, two processes on one repository, and golden CIDs computed from first principles.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, open, readFile, realpath, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as dagCbor from '@ipld/dag-cbor'
import { openDiskStore } from '../src/store/open.js'
import { encodeObject, rawCid } from '../src/content/block.js'
import {
  exists, jsonError, keystream, ls, MiB, mvcJson, mvcOk, put, REPO_ROOT, removeDir, runMvc, spawnMvc, stackLines,
  tmpdir, treeSnapshot, writeRandomFile, TEST_ENV, type RunResult,
  newRepo as newRepoIn
} from './helpers.js'

const cleanup: string[] = []
after(async () => { await Promise.all(cleanup.map(removeDir)) })

const RAW_CODEC = 0x55
const DAG_CBOR_CODEC = 0x71

const newRepo = async (): Promise<{ base: string, root: string }> => await newRepoIn(cleanup)

function assertFails (r: RunResult, exit: number, codes: string | readonly string[]): ReturnType<typeof jsonError> {
  assert.equal(r.code, exit, `expected exit ${exit}, got ${String(r.code)}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  const e = jsonError(r)
  const allowed = typeof codes === 'string' ? [codes] : codes
  assert.ok(allowed.includes(e.code), `error code ${e.code}, expected ${allowed.join(' or ')}: ${r.stderr}`)
  assert.deepEqual(stackLines(r.stderr), [], 'no stack trace for an expected error')
  return e
}

/** Staging or old folders that checkout leaves next to a target when it does not clean up. */
function leftovers (names: string[]): string[] {
  return names.filter(n => /\.mvc-(new|old)-/.test(n))
}

/** A model folder with a small file, a 3 MiB file, a nested file and an empty folder, committed as v1. */
async function committedModel (): Promise<{ base: string, root: string, model: string, small: Uint8Array }> {
  const { base, root } = await newRepo()
  const model = join(root, 'model')
  const small = new TextEncoder().encode('a small file, stored as a single raw chunk\n'.repeat(50))
  await put(join(model, 'small.txt'), small, 0o640)
  await writeRandomFile(join(model, 'big.bin'), 3 * MiB, 'integrity-big', 0o644)
  await put(join(model, 'sub', 'x.bin'), keystream('x', 1000), 0o755)
  await mkdir(join(model, 'assets'))
  await mvcOk(['commit', 'model', '-m', 'v1'], { cwd: root })
  return { base, root, model, small }
}

describe('corrupt and missing objects', () => {
  test('a flipped byte in a pack: checkout exits 5 (CORRUPT_OBJECT) naming the CID and writes nothing', { timeout: 120_000 }, async () => {
    const { base, root, model, small } = await committedModel()
    // The CID of the small file's only chunk, computed here without src/: CIDv1 raw sha2-256.
    const chunk = CID.create(1, RAW_CODEC, await sha256.digest(small))
    const store = await openDiskStore(join(root, '.mvc'))
    let packFile: string
    let at: number
    try {
      const loc = await store.locate(chunk)
      assert.ok(loc !== undefined && loc !== 'inline', `the chunk ${chunk.toString()} is in a pack`)
      packFile = store.packs.describe(loc.pack)
      at = loc.offset + Math.floor(loc.length / 2)
    } finally { await store.close() }
    const fh = await open(packFile, 'r+')
    try {
      const b = Buffer.alloc(1)
      await fh.read(b, 0, 1, at)
      b[0] = b[0]! ^ 0x20
      await fh.write(b, 0, 1, at)
    } finally { await fh.close() }

    const x = join(base, 'x')
    const r = await runMvc(['checkout', 'v1', '--to', x, '--json'], { cwd: root })
    const e = assertFails(r, 5, 'CORRUPT_OBJECT')
    assert.ok(e.message.includes(chunk.toString()), `the error names the CID ${chunk.toString()}: ${e.message}`)
    assert.equal(e.data.cid, chunk.toString())
    assert.equal(await exists(x), false, 'the target was not created')
    assert.deepEqual(await ls(base), ['repo'], 'no staging folder left next to the target')

    const before = await treeSnapshot(model)
    for (const args of [['checkout', 'v1', '--force', '--json'], ['checkout', 'v1', '--json']]) {
      assertFails(await runMvc(args, { cwd: root }), 5, 'CORRUPT_OBJECT')
      assert.deepEqual(await treeSnapshot(model), before, `${args.join(' ')} leaves the folder exactly as it was`)
      assert.deepEqual(leftovers(await ls(root)), [], 'no staging folders left behind')
      assert.deepEqual(await ls(root), ['.mvc', 'model'])
    }
    // Non-JSON output exits the same way.
    assert.equal((await runMvc(['checkout', 'v1', '--to', x], { cwd: root })).code, 5)
    assert.equal(await exists(x), false)
  })

  test('a deleted pack: checkout exits 5 and leaves the target untouched', { timeout: 120_000 }, async () => {
    const { base, root, model } = await committedModel()
    const packsDir = join(root, '.mvc', 'packs')
    const packs = (await ls(packsDir)).filter(n => /^[0-9a-f]{64}\.pack$/.test(n))
    assert.ok(packs.length > 0, 'the commit wrote a pack')
    for (const p of packs) await rm(join(packsDir, p))

    const x = join(base, 'x')
    assertFails(await runMvc(['checkout', 'v1', '--to', x, '--json'], { cwd: root }), 5, ['OBJECT_NOT_FOUND', 'CORRUPT_OBJECT'])
    assert.equal(await exists(x), false)
    assert.deepEqual(await ls(base), ['repo'])

    const before = await treeSnapshot(model)
    assertFails(await runMvc(['checkout', 'v1', '--force', '--json'], { cwd: root }), 5, ['OBJECT_NOT_FOUND', 'CORRUPT_OBJECT'])
    assert.deepEqual(await treeSnapshot(model), before)
    assert.deepEqual(await ls(root), ['.mvc', 'model'])
  })
})

describe('crafted manifests cannot write outside the target', () => {
  const BAD_ENTRY_PATHS = ['../escape.txt', '/abs.txt', 'a/../../b', '.mvc/evil', 'a\u0000b', 'a\\..\\..\\c', '.MVC/evil', 'a//b', './c']

  /**
   * Appends commits to the repository through the library: one per manifest, each `refs/versions/<n>`
   * and `refs/heads/main`, and `m/next-version`. Returns the version numbers.
   */
  async function craft (root: string, commits: Array<{ entries?: string[], dirs?: string[], path?: string }>): Promise<number[]> {
    const store = await openDiskStore(join(root, '.mvc'))
    try {
      const head = await store.readRef('refs/heads/main')
      let parent = head === undefined ? undefined : CID.parse(head)
      const next = await store.readMeta('next-version')
      let version = next === undefined ? 1 : Number(new TextDecoder().decode(next))
      const versions: number[] = []
      for (const c of commits) {
        const tx = await store.transaction()
        const bytes = new TextEncoder().encode('crafted content\n')
        const chunk = rawCid(bytes)
        await tx.putRaw(chunk, bytes)
        const file = encodeObject({ type: 'mvc/file', size: bytes.length, extents: [[chunk, bytes.length]] })
        await tx.putObject(file.cid, file.bytes)
        // A harmless entry first, so that writing anything before checking every path would show.
        const entries = ['0-harmless.txt', ...(c.entries ?? [])].map(path => ({ path, mode: 0o644, size: bytes.length, file: file.cid }))
        const manifest = encodeObject({ type: 'mvc/manifest', kind: 'dir', entries, dirs: c.dirs ?? [], models: [] })
        await tx.putObject(manifest.cid, manifest.bytes)
        const commit = encodeObject({
          type: 'mvc/commit', version, parents: parent === undefined ? [] : [parent], model: manifest.cid,
          path: c.path ?? 'model', message: 'crafted', author: { name: 'Mallory', email: 'm@example.com' }, timestamp: 0,
          data: null, code: null, params: {}, metrics: {}, environment: null, verification: null
        })
        await tx.putObject(commit.cid, commit.bytes)
        tx.setRef({ name: `refs/versions/${version}`, value: commit.cid.toString(), expect: null })
        tx.setRef({ name: 'refs/heads/main', value: commit.cid.toString() })
        tx.setMeta('next-version', new TextEncoder().encode(String(version + 1)))
        await tx.commit()
        versions.push(version)
        parent = commit.cid
        version++
      }
      return versions
    } finally { await store.close() }
  }

  test('entry and folder paths that escape are refused (exit 8, UNSAFE_PATH) before anything is written', { timeout: 120_000 }, async () => {
    const { base, root } = await newRepo()
    const targets = join(base, 'targets')
    await mkdir(targets)
    const cases: Array<{ entries?: string[], dirs?: string[], bad: string }> = [
      ...BAD_ENTRY_PATHS.map(p => ({ entries: [p], bad: p })),
      { dirs: ['../evil-dir'], bad: '../evil-dir' },
      { dirs: ['.mvc/hooks'], bad: '.mvc/hooks' }
    ]
    const versions = await craft(root, cases)
    const mvcBefore = await ls(join(root, '.mvc'))
    for (const [i, v] of versions.entries()) {
      const bad = cases[i]!.bad
      const to = join(targets, `t${v}`)
      const r = await runMvc(['checkout', `v${v}`, '--to', to, '--json'], { cwd: root })
      const e = assertFails(r, 8, 'UNSAFE_PATH')
      assert.equal(e.data.path, bad, `the error names the path ${JSON.stringify(bad)}`)
      assert.deepEqual(await ls(targets), [], `v${v} (${JSON.stringify(bad)}): nothing written in the target's parent`)
      // Into the commit's own path (the repository's model folder), too.
      assertFails(await runMvc(['checkout', `v${v}`, '--json'], { cwd: root }), 8, 'UNSAFE_PATH')
      assert.deepEqual(await ls(root), ['.mvc'], `v${v} (${JSON.stringify(bad)}): nothing written in the repository`)
      assert.deepEqual(await ls(base), ['repo', 'targets'], `v${v} (${JSON.stringify(bad)}): nothing written next to the repository`)
    }
    assert.deepEqual(await ls(join(root, '.mvc')), mvcBefore)
    assert.equal(await exists(join(root, '.mvc', 'evil')), false)
    assert.equal(await exists('/abs.txt'), false)
    assert.equal(await exists(join(base, 'b')), false)
    assert.equal(await exists(join(base, 'escape.txt')), false)
    // The repository still works.
    assert.equal((await mvcJson(['log'], { cwd: root })).length, versions.length)
  })

  test('a commit whose path is "../outside" cannot make checkout write outside the repository (exit 8)', { timeout: 120_000 }, async () => {
    const { base, root } = await newRepo()
    const [v] = await craft(root, [{ path: '../outside' }])
    const r = await runMvc(['checkout', `v${v!}`, '--json'], { cwd: root })
    assert.equal(await exists(join(base, 'outside')), false, `checkout of a commit with path "../outside" wrote ${join(base, 'outside')}`)
    assertFails(r, 8, 'UNSAFE_PATH')
    assert.deepEqual(await ls(base), ['repo'])
  })

  test('a commit whose path is ".mvc" cannot make checkout --force replace the repository (exit 8)', { timeout: 120_000 }, async () => {
    const { root } = await newRepo()
    await put(join(root, 'model', 'a.txt'), 'a\n')
    await mvcOk(['commit', 'model', '-m', 'real'], { cwd: root })
    const [v] = await craft(root, [{ path: '.mvc' }])
    const r = await runMvc(['checkout', `v${v!}`, '--force', '--json'], { cwd: root })
    assert.equal(await exists(join(root, '.mvc', '0-harmless.txt')), false, 'checkout replaced .mvc with the crafted manifest')
    assertFails(r, 8, 'UNSAFE_PATH')
    assert.equal((await mvcJson(['log'], { cwd: root })).length, 2, 'the repository is intact')
  })
})

describe('two processes on one repository', () => {
  test('a writer that finds the repository locked waits, then fails with REPOSITORY_LOCKED (exit 6), no stack trace; a reader answers', { timeout: 60_000 }, async () => {
    const { root } = await newRepo()
    await put(join(root, 'model', 'a.txt'), 'a\n')
    const store = await openDiskStore(join(root, '.mvc')) // holds LevelDB's lock, as another mvc would
    let r: RunResult
    let reader: RunResult
    try {
      r = await runMvc(['commit', 'model', '-m', 'm', '--json'], { cwd: root, env: { MVC_LOCK_TIMEOUT_MS: '200' } })
      reader = await runMvc(['log', '--json'], { cwd: root, env: { MVC_LOCK_TIMEOUT_MS: '200' } })
    } finally { await store.close() }
    const e = assertFails(r, 6, 'REPOSITORY_LOCKED')
    assert.match(e.message, /another mvc process/i)
    assert.ok(e.message.includes(join(root, '.mvc')), `the message names the repository: ${e.message}`)
    assert.equal(reader.code, 0, reader.stderr)
    assert.deepEqual(JSON.parse(reader.stdout), [])
    const human = await (async () => {
      const s = await openDiskStore(join(root, '.mvc'))
      try { return await runMvc(['commit', 'model', '-m', 'm'], { cwd: root, env: { MVC_LOCK_TIMEOUT_MS: '200' } }) } finally { await s.close() }
    })()
    assert.equal(human.code, 6)
    assert.deepEqual(stackLines(human.stderr), [])
    // Once released, the same command works, and nothing was half-written before.
    assert.deepEqual(await mvcJson(['log'], { cwd: root }), [])
    await mvcOk(['commit', 'model', '-m', 'm'], { cwd: root })
    assert.equal((await mvcJson(['log'], { cwd: root })).length, 1)
  })

  test('mvc log during a long commit answers at once from a snapshot (readers never wait); the commit is unaffected', { timeout: 180_000 }, async () => {
    const { root } = await newRepo()
    await put(join(root, 'small', 'a.txt'), 'a\n')
    await mvcOk(['commit', 'small', '-m', 'first'], { cwd: root })
    const big = join(root, 'big')
    await mkdir(big)
    for (let i = 0; i < 6; i++) await writeRandomFile(join(big, `part-${i}.bin`), 50 * MiB, `lock-${i}`)
    const packs = join(root, '.mvc', 'packs')

    const commit = spawnMvc(['commit', 'big', '-m', 'big', '--json'], { cwd: root })
    let commitExited = false
    void commit.done.then(() => { commitExited = true })
    // The commit holds the repository once it writes its temporary pack.
    while (!commitExited && !(await ls(packs)).some(n => n.startsWith('tmp-'))) await new Promise(resolve => setTimeout(resolve, 5))
    assert.equal(commitExited, false, 'the commit was still running when its pack appeared')
    // Readers run again and again while it works; a reader that had to wait would exit 6 after 200 ms.
    let overlapped = 0
    while (!commitExited) {
      const log = await runMvc(['log', '--json'], { cwd: root, env: { MVC_LOCK_TIMEOUT_MS: '200' } })
      assert.equal(log.code, 0, log.stderr)
      const versions = (JSON.parse(log.stdout) as Array<{ version: number, message: string }>).map(e => e.version)
      // Either the state before the commit or, if it landed meanwhile, the state after: never anything else.
      assert.ok(JSON.stringify(versions) === '[1]' || JSON.stringify(versions) === '[2,1]', `log saw ${JSON.stringify(versions)}`)
      if (!commitExited) overlapped++
    }
    const c = await commit.done
    assert.equal(c.code, 0, c.stderr)
    assert.ok(overlapped >= 1, 'precondition: mvc log ran (and finished) while the commit held the repository (make the folder bigger if this fails on a fast machine)')
    assert.equal(JSON.parse(c.stdout).version, 2)
    assert.deepEqual((await mvcJson(['log'], { cwd: root })).map((e: { version: number }) => e.version), [2, 1])
    assert.deepEqual((await ls(join(root, '.mvc', 'tmp')).catch(() => [] as string[])).filter(n => n.startsWith('read-')), [], 'readers removed their snapshots')
  })

  test('two concurrent commits both succeed with the default lock timeout; no version is lost', { timeout: 120_000 }, async () => {
    const { root } = await newRepo()
    await put(join(root, 'model', 'a.txt'), 'a\n')
    await mvcOk(['commit', 'model', '-m', 'base'], { cwd: root })
    const a = spawnMvc(['commit', '-m', 'A', '--allow-empty', '--json'], { cwd: root })
    const b = spawnMvc(['commit', '-m', 'B', '--allow-empty', '--json'], { cwd: root })
    const reader = spawnMvc(['log', '--json'], { cwd: root })
    const [ra, rb, rl] = await Promise.all([a.done, b.done, reader.done])
    assert.equal(ra.code, 0, ra.stderr)
    assert.equal(rb.code, 0, rb.stderr)
    assert.equal(rl.code, 0, rl.stderr)
    const va = JSON.parse(ra.stdout).version as number
    const vb = JSON.parse(rb.stdout).version as number
    assert.notEqual(va, vb, 'versions are distinct')
    assert.deepEqual([va, vb].sort(), [2, 3])
    const log = await mvcJson(['log'], { cwd: root })
    assert.deepEqual(log.map((e: { version: number }) => e.version), [3, 2, 1])
    assert.deepEqual(log.map((e: { message: string }) => e.message).slice(0, 2).sort(), ['A', 'B'], 'both commits are in the history')
    assert.deepEqual(log[0].parents, [log[1].cid], 'the later commit builds on the earlier one')
    assert.deepEqual(log[1].parents, [log[2].cid])
  })
})

describe('a crash in the middle of a commit', () => {
  test('kill -9 while packing leaves a valid repository: old versions intact, no partial version, next commit works', { timeout: 180_000 }, async () => {
    const { root } = await newRepo()
    await put(join(root, 'model', 'a.txt'), 'first version')
    await mvcOk(['commit', 'model', '-m', 'one', '--no-verify', '--no-code'], { cwd: root })
    const big = join(root, 'model')
    for (let i = 0; i < 4; i++) await writeRandomFile(join(big, `part-${i}.bin`), 50 * MiB, `crash-${i}`)
    const packs = join(root, '.mvc', 'packs')
    const before = new Set(await ls(packs))
    const { child, done } = spawnMvc(['commit', 'model', '-m', 'two', '--no-verify', '--no-code'], { cwd: root })
    // Kill it once it has started writing a pack (a tmp-*.pack appears), i.e. in the middle of step 1.
    const deadline = Date.now() + 60_000
    let killedMidway = false
    while (Date.now() < deadline) {
      const now = await ls(packs)
      if (now.some(n => n.startsWith('tmp-'))) { child.kill('SIGKILL'); killedMidway = true; break }
      if (child.exitCode !== null) break
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    const r = await done
    assert.equal(killedMidway, true, 'the commit finished before a pack was seen; nothing was tested')
    assert.equal(r.signal, 'SIGKILL')
    // The repository opens, history is what it was, and the leftover is an unreferenced temporary pack.
    const log = await mvcJson<Array<{ version: number, message: string }>>(['log'], { cwd: root })
    assert.deepEqual(log.map(e => [e.version, e.message]), [[1, 'one']])
    const left = (await ls(packs)).filter(n => !before.has(n))
    assert.ok(left.every(n => n.startsWith('tmp-')), `only temporary packs are left: ${left.join(', ')}`)
    // v1 still checks out byte-identical, and the interrupted commit can simply be run again.
    await mvcOk(['checkout', 'v1', '--to', 'v1-copy', '--no-verify'], { cwd: root })
    assert.equal(await readFile(join(root, 'v1-copy', 'a.txt'), 'utf8'), 'first version')
    const again = await mvcJson<{ committed: boolean, version: number }>(['commit', 'model', '-m', 'two', '--no-verify', '--no-code'], { cwd: root })
    assert.equal(again.committed, true)
    assert.equal(again.version, 2, 'the version number was not consumed by the crashed commit')
    await mvcOk(['checkout', 'v2', '--to', 'v2-copy', '--no-verify'], { cwd: root })
    assert.deepEqual(await treeSnapshot(join(root, 'v2-copy')), await treeSnapshot(big))
  })
})

describe('golden CIDs', () => {
  const GOLDEN = join(REPO_ROOT, 'test', 'golden', 'basic.json')
  const te = new TextEncoder()
  /** The fixed tree: path → [bytes, mode]. All files are below the chunker's minimum, so each is one chunk (or none when empty). */
  const FILES: Array<[string, Uint8Array, number]> = [
    ['README.txt', te.encode('mvc golden tree\n'), 0o644],
    ['bin/run.sh', te.encode('#!/bin/sh\necho "hello"\n'), 0o755],
    ['data/empty.bin', new Uint8Array(0), 0o600],
    ['data/one.bin', te.encode('A'), 0o444],
    ['data/ünïcode name.txt', te.encode('unicode\n'), 0o640],
    ['weights/blob.bin', new Uint8Array(100_000).map((_, i) => (i * 7 + (i >> 8)) & 0xff), 0o644]
  ]
  const DIRS = ['assets', 'nested/deeper/empty']

  async function dagCid (value: unknown): Promise<CID> {
    return CID.create(1, DAG_CBOR_CODEC, await sha256.digest(dagCbor.encode(value)))
  }

  test('a fixed tree commits to the CIDs computed from the format spec and recorded in test/golden/basic.json', { timeout: 60_000 }, async () => {
    const { root } = await newRepo()
    const golden = join(root, 'golden')
    for (const [rel, bytes, mode] of FILES) await put(join(golden, rel), bytes, mode)
    for (const d of DIRS) await mkdir(join(golden, d), { recursive: true })
    await mvcOk(['commit', 'golden', '-m', 'golden tree'], { cwd: root })
    const show = await mvcJson(['show', 'v1'], { cwd: root })

    // Expected values from first principles (docs/design.md), independent of src/content/block.ts.
    const chunks: Record<string, string | null> = {}
    const files: Record<string, string> = {}
    const entries = []
    const sorted = [...FILES].sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])))
    for (const [rel, bytes, mode] of sorted) {
      const chunk = bytes.length === 0 ? null : CID.create(1, RAW_CODEC, await sha256.digest(bytes))
      const file = await dagCid({ type: 'mvc/file', size: bytes.length, extents: chunk === null ? [] : [[chunk, bytes.length]] })
      chunks[rel] = chunk?.toString() ?? null
      files[rel] = file.toString()
      entries.push({ path: rel, mode, size: bytes.length, file })
    }
    const manifest = await dagCid({ type: 'mvc/manifest', kind: 'dir', entries, dirs: DIRS, models: [] })
    // The documented commit shape with every optional lineage field unrecorded.
    const bare = {
      type: 'mvc/commit',
      version: 1,
      parents: [],
      model: manifest,
      path: 'golden',
      message: 'golden tree',
      author: { name: TEST_ENV.MVC_AUTHOR_NAME, email: TEST_ENV.MVC_AUTHOR_EMAIL },
      timestamp: Date.parse(TEST_ENV.MVC_DATE!),
      data: null,
      code: null,
      params: {},
      metrics: {},
      environment: null,
      verification: null
    }
    // `environment` (Node version, platform) and `code` (the enclosing git commit) describe the machine
    // that committed, so the commit CID is computed with the values the commit recorded for them; the
    // golden file holds the CID of the bare commit, which depends on the format only.
    const environment = (show.commit.environment ?? null) as null | { node?: unknown, platform?: unknown }
    if (environment !== null) {
      assert.equal(environment.node, process.version, 'environment lineage describes the committing process')
      assert.equal(environment.platform, process.platform)
    }
    const commit = await dagCid({ ...bare, code: show.commit.code ?? null, environment })
    const bareCommit = await dagCid(bare)

    assert.deepEqual(show.manifest.entries.map((e: { path: string }) => e.path), sorted.map(f => f[0]), 'entries sorted by UTF-8 bytes')
    assert.deepEqual(Object.fromEntries(show.manifest.entries.map((e: { path: string, file: string }) => [e.path, e.file])), files, 'file object CIDs')
    assert.deepEqual(show.manifest.dirs, DIRS)
    assert.equal(show.commit.model, manifest.toString(), 'manifest CID')
    assert.equal(show.cid, commit.toString(), 'commit CID')
    const store = await openDiskStore(join(root, '.mvc'))
    try {
      for (const [rel, c] of Object.entries(chunks)) {
        if (c === null) continue
        const loc = await store.locate(CID.parse(c))
        assert.ok(loc !== undefined && loc !== 'inline', `the chunk of ${rel} (${c}) is stored in a pack`)
      }
      assert.equal(await store.locate(commit), 'inline')
      assert.equal(await store.locate(manifest), 'inline')
    } finally { await store.close() }

    // The checked-in file is the authority: this test never writes it (test/golden/README.md). A change
    // of format shows here; the values to paste into a new version's vectors are in the message.
    const actual = { commit: bareCommit.toString(), manifest: show.commit.model as string, files, chunks }
    const recorded = JSON.parse(await readFile(GOLDEN, 'utf8')) as typeof actual
    assert.deepEqual({ commit: recorded.commit, manifest: recorded.manifest, files: recorded.files, chunks: recorded.chunks }, actual,
      `the CIDs differ from test/golden/basic.json: the repository format changed. Now: ${JSON.stringify(actual)}`)
  })
})
