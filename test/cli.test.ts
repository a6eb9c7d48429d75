/**
 * The command line, end to end: real `node bin/mvc.js` child processes on real folders and a real
 * LevelDB. Checks exit codes and stable error codes (`--json` errors on stderr), never message wording,
 * except that a message names the thing it is about (a path, a CID, a version).
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdir, readFile, realpath, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { openDiskStore } from '../src/store/open.js'
import {
  exists, jsonError, ls, mvcJson, mvcOk, put, removeDir, runMvc, stackLines, tmpdir, treeSnapshot, TEST_ENV,
  type RunResult,
  newRepo as newRepoIn
} from './helpers.js'

const CMDS = ['init', 'commit', 'checkout', 'log', 'show', 'status'] as const
const TIMEOUT = { timeout: 120_000 }

const cleanup: string[] = []
after(async () => { await Promise.all(cleanup.map(removeDir)) })

const newRepo = async (): Promise<{ base: string, root: string }> => await newRepoIn(cleanup)

/** A small model folder `<root>/model`. */
async function writeModel (root: string, name = 'model'): Promise<string> {
  const dir = join(root, name)
  await put(join(dir, 'config.txt'), 'format=plain\n')
  await put(join(dir, 'a.txt'), 'one\n')
  await put(join(dir, 'b.txt'), 'bee\n', 0o600)
  await put(join(dir, 'sub', 'weights.bin'), Buffer.alloc(3000, 7), 0o755)
  await mkdir(join(dir, 'assets'))
  return dir
}

/** Asserts an exit code and, for `--json` runs, the error code on stderr. */
function assertFails (r: RunResult, exit: number, code?: string): void {
  assert.equal(r.code, exit, `expected exit ${exit}, got ${String(r.code)}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  if (code !== undefined) assert.equal(jsonError(r).code, code, r.stderr)
  assert.deepEqual(stackLines(r.stderr), [], 'no stack trace for an expected error')
}

const V_CID = /^v(\d+) (b[a-z2-7]{20,})\s*$/

describe('mvc init', () => {
  test('creates .mvc and prints its path; a second init says so, exits 0 and keeps commits and refs', TIMEOUT, async () => {
    const base = await realpath(await tmpdir())
    cleanup.push(base)
    const r = await runMvc(['init'], { cwd: base })
    assert.equal(r.code, 0, r.stderr)
    assert.ok(r.stdout.includes(base), `init names the repository: ${r.stdout}`)
    assert.ok((await stat(join(base, '.mvc', 'db'))).isDirectory())
    assert.ok((await stat(join(base, '.mvc', 'packs'))).isDirectory())

    await writeModel(base)
    await mvcOk(['commit', 'model', '-m', 'first'], { cwd: base })
    const logBefore = await mvcJson(['log'], { cwd: base })
    const showBefore = await mvcJson(['show', 'v1'], { cwd: base })

    const again = await runMvc(['init'], { cwd: base })
    assert.equal(again.code, 0, again.stderr)
    assert.ok(again.stdout.includes(base), `second init names the repository: ${again.stdout}`)
    const j = await mvcJson(['init'], { cwd: base })
    assert.equal(j.created, false)
    assert.equal(j.root, base)

    assert.deepEqual(await mvcJson(['log'], { cwd: base }), logBefore, 'commits and refs survive a second init')
    assert.deepEqual(await mvcJson(['show', 'v1'], { cwd: base }), showBefore)
    assert.equal((await mvcJson(['status'], { cwd: base })).clean, true)
    // And the next commit still gets the next version number.
    const r2 = await mvcOk(['commit', '-m', 'second', '--allow-empty'], { cwd: base })
    assert.match(r2.stdout, /^v2 /)
  })

  test('init --json on a new folder reports created: true', TIMEOUT, async () => {
    const base = await realpath(await tmpdir())
    cleanup.push(base)
    const j = await mvcJson(['init'], { cwd: base })
    assert.equal(j.created, true)
    assert.equal(j.root, base)
    assert.deepEqual(await mvcJson(['log'], { cwd: base }), [])
  })
})

describe('mvc commit', () => {
  test('prints v1 <cid>; unchanged says nothing to commit; --allow-empty makes v2; no path reuses the last one', TIMEOUT, async () => {
    const { root } = await newRepo()
    await writeModel(root)
    const r1 = await mvcOk(['commit', 'model', '-m', 'first'], { cwd: root })
    const m1 = V_CID.exec(r1.stdout)
    assert.ok(m1 !== null, `stdout is "v1 <cid>": ${JSON.stringify(r1.stdout)}`)
    assert.equal(m1[1], '1')
    const cid1 = m1[2]!
    assert.equal((await mvcJson(['show', 'v1'], { cwd: root })).cid, cid1)

    const same = await mvcOk(['commit', 'model', '-m', 'again'], { cwd: root })
    assert.match(same.stdout, /nothing to commit/)
    const sameJson = await mvcJson(['commit', 'model', '-m', 'again'], { cwd: root })
    assert.equal(sameJson.committed, false)
    assert.equal(sameJson.newBytes, 0)
    const log1 = await mvcJson(['log'], { cwd: root })
    assert.equal(log1.length, 1, 'an unchanged commit creates no version')

    const r2 = await mvcOk(['commit', 'model', '-m', 'empty', '--allow-empty'], { cwd: root })
    const m2 = V_CID.exec(r2.stdout)
    assert.ok(m2 !== null && m2[1] === '2', r2.stdout)
    const show2 = await mvcJson(['show', 'v2'], { cwd: root })
    assert.deepEqual(show2.commit.parents, [cid1])
    assert.equal(show2.commit.model, (await mvcJson(['show', 'v1'], { cwd: root })).commit.model, 'same content, same manifest')

    await writeFile(join(root, 'model', 'a.txt'), 'two\n')
    const r3 = await mvcJson(['commit', '-m', 'no path given'], { cwd: root })
    assert.equal(r3.committed, true)
    assert.equal(r3.version, 3)
    assert.equal(r3.path, 'model')
    const show3 = await mvcJson(['show', 'v3'], { cwd: root })
    assert.equal(show3.commit.path, 'model')
    assert.equal(show3.commit.message, 'no path given')
    assert.deepEqual((await mvcJson(['log'], { cwd: root })).map((e: { version: number }) => e.version), [3, 2, 1])
  })

  test('commit without a path before any commit is a usage error (exit 2)', TIMEOUT, async () => {
    const { root } = await newRepo()
    await writeModel(root)
    assertFails(await runMvc(['commit', '-m', 'x', '--json'], { cwd: root }), 2, 'USAGE')
    assertFails(await runMvc(['commit', '-m', 'x'], { cwd: root }), 2)
    assert.deepEqual(await mvcJson(['log'], { cwd: root }), [])
  })

  test('a single file can be committed, and checkout restores it', TIMEOUT, async () => {
    const { root } = await newRepo()
    const file = join(root, 'weights.bin')
    const v1 = Buffer.from('version one\n'.repeat(1000))
    await put(file, v1, 0o640)
    const c1 = await mvcJson(['commit', 'weights.bin', '-m', 'file'], { cwd: root })
    assert.equal(c1.version, 1)
    const show = await mvcJson(['show', 'v1'], { cwd: root })
    assert.equal(show.manifest.kind, 'file')
    assert.equal(show.manifest.entries.length, 1)
    assert.equal(show.manifest.entries[0].path, 'weights.bin')
    assert.equal(show.manifest.entries[0].mode, 0o640)
    assert.equal(show.manifest.entries[0].size, v1.length)

    await rm(file)
    await mvcOk(['checkout', 'v1'], { cwd: root })
    assert.deepEqual(await readFile(file), v1)
    assert.equal((await stat(file)).mode & 0o777, 0o640)

    const v2 = Buffer.from('version two\n')
    await writeFile(file, v2)
    assert.equal((await mvcJson(['commit', '-m', 'file 2'], { cwd: root })).version, 2)
    await mvcOk(['checkout', 'v1'], { cwd: root })
    assert.deepEqual(await readFile(file), v1)
    await mvcOk(['checkout', 'v2'], { cwd: root })
    assert.deepEqual(await readFile(file), v2)
    // --to elsewhere writes a file at that path.
    const out = join(root, 'copy.bin')
    await mvcOk(['checkout', 'v1', '--to', out], { cwd: root })
    assert.deepEqual(await readFile(out), v1)
    assert.equal((await stat(out)).mode & 0o777, 0o640)
  })

  test('a symbolic link inside the folder is refused (exit 8, SYMLINK_REFUSED) and names the link; no version', TIMEOUT, async () => {
    const { base, root } = await newRepo()
    const model = await writeModel(root)
    await put(join(base, 'secret.txt'), 'outside\n')
    await symlink(join(base, 'secret.txt'), join(model, 'sub', 'link.txt'))
    const r = await runMvc(['commit', 'model', '-m', 'links', '--json'], { cwd: root })
    assertFails(r, 8, 'SYMLINK_REFUSED')
    assert.ok(jsonError(r).message.includes(join(model, 'sub', 'link.txt')), `message names the link: ${r.stderr}`)
    assert.deepEqual(await mvcJson(['log'], { cwd: root }), [], 'no version was created')
    assertFails(await runMvc(['commit', 'model', '-m', 'links'], { cwd: root }), 8)
    assert.equal(await exists(join(root, '.mvc', 'packs')), true)
    assert.deepEqual((await ls(join(root, '.mvc', 'packs'))).filter(n => n.endsWith('.pack')), [], 'no pack was left behind')

    // A link as the committed path itself.
    await rm(join(model, 'sub', 'link.txt'))
    await symlink(model, join(root, 'model-link'))
    assertFails(await runMvc(['commit', 'model-link', '-m', 'link', '--json'], { cwd: root }), 8, 'SYMLINK_REFUSED')
    assert.deepEqual(await mvcJson(['log'], { cwd: root }), [])
  })

  test('committing a path outside the repository, or a missing path, exits 8', TIMEOUT, async () => {
    const { base, root } = await newRepo()
    const outside = await writeModel(base, 'elsewhere')
    const r = await runMvc(['commit', outside, '-m', 'x', '--json'], { cwd: root })
    assertFails(r, 8, 'INVALID_ARGUMENT')
    assert.ok(jsonError(r).message.includes(outside), `message names the path: ${r.stderr}`)
    assertFails(await runMvc(['commit', '../elsewhere', '-m', 'x', '--json'], { cwd: root }), 8, 'INVALID_ARGUMENT')
    const missing = await runMvc(['commit', 'nope', '-m', 'x', '--json'], { cwd: root })
    assertFails(missing, 8, 'INPUT_NOT_FOUND')
    assert.ok(jsonError(missing).message.includes(join(root, 'nope')), missing.stderr)
    assertFails(await runMvc(['commit', '.mvc', '-m', 'x', '--json'], { cwd: root }), 8)
    assertFails(await runMvc(['commit', '.', '-m', 'x', '--json'], { cwd: root }), 8)
    assert.deepEqual(await mvcJson(['log'], { cwd: root }), [])
  })

  test("a folder inside the repository whose name starts with '..' can be committed", TIMEOUT, async () => {
    const { root } = await newRepo()
    await writeModel(root, '..hidden-model')
    const r = await runMvc(['commit', '..hidden-model', '-m', 'dots', '--json'], { cwd: root })
    assert.equal(r.code, 0, `"..hidden-model" is inside the repository, not outside it: ${r.stderr}`)
    assert.equal(JSON.parse(r.stdout).path, '..hidden-model')
  })

  test('-C runs as if started in that folder (commit, status, checkout --to with relative paths)', TIMEOUT, async () => {
    const { base, root } = await newRepo()
    await writeModel(root)
    const r = await runMvc(['-C', 'repo', 'commit', 'model', '-m', 'via -C', '--json'], { cwd: base })
    assert.equal(r.code, 0, `"model" is relative to -C repo: ${r.stderr}`)
    assert.equal(JSON.parse(r.stdout).path, 'model')
    const s = await mvcJson(['-C', 'repo', 'status', 'model'], { cwd: base })
    assert.equal(s.path, 'model')
    assert.equal(s.clean, true)
    await mvcOk(['-C', 'repo', 'checkout', 'v1', '--to', 'copy'], { cwd: base })
    assert.deepEqual(await treeSnapshot(join(root, 'copy')), await treeSnapshot(join(root, 'model')))
  })
})

describe('mvc checkout', () => {
  /** A repository with three versions of `model` whose a.txt says one/two/three. */
  async function threeVersions (): Promise<{ base: string, root: string, cids: string[] }> {
    const { base, root } = await newRepo()
    await writeModel(root)
    const cids: string[] = []
    for (const word of ['one', 'two', 'three']) {
      await writeFile(join(root, 'model', 'a.txt'), `${word}\n`)
      const r = await mvcJson(['commit', 'model', '-m', word], { cwd: root })
      cids.push(r.cid)
    }
    return { base, root, cids }
  }

  test('resolves vN, HEAD~1, HEAD^, a full CID and a unique CID prefix', TIMEOUT, async () => {
    const { base, root, cids } = await threeVersions()
    // The shortest prefix (>= 6 characters) that names exactly one commit.
    let n = 6
    while (cids.filter(c => c.startsWith(cids[0]!.slice(0, n))).length > 1) n++
    const prefix = cids[0]!.slice(0, n)
    const cases: Array<[string, string]> = [
      ['v1', 'one'], ['v3', 'three'], ['HEAD~1', 'two'], ['HEAD^', 'two'], ['HEAD~2', 'one'], [cids[1]!, 'two'], [prefix, 'one']
    ]
    let i = 0
    for (const [rev, word] of cases) {
      const to = join(base, `out-${i++}`)
      const j = await mvcJson(['checkout', rev, '--to', to], { cwd: root })
      assert.equal(j.cid, cids[['one', 'two', 'three'].indexOf(word)], `${rev} resolves to the ${word} commit`)
      assert.equal(await readFile(join(to, 'a.txt'), 'utf8'), `${word}\n`, `checkout ${rev}`)
    }
    assert.equal((await mvcJson(['show', prefix], { cwd: root })).cid, cids[0])
    for (const [rev, i] of [['HEAD^^', 0], ['v3~1', 1], ['HEAD', 2], [cids[2]!.slice(0, 40), 2]] as const) {
      assert.equal((await mvcJson(['show', rev], { cwd: root })).cid, cids[i], `show ${rev}`)
    }
  })

  test('unknown revisions exit 4 (UNKNOWN_REVISION) and write nothing', TIMEOUT, async () => {
    const { base, root, cids } = await threeVersions()
    const to = join(base, 'out')
    const v99 = await runMvc(['checkout', 'v99', '--to', to, '--json'], { cwd: root })
    assertFails(v99, 4, 'UNKNOWN_REVISION')
    assert.ok(jsonError(v99).message.includes('v99'), `message names the version: ${v99.stderr}`)
    // A well-formed prefix that matches no commit.
    let nothing = 'bafyreiaaaaaaaaaaaa'
    if (cids.some(c => c.startsWith(nothing))) nothing = 'bafyreizzzzzzzzzzzz'
    assertFails(await runMvc(['checkout', nothing, '--to', to, '--json'], { cwd: root }), 4, 'UNKNOWN_REVISION')
    assertFails(await runMvc(['checkout', 'no-such-name', '--to', to, '--json'], { cwd: root }), 4, 'UNKNOWN_REVISION')
    assertFails(await runMvc(['checkout', 'HEAD~3', '--to', to, '--json'], { cwd: root }), 4, 'UNKNOWN_REVISION')
    assertFails(await runMvc(['checkout', 'v99'], { cwd: root }), 4)
    assertFails(await runMvc(['show', 'v99', '--json'], { cwd: root }), 4, 'UNKNOWN_REVISION')
    assert.equal(await exists(to), false)
  })

  test('refuses to overwrite uncommitted changes (exit 7) naming the file; --force overwrites', TIMEOUT, async () => {
    const { root } = await threeVersions()
    const model = join(root, 'model')
    await writeFile(join(model, 'b.txt'), 'edited, not committed\n')
    const before = await treeSnapshot(model)
    const r = await runMvc(['checkout', 'v1', '--json'], { cwd: root })
    assertFails(r, 7, 'UNCOMMITTED_CHANGES')
    assert.ok(jsonError(r).message.includes('b.txt'), `message names the modified file: ${r.stderr}`)
    assert.deepEqual(await treeSnapshot(model), before, 'files untouched')
    assertFails(await runMvc(['checkout', 'v1'], { cwd: root }), 7)
    assert.deepEqual(await treeSnapshot(model), before)

    // An added file is uncommitted content too.
    await writeFile(join(model, 'b.txt'), 'bee\n')
    await chmod(join(model, 'b.txt'), 0o600)
    await put(join(model, 'new-file.txt'), 'new\n')
    const added = await runMvc(['checkout', 'v1', '--json'], { cwd: root })
    assertFails(added, 7, 'UNCOMMITTED_CHANGES')
    assert.ok(jsonError(added).message.includes('new-file.txt'), added.stderr)
    assert.equal(await readFile(join(model, 'new-file.txt'), 'utf8'), 'new\n')

    await mvcOk(['checkout', 'v1', '--force'], { cwd: root })
    assert.equal(await readFile(join(model, 'a.txt'), 'utf8'), 'one\n')
    assert.equal(await exists(join(model, 'new-file.txt')), false)
    assert.equal((await mvcJson(['status'], { cwd: root })).clean, true)
    // A clean working copy can move between versions without --force.
    await mvcOk(['checkout', 'v3'], { cwd: root })
    assert.equal(await readFile(join(model, 'a.txt'), 'utf8'), 'three\n')
  })

  test('checkout --to an empty folder works; --to a non-empty folder with uncommitted content is refused', TIMEOUT, async () => {
    const { base, root } = await threeVersions()
    const empty = join(base, 'empty')
    await mkdir(empty)
    await mvcOk(['checkout', 'v3', '--to', empty], { cwd: root })
    assert.deepEqual(await treeSnapshot(empty), await treeSnapshot(join(root, 'model')))

    const busy = join(base, 'busy')
    await put(join(busy, 'precious.txt'), 'do not lose me\n')
    const before = await treeSnapshot(busy)
    const r = await runMvc(['checkout', 'v1', '--to', busy, '--json'], { cwd: root })
    assertFails(r, 7, 'UNCOMMITTED_CHANGES')
    assert.ok(jsonError(r).message.includes(busy), `message names the folder: ${r.stderr}`)
    assert.deepEqual(await treeSnapshot(busy), before)
    // The same inside the repository.
    const inside = join(root, 'inside')
    await put(join(inside, 'precious.txt'), 'mine\n')
    assertFails(await runMvc(['checkout', 'v1', '--to', 'inside', '--json'], { cwd: root }), 7, 'UNCOMMITTED_CHANGES')
    assert.equal(await readFile(join(inside, 'precious.txt'), 'utf8'), 'mine\n')
    // A folder that holds exactly a committed version may be replaced.
    await mvcOk(['checkout', 'v1', '--to', empty], { cwd: root })
    assert.equal(await readFile(join(empty, 'a.txt'), 'utf8'), 'one\n')
  })
})

describe('mvc checkout never replaces the repository', () => {
  test('checkout --to a folder that contains the repository is refused even with --force (exit 8)', TIMEOUT, async () => {
    const { base, root } = await newRepo()
    await writeModel(root)
    await mvcOk(['commit', 'model', '-m', 'one'], { cwd: root })
    const r = await runMvc(['checkout', 'v1', '--to', base, '--force', '--json'], { cwd: root })
    assert.equal(await exists(join(root, '.mvc', 'db')), true, `checkout --to ${base} --force deleted the repository it contains`)
    assertFails(r, 8, 'INVALID_ARGUMENT')
    assert.equal((await mvcJson(['log'], { cwd: root })).length, 1)
  })

  test('checkout --to .mvc or a folder inside it is refused (exit 8)', TIMEOUT, async () => {
    const { root } = await newRepo()
    await writeModel(root)
    await mvcOk(['commit', 'model', '-m', 'one'], { cwd: root })
    const before = await ls(join(root, '.mvc'))
    const r = await runMvc(['checkout', 'v1', '--to', '.mvc/extra', '--json'], { cwd: root })
    assert.deepEqual(await ls(join(root, '.mvc')), before, 'checkout wrote into .mvc')
    assertFails(r, 8)
    const r2 = await runMvc(['checkout', 'v1', '--to', '.mvc', '--force', '--json'], { cwd: root })
    assert.equal(await exists(join(root, '.mvc', 'db')), true, 'checkout --to .mvc --force replaced the repository')
    assertFails(r2, 8)
    assert.equal((await mvcJson(['log'], { cwd: root })).length, 1)
  })

  test('a training-data folder is not "committed content": checkout --to it is refused (exit 7)', TIMEOUT, async () => {
    const { root } = await newRepo()
    await writeModel(root)
    await put(join(root, 'data', 'train.csv'), 'x,y\n1,2\n')
    // The data snapshot stores the data folder's manifest but not its files.
    await mvcOk(['commit', 'model', '-m', 'one', '--data', 'data', '--no-verify'], { cwd: root })
    const before = await treeSnapshot(join(root, 'data'))
    const r = await runMvc(['checkout', 'v1', '--to', 'data', '--json'], { cwd: root })
    assertFails(r, 7, 'UNCOMMITTED_CHANGES')
    assert.deepEqual(await treeSnapshot(join(root, 'data')), before, 'the training data was replaced')
  })
})

describe('mvc status', () => {
  test('lists added, modified and removed files, with the documented --json shape', TIMEOUT, async () => {
    const { root } = await newRepo()
    const model = await writeModel(root)
    const c1 = await mvcJson(['commit', 'model', '-m', 'one'], { cwd: root })
    const clean = await mvcJson(['status'], { cwd: root })
    assert.deepEqual(Object.keys(clean).sort(), ['added', 'base', 'clean', 'exists', 'modified', 'path', 'removed'])
    assert.deepEqual(clean, { path: 'model', base: { cid: c1.cid, version: 1 }, exists: true, clean: true, added: [], modified: [], removed: [] })

    await writeFile(join(model, 'a.txt'), 'changed\n')
    await rm(join(model, 'b.txt'))
    await put(join(model, 'sub', 'new.bin'), 'new')
    await chmod(join(model, 'config.txt'), 0o755)
    const s = await mvcJson(['status'], { cwd: root })
    assert.deepEqual(s, {
      path: 'model',
      base: { cid: c1.cid, version: 1 },
      exists: true,
      clean: false,
      added: ['sub/new.bin'],
      modified: ['a.txt', 'config.txt'],
      removed: ['b.txt']
    })
    const human = await mvcOk(['status'], { cwd: root })
    for (const p of ['sub/new.bin', 'a.txt', 'config.txt', 'b.txt']) assert.ok(human.stdout.includes(p), `status names ${p}: ${human.stdout}`)
    assert.deepEqual(await mvcJson(['status', 'model'], { cwd: root }), s)

    await rm(model, { recursive: true })
    const gone = await mvcJson(['status'], { cwd: root })
    assert.equal(gone.exists, false)
    assert.equal(gone.clean, false)
    assert.deepEqual(gone.removed, ['a.txt', 'b.txt', 'config.txt', 'sub/weights.bin'])
  })

  test('touching mtimes without changing content keeps status clean; an added empty folder does not', TIMEOUT, async () => {
    const { root } = await newRepo()
    const model = await writeModel(root)
    await mvcOk(['commit', 'model', '-m', 'one'], { cwd: root })
    const when = new Date('2030-06-01T00:00:00Z')
    for (const f of ['a.txt', 'b.txt', 'config.txt', 'sub/weights.bin']) await utimes(join(model, f), when, when)
    const s = await mvcJson(['status'], { cwd: root })
    assert.equal(s.clean, true, JSON.stringify(s))
    assert.deepEqual([s.added, s.modified, s.removed], [[], [], []])
    // Same content, new mtime again (in the past this time): still clean, and checkout is allowed.
    const past = new Date('2001-01-01T00:00:00Z')
    await utimes(join(model, 'a.txt'), past, past)
    assert.equal((await mvcJson(['status'], { cwd: root })).clean, true)
    await mvcOk(['checkout', 'v1'], { cwd: root })

    await mkdir(join(model, 'new-empty-dir'))
    assert.equal((await mvcJson(['status'], { cwd: root })).clean, false)
  })
})

describe('mvc log and show', () => {
  test('log -n 1, log --json shape, show v1 --json', TIMEOUT, async () => {
    const { root } = await newRepo()
    await writeModel(root)
    const cids: string[] = []
    for (const m of ['first', 'second', 'third']) {
      cids.push((await mvcJson(['commit', 'model', '-m', m, '--allow-empty'], { cwd: root })).cid)
    }
    const log = await mvcJson(['log'], { cwd: root })
    assert.equal(log.length, 3)
    assert.deepEqual(log.map((e: { version: number }) => e.version), [3, 2, 1])
    assert.deepEqual(log.map((e: { cid: string }) => e.cid), [...cids].reverse())
    const ts = Date.parse(TEST_ENV.MVC_DATE!)
    for (const [i, e] of log.entries()) {
      assert.equal(e.type, 'mvc/commit')
      assert.equal(e.message, ['third', 'second', 'first'][i])
      assert.equal(e.path, 'model')
      assert.deepEqual(e.author, { name: 'Test', email: 'test@example.com' })
      assert.equal(e.timestamp, ts)
      assert.ok(Array.isArray(e.names))
      assert.equal(typeof e.model, 'string')
      assert.deepEqual(e.parents, i === 2 ? [] : [log[i + 1].cid])
    }
    assert.ok(log[0].names.some((n: string) => n.includes('main')), 'HEAD names the newest commit')

    const one = await mvcJson(['log', '-n', '1'], { cwd: root })
    assert.equal(one.length, 1)
    assert.equal(one[0].version, 3)
    const human = await mvcOk(['log', '-n', '1'], { cwd: root })
    const lines = human.stdout.trim().split('\n')
    assert.equal(lines.length, 1, human.stdout)
    assert.match(lines[0]!, /^v3\b/)
    assert.equal((await mvcOk(['log'], { cwd: root })).stdout.trim().split('\n').length, 3)
    assert.deepEqual((await mvcJson(['log', 'v2'], { cwd: root })).map((e: { version: number }) => e.version), [2, 1])

    const show = await mvcJson(['show', 'v1'], { cwd: root })
    assert.equal(show.cid, cids[0])
    assert.equal(show.commit.version, 1)
    assert.equal(show.commit.message, 'first')
    assert.equal(show.manifest.type, 'mvc/manifest')
    assert.equal(show.manifest.kind, 'dir')
    assert.deepEqual(show.manifest.entries.map((e: { path: string }) => e.path), ['a.txt', 'b.txt', 'config.txt', 'sub/weights.bin'])
    const b = show.manifest.entries.find((e: { path: string }) => e.path === 'b.txt')
    assert.equal(b.mode, 0o600)
    assert.equal(b.size, 4)
    assert.equal(typeof b.file, 'string')
    assert.deepEqual(show.manifest.dirs, ['assets'])
    const showHuman = await mvcOk(['show', 'v1'], { cwd: root })
    assert.ok(showHuman.stdout.includes(cids[0]!), 'show names the commit CID')
  })

  test('log on a repository without commits is empty; show exits 4 (NO_COMMITS)', TIMEOUT, async () => {
    const { root } = await newRepo()
    assert.deepEqual(await mvcJson(['log'], { cwd: root }), [])
    assert.equal((await runMvc(['log'], { cwd: root })).code, 0)
    assertFails(await runMvc(['show', '--json'], { cwd: root }), 4, 'NO_COMMITS')
  })
})

describe('mvc usage', () => {
  test('every command has --help (exit 0, prints its usage)', TIMEOUT, async () => {
    const base = await tmpdir()
    cleanup.push(base)
    const top = await runMvc(['--help'], { cwd: base })
    assert.equal(top.code, 0, top.stderr)
    for (const c of CMDS) assert.ok(top.stdout.includes(c), `mvc --help lists ${c}`)
    for (const c of CMDS) {
      const r = await runMvc([c, '--help'], { cwd: base })
      assert.equal(r.code, 0, `${c} --help: ${r.stderr}`)
      assert.ok(r.stdout.includes(`mvc ${c}`), `${c} --help prints its usage: ${r.stdout}`)
      assert.equal(await exists(join(base, '.mvc')), false, `${c} --help does not run the command`)
    }
  })

  test('an unknown command, an unknown option or a missing argument is a usage error (exit 2)', TIMEOUT, async () => {
    const { root } = await newRepo()
    await writeModel(root)
    assertFails(await runMvc(['frobnicate', '--json'], { cwd: root }), 2, 'USAGE')
    assertFails(await runMvc(['frobnicate'], { cwd: root }), 2)
    assertFails(await runMvc(['log', '--frobnicate', '--json'], { cwd: root }), 2, 'USAGE')
    assertFails(await runMvc(['commit', 'model', '-m', 'x', '--frobnicate', '--json'], { cwd: root }), 2, 'USAGE')
    assertFails(await runMvc([], { cwd: root }), 2)
    assertFails(await runMvc(['checkout', '--json'], { cwd: root }), 2, 'USAGE')
    assertFails(await runMvc(['commit', 'model', '--json'], { cwd: root }), 2, 'USAGE')
    assert.deepEqual(await mvcJson(['log'], { cwd: root }), [], 'nothing was committed by a rejected command line')
  })
})

describe('repository state errors', () => {
  test('outside a repository every command exits 3 (NOT_A_REPOSITORY)', TIMEOUT, async () => {
    const base = await realpath(await tmpdir())
    cleanup.push(base)
    for (let d = dirname(base); ; d = dirname(d)) {
      assert.equal(await exists(join(d, '.mvc', 'db')), false, `precondition: ${d} must not hold a repository`)
      if (d === dirname(d)) break
    }
    await writeModel(base)
    for (const args of [['log'], ['status'], ['show', 'v1'], ['commit', 'model', '-m', 'x'], ['checkout', 'v1']]) {
      assertFails(await runMvc([...args, '--json'], { cwd: base }), 3, 'NOT_A_REPOSITORY')
    }
    assertFails(await runMvc(['log'], { cwd: base }), 3)
    assert.equal(await exists(join(base, '.mvc')), false, 'no repository was created')
  })

  test('a store with an unknown format version is refused by every command (exit 3, UNSUPPORTED_FORMAT)', TIMEOUT, async () => {
    const { base, root } = await newRepo()
    await writeModel(root)
    await mvcOk(['commit', 'model', '-m', 'one'], { cwd: root })
    const store = await openDiskStore(join(root, '.mvc'))
    try {
      const tx = await store.transaction()
      tx.setMeta('format', new TextEncoder().encode('99'))
      await tx.commit()
    } finally { await store.close() }
    const before = await treeSnapshot(join(root, 'model'))
    for (const args of [['log'], ['status'], ['show', 'v1'], ['commit', 'model', '-m', 'x', '--allow-empty'], ['checkout', 'v1', '--force'], ['checkout', 'v1', '--to', join(base, 'out')]]) {
      const r = await runMvc([...args, '--json'], { cwd: root })
      assertFails(r, 3, 'UNSUPPORTED_FORMAT')
      assert.ok(jsonError(r).message.includes('99'), `message names the format found: ${r.stderr}`)
    }
    assertFails(await runMvc(['status'], { cwd: root }), 3)
    assert.deepEqual(await treeSnapshot(join(root, 'model')), before)
    assert.equal(await exists(join(base, 'out')), false)
    await assert.rejects(openDiskStore(join(root, '.mvc')), (e: { code?: string }) => e.code === 'UNSUPPORTED_FORMAT')
  })
})
