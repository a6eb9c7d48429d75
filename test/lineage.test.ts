/**
 * What a commit records besides the model: data (hashed, not stored), code (git commit and dirty
 * state, checked against the `git` CLI), params and metrics, environment. Real temp folders, real git
 * repositories made with the git CLI, and the real CLI in a child process for the end-to-end cases.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chmod, mkdir, readFile, realpath, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import fs from 'node:fs'
import git from 'isomorphic-git'
import { CID } from 'multiformats/cid'
import { Repository } from '../src/api/repository.js'
import { hashData, stageData } from '../src/core/lineage/data.js'
import { codeLineage, dirtyCheck, parseGitIndex, redactUrl } from '../src/core/lineage/code.js'
import { checkMetrics, flattenValues, parseAssignments, parseScalar, parseYaml, readMetadata, readValuesFile } from '../src/core/lineage/params.js'
import { environmentLineage, mvcVersion } from '../src/core/lineage/environment.js'
import { snapshot } from '../src/core/snapshot.js'
import { DRY_RUN, readManifest } from '../src/core/objects.js'
import { parseCodeLineage, parseDataLineage } from '../src/format/lineage.js'
import { isMvcError } from '../src/errors.js'
import { jsonError, mvcJson, mvcOk, put, REPO_ROOT, removeDir, runMvc, tmpdir } from './helpers.js'

const TIMEOUT = { timeout: 120_000 }
const cleanup: string[] = []
after(async () => { await Promise.all(cleanup.map(removeDir)) })

async function newDir (): Promise<string> {
  const d = await realpath(await tmpdir('mvc-lineage-'))
  cleanup.push(d)
  return d
}

/** Git with no user or system config (no global excludes), a fixed identity and dates. */
const GIT_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z'
}
function gitc (cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@e', ...args], { cwd, env: { ...GIT_ENV, XDG_CONFIG_HOME: cwd }, encoding: 'utf8' })
}

/** Paths `git status --porcelain` reports (both sides of a rename), sorted like mvc sorts them. */
function gitDirtyPaths (cwd: string): string[] {
  const out = gitc(cwd, 'status', '--porcelain=v1', '-z')
  const parts = out.split('\0').filter(p => p !== '')
  const paths: string[] = []
  for (let i = 0; i < parts.length; i++) {
    const xy = parts[i]!.slice(0, 2)
    paths.push(parts[i]!.slice(3))
    if (xy.includes('R') || xy.includes('C')) paths.push(parts[++i]!)
  }
  return [...new Set(paths)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
}

const PAST = new Date('2025-06-01T00:00:00Z')

/** A git repository with a few committed files whose mtimes are in the past. */
async function gitRepo (): Promise<string> {
  const dir = await newDir()
  gitc(dir, 'init', '-q', '-b', 'main')
  await put(join(dir, 'train.py'), 'print("train")\n')
  await put(join(dir, 'README.md'), '# model\n')
  await put(join(dir, 'src', 'util.py'), 'def f():\n  return 1\n')
  await put(join(dir, 'src', 'deep', 'x.py'), 'x = 1\n')
  await put(join(dir, 'run.sh'), '#!/bin/sh\n', 0o755)
  await put(join(dir, '.gitignore'), '*.log\nbuild/\n')
  for (const f of ['train.py', 'README.md', 'src/util.py', 'src/deep/x.py', 'run.sh', '.gitignore']) await utimes(join(dir, f), PAST, PAST)
  gitc(dir, 'add', '-A')
  gitc(dir, 'commit', '-q', '-m', 'init')
  // The files' mtimes are far older than the index, so no entry is racy: a clean check reads no file.
  return dir
}

async function expectCode (p: Promise<unknown>, code: string): Promise<unknown> {
  try { await p } catch (e) {
    assert.ok(isMvcError(e), `expected an MvcError, got ${String(e)}`)
    assert.equal(e.code, code, e.message)
    return e
  }
  assert.fail(`expected ${code}`)
}

function expectCodeSync (f: () => unknown, code: string): void {
  try { f() } catch (e) {
    assert.ok(isMvcError(e), `expected an MvcError, got ${String(e)}`)
    assert.equal(e.code, code, e.message)
    return
  }
  assert.fail(`expected ${code}`)
}

describe('code lineage', () => {
  test('a folder outside any git repository records kind none with a reason, not an error', TIMEOUT, async () => {
    const dir = await newDir()
    try { execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: dir, stdio: 'ignore' }); return } catch { /* expected: no enclosing repository */ }
    const c = await codeLineage({ dir })
    assert.equal(c.kind, 'none')
    assert.match((c as { reason: string }).reason, /no git repository/)
  })

  test('a repository with no commit yet records kind none', TIMEOUT, async () => {
    const dir = await newDir()
    gitc(dir, 'init', '-q', '-b', 'main')
    await put(join(dir, 'a.py'), 'x\n')
    const c = await codeLineage({ dir })
    assert.equal(c.kind, 'none')
  })

  test('clean repository: oid, branch, no remote, clean — and unchanged files are only stat-ed', TIMEOUT, async () => {
    const dir = await gitRepo()
    const c = await codeLineage({ dir: join(dir, 'src') })
    assert.deepEqual(c, { kind: 'git', oid: gitc(dir, 'rev-parse', 'HEAD').trim(), branch: 'main', remote: null, dirty: false, dirtyPaths: [] })
    assert.deepEqual(gitDirtyPaths(dir), [])
    const d = await dirtyCheck({ root: dir, headOid: c.kind === 'git' ? c.oid : null })
    assert.equal(d.stats.tracked, 6)
    assert.equal(d.stats.hashed, 0, 'no file is read when every stat matches the index')
    assert.equal(d.stats.treesRead, 0, "the index's cached tree matches HEAD: no git object is read")
  })

  test('remote URL is recorded without credentials', TIMEOUT, async () => {
    const dir = await gitRepo()
    gitc(dir, 'remote', 'add', 'origin', 'https://user:s3cret@example.com/org/repo.git')
    const c = await codeLineage({ dir })
    assert.equal(c.kind === 'git' ? c.remote : undefined, 'https://example.com/org/repo.git')
    assert.equal(redactUrl('git@github.com:org/repo.git'), 'git@github.com:org/repo.git')
    assert.equal(redactUrl('https://TOKEN@github.com/org/repo'), 'https://github.com/org/repo')
    assert.equal(redactUrl('ssh://git@host/repo.git'), 'ssh://git@host/repo.git')
  })

  test('dirty: modified (same and different size), untracked, deleted, staged, mode change, ignored — same paths as git status', TIMEOUT, async () => {
    const dir = await gitRepo()
    await writeFile(join(dir, 'train.py'), 'print("TRAIN")\n') // same size, new content
    await writeFile(join(dir, 'README.md'), '# model v2\n')
    await put(join(dir, 'notes.txt'), 'untracked\n')
    await put(join(dir, 'newdir', 'a', 'b.txt'), 'untracked in an untracked folder\n')
    await put(join(dir, 'only-ignored', 'x.log'), 'ignored\n') // untracked folder holding only ignored files: not shown
    await mkdir(join(dir, 'empty-dir')) // empty folders are not shown
    await put(join(dir, 'debug.log'), 'ignored\n')
    await put(join(dir, 'build', 'out.bin'), 'ignored folder\n')
    await put(join(dir, 'src', 'deep', 'x.log'), 'ignored in a tracked folder\n')
    await rm(join(dir, 'src', 'deep', 'x.py'))
    await put(join(dir, 'src', 'staged.py'), 'staged\n')
    gitc(dir, 'add', 'src/staged.py')
    await chmod(join(dir, 'run.sh'), 0o644)
    const expected = gitDirtyPaths(dir)
    assert.deepEqual(expected, ['README.md', 'newdir/', 'notes.txt', 'run.sh', 'src/deep/x.py', 'src/staged.py', 'train.py'])
    const c = await codeLineage({ dir })
    assert.equal(c.kind, 'git')
    if (c.kind !== 'git') return
    assert.equal(c.dirty, true)
    assert.deepEqual(c.dirtyPaths, expected)
  })

  test('staged-only changes (file edited, added to the index, then edited back) and staged deletions are dirty', TIMEOUT, async () => {
    const dir = await gitRepo()
    const orig = await readFile(join(dir, 'train.py'))
    await writeFile(join(dir, 'train.py'), 'print("staged version")\n')
    gitc(dir, 'add', 'train.py')
    await writeFile(join(dir, 'train.py'), orig)
    gitc(dir, 'rm', '-q', '--cached', 'README.md')
    const expected = gitDirtyPaths(dir)
    assert.deepEqual(expected, ['README.md', 'train.py'])
    const c = await codeLineage({ dir })
    assert.deepEqual(c.kind === 'git' ? c.dirtyPaths : null, expected)
  })

  test('a file rewritten in the same second as the index (racy) is hashed and found modified', TIMEOUT, async () => {
    const dir = await gitRepo()
    const idx = await stat(join(dir, '.git', 'index'))
    await writeFile(join(dir, 'train.py'), 'print("racy!")\n') // same size as before
    await utimes(join(dir, 'train.py'), idx.atime, idx.mtime)
    const head = gitc(dir, 'rev-parse', 'HEAD').trim()
    const d = await dirtyCheck({ root: dir, headOid: head })
    assert.ok(d.stats.hashed >= 1)
    assert.deepEqual(d.paths, ['train.py'])
    assert.deepEqual(d.paths, gitDirtyPaths(dir))
  })

  test('touched but unchanged files are hashed once and reported clean', TIMEOUT, async () => {
    const dir = await gitRepo()
    const later = new Date('2025-07-01T00:00:00Z')
    await utimes(join(dir, 'train.py'), later, later)
    const d = await dirtyCheck({ root: dir, headOid: gitc(dir, 'rev-parse', 'HEAD').trim() })
    assert.equal(d.dirty, false)
    assert.equal(d.stats.hashed, 1)
  })

  test('detached HEAD: branch null', TIMEOUT, async () => {
    const dir = await gitRepo()
    await writeFile(join(dir, 'train.py'), 'print("second")\n')
    gitc(dir, 'commit', '-q', '-am', 'second')
    gitc(dir, 'checkout', '-q', '--detach', 'HEAD~1')
    const c = await codeLineage({ dir })
    assert.equal(c.kind, 'git')
    if (c.kind !== 'git') return
    assert.equal(c.branch, null)
    assert.equal(c.oid, gitc(dir, 'rev-parse', 'HEAD').trim())
    assert.deepEqual(c.dirtyPaths, gitDirtyPaths(dir))
  })

  test('index version 4 (prefix-compressed paths) and an index written by isomorphic-git (no cached tree)', TIMEOUT, async () => {
    const dir = await gitRepo()
    gitc(dir, 'update-index', '--index-version', '4')
    const v4 = parseGitIndex(await readFile(join(dir, '.git', 'index')))
    assert.equal(v4.version, 4)
    assert.deepEqual(v4.entries.map(e => e.path), gitc(dir, 'ls-files').trim().split('\n'))
    assert.deepEqual(v4.entries.map(e => e.oid), gitc(dir, 'ls-files', '-s').trim().split('\n').map(l => l.split(' ')[1]))
    await writeFile(join(dir, 'src', 'util.py'), 'def f():\n  return 2\n')
    let c = await codeLineage({ dir })
    assert.deepEqual(c.kind === 'git' ? c.dirtyPaths : null, gitDirtyPaths(dir))

    gitc(dir, 'update-index', '--index-version', '2')
    await put(join(dir, 'added.py'), 'new\n')
    await git.add({ fs, dir, filepath: 'added.py' }) // isomorphic-git rewrites the index without a TREE extension
    const d = await dirtyCheck({ root: dir, headOid: gitc(dir, 'rev-parse', 'HEAD').trim() })
    assert.ok(d.stats.treesRead > 0)
    c = await codeLineage({ dir })
    assert.deepEqual(c.kind === 'git' ? c.dirtyPaths : null, gitDirtyPaths(dir))
    assert.deepEqual(c.kind === 'git' ? c.dirtyPaths : null, ['added.py', 'src/util.py'])
  })

  test('an untracked nested repository and a symbolic link count as untracked; .mvc is never counted', TIMEOUT, async () => {
    const dir = await gitRepo()
    const nested = join(dir, 'vendor', 'lib')
    await mkdir(nested, { recursive: true })
    gitc(nested, 'init', '-q', '-b', 'main')
    await symlink('train.py', join(dir, 'link.py'))
    const expected = gitDirtyPaths(dir)
    assert.deepEqual(expected, ['link.py', 'vendor/'])
    await Repository.init({ dir }) // .mvc inside the git working tree (git would list it until ignored)
    const c = await codeLineage({ dir })
    assert.deepEqual(c.kind === 'git' ? c.dirtyPaths : null, expected)
  })
})

describe('data lineage', () => {
  async function dataRepo (): Promise<{ root: string, repo: Repository, data: string }> {
    const root = await newDir()
    await Repository.init({ dir: root })
    const repo = await Repository.open({ dir: root })
    const data = join(root, 'data')
    await put(join(data, 'train.csv'), 'x,y\n1,2\n')
    await put(join(data, 'test.csv'), 'x,y\n3,4\n')
    await put(join(data, 'img', 'a.png'), Buffer.alloc(5000, 1))
    for (const f of ['train.csv', 'test.csv', 'img/a.png']) await utimes(join(data, f), PAST, PAST)
    return { root, repo, data }
  }

  /** Hashes and keeps the stat cache (as a commit does), returning the manifest CID and the stats. */
  async function hashAndKeep (repo: Repository, path: string): Promise<{ cid: string, hashedFiles: number, files: number }> {
    const h = await hashData({ store: repo.store, path, root: repo.root })
    const tx = await repo.store.transaction()
    await stageData(tx, h)
    await tx.commit()
    return { cid: h.lineage.manifest.toString(), hashedFiles: h.stats.hashedFiles, files: h.lineage.files }
  }

  test('same scheme as models; changed, added and renamed files change the hash; an unchanged re-hash reads nothing', TIMEOUT, async () => {
    const { repo, data } = await dataRepo()
    try {
      const first = await hashAndKeep(repo, data)
      assert.equal(first.hashedFiles, 3)
      assert.equal(first.files, 3)
      const model = await snapshot({ store: repo.store, sink: DRY_RUN, abs: data, requireStored: false })
      assert.equal(first.cid, model.manifest.cid.toString(), 'a data folder of plain files hashes exactly like a committed folder')
      const again = await hashAndKeep(repo, data)
      assert.equal(again.cid, first.cid)
      assert.equal(again.hashedFiles, 0, 'unchanged files are answered by the stat cache')

      // mtime touched, content unchanged: same hash; only that file is re-read, and then it is cached again.
      const touched = new Date('2025-07-01T00:00:00Z')
      await utimes(join(data, 'train.csv'), touched, touched)
      const t = await hashAndKeep(repo, data)
      assert.equal(t.cid, first.cid)
      assert.equal(t.hashedFiles, 1)
      assert.equal((await hashAndKeep(repo, data)).hashedFiles, 0)

      await writeFile(join(data, 'train.csv'), 'x,y\n1,3\n')
      await utimes(join(data, 'train.csv'), PAST, PAST)
      const changed = await hashAndKeep(repo, data)
      assert.notEqual(changed.cid, first.cid)
      assert.equal(changed.hashedFiles, 1)

      await put(join(data, 'extra.csv'), 'more\n')
      const added = await hashAndKeep(repo, data)
      assert.notEqual(added.cid, changed.cid)
      assert.equal(added.files, 4)

      await rename(join(data, 'extra.csv'), join(data, 'extra2.csv'))
      const renamed = await hashAndKeep(repo, data)
      assert.notEqual(renamed.cid, added.cid)
      assert.equal(renamed.files, 4)
    } finally { await repo.close() }
  })

  test('TF.js models inside data are not recognised: a damaged model.json is just a file', TIMEOUT, async () => {
    const { repo, data } = await dataRepo()
    try {
      const model = { format: 'layers-model', modelTopology: { class_name: 'Sequential', config: { layers: [] } }, weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'k', shape: [2], dtype: 'float32' }] }] }
      await put(join(data, 'model.json'), JSON.stringify(model))
      await put(join(data, 'w.bin'), Buffer.alloc(8, 3))
      assert.equal((await snapshot({ store: repo.store, sink: DRY_RUN, abs: data, requireStored: false })).manifest.value.models.length, 1, 'a model folder would be recognised')
      const h = await hashData({ store: repo.store, path: data })
      assert.equal(h.lineage.files, 5)
      assert.deepEqual(h.manifest.value.models, [])
      await put(join(data, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: 5 }))
      await expectCode(snapshot({ store: repo.store, sink: DRY_RUN, abs: data, requireStored: false }), 'INVALID_MODEL')
      assert.equal((await hashData({ store: repo.store, path: data })).lineage.files, 5)
    } finally { await repo.close() }
  })

  test('a single data file; a missing data path is INPUT_NOT_FOUND', TIMEOUT, async () => {
    const { repo, data } = await dataRepo()
    try {
      const h = await hashData({ store: repo.store, path: join(data, 'train.csv'), root: repo.root })
      assert.equal(h.manifest.value.kind, 'file')
      assert.equal(h.lineage.path, 'data/train.csv')
      assert.equal(h.lineage.bytes, 8)
      await expectCode(hashData({ store: repo.store, path: join(data, 'nope') }), 'INPUT_NOT_FOUND')
    } finally { await repo.close() }
  })

  test('a commit stores the data manifest (in the commit transaction) but none of the data files', TIMEOUT, async () => {
    const { root, repo, data } = await dataRepo()
    try {
      await put(join(root, 'model', 'w.bin'), 'weights')
      const r = await repo.commit({ path: join(root, 'model'), message: 'x', verify: false, data: { path: data }, code: false, timestamp: 0 })
      const { commit } = await repo.show({ rev: r.cid!.toString() })
      const d = parseDataLineage(commit.data)
      assert.ok(d !== null && d.kind === 'snapshot')
      assert.equal(d.path, 'data')
      assert.equal(d.files, 3)
      assert.equal(commit.code, null)
      const m = await readManifest(repo.store, d.manifest)
      assert.deepEqual(m.entries.map(e => e.path), ['img/a.png', 'test.csv', 'train.csv'])
      for (const e of m.entries) assert.equal(await repo.store.has(e.file), false, `data file object ${e.path} is not stored`)
      await expectCode(repo.commit({ path: join(root, 'model'), message: 'y', verify: false, data: { path: join(root, 'missing') }, allowEmpty: true }), 'INPUT_NOT_FOUND')
      await expectCode(repo.commit({ path: join(root, 'model'), message: 'y', verify: false, data: { ref: '  ' }, allowEmpty: true }), 'INVALID_ARGUMENT')
    } finally { await repo.close() }
  })
})

describe('params and metrics', () => {
  test('flag values: numbers stay numbers, true/false/null, everything else a string', () => {
    const table: Array<[string, unknown]> = [
      ['0.9', 0.9], ['1e-3', 0.001], ['10', 10], ['-3', -3], ['+2', 2], ['.5', 0.5], ['2.5E+4', 25000], ['0', 0], ['-0', 0], ['0.0', 0],
      ['true', true], ['false', false], ['null', null],
      ['True', 'True'], ['adam', 'adam'], ['', ''], ['1e', '1e'], ['0x10', '0x10'], ['007', '007'], ['1_000', '1_000'],
      ['NaN', 'NaN'], ['Infinity', 'Infinity'], ['12345678901234567890', '12345678901234567890'], [' 1', ' 1'], ['a=b', 'a=b']
    ]
    for (const [text, want] of table) assert.deepEqual(parseScalar(text), want, `parseScalar(${JSON.stringify(text)})`)
    assert.deepEqual(parseAssignments(['lr=0.01', 'optimizer.name=adam', 'layers=3', 'x=a=b', 'lr=0.02'], '--param'),
      { lr: 0.02, 'optimizer.name': 'adam', layers: 3, x: 'a=b' })
    expectCodeSync(() => parseAssignments(['novalue'], '--param'), 'INVALID_ARGUMENT')
    expectCodeSync(() => parseAssignments(['=1'], '--param'), 'INVALID_ARGUMENT')
  })

  test('metrics must be finite numbers or strings', () => {
    assert.deepEqual(checkMetrics({ acc: 0.9, note: 'ok' }, 'm'), { acc: 0.9, note: 'ok' })
    for (const bad of ['NaN', 'Infinity', '-inf', 'nan']) expectCodeSync(() => checkMetrics(parseAssignments([`acc=${bad}`], '--metric'), '--metric'), 'INVALID_ARGUMENT')
    expectCodeSync(() => checkMetrics({ acc: true }, 'm'), 'INVALID_ARGUMENT')
    expectCodeSync(() => flattenValues({ loss: NaN }, 'api'), 'INVALID_ARGUMENT')
    expectCodeSync(() => flattenValues({ loss: Infinity }, 'api'), 'INVALID_ARGUMENT')
  })

  test('nested objects are flattened with dots, arrays by index', () => {
    assert.deepEqual(flattenValues({ optimizer: { lr: 0.1, betas: [0.9, 0.999] }, epochs: 3, tag: null }, 'f'),
      { 'optimizer.lr': 0.1, 'optimizer.betas.0': 0.9, 'optimizer.betas.1': 0.999, epochs: 3, tag: null })
  })

  test('YAML as DVC writes params.yaml: nesting, comments, quotes, lists and flow collections; duplicates refused', () => {
    const y = parseYaml('# run\nlr: 0.001   # learning rate\nname: "run #1"\nother: \'it\'\'s\'\noptimizer:\n  name: adam\n  betas:\n    b1: 0.9\nepochs: 10\nflag: true\nnothing:\n', 'p.yaml')
    assert.deepEqual(flattenValues(y, 'p.yaml'), { lr: 0.001, name: 'run #1', other: "it's", 'optimizer.name': 'adam', 'optimizer.betas.b1': 0.9, epochs: 10, flag: true, nothing: null })
    // Issue 13: DVC's params.yaml has lists; the earlier hand-written subset refused them.
    assert.deepEqual(flattenValues(parseYaml('train:\n  layers:\n    - 64\n    - 32\n  aug: [flip, crop]\nmodel: {name: mlp}\n', 'params.yaml'), 'params.yaml'),
      { 'train.layers.0': 64, 'train.layers.1': 32, 'train.aug.0': 'flip', 'train.aug.1': 'crop', 'model.name': 'mlp' })
    expectCodeSync(() => parseYaml('a: 1\na: 2\n', 'p.yaml'), 'INVALID_ARGUMENT')
    assert.throws(() => parseYaml('a: 1\na: 2\n', 'p.yaml'), /p\.yaml:2/)
    expectCodeSync(() => parseYaml('- 1\n- 2\n', 'p.yaml'), 'INVALID_ARGUMENT')
  })

  test('files: JSON and YAML; malformed files name the file', TIMEOUT, async () => {
    const dir = await newDir()
    await put(join(dir, 'p.json'), JSON.stringify({ optimizer: { lr: 0.1 }, batch: 32 }))
    await put(join(dir, 'p.yml'), 'batch: 64\n')
    await put(join(dir, 'm.json'), JSON.stringify({ acc: 0.9 }))
    await put(join(dir, 'bad.json'), '{ nope')
    await put(join(dir, 'arr.json'), '[1, 2]')
    assert.deepEqual(await readValuesFile(join(dir, 'p.json'), 'params'), { 'optimizer.lr': 0.1, batch: 32 })
    assert.deepEqual(await readValuesFile(join(dir, 'p.yml'), 'params'), { batch: 64 })
    assert.deepEqual(await readValuesFile(join(dir, 'm.json'), 'metrics'), { acc: 0.9 })
    const e = await expectCode(readValuesFile(join(dir, 'bad.json'), 'params'), 'INVALID_ARGUMENT') as { data: { path: string } }
    assert.equal(e.data.path, join(dir, 'bad.json'))
    await expectCode(readValuesFile(join(dir, 'arr.json'), 'params'), 'INVALID_ARGUMENT')
    await expectCode(readValuesFile(join(dir, 'missing.json'), 'metrics'), 'INVALID_ARGUMENT')
  })

  test('metadata.json: params/hyperparameters and metrics are read; absent is fine; what cannot be read is a warning, never an error', TIMEOUT, async () => {
    const dir = await newDir()
    assert.deepEqual(await readMetadata(dir), { params: {}, metrics: {}, found: false, warnings: [] })
    await put(join(dir, 'metadata.json'), JSON.stringify({ hyperparameters: { lr: 0.1, epochs: 5 }, params: { lr: 0.2 }, metrics: { val: { acc: 0.8 } }, labels: ['a', 'b'] }))
    assert.deepEqual(await readMetadata(dir), { params: { lr: 0.2, epochs: 5 }, metrics: { 'val.acc': 0.8 }, found: true, warnings: [] })
    await put(join(dir, 'metadata.json'), '{"labels": ["cat"], "timeStamp": "x"}') // another tool's metadata: ignored
    assert.deepEqual(await readMetadata(dir), { params: {}, metrics: {}, found: true, warnings: [] })
    // Issue 9: a metadata file mvc cannot read never blocks a commit; the warning says what was not read.
    await put(join(dir, 'metadata.json'), '{ broken')
    const broken = await readMetadata(dir)
    assert.deepEqual([broken.params, broken.metrics, broken.found], [{}, {}, true])
    assert.equal(broken.warnings.length, 1)
    assert.match(broken.warnings[0]!, /metadata\.json is not valid JSON/)
    await put(join(dir, 'metadata.json'), '{"metrics": ["accuracy"], "params": {"lr": 0.1, "bad": null}}')
    const list = await readMetadata(dir)
    assert.deepEqual(list.params, { lr: 0.1, bad: null })
    assert.deepEqual(list.metrics, {})
    assert.match(list.warnings.join('\n'), /"metrics" not read: it is a list/)
    await put(join(dir, 'metadata.json'), '{"metrics": {"acc": 0.9, "loss": "NaN", "f1": null}}')
    const nan = await readMetadata(dir)
    assert.deepEqual(nan.metrics, { acc: 0.9 })
    assert.equal(nan.warnings.length, 2, nan.warnings.join('\n'))
  })

  test('metadata.json as TensorFlow guides write it: training, data and input_signature are read', TIMEOUT, async () => {
    const dir = await newDir()
    await put(join(dir, 'metadata.json'), JSON.stringify({
      model_name: 'mlp', format: 'keras', version: '1.2.0', tensorflow_version: '2.21.0', keras_version: '3.15.1',
      input_signature: [{ name: 'features', dtype: 'float32', shape: [null, 8] }],
      training: { optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy', 'auc'], batch_size: 32, epochs: 5, seed: 7 },
      data: { dataset_id: 'iris@v3', split: 'train', preprocessing: ['standardize'] },
      notes: 'free text'
    }))
    const m = await readMetadata(dir)
    assert.deepEqual(m.warnings, [])
    assert.deepEqual(m.params, {
      model_name: 'mlp', format: 'keras', version: '1.2.0', tensorflow_version: '2.21.0', keras_version: '3.15.1',
      'training.optimizer': 'adam', 'training.loss': 'sparse_categorical_crossentropy', 'training.metrics': 'accuracy,auc',
      'training.batch_size': 32, 'training.epochs': 5, 'training.seed': 7, 'data.split': 'train', 'data.preprocessing': 'standardize'
    })
    assert.equal(m.dataRef, 'iris@v3')
    assert.deepEqual(m.inputs, [{ name: 'features', dtype: 'float32', shape: [null, 8] }])
    // Committed: params, the data reference and the declared inputs are in the commit.
    const root = await newDir()
    await Repository.init({ dir: root })
    const repo = await Repository.open({ dir: root })
    try {
      await put(join(root, 'model', 'w.bin'), 'w')
      await writeFile(join(root, 'model', 'metadata.json'), await readFile(join(dir, 'metadata.json')))
      const r = await repo.commit({ path: join(root, 'model'), message: 'x', verify: false, code: false })
      assert.deepEqual(r.warnings, [])
      const { commit } = await repo.show({ rev: 'v1' })
      assert.deepEqual(commit.data, { kind: 'ref', ref: 'iris@v3' })
      assert.deepEqual(commit.inputs, [{ name: 'features', dtype: 'float32', shape: [null, 8] }])
      assert.equal(commit.params['training.epochs'], 5)
    } finally { await repo.close() }
  })

  test('precedence: API/flag values > files > metadata.json', TIMEOUT, async () => {
    const root = await newDir()
    await Repository.init({ dir: root })
    const repo = await Repository.open({ dir: root })
    try {
      await put(join(root, 'model', 'w.bin'), 'w')
      await put(join(root, 'model', 'metadata.json'), JSON.stringify({ params: { lr: 1, epochs: 1, meta: 'm' }, metrics: { acc: 0.1, loss: 2 } }))
      await put(join(root, 'p1.json'), JSON.stringify({ lr: 2, epochs: 2, file1: true }))
      await put(join(root, 'p2.yaml'), 'lr: 3\nfile2: yes\n')
      await put(join(root, 'm.json'), JSON.stringify({ acc: 0.5 }))
      const r = await repo.commit({
        path: join(root, 'model'), message: 'x', verify: false, code: false,
        params: { lr: 4 }, metrics: { f1: 0.7 }, paramFiles: [join(root, 'p1.json'), join(root, 'p2.yaml')], metricFiles: [join(root, 'm.json')]
      })
      const { commit } = await repo.show({ rev: r.cid!.toString() })
      assert.deepEqual(commit.params, { lr: 4, epochs: 2, meta: 'm', file1: true, file2: 'yes' })
      assert.deepEqual(commit.metrics, { acc: 0.5, loss: 2, f1: 0.7 })
      await expectCode(repo.commit({ path: join(root, 'model'), message: 'y', verify: false, metrics: { acc: NaN }, allowEmpty: true }), 'INVALID_ARGUMENT')
    } finally { await repo.close() }
  })
})

describe('environment', () => {
  test('mvc, node, platform and arch; tfjs and backend only when verification ran', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
    assert.equal(mvcVersion(), pkg.version)
    assert.deepEqual(environmentLineage(null), { mvc: pkg.version, node: process.version, platform: process.platform, arch: process.arch, tfjs: null, backend: null })
    const ran = { backend: 'cpu', tfjsVersion: '4.22.0', tolerance: { atol: 1e-5, rtol: 1e-5 }, models: [] }
    assert.equal(environmentLineage(ran).tfjs, '4.22.0')
    assert.equal(environmentLineage(ran).backend, 'cpu')
    assert.equal(environmentLineage({ ...ran, backend: 'none', tfjsVersion: 'none' }).tfjs, null)
  })
})

describe('mvc commit lineage flags (CLI, end to end)', () => {
  async function project (): Promise<string> {
    const dir = await gitRepo()
    await put(join(dir, '.gitignore'), '*.log\nbuild/\n.mvc/\nmodel/\ndata/\n')
    await utimes(join(dir, '.gitignore'), PAST, PAST)
    gitc(dir, 'commit', '-q', '-am', 'ignore outputs')
    await mvcOk(['init'], { cwd: dir })
    await put(join(dir, 'model', 'w.bin'), 'weights')
    await put(join(dir, 'data', 'train.csv'), 'x,y\n1,2\n')
    await put(join(dir, 'data', 'sub', 'b.csv'), 'x,y\n3,4\n')
    return dir
  }

  test('commit --data --param --metric, then show --json has data, code, params, metrics and environment in the documented shapes', TIMEOUT, async () => {
    const dir = await project()
    await mvcOk(['commit', 'model', '-m', 'x', '--data', 'data', '--param', 'lr=0.01', '--param', 'optimizer=adam', '--metric', 'acc=0.9', '--no-verify'], { cwd: dir })
    const s = await mvcJson(['show'], { cwd: dir })
    const c = s.commit
    assert.equal(c.data.kind, 'snapshot')
    assert.ok(CID.parse(c.data.manifest))
    assert.deepEqual({ ...c.data, manifest: undefined }, { kind: 'snapshot', manifest: undefined, path: 'data', files: 2, bytes: 16 })
    assert.deepEqual(c.code, { kind: 'git', oid: gitc(dir, 'rev-parse', 'HEAD').trim(), branch: 'main', remote: null, dirty: false, dirtyPaths: [] })
    assert.deepEqual(c.params, { lr: 0.01, optimizer: 'adam' })
    assert.deepEqual(c.metrics, { acc: 0.9 })
    assert.deepEqual(Object.keys(c.environment).sort(), ['arch', 'backend', 'mvc', 'node', 'platform', 'tfjs'])
    assert.equal(c.environment.node, process.version)
    assert.equal(c.environment.tfjs, null)
    assert.equal(c.verification, null)
    assert.ok(parseCodeLineage(c.code) !== null)

    const human = (await mvcOk(['show'], { cwd: dir })).stdout
    for (const label of ['data', 'code', 'params', 'metrics', 'env', 'verify']) assert.match(human, new RegExp(`^${label} +\\S`, 'm'), `show prints ${label}`)
    assert.match(human, /lr=0\.01/)
    assert.match(human, new RegExp(c.data.manifest as string))
  })

  test('--data-ref, --no-code, a dirty code tree, --code <dir>, and bad flags', TIMEOUT, async () => {
    const dir = await project()
    await writeFile(join(dir, 'train.py'), 'print("edited")\n')
    const r = await runMvc(['commit', 'model', '-m', 'x', '--data-ref', 's3://bucket/key?versionId=7', '--no-verify'], { cwd: dir })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /uncommitted changes/)
    let c = (await mvcJson(['show'], { cwd: dir })).commit
    assert.deepEqual(c.data, { kind: 'ref', ref: 's3://bucket/key?versionId=7' })
    assert.equal(c.code.dirty, true)
    assert.deepEqual(c.code.dirtyPaths, ['train.py'])

    await put(join(dir, 'model', 'w2.bin'), 'more')
    await mvcOk(['commit', 'model', '-m', 'y', '--no-code', '--no-verify'], { cwd: dir })
    c = (await mvcJson(['show'], { cwd: dir })).commit
    assert.equal(c.code, null)
    assert.equal(c.data, null)

    const other = await newDir()
    await put(join(dir, 'model', 'w3.bin'), 'more')
    await mvcOk(['commit', 'model', '-m', 'z', '--code', other, '--no-verify'], { cwd: dir })
    c = (await mvcJson(['show'], { cwd: dir })).commit
    assert.equal(c.code.kind, 'none')

    const both = await runMvc(['commit', 'model', '-m', 'w', '--data', 'data', '--data-ref', 'x', '--no-verify', '--json'], { cwd: dir })
    assert.equal(both.code, 2)
    assert.equal(jsonError(both).code, 'USAGE')
    const nan = await runMvc(['commit', 'model', '-m', 'w', '--metric', 'acc=NaN', '--no-verify', '--allow-empty', '--json'], { cwd: dir })
    assert.equal(nan.code, 8)
    assert.equal(jsonError(nan).code, 'INVALID_ARGUMENT')
    const noEq = await runMvc(['commit', 'model', '-m', 'w', '--param', 'lr', '--no-verify', '--allow-empty', '--json'], { cwd: dir })
    assert.equal(jsonError(noEq).code, 'INVALID_ARGUMENT')
    const missing = await runMvc(['commit', 'model', '-m', 'w', '--data', 'nope', '--no-verify', '--allow-empty', '--json'], { cwd: dir })
    assert.equal(jsonError(missing).code, 'INPUT_NOT_FOUND')
    assert.equal((await mvcJson(['log'], { cwd: dir })).length, 3, 'failed commits leave no version')
  })
})
