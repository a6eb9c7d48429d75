/**
 * Push / fetch / pull / clone beyond the conformance suite: negotiation with an in-memory store as the
 * remote (`StoreRemote` over `openMemoryStore`), ordering, data manifests, lying remotes, diverged
 * histories (pull --force), tags, remote configuration, and partial clones (`--filter=commits`).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, realpath, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { Repository } from '../src/api/repository.js'
import { isMvcError } from '../src/errors.js'
import { openMemoryStore, openDiskStore } from '../src/store/open.js'
import { openFolderRemote } from '../src/remote/folder.js'
import { StoreRemote } from '../src/remote/store.js'
import { openRemote } from '../src/remote/open.js'
import { negotiate, objectLinks, storeSource, type Link } from '../src/core/transfer.js'
import { normalizeRemoteUrl } from '../src/remote/url.js'
import type { Remote } from '../src/remote/interface.js'
import { minus, reachable, recording, sum } from './remote-suite.js'
import { mvcJson, removeDir, tmpdir, treeSnapshot, writeRandomFile, MiB } from './helpers.js'

const AUTHOR = { name: 'Sync', email: 'sync@example.com' }
const TIMEOUT = { timeout: 120_000 }

let base: string
const open: Repository[] = []
let counter = 0
before(async () => { base = await realpath(await tmpdir('mvc-sync-')) })
after(async () => {
  for (const r of open.splice(0)) await r.close().catch(() => {})
  await removeDir(base)
})

async function memoryRemote (): Promise<StoreRemote> {
  return new StoreRemote(await openMemoryStore(), 'memory://test')
}

async function newRepo (seed: string): Promise<{ root: string, repo: Repository, model: string }> {
  const root = join(base, `repo-${++counter}`)
  await mkdir(root)
  await Repository.init({ dir: root })
  const repo = await Repository.open({ dir: root })
  open.push(repo)
  const model = join(root, 'model')
  await mkdir(join(model, 'sub'), { recursive: true })
  await writeFile(join(model, 'a.txt'), `a ${seed}\n`)
  await writeFile(join(model, 'sub', 'b.txt'), 'b\n')
  await writeRandomFile(join(model, 'big.bin'), 2 * MiB + 123, `big:${seed}`)
  return { root, repo, model }
}

async function commit (repo: Repository, path: string, message: string, extra: { data?: { path: string } } = {}): Promise<CID> {
  const r = await repo.commit({ path, message, verify: false, author: AUTHOR, timestamp: 1_760_000_000_000 + ++counter, ...extra })
  assert.ok(r.committed && r.cid !== undefined, 'committed')
  return r.cid
}

async function clone (remote: Remote, options: { checkout?: boolean } = {}): Promise<{ dir: string, repo: Repository }> {
  const dir = join(base, `clone-${++counter}`)
  await Repository.clone({ url: 'memory-remote', dir, transport: remote, verify: false, checkout: options.checkout })
  const repo = await Repository.open({ dir })
  open.push(repo)
  return { dir, repo }
}

async function codeOf (p: Promise<unknown>): Promise<string | undefined> {
  try { await p } catch (err) { return isMvcError(err) ? err.code : `not an mvc error: ${String(err)}` }
  return undefined
}

async function countObjects (store: { cids: () => AsyncIterable<CID> }): Promise<number> {
  let n = 0
  for await (const _ of store.cids()) n++ // eslint-disable-line @typescript-eslint/no-unused-vars
  return n
}

describe('negotiation', () => {
  test('an empty remote receives the whole closure, every object after everything it links', TIMEOUT, async () => {
    const a = await newRepo('order')
    const v1 = await commit(a.repo, a.model, 'v1')
    await writeFile(join(a.model, 'a.txt'), 'changed\n')
    const v2 = await commit(a.repo, a.model, 'v2')
    const inner = await memoryRemote()
    const violations: string[] = []
    const checking: Remote = {
      ...recording(inner),
      put: async (cid, bytes) => {
        if (cid.code === 0x71) {
          const links = objectLinks(dagCbor.decode(bytes))
          const present = await inner.hasMany(links.map(l => l.cid))
          links.forEach((l, i) => { if (present[i] !== true) violations.push(`${cid.toString()} put before its link ${l.cid.toString()}`) })
        }
        await inner.put(cid, bytes)
      }
    }
    const r = await a.repo.push({ transport: checking })
    assert.deepEqual(violations, [])
    const all = await reachable(a.repo.store, v2)
    assert.equal(r.objectsSent, all.size)
    assert.equal(r.bytesSent, sum(all))
    assert.deepEqual(r.versions, [1, 2])
    assert.ok(all.has(v1.toString()))
    assert.equal((await inner.listRefs('refs/versions/')).length, 2)
    await inner.close()
  })

  test('the plan is exactly the difference of the reachable sets, grouped so links point to earlier groups', TIMEOUT, async () => {
    const a = await newRepo('plan')
    const v1 = await commit(a.repo, a.model, 'v1')
    const remote = await memoryRemote()
    await a.repo.push({ transport: remote })
    await writeRandomFile(join(a.model, 'big.bin'), 2 * MiB + 123, 'big:plan-2')
    const v2 = await commit(a.repo, a.model, 'v2')
    const plan = await negotiate(storeSource(a.repo.store, 'local'), remote, [{ cid: v2, kind: 'parent' }])
    const expected = minus(await reachable(a.repo.store, v2), await reachable(a.repo.store, v1))
    const planned = plan.groups.flat()
    assert.deepEqual(new Set(planned.map(o => o.cid.toString())), new Set(expected.keys()))
    assert.equal(plan.objects, expected.size)
    assert.equal(plan.bytes, sum(expected), 'chunk sizes come from the links that name them')
    const groupOf = new Map<string, number>()
    plan.groups.forEach((g, i) => { for (const o of g) groupOf.set(o.cid.toString(), i) })
    for (const o of planned) {
      if (o.bytes === undefined) continue
      for (const l of objectLinks(dagCbor.decode(o.bytes))) {
        const g = groupOf.get(l.cid.toString())
        if (g !== undefined) assert.ok(g < groupOf.get(o.cid.toString())!, 'a link points to an earlier group')
      }
    }
    assert.deepEqual(plan.commits.map(c => c.version), [2])
    await remote.close()
  })

  test('data manifests are sent but never descended into; a manifest the remote has only as data gets its files', TIMEOUT, async () => {
    const a = await newRepo('data')
    const data = join(a.root, 'data')
    await mkdir(data)
    await writeFile(join(data, 'train.csv'), 'x,y\n1,2\n')
    await writeRandomFile(join(data, 'images.bin'), 300_000, 'data-images')
    const v1 = await commit(a.repo, a.model, 'with data', { data: { path: data } })
    const c1 = await a.repo.show({ rev: 'v1' })
    const dataManifest = CID.asCID((c1.commit.data as { manifest: CID }).manifest)!
    const remote = await memoryRemote()
    const r1 = await a.repo.push({ transport: remote })
    assert.equal(r1.objectsSent, (await reachable(a.repo.store, v1)).size)
    assert.ok((await remote.get(dataManifest)).length > 0, 'the data manifest is on the remote')
    // ... but it is not complete there (its files are stored nowhere), so the remote does not vouch for it.
    assert.deepEqual(await remote.hasMany([dataManifest]), [false], 'a data manifest is never a complete closure')

    // Now commit the data folder itself: its manifest has the same CID, and this time its files are stored.
    const v2 = await commit(a.repo, data, 'the data folder as a version')
    // v2 tracks the model and the data folder (issue 13: committing a path starts tracking it).
    assert.equal((await a.repo.show({ rev: 'v2' })).commit.paths.find(p => p.path === 'data')!.manifest.toString(), dataManifest.toString(), 'same manifest CID')
    await a.repo.push({ transport: remote })
    const b = await clone(remote, { checkout: false })
    await b.repo.checkout({ rev: 'v2', to: join(b.dir, 'data-out'), only: ['data'], verify: false })
    assert.deepEqual(await treeSnapshot(join(b.dir, 'data-out')), await treeSnapshot(data))
    assert.equal((await b.repo.resolve('v2')).toString(), v2.toString())
    await remote.close()
  })

  test('one push where a manifest is reached first as a data manifest and then as a model manifest sends its files', TIMEOUT, async () => {
    const a = await newRepo('data-upgrade')
    const data = join(a.root, 'data')
    await mkdir(data)
    await writeFile(join(data, 'labels.txt'), 'cat\ndog\n')
    await writeRandomFile(join(data, 'x.bin'), 100_000, 'data-upgrade')
    const v1 = await commit(a.repo, data, 'the data folder as a version')
    const v2 = await commit(a.repo, a.model, 'trained on it', { data: { path: data } })
    const remote = await memoryRemote()
    const r = await a.repo.push({ transport: remote })
    const all = minus(await reachable(a.repo.store, v2), new Map())
    assert.ok(all.has(v1.toString()))
    assert.equal(r.objectsSent, all.size)
    const b = await clone(remote, { checkout: false })
    await b.repo.checkout({ rev: 'v1', to: join(b.dir, 'data-out'), verify: false })
    assert.deepEqual(await treeSnapshot(join(b.dir, 'data-out')), await treeSnapshot(data))
    await remote.close()
  })

  test('a remote that returns wrong bytes: CORRUPT_OBJECT naming the CID, nothing stored, no ref moved', TIMEOUT, async () => {
    const a = await newRepo('lie')
    const v1 = await commit(a.repo, a.model, 'v1')
    const inner = await memoryRemote()
    await a.repo.push({ transport: inner })
    const objects = await reachable(a.repo.store, v1)
    const victim = CID.parse([...objects.keys()].find(k => k.startsWith('bafk'))!)
    const manifest = (await a.repo.show({ rev: 'v1' })).commit.model!
    for (const bad of [victim, manifest]) {
      const lying: Remote = {
        ...recording(inner),
        get: async cid => {
          const b = await inner.get(cid)
          if (!cid.equals(bad)) return b
          const copy = b.slice()
          copy[0] = copy[0]! ^ 0xff
          return copy
        }
      }
      const b = await newRepo('lie-b')
      let err: unknown
      try { await b.repo.fetch({ transport: lying }) } catch (e) { err = e }
      assert.ok(isMvcError(err) && err.code === 'CORRUPT_OBJECT', String(err))
      assert.equal((err as { data: Record<string, unknown> }).data.cid, bad.toString())
      assert.equal(await b.repo.store.has(bad), false)
      assert.equal(await b.repo.store.readRef('refs/remotes/origin/main'), undefined)
    }
    await inner.close()
  })

  test('a fetch that stops half-way keeps what it received; the re-run receives only the rest', TIMEOUT, async () => {
    const a = await newRepo('resume-fetch')
    const v1 = await commit(a.repo, a.model, 'v1')
    const inner = await memoryRemote()
    await a.repo.push({ transport: inner })
    let gets = 0
    const flaky: Remote = { ...recording(inner), get: async cid => { if (++gets > 6) throw new Error('connection reset'); return await inner.get(cid) } }
    const b = await newRepo('resume-fetch-b')
    await assert.rejects(b.repo.fetch({ transport: flaky }))
    const kept = await countObjects(b.repo.store) // a new repository holds no objects before
    assert.ok(kept > 0, 'objects received before the failure were kept')
    assert.equal(await b.repo.store.readRef('refs/versions/1'), undefined, 'no ref moved')
    const all = await reachable(a.repo.store, v1)
    const r = await b.repo.fetch({ transport: inner })
    assert.equal(r.objectsReceived, all.size - kept)
    assert.equal((await b.repo.resolve('v1')).toString(), v1.toString())
    await inner.close()
  })
})

describe('pull, diverged histories and tags', () => {
  test('diverged versions: pull is REF_CONFLICT; pull --force takes the remote\'s history and keeps the old commit', TIMEOUT, async () => {
    const a = await newRepo('div')
    await commit(a.repo, a.model, 'v1')
    const remote = await memoryRemote()
    await a.repo.push({ transport: remote })
    const b = await clone(remote)
    await writeFile(join(a.model, 'a.txt'), 'from a\n')
    const a2 = await commit(a.repo, a.model, 'a2')
    await a.repo.push({ transport: remote })
    await writeFile(join(b.dir, 'model', 'a.txt'), 'from b\n')
    const b2 = await commit(b.repo, join(b.dir, 'model'), 'b2')

    assert.equal(await codeOf(b.repo.pull({ transport: remote, verify: false })), 'REF_CONFLICT')
    assert.equal(await codeOf(b.repo.push({ transport: remote })), 'REF_CONFLICT')
    assert.equal((await b.repo.resolve('main')).toString(), b2.toString(), 'nothing moved')

    const r = await b.repo.pull({ transport: remote, force: true, verify: false })
    assert.equal(r.action, 'reset')
    assert.equal(r.old, b2.toString())
    assert.equal(r.new, a2.toString())
    assert.equal((await b.repo.resolve('main')).toString(), a2.toString())
    assert.equal((await b.repo.resolve('v2')).toString(), a2.toString())
    assert.ok(await b.repo.store.has(b2), 'the local commit stays, reachable by CID')
    assert.deepEqual(await treeSnapshot(join(b.dir, 'model')), await treeSnapshot(a.model))
    // Next commit in b gets v3 and pushes cleanly on top.
    await writeFile(join(b.dir, 'model', 'a.txt'), 'b again\n')
    const b3 = await commit(b.repo, join(b.dir, 'model'), 'b3')
    assert.equal((await b.repo.show({ rev: 'HEAD' })).commit.version, 3)
    const p = await b.repo.push({ transport: remote })
    assert.equal(p.refs[0]?.status, 'updated')
    assert.equal((await remote.listRefs('refs/heads/main'))[0]?.value, b3.toString())
    await remote.close()
  })

  test('diverged branches (versions agree): pull is REF_CONFLICT; push --force overwrites the remote branch', TIMEOUT, async () => {
    const a = await newRepo('div-branch')
    await commit(a.repo, a.model, 'v1')
    const remote = await memoryRemote()
    await a.repo.push({ transport: remote })
    const b = await clone(remote)
    await writeFile(join(a.model, 'a.txt'), 'a2\n')
    const a2 = await commit(a.repo, a.model, 'a2')
    await a.repo.push({ transport: remote })
    const f = await b.repo.fetch({ transport: remote })
    assert.deepEqual(f.versions, [2])
    await writeFile(join(b.dir, 'model', 'a.txt'), 'b3\n')
    const b3 = await commit(b.repo, join(b.dir, 'model'), 'b3')
    assert.equal((await b.repo.show({ rev: 'HEAD' })).commit.version, 3, 'the fetched v2 moved next-version on')
    assert.equal(await codeOf(b.repo.pull({ transport: remote, verify: false })), 'REF_CONFLICT')
    assert.equal(await codeOf(b.repo.push({ transport: remote })), 'REF_CONFLICT')
    const forced = await b.repo.push({ transport: remote, force: true })
    assert.equal(forced.refs[0]?.status, 'forced')
    assert.deepEqual(forced.versions, [3])
    assert.equal((await remote.listRefs('refs/heads/main'))[0]?.value, b3.toString())
    // a is now behind a non-descendant: its pull is diverged too; a fast-forward after --force.
    assert.equal(await codeOf(a.repo.pull({ transport: remote, verify: false })), 'REF_CONFLICT')
    const r = await a.repo.pull({ transport: remote, force: true, verify: false })
    assert.equal(r.old, a2.toString())
    assert.equal(r.new, b3.toString())
    // A pull with nothing new is up to date; a branch ahead of the remote is left alone.
    assert.equal((await a.repo.pull({ transport: remote, verify: false })).action, 'up-to-date')
    await writeFile(join(a.model, 'a.txt'), 'a4\n')
    await commit(a.repo, a.model, 'a4')
    assert.equal((await a.repo.pull({ transport: remote, verify: false })).action, 'ahead')
    await remote.close()
  })

  test('tags travel with their commits and never move without --force, on either side', TIMEOUT, async () => {
    const a = await newRepo('tags')
    const v1 = await commit(a.repo, a.model, 'v1')
    await a.repo.tag({ name: 'release', rev: 'v1' })
    const remote = await memoryRemote()
    const p = await a.repo.push({ transport: remote })
    assert.ok(p.refs.some(r => r.ref === 'refs/tags/release' && r.status === 'created'), 'tags on pushed commits follow')
    const b = await newRepo('tags-b')
    await b.repo.fetch({ transport: remote })
    assert.equal((await b.repo.resolve('release')).toString(), v1.toString())

    await writeFile(join(a.model, 'a.txt'), 'two\n')
    const v2 = await commit(a.repo, a.model, 'v2')
    await a.repo.tag({ name: 'release', rev: 'v2', force: true })
    assert.equal(await codeOf(a.repo.push({ transport: remote })), 'REF_CONFLICT')
    assert.equal((await remote.listRefs('refs/heads/main'))[0]?.value, v1.toString(), 'a refused push moves nothing')
    await a.repo.push({ transport: remote, force: true })
    assert.equal((await remote.listRefs('refs/tags/release'))[0]?.value, v2.toString())

    assert.equal(await codeOf(b.repo.fetch({ transport: remote })), 'REF_CONFLICT')
    assert.equal((await b.repo.resolve('release')).toString(), v1.toString())
    await b.repo.fetch({ transport: remote, force: true })
    assert.equal((await b.repo.resolve('release')).toString(), v2.toString())

    // An explicitly named tag; --tags pushes every tag.
    await a.repo.tag({ name: 'old', rev: 'v1' })
    const other = await memoryRemote()
    const only = await a.repo.push({ transport: other, refs: ['old'] })
    assert.deepEqual(only.refs.map(r => r.ref).sort(), ['refs/tags/old'])
    assert.deepEqual(only.versions, [1])
    const all = await a.repo.push({ transport: other, tags: true })
    assert.ok(all.refs.some(r => r.ref === 'refs/tags/release'))
    await remote.close()
    await other.close()
  })
})

describe('remote configuration', () => {
  test('add, list, remove; URLs stored as documented; names checked', TIMEOUT, async () => {
    const a = await newRepo('config')
    assert.equal(normalizeRemoteUrl('rel/remote', '/x/y'), '/x/y/rel/remote')
    assert.equal(normalizeRemoteUrl('file:///srv/m'), 'file:///srv/m')
    assert.equal(normalizeRemoteUrl('http://127.0.0.1:8080/'), 'http://127.0.0.1:8080/')
    assert.equal(normalizeRemoteUrl('s3://bucket/prefix'), 's3://bucket/prefix')
    assert.throws(() => normalizeRemoteUrl('ftp://host/x'), (e: unknown) => isMvcError(e) && e.code === 'INVALID_ARGUMENT')
    await a.repo.addRemote({ name: 'origin', url: 'shared/models', cwd: '/srv' })
    await a.repo.addRemote({ name: 'backup', url: 's3://bucket/models' })
    assert.deepEqual((await a.repo.remotes()).map(r => [r.name, r.url]), [['backup', 's3://bucket/models'], ['origin', '/srv/shared/models']])
    assert.equal(await codeOf(a.repo.addRemote({ name: 'origin', url: '/elsewhere' })), 'REF_EXISTS')
    assert.equal(await codeOf(a.repo.addRemote({ name: '../x', url: '/elsewhere' })), 'INVALID_ARGUMENT')
    assert.equal(await codeOf(a.repo.push({ remote: 'nope' })), 'INVALID_ARGUMENT')
    await a.repo.removeRemote({ name: 'backup' })
    assert.deepEqual((await a.repo.remotes()).map(r => r.name), ['origin'])
    assert.equal(await codeOf(a.repo.removeRemote({ name: 'backup' })), 'INVALID_ARGUMENT')
    // A folder that holds no store is a REMOTE_ERROR when fetching from it.
    assert.equal(await codeOf(openRemote(join(base, 'no-such-remote'))), 'REMOTE_ERROR')
    // S3 is another engineer's transport: until src/remote/s3.ts exists, opening one is a clear REMOTE_ERROR.
    if (!existsSync(fileURLToPath(new URL('../src/remote/s3.js', import.meta.url)))) {
      assert.equal(await codeOf(openRemote('s3://bucket/prefix')), 'REMOTE_ERROR')
    }
  })

  test('fetch keeps refs/remotes/<name>/<branch>, prunes deleted branches, and removing the remote drops them', TIMEOUT, async () => {
    const a = await newRepo('tracking')
    const v1 = await commit(a.repo, a.model, 'v1')
    await a.repo.createBranch({ name: 'exp' })
    const remote = await memoryRemote()
    await a.repo.push({ transport: remote, refs: ['main', 'exp'] })
    const b = await newRepo('tracking-b')
    await b.repo.addRemote({ name: 'origin', url: '/not/used' })
    await b.repo.fetch({ transport: remote })
    assert.equal(await b.repo.store.readRef('refs/remotes/origin/main'), v1.toString())
    assert.equal(await b.repo.store.readRef('refs/remotes/origin/exp'), v1.toString())
    await remote.casRef('refs/heads/exp', v1.toString(), null)
    const f = await b.repo.fetch({ transport: remote })
    assert.ok(f.refs.some(r => r.ref === 'refs/remotes/origin/exp' && r.status === 'deleted'))
    assert.equal(await b.repo.store.readRef('refs/remotes/origin/exp'), undefined)
    await b.repo.removeRemote({ name: 'origin' })
    assert.deepEqual(await b.repo.store.listRefs('refs/remotes/'), [])
    await remote.close()
  })
})

describe('partial clones (--filter=commits)', () => {
  test('clone fetches commits only; checkout, show and verify fetch exactly the version\'s objects', TIMEOUT, async () => {
    const a = await newRepo('partial')
    const v1 = await commit(a.repo, a.model, 'v1')
    await writeRandomFile(join(a.model, 'big.bin'), 2 * MiB + 123, 'big:partial-2')
    const v2 = await commit(a.repo, a.model, 'v2')
    const path = join(base, `partial-remote-${++counter}`)
    const folder = await openFolderRemote(path, { create: true })
    await a.repo.push({ transport: folder })
    await folder.close()

    const dir = join(base, `partial-clone-${++counter}`)
    const c = await Repository.clone({ url: path, dir, filter: 'commits', checkout: false })
    assert.equal(c.partial, true)
    assert.equal(c.fetch.objectsReceived, 2, 'two commit objects')
    const b = await Repository.open({ dir })
    open.push(b)
    assert.equal(await countObjects(b.store), 2)
    assert.equal(new TextDecoder().decode(await b.store.readMeta('partial')), 'origin')
    assert.equal((await b.log()).length, 2, 'history is complete')

    const r1 = await reachable(a.repo.store, v1)
    await b.checkout({ rev: 'v1', verify: false })
    assert.equal(await countObjects(b.store), 2 + r1.size - 1, 'v1\'s content, nothing else')
    assert.deepEqual(await treeSnapshot(join(dir, 'model')), await treeSnapshotOfRev(a.repo, 'v1'))

    const r2 = await reachable(a.repo.store, v2)
    const onlyV2 = minus(r2, r1)
    await b.show({ rev: 'v2' })
    assert.equal(await countObjects(b.store), 2 + r1.size - 1 + onlyV2.size - 1, 'then v2\'s new objects only')
    // Once here, nothing is fetched again.
    assert.deepEqual(await b.ensureLocal('v2'), { objects: 0, bytes: 0 })
    // Fetching in a partial clone stays commits-only.
    await writeFile(join(a.model, 'a.txt'), 'three\n')
    await commit(a.repo, a.model, 'v3')
    const folder2 = await openFolderRemote(path)
    await a.repo.push({ transport: folder2 })
    await folder2.close()
    const f = await b.fetch()
    assert.equal(f.objectsReceived, 1)
    await b.pull({ verify: false })
    assert.equal((await b.resolve('main')).toString(), (await a.repo.resolve('v3')).toString())
    assert.deepEqual(await treeSnapshot(join(dir, 'model')), await treeSnapshot(a.model))
  })

  test('CLI: mvc clone --filter=commits, then mvc checkout pulls the version on demand', TIMEOUT, async () => {
    const a = await newRepo('partial-cli')
    const v1 = await commit(a.repo, a.model, 'v1')
    const path = join(base, `partial-cli-remote-${++counter}`)
    const folder = await openFolderRemote(path, { create: true })
    await a.repo.push({ transport: folder })
    await folder.close()
    const dir = join(base, `partial-cli-clone-${counter}`)
    const c = await mvcJson(['clone', '--filter=commits', path, dir, '--no-verify'], { cwd: base })
    assert.equal(c.partial, true)
    assert.equal(c.checkout.version, 1)
    assert.equal(c.objectsReceived, 1)
    const store = await openDiskStore(join(dir, '.mvc'))
    try {
      assert.equal(await countObjects(store), (await reachable(a.repo.store, v1)).size)
    } finally { await store.close() }
    assert.deepEqual(await treeSnapshot(join(dir, 'model')), await treeSnapshot(a.model))
  })
})

async function treeSnapshotOfRev (repo: Repository, rev: string): Promise<Awaited<ReturnType<typeof treeSnapshot>>> {
  const to = join(base, `rev-${++counter}`)
  await repo.checkout({ rev, to, verify: false })
  return await treeSnapshot(to)
}

// Link kinds are part of the contract the walker relies on.
test('objectLinks classifies commit links: parents, model, data manifest, verification tensors', () => {
  const cid = (n: number): CID => CID.parse(['bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku', 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'][n]!)
  const links = objectLinks({ type: 'mvc/commit', parents: [cid(0)], model: cid(0), data: { kind: 'snapshot', manifest: cid(0), path: 'd', files: 1, bytes: 1 }, verification: { models: [{ inputs: [cid(0)], outputs: [] }] } })
  assert.deepEqual(links.map((l: Link) => l.kind).sort(), ['content', 'data', 'model', 'parent'])
  const extents = objectLinks({ type: 'mvc/file', size: 10, extents: [[cid(1), 4, 6]] })
  assert.equal(extents[0]?.size, 10)
})
