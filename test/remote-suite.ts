/**
 * The remote conformance suite: one set of behaviours every `Remote` backend (folder, HTTP, S3) must
 * show, exercised through the real push / fetch / pull / clone code with real local repositories.
 *
 * A backend's test file calls `remoteSuite({ name, factory, supports })`; every test calls `factory()`
 * for a fresh, empty remote and `destroy()`s it at the end. `supports` declares the optional
 * capabilities of the backend (like abstract-level's manifest): a test that needs one declared absent
 * is reported as skipped with the reason; one declared present must work, hooks included. Tests commit
 * small plain folders and one small TF.js model from fixtures/build.ts (verification off, except in the
 * test where it is the point).
 *
 * Contract for fixtures:
 * - `remote` is read-write and may be used by several transfers at once (the racing-push test);
 * - `processes`: `url` works with `mvc remote add` / `mvc clone` in a child process, given `env`; the
 *   CLI test calls `remote.close()` before starting child processes (a folder remote holds its store's
 *   lock while open) and does not use `remote` afterwards; `destroy()` must still work;
 * - `corruption`: `corrupt(cid)` makes the remote return wrong bytes for that object from then on;
 * - `auth`: `unauthenticated()` and `wrongRepository()` (and `readOnly()` where the backend can make
 *   read-only credentials). The expected codes: no or unknown token → AUTH_FAILED; a read-only token
 *   pushing → AUTH_FAILED; a remote that turns out to serve another repository → REMOTE_ERROR (the
 *   credentials are fine; the URL or the remote's pinned repository id is wrong — see
 *   docs/remotes.md, "Errors").
 */
import { after, before, describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { cp, mkdir, realpath, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { decodeObject } from '../src/content/block.js'
import { Repository } from '../src/api/repository.js'
import { parseCommit, parseFile, parseManifest, parseModel, parseTensor } from '../src/format/objects.js'
import { parseDataLineage } from '../src/format/lineage.js'
import type { ObjectStore } from '../src/store/interface.js'
import type { Remote } from '../src/remote/interface.js'
import { RemoteError, isMvcError } from '../src/errors.js'
import { buildFixtures, type FixtureInfo } from '../fixtures/build.js'
import { jsonError, mvcJson, mvcOk, removeDir, runMvc, tmpdir, treeSnapshot, writeRandomFile, MiB } from './helpers.js'

/** Optional capabilities of a remote backend. */
export interface RemoteSupports {
  /** Stored objects can be damaged behind the remote's back (fixture: `corrupt`). */
  readonly corruption: boolean
  /** It checks credentials and which repository it serves (fixture: `unauthenticated`, `wrongRepository`, maybe `readOnly`). */
  readonly auth: boolean
  /** Another process reaches it by its URL (`mvc remote add`, `mvc clone` in child processes). */
  readonly processes: boolean
}

export interface RemoteSuiteOptions {
  readonly name: string
  readonly factory: () => Promise<RemoteFixture>
  readonly supports: RemoteSupports
  /** Why each capability it lacks is absent, for the skip messages. */
  readonly reasons?: Partial<Record<keyof RemoteSupports, string>>
}

export interface RemoteFixture {
  /** Read-write. */
  readonly remote: Remote
  /** Usable with `mvc remote add` and `mvc clone`. */
  readonly url: string
  /** Environment for CLI runs (e.g. MVC_TOKEN). */
  readonly env?: Record<string, string>
  /** Makes the remote return wrong bytes for this object. */
  readonly corrupt?: (cid: CID) => Promise<void>
  /** A client with read-only credentials, if the backend has auth. */
  readonly readOnly?: () => Promise<Remote>
  readonly unauthenticated?: () => Promise<Remote>
  readonly wrongRepository?: () => Promise<Remote>
  readonly destroy: () => Promise<void>
}

const AUTHOR = { name: 'Suite', email: 'suite@example.com' }
const TIMEOUT = { timeout: 240_000 }

// ------------------------------------------------------------------------------------------ helpers

/** Every object reachable from a commit, from first principles (typed parsers, not the transfer's link walker): CID → size. */
export async function reachable (store: ObjectStore, commit: CID): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  const todo: Array<{ cid: CID, as: 'commit' | 'manifest' | 'data-manifest' | 'file' | 'model' | 'topology' | 'tensor' | 'chunk' }> = [{ cid: commit, as: 'commit' }]
  const expanded = new Set<string>()
  while (todo.length > 0) {
    const { cid, as } = todo.pop()!
    const key = cid.toString()
    // A manifest reached as a data manifest (not descended) may also be a model manifest (descended).
    if (expanded.has(key) || (out.has(key) && as === 'data-manifest')) continue
    const bytes = await store.get(cid)
    out.set(key, bytes.length)
    if (as === 'chunk' || as === 'topology' || as === 'data-manifest') continue
    expanded.add(key)
    const value = decodeObject(cid, bytes, 'test')
    switch (as) {
      case 'commit': {
        const c = parseCommit(value)
        for (const p of c.parents) todo.push({ cid: p, as: 'commit' })
        for (const e of c.paths) todo.push({ cid: e.manifest, as: 'manifest' })
        const d = parseDataLineage(c.data)
        if (d?.kind === 'snapshot') todo.push({ cid: d.manifest, as: 'data-manifest' })
        const v = c.verification as { models?: Array<{ inputs?: CID[], outputs?: CID[] }> } | null
        for (const m of v?.models ?? []) for (const t of [...(m.inputs ?? []), ...(m.outputs ?? [])]) todo.push({ cid: CID.asCID(t)!, as: 'tensor' })
        break
      }
      case 'manifest': {
        const m = parseManifest(value)
        for (const e of m.entries) todo.push({ cid: e.file, as: 'file' })
        for (const x of m.models) todo.push({ cid: x.model, as: 'model' })
        break
      }
      case 'file':
        for (const [c] of parseFile(value).extents) todo.push({ cid: c, as: 'chunk' })
        break
      case 'model': {
        const m = parseModel(value)
        if (m.topology !== null) todo.push({ cid: m.topology, as: 'topology' })
        for (const t of m.tensors) todo.push({ cid: t.tensor, as: 'tensor' })
        break
      }
      case 'tensor':
        for (const [c] of parseTensor(value).chunks) todo.push({ cid: c, as: 'chunk' })
        break
    }
  }
  return out
}

/** Objects of `a` not in `b`. */
export function minus (a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): Map<string, number> {
  return new Map([...a].filter(([k]) => !b.has(k)))
}

export function sum (m: ReadonlyMap<string, number>): number {
  let s = 0
  for (const v of m.values()) s += v
  return s
}

/** A Remote that records what is put (and optionally fails after `failAfter` successful puts). */
export function recording (inner: Remote, failAfter = Infinity): Remote & { puts: string[], hasAsked: string[] } {
  const puts: string[] = []
  const hasAsked: string[] = []
  let started = 0
  return {
    url: inner.url,
    puts,
    hasAsked,
    hasMany: async cids => { hasAsked.push(...cids.map(c => c.toString())); return await inner.hasMany(cids) },
    get: async cid => await inner.get(cid),
    put: async (cid, bytes) => {
      if (started >= failAfter) throw new RemoteError(`simulated failure after ${failAfter} puts`, { url: inner.url })
      started++
      await inner.put(cid, bytes)
      puts.push(cid.toString())
    },
    listRefs: async prefix => await inner.listRefs(prefix),
    casRef: async (name, expect, value) => { await inner.casRef(name, expect, value) },
    flush: async () => { await inner.flush?.() },
    ...(inner.keepsClosures !== undefined ? { keepsClosures: async () => await inner.keepsClosures!() } : {}),
    close: async () => {}
  }
}

async function codeOf (p: Promise<unknown>): Promise<{ code: string | undefined, err: unknown }> {
  try {
    await p
  } catch (err) {
    return { code: isMvcError(err) ? err.code : `not an mvc error: ${String(err)}`, err }
  }
  return { code: undefined, err: undefined }
}

async function remoteRef (remote: Remote, name: string): Promise<string | undefined> {
  return (await remote.listRefs(name)).find(r => r.name === name)?.value
}

// ------------------------------------------------------------------------------------------ suite

export function remoteSuite ({ name, factory, supports, reasons = {} }: RemoteSuiteOptions): void {
  /** A test that needs `capability`: skipped, with the reason, where the backend declares it absent. */
  const needs = (capability: keyof RemoteSupports, title: string, fn: (t: TestContext) => Promise<void>): void => {
    if (supports[capability]) test(title, TIMEOUT, fn)
    else test(title, { skip: `${name} declares no ${capability}${reasons[capability] !== undefined ? ` (${reasons[capability]!})` : ''}` }, () => {})
  }
  describe(`remote conformance: ${name}`, () => {
    let base: string
    let fixtures: FixtureInfo[]
    let dense: FixtureInfo
    const open: Repository[] = []

    before(async () => {
      base = await realpath(await tmpdir('mvc-remote-suite-'))
      fixtures = await buildFixtures(join(base, 'fixtures'))
      dense = fixtures.find(f => f.name === 'dense')!
    })
    after(async () => {
      for (const r of open.splice(0)) await r.close().catch(() => {})
      await removeDir(base)
    })

    let counter = 0
    /** A new repository with `model/`: plain files (seeded), one ~1.5 MiB file, and the dense TF.js model. */
    async function newRepo (seed: string, withModel = true): Promise<{ root: string, repo: Repository, model: string }> {
      const root = join(base, `repo-${++counter}`)
      await mkdir(root)
      await Repository.init({ dir: root })
      const repo = await Repository.open({ dir: root })
      open.push(repo)
      const model = join(root, 'model')
      await mkdir(join(model, 'notes'), { recursive: true })
      await writeFile(join(model, 'config.txt'), `seed=${seed}\n`)
      await writeFile(join(model, 'notes', 'readme.md'), '# notes\n')
      await writeRandomFile(join(model, 'big.bin'), 1.5 * MiB, `big:${seed}`)
      if (withModel) await cp(dense.dir, join(model, 'tfjs'), { recursive: true })
      return { root, repo, model }
    }

    async function commit (repo: Repository, path: string, message: string, verify: false | { backend: 'cpu' } = false): Promise<CID> {
      const r = await repo.commit({ path, message, verify, author: AUTHOR, timestamp: 1_760_000_000_000 + counter })
      assert.ok(r.committed && r.cid !== undefined)
      return r.cid
    }

    async function closeRepo (repo: Repository): Promise<void> {
      const i = open.indexOf(repo)
      if (i >= 0) open.splice(i, 1)
      await repo.close()
    }

    test('push then clone and pull through the remote: checkouts are byte-identical and verified (cpu)', TIMEOUT, async () => {
      const fx = await factory()
      try {
        const a = await newRepo('roundtrip')
        const v1 = await commit(a.repo, a.model, 'first', { backend: 'cpu' })
        const pushed = await a.repo.push({ transport: fx.remote })
        assert.equal(pushed.refs[0]?.status, 'created')
        assert.equal(await remoteRef(fx.remote, 'refs/heads/main'), v1.toString())
        assert.equal(await remoteRef(fx.remote, 'refs/versions/1'), v1.toString())

        const dir = join(base, `clone-${++counter}`)
        const cloned = await Repository.clone({ url: fx.url, dir, transport: fx.remote, verify: { backend: 'cpu' } })
        assert.equal(cloned.branch, 'main')
        assert.equal(cloned.head, v1.toString())
        assert.ok(cloned.checkout?.verification?.verified === true && cloned.checkout.verification.pass, 'verification ran and passed after clone')
        assert.deepEqual(await treeSnapshot(join(dir, 'model')), await treeSnapshot(a.model))

        // A second version, pulled into the clone.
        await writeFile(join(a.model, 'config.txt'), 'seed=roundtrip\nlr=0.01\n')
        const v2 = await commit(a.repo, a.model, 'second', { backend: 'cpu' })
        await a.repo.push({ transport: fx.remote })
        const b = await Repository.open({ dir })
        open.push(b)
        const pulled = await b.pull({ transport: fx.remote, verify: { backend: 'cpu' } })
        assert.equal(pulled.action, 'fast-forward')
        assert.equal(pulled.new, v2.toString())
        assert.ok(pulled.checkout?.verification?.verified === true && pulled.checkout.verification.pass)
        assert.deepEqual(await treeSnapshot(join(dir, 'model')), await treeSnapshot(a.model))
        assert.equal((await b.resolve('v2')).toString(), v2.toString())
        assert.equal((await b.status()).clean, true)
        // Every object of v2 is in the clone and verifies.
        for (const k of (await reachable(b.store, v2)).keys()) assert.ok(await b.store.has(CID.parse(k)))
      } finally { await fx.destroy() }
    })

    test('a second push sends exactly the objects the first commit lacked (counted, and bytes summed)', TIMEOUT, async t => {
      const fx = await factory()
      try {
        const a = await newRepo('only-missing')
        const v1 = await commit(a.repo, a.model, 'v1')
        const first = recording(fx.remote)
        const r1 = await a.repo.push({ transport: first })
        const all1 = await reachable(a.repo.store, v1)
        assert.equal(r1.objectsSent, all1.size)
        assert.equal(r1.bytesSent, sum(all1))
        assert.deepEqual(new Set(first.puts), new Set(all1.keys()))

        await writeFile(join(a.model, 'notes', 'readme.md'), '# notes\nchanged\n')
        const v2 = await commit(a.repo, a.model, 'v2')
        const expected = minus(await reachable(a.repo.store, v2), all1)
        const second = recording(fx.remote)
        const r2 = await a.repo.push({ transport: second })
        t.diagnostic(`first push: ${r1.objectsSent} objects, ${r1.bytesSent} bytes; second push: ${r2.objectsSent} objects, ${r2.bytesSent} bytes (expected ${expected.size} objects, ${sum(expected)} bytes); skipped ${r2.objectsSkipped}`)
        assert.equal(r2.objectsSent, expected.size)
        assert.equal(r2.bytesSent, sum(expected))
        assert.deepEqual(new Set(second.puts), new Set(expected.keys()))
        assert.equal(second.puts.length, expected.size, 'nothing sent twice')
        // Objects below something the remote vouches for are never even asked about: the unchanged big
        // file's chunks. A remote that only says what it stores (S3) is asked about them (closure
        // poisoning, docs/design.md "Complete objects"), and still nothing is sent twice.
        const bigChunks = [...all1.keys()].filter(k => k.startsWith('bafk'))
        const asked = new Set(second.hasAsked)
        if (await fx.remote.keepsClosures?.() === true) assert.ok(bigChunks.every(c => !asked.has(c) || expected.has(c)), 'unchanged chunks are not negotiated')
        else {
          // The unchanged weights' chunks (the only large ones) are below the new commit's manifest.
          const weights = bigChunks.filter(c => (all1.get(c) ?? 0) > 1000)
          assert.ok(weights.length > 0 && weights.every(c => asked.has(c)), 'a remote that does not keep closures is asked about every chunk below the new commit')
        }

        const r3 = await a.repo.push({ transport: recording(fx.remote) })
        assert.equal(r3.objectsSent, 0)
        assert.equal(r3.refs[0]?.status, 'up-to-date')
      } finally { await fx.destroy() }
    })

    needs('corruption', 'wrong bytes from the remote: fetch fails with CORRUPT_OBJECT naming the CID, and nothing of it is stored', async () => {
      const fx = await factory()
      try {
        assert.ok(fx.corrupt !== undefined, `${name} declares corruption but its fixture has no corrupt()`)
        const a = await newRepo('corrupt', false)
        const v1 = await commit(a.repo, a.model, 'v1')
        await a.repo.push({ transport: fx.remote })
        const objects = await reachable(a.repo.store, v1)
        const chunk = CID.parse([...objects].filter(([k]) => k.startsWith('bafk')).sort((x, y) => y[1] - x[1])[0]![0])
        await fx.corrupt(chunk)

        const b = await newRepo('corrupt-b', false)
        const { code, err } = await codeOf(b.repo.fetch({ transport: fx.remote }))
        assert.equal(code, 'CORRUPT_OBJECT')
        assert.equal((err as { data: { cid?: string } }).data.cid, chunk.toString())
        assert.equal(await b.repo.store.has(chunk), false, 'the corrupt object is not stored')
        assert.equal(await b.repo.store.readRef('refs/remotes/origin/main'), undefined, 'no ref moved')
        assert.equal(await b.repo.store.readRef('refs/versions/1'), undefined)
      } finally { await fx.destroy() }
    })

    test('a push that fails half-way moves no ref, and the re-run sends only what is still missing', TIMEOUT, async () => {
      const fx = await factory()
      try {
        const a = await newRepo('interrupted')
        const v1 = await commit(a.repo, a.model, 'v1')
        const all = await reachable(a.repo.store, v1)
        const failing = recording(fx.remote, Math.floor(all.size / 2))
        const { code } = await codeOf(a.repo.push({ transport: failing, concurrency: 4 }))
        assert.equal(code, 'REMOTE_ERROR')
        assert.ok(failing.puts.length > 0 && failing.puts.length < all.size, `some objects were put (${failing.puts.length} of ${all.size})`)
        assert.equal(await remoteRef(fx.remote, 'refs/heads/main'), undefined, 'the branch did not move')
        assert.equal(await remoteRef(fx.remote, 'refs/versions/1'), undefined, 'no version ref either')

        const resumed = recording(fx.remote)
        const r = await a.repo.push({ transport: resumed })
        const first = new Set(failing.puts)
        assert.equal(resumed.puts.filter(c => first.has(c)).length, 0, 'nothing sent twice')
        assert.deepEqual(new Set([...failing.puts, ...resumed.puts]), new Set(all.keys()))
        assert.equal(r.objectsSent, all.size - failing.puts.length)
        assert.equal(await remoteRef(fx.remote, 'refs/heads/main'), v1.toString())
      } finally { await fx.destroy() }
    })

    test('racing pushes to one branch: exactly one wins, the other gets REF_CONFLICT', TIMEOUT, async () => {
      const fx = await factory()
      try {
        const a = await newRepo('race-a', false)
        const b = await newRepo('race-b', false)
        const va = await commit(a.repo, a.model, 'from a')
        const vb = await commit(b.repo, b.model, 'from b')
        const results = await Promise.allSettled([a.repo.push({ transport: fx.remote }), b.repo.push({ transport: fx.remote })])
        const won = results.filter(r => r.status === 'fulfilled')
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
        assert.equal(won.length, 1, `one push wins: ${JSON.stringify(results.map(r => r.status === 'rejected' ? String(r.reason) : 'ok'))}`)
        assert.equal(lost.length, 1)
        assert.equal(isMvcError(lost[0]!.reason) ? lost[0]!.reason.code : String(lost[0]!.reason), 'REF_CONFLICT', String(lost[0]!.reason))
        const winner = results[0]!.status === 'fulfilled' ? va : vb
        assert.equal(await remoteRef(fx.remote, 'refs/heads/main'), winner.toString())
        assert.equal(await remoteRef(fx.remote, 'refs/versions/1'), winner.toString())
      } finally { await fx.destroy() }
    })

    needs('auth', 'auth: no token and read-only tokens are refused with AUTH_FAILED; another repository is REMOTE_ERROR', async t => {
      const fx = await factory()
      try {
        assert.ok(fx.unauthenticated !== undefined && fx.wrongRepository !== undefined, `${name} declares auth but its fixture lacks unauthenticated() or wrongRepository()`)
        if (fx.readOnly === undefined) t.diagnostic(`${name}: no read-only credentials configured; that part is not run`)
        const a = await newRepo('auth', false)
        await commit(a.repo, a.model, 'v1')
        if (fx.unauthenticated !== undefined) {
          const r = await fx.unauthenticated()
          try {
            assert.equal((await codeOf(r.listRefs('refs/'))).code, 'AUTH_FAILED')
            assert.equal((await codeOf(a.repo.push({ transport: r }))).code, 'AUTH_FAILED')
          } finally { await r.close() }
        }
        if (fx.readOnly !== undefined) {
          const r = await fx.readOnly()
          try {
            assert.equal((await codeOf(a.repo.push({ transport: r }))).code, 'AUTH_FAILED')
            assert.equal(await remoteRef(fx.remote, 'refs/heads/main'), undefined)
            await a.repo.push({ transport: fx.remote })
            const b = await newRepo('auth-b', false)
            const f = await b.repo.fetch({ transport: r })
            assert.ok(f.objectsReceived > 0, 'read-only credentials can fetch')
          } finally { await r.close() }
        }
        if (fx.wrongRepository !== undefined) {
          const r = await fx.wrongRepository()
          try {
            assert.equal((await codeOf(r.listRefs('refs/'))).code, 'REMOTE_ERROR')
            assert.equal((await codeOf(a.repo.push({ transport: r, force: true }))).code, 'REMOTE_ERROR')
          } finally { await r.close() }
        }
      } finally { await fx.destroy() }
    })

    needs('processes', 'CLI end to end: remote add, push --json, clone, checkout (child processes)', async () => {
      const fx = await factory()
      try {
        await fx.remote.close() // child processes open the remote themselves
        const env = fx.env ?? {}
        const a = await newRepo('cli')
        await closeRepo(a.repo)
        await mvcOk(['commit', 'model', '-m', 'v1', '--no-verify'], { cwd: a.root, env })
        const added = await mvcJson(['remote', 'add', 'origin', fx.url], { cwd: a.root, env })
        assert.equal(added.name, 'origin')
        const list = await mvcJson(['remote', 'list'], { cwd: a.root, env })
        assert.deepEqual(list.map((r: { name: string }) => r.name), ['origin'])
        const pushed = await mvcJson(['push'], { cwd: a.root, env })
        assert.equal(pushed.ref, 'refs/heads/main')
        assert.equal(pushed.old, null)
        assert.match(pushed.new, /^bafy/)
        assert.ok(pushed.objectsSent > 0 && pushed.bytesSent > 1.5 * MiB)
        assert.equal(pushed.objectsSkipped, 0)
        const again = await mvcJson(['push'], { cwd: a.root, env })
        assert.equal(again.objectsSent, 0)

        await writeFile(join(a.root, 'model', 'config.txt'), 'seed=cli\nmore\n')
        await mvcOk(['commit', '-m', 'v2', '--no-verify'], { cwd: a.root, env })
        const p2 = await mvcJson(['push', 'origin', 'main'], { cwd: a.root, env })
        assert.equal(p2.old, pushed.new)
        assert.ok(p2.objectsSent > 0 && p2.objectsSent < pushed.objectsSent)

        const cloneDir = join(base, `cli-clone-${++counter}`)
        const c = await mvcJson(['clone', fx.url, cloneDir, '--no-verify'], { cwd: base, env })
        assert.equal(c.branch, 'main')
        assert.equal(c.head, p2.new)
        assert.deepEqual(await treeSnapshot(join(cloneDir, 'model')), await treeSnapshot(join(a.root, 'model')))
        const co = await mvcJson(['checkout', 'v1', '--to', join(base, `cli-v1-${counter}`), '--no-verify'], { cwd: cloneDir, env })
        assert.equal(co.version, 1)
        const log = await mvcJson(['log'], { cwd: cloneDir, env })
        assert.deepEqual(log.map((e: { version: number }) => e.version), [2, 1])
        // The clone can push back: nothing to send.
        const back = await mvcJson(['push'], { cwd: cloneDir, env })
        assert.equal(back.objectsSent, 0)
        // Cloning into a non-empty folder is refused (exit 8) and leaves it alone.
        const refused = await runMvc(['clone', fx.url, cloneDir, '--json'], { cwd: base, env })
        assert.equal(refused.code, 8, refused.stderr)
        assert.equal(jsonError(refused).code, 'INVALID_ARGUMENT')
      } finally { await fx.destroy() }
    })
  })
}
