/**
 * Names (issue #4): tags, aliases with their history, branches and switch, name resolution in
 * checkout/show/verify, CID prefixes. Real repositories in temporary folders, driven through the CLI
 * as child processes (exit codes and `--json` error codes, never message wording) and through the
 * library where a check is about stored state.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, realpath } from 'node:fs/promises'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { validateName } from '../src/core/names.js'
import { openDiskStore } from '../src/store/open.js'
import { jsonError, mvcJson, mvcOk, put, removeDir, runMvc, stackLines, tmpdir, type RunResult } from './helpers.js'

const TIMEOUT = { timeout: 120_000 }
const cleanup: string[] = []
after(async () => { await Promise.all(cleanup.map(removeDir)) })

async function newRepo (): Promise<string> {
  const base = await realpath(await tmpdir('mvc-names-'))
  cleanup.push(base)
  const root = join(base, 'repo')
  await mkdir(root)
  await mvcOk(['init'], { cwd: root })
  return root
}

/** Commits `model/a.txt` holding `content`; returns the new version's CID. */
async function commit (root: string, content: string, message = content): Promise<string> {
  await put(join(root, 'model', 'a.txt'), content + '\n')
  const r = await mvcJson(['commit', 'model', '-m', message, '--no-verify'], { cwd: root })
  assert.equal(r.committed, true)
  return r.cid as string
}

/** A repository with versions v1..vn; returns the CIDs, index 0 = v1. */
async function repoWith (n: number): Promise<{ root: string, cids: string[] }> {
  const root = await newRepo()
  const cids: string[] = []
  for (let i = 1; i <= n; i++) cids.push(await commit(root, `content ${i}`))
  return { root, cids }
}

function assertFails (r: RunResult, exit: number, code: string): void {
  assert.equal(r.code, exit, `expected exit ${exit}, got ${String(r.code)}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  assert.equal(jsonError(r).code, code, r.stderr)
  assert.deepEqual(stackLines(r.stderr), [])
}

async function fails (root: string, args: string[], exit: number, code: string): Promise<RunResult> {
  const r = await runMvc(['--json', ...args], { cwd: root })
  assertFails(r, exit, code)
  return r
}

async function versionOf (root: string, rev: string): Promise<number> {
  return (await mvcJson(['show', rev], { cwd: root })).commit.version as number
}

describe('name validation', () => {
  const invalid = ['', 'v3', 'v10', 'a b', 'tab\there', 'new\nline', 'ctl\x01x', 'del\x7fx', 'a..b', '-x', '--force', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[b', 'a\\b',
    'a@{1}', '@', 'HEAD', '/a', 'a/', 'a//b', 'a.', '.hidden', 'x/.y', 'ref.lock', 'x'.repeat(201)]
  const valid = ['1.2.0', '1.2.0-rc.1', 'v1.2.0', 'v1a', 'production', 'release/2026-01', 'a.b_c-d', 'x'.repeat(200), 'ünïcode']
  test('the library refuses each broken rule with INVALID_ARGUMENT and accepts ordinary names', () => {
    for (const kind of ['tag', 'alias', 'branch'] as const) {
      for (const name of invalid) {
        assert.throws(() => validateName(kind, name), (e: { code?: string }) => e.code === 'INVALID_ARGUMENT', `${kind} ${JSON.stringify(name)} should be refused`)
      }
      for (const name of valid) assert.doesNotThrow(() => validateName(kind, name), `${kind} ${JSON.stringify(name)} should be accepted`)
    }
  })

  test('the CLI refuses invalid tag, alias and branch names with exit 8 and creates nothing', TIMEOUT, async () => {
    const { root } = await repoWith(1)
    for (const name of ['v3', 'a b', 'a..b', 'ctl\x01x', 'a~1', 'x'.repeat(201)]) {
      await fails(root, ['tag', name], 8, 'INVALID_ARGUMENT')
    }
    await fails(root, ['tag', '-x'], 2, 'USAGE') // read as an unknown option
    await fails(root, ['tag', '--', '-x'], 8, 'INVALID_ARGUMENT') // given as a name: refused by the rules
    await fails(root, ['alias', '--', '-x', 'v1'], 8, 'INVALID_ARGUMENT')
    await fails(root, ['alias', 'v2'], 8, 'INVALID_ARGUMENT')
    await fails(root, ['branch', 'a b'], 8, 'INVALID_ARGUMENT')
    await fails(root, ['switch', '-c', 'v7'], 8, 'INVALID_ARGUMENT')
    assert.deepEqual(await mvcJson(['tag'], { cwd: root }), [])
    assert.deepEqual(await mvcJson(['alias'], { cwd: root }), [])
    assert.deepEqual((await mvcJson(['branch'], { cwd: root })).map((b: { name: string }) => b.name), ['main'])
    // The longest allowed name and a semantic version work.
    await mvcOk(['tag', 'x'.repeat(200)], { cwd: root })
    await mvcOk(['tag', '1.2.0'], { cwd: root })
  })
})

describe('mvc tag', () => {
  test('tags are immutable: moving or deleting is refused (exit 7) unless --force', TIMEOUT, async () => {
    const { root, cids } = await repoWith(3)
    const r = await mvcJson(['tag', '1.2.0', 'v1'], { cwd: root })
    assert.deepEqual(r, { name: '1.2.0', cid: cids[0], version: 1, previous: null, changed: true })
    assert.equal(await versionOf(root, '1.2.0'), 1)

    await fails(root, ['tag', '1.2.0', 'v2'], 7, 'REF_EXISTS')
    await fails(root, ['tag', '1.2.0'], 7, 'REF_EXISTS') // default rev HEAD = v3: also a move
    await fails(root, ['tag', '-d', '1.2.0'], 7, 'REF_EXISTS')
    assert.equal(await versionOf(root, '1.2.0'), 1, 'refused operations leave the tag where it was')

    // Re-tagging the commit it already names is not a move.
    const same = await mvcJson(['tag', '1.2.0', cids[0]!], { cwd: root })
    assert.equal(same.changed, false)

    const moved = await mvcJson(['tag', '1.2.0', 'v2', '--force'], { cwd: root })
    assert.equal(moved.previous, cids[0])
    assert.equal(await versionOf(root, '1.2.0'), 2)

    const del = await mvcJson(['tag', '-d', '1.2.0', '--force'], { cwd: root })
    assert.deepEqual(del, { deleted: '1.2.0', cid: cids[1], version: 2 })
    await fails(root, ['show', '1.2.0'], 4, 'UNKNOWN_REVISION')
    await fails(root, ['tag', '-d', 'nope', '--force'], 4, 'UNKNOWN_REVISION')
  })

  test('mvc tag lists tags with versions (numeric-aware order), --json shape', TIMEOUT, async () => {
    const { root, cids } = await repoWith(3)
    await mvcOk(['tag', '1.10.0', 'v3'], { cwd: root })
    await mvcOk(['tag', '1.9.0', 'v2'], { cwd: root })
    await mvcOk(['tag', 'baseline', 'v1'], { cwd: root })
    const list = await mvcJson(['tag'], { cwd: root })
    assert.deepEqual(list, [
      { name: '1.9.0', cid: cids[1], version: 2 },
      { name: '1.10.0', cid: cids[2], version: 3 },
      { name: 'baseline', cid: cids[0], version: 1 }
    ])
    const human = (await mvcOk(['tag'], { cwd: root })).stdout.trim().split('\n')
    assert.equal(human.length, 3)
    assert.match(human[0]!, /^1\.9\.0\s+v2\s/)
    assert.match(human[2]!, /^baseline\s+v1\s/)
    // Names show up in log and show.
    const show = await mvcJson(['show', 'v3'], { cwd: root })
    assert.ok(show.names.includes('tag: 1.10.0'), JSON.stringify(show.names))
  })

  test('a name can only be one of tag, alias, branch (REF_EXISTS)', TIMEOUT, async () => {
    const { root } = await repoWith(1)
    await mvcOk(['tag', 'prod'], { cwd: root })
    await fails(root, ['alias', 'prod'], 7, 'REF_EXISTS')
    await fails(root, ['branch', 'prod'], 7, 'REF_EXISTS')
    await fails(root, ['switch', '-c', 'prod'], 7, 'REF_EXISTS')
    await fails(root, ['tag', 'main'], 7, 'REF_EXISTS')
  })
})

describe('mvc alias', () => {
  test('three moves and a delete are recorded and listed newest first, with from/to and versions', TIMEOUT, async () => {
    const { root, cids } = await repoWith(3)
    await mvcOk(['alias', 'production', 'v1', '-m', 'first rollout'], { cwd: root })
    await mvcOk(['alias', 'production', 'v2'], { cwd: root })
    // Pointing at the commit it already names is not a move and is not recorded.
    assert.equal((await mvcJson(['alias', 'production', 'v2'], { cwd: root })).changed, false)
    await mvcOk(['alias', 'production', 'v3', '-m', 'hotfix'], { cwd: root })
    assert.equal(await versionOf(root, 'production'), 3)
    assert.deepEqual(await mvcJson(['alias'], { cwd: root }), [{ name: 'production', cid: cids[2], version: 3 }])

    const h = await mvcJson(['alias', '--history', 'production'], { cwd: root })
    assert.equal(h.length, 3)
    assert.deepEqual(h.map((e: { seq: number }) => e.seq), [3, 2, 1])
    assert.deepEqual(h.map((e: { from: string | null, to: string | null }) => [e.from, e.to]), [[cids[1], cids[2]], [cids[0], cids[1]], [null, cids[0]]])
    assert.deepEqual(h.map((e: { fromVersion: number | null, toVersion: number | null }) => [e.fromVersion, e.toVersion]), [[2, 3], [1, 2], [null, 1]])
    assert.deepEqual(h.map((e: { message?: string }) => e.message ?? null), ['hotfix', null, 'first rollout'])
    for (const e of h) {
      assert.equal(e.name, 'production')
      assert.deepEqual(e.by, { name: 'Test', email: 'test@example.com' })
      assert.equal(e.at, Date.parse('2026-01-01T00:00:00Z'))
    }
    const lines = (await mvcOk(['alias', '--history', 'production'], { cwd: root })).stdout.trim().split('\n')
    assert.equal(lines.length, 3)
    assert.match(lines[0]!, /v2 .*-> v3 /)
    assert.match(lines[2]!, /-> v1 /)

    const del = await mvcJson(['alias', '-d', 'production', '-m', 'retired'], { cwd: root })
    assert.equal(del.version, 3)
    await fails(root, ['show', 'production'], 4, 'UNKNOWN_REVISION')
    const h2 = await mvcJson(['alias', '--history', 'production'], { cwd: root })
    assert.equal(h2.length, 4)
    assert.deepEqual([h2[0].seq, h2[0].from, h2[0].to, h2[0].toVersion, h2[0].message], [4, cids[2], null, null, 'retired'])

    // Stored as documented: each move an mvc/alias-move object linking the one before it, the newest
    // named by refs/alias-log/<name>; no m/alias-log records are written any more.
    const store = await openDiskStore(join(root, '.mvc'))
    try {
      assert.deepEqual(await store.listMeta('alias-log/'), [])
      let at: string | null = (await store.readRef('refs/alias-log/production'))!
      const moves: Array<Record<string, unknown>> = []
      while (at !== null) {
        const cid: CID = CID.parse(at)
        const bytes = await store.get(cid)
        assert.equal(cid.code, 0x71)
        const value = dagCbor.decode<Record<string, unknown>>(bytes)
        moves.push(value)
        at = value.prev === null ? null : (value.prev as CID).toString()
      }
      assert.equal(moves.length, 4)
      assert.deepEqual(h2.map((e: { cid: string }) => e.cid)[0], (await store.readRef('refs/alias-log/production')))
      const first = moves[3]!
      assert.deepEqual(Object.keys(first).sort(), ['at', 'by', 'from', 'message', 'name', 'prev', 'to', 'type'])
      assert.deepEqual({ ...first, to: String(first.to) }, {
        type: 'mvc/alias-move', name: 'production', from: null, to: cids[0], at: Date.parse('2026-01-01T00:00:00Z'),
        by: { name: 'Test', email: 'test@example.com' }, message: 'first rollout', prev: null
      })
      assert.equal(moves[2]!.message, null, 'a move without -m has message null (every field is written)')
      assert.equal(moves[0]!.to, null, 'a deletion moves to null')
    } finally { await store.close() }

    await fails(root, ['alias', '--history', 'never'], 4, 'UNKNOWN_REVISION')
    await fails(root, ['alias', '-d', 'never'], 4, 'UNKNOWN_REVISION')
  })

  test('the history of a name is not mixed with that of a longer name under it', TIMEOUT, async () => {
    const { root } = await repoWith(2)
    await mvcOk(['alias', 'prod', 'v1'], { cwd: root })
    await mvcOk(['alias', 'prod/eu', 'v2'], { cwd: root })
    await mvcOk(['alias', 'prod/eu', 'v1'], { cwd: root })
    assert.equal((await mvcJson(['alias', '--history', 'prod'], { cwd: root })).length, 1)
    assert.equal((await mvcJson(['alias', '--history', 'prod/eu'], { cwd: root })).length, 2)
  })
})

describe('mvc branch and mvc switch', () => {
  test('create, list, switch, commit on a branch (parent kept, other branch unaffected), delete', TIMEOUT, async () => {
    const { root, cids } = await repoWith(2)
    const created = await mvcJson(['branch', 'exp', 'v1'], { cwd: root })
    assert.deepEqual(created, { name: 'exp', cid: cids[0], version: 1 })
    await fails(root, ['branch', 'exp'], 7, 'REF_EXISTS')
    await fails(root, ['branch', 'other', 'v9'], 4, 'UNKNOWN_REVISION')
    assert.deepEqual(await mvcJson(['branch'], { cwd: root }), [
      { name: 'exp', cid: cids[0], version: 1, current: false },
      { name: 'main', cid: cids[1], version: 2, current: true }
    ])
    const human = (await mvcOk(['branch'], { cwd: root })).stdout.trimEnd().split('\n')
    assert.deepEqual(human.map(l => l.slice(0, 2)), ['  ', '* '])
    assert.match(human[1]!, /^\* main\s+v2/)

    const sw = await runMvc(['switch', 'exp'], { cwd: root })
    assert.equal(sw.code, 0, sw.stderr)
    assert.match(sw.stdout, /exp.*v1/)
    assert.match(sw.stderr, /mvc checkout exp/, 'the hint names the checkout command')
    // switch only moves HEAD: the working files still hold v2's content.
    assert.equal(await readFile(join(root, 'model', 'a.txt'), 'utf8'), 'content 2\n')
    assert.equal((await mvcJson(['branch'], { cwd: root })).find((b: { current: boolean }) => b.current).name, 'exp')

    const v3 = await commit(root, 'experiment')
    const show3 = await mvcJson(['show', v3], { cwd: root })
    assert.equal(show3.commit.version, 3)
    assert.deepEqual(show3.commit.parents, [cids[0]], 'a commit on exp has the branch tip (v1) as parent')
    assert.equal(await versionOf(root, 'exp'), 3)
    assert.equal(await versionOf(root, 'main'), 2, 'main did not move')
    assert.equal(await versionOf(root, 'HEAD'), 3)

    // Branch names work in checkout.
    const out = join(root, '..', 'out-main')
    await mvcOk(['checkout', 'main', '--to', out, '--no-verify'], { cwd: root })
    assert.equal(await readFile(join(out, 'a.txt'), 'utf8'), 'content 2\n')

    await fails(root, ['branch', '-d', 'exp'], 8, 'INVALID_ARGUMENT')
    await fails(root, ['switch', 'nope'], 4, 'UNKNOWN_REVISION')
    await fails(root, ['switch', 'v1'], 4, 'UNKNOWN_REVISION')
    await fails(root, ['switch', 'exp', 'v1'], 8, 'INVALID_ARGUMENT')
    await fails(root, ['switch', '-c', 'main'], 7, 'REF_EXISTS')

    // switch -c creates at a rev and switches; a commit there continues from that rev.
    const c = await mvcJson(['switch', '-c', 'hotfix', 'main'], { cwd: root })
    assert.deepEqual([c.branch, c.previous, c.created, c.version], ['hotfix', 'exp', true, 2])
    const v4 = await commit(root, 'hotfix')
    assert.deepEqual((await mvcJson(['show', v4], { cwd: root })).commit.parents, [cids[1]])
    assert.equal(await versionOf(root, 'main'), 2)
    assert.equal(await versionOf(root, 'exp'), 3)

    await mvcOk(['switch', 'main'], { cwd: root })
    assert.deepEqual(await mvcJson(['branch', '-d', 'hotfix'], { cwd: root }), { deleted: 'hotfix', cid: v4, version: 4 })
    await fails(root, ['branch', '-d', 'hotfix'], 4, 'UNKNOWN_REVISION')
    assert.equal(await versionOf(root, 'v4'), 4, 'the versions of a deleted branch stay')
    assert.deepEqual((await mvcJson(['branch'], { cwd: root })).map((b: { name: string }) => b.name), ['exp', 'main'])
  })

  test('switch -c on a repository with no commits starts an unborn branch that takes the first commit', TIMEOUT, async () => {
    const root = await newRepo()
    assert.deepEqual(await mvcJson(['branch'], { cwd: root }), [{ name: 'main', current: true, cid: null, version: null }])
    const r = await mvcJson(['switch', '-c', 'dev'], { cwd: root })
    assert.deepEqual([r.branch, r.created, r.cid, r.version], ['dev', true, null, null])
    const v1 = await commit(root, 'first')
    assert.deepEqual(await mvcJson(['branch'], { cwd: root }), [{ name: 'dev', cid: v1, version: 1, current: true }])
    await fails(root, ['branch', 'x', 'HEAD~1'], 4, 'UNKNOWN_REVISION')
  })
})

describe('revisions', () => {
  test('checkout, show and verify accept tags, aliases, branches and CID prefixes', TIMEOUT, async () => {
    const { root, cids } = await repoWith(3)
    await mvcOk(['tag', '1.0.0', 'v1'], { cwd: root })
    await mvcOk(['alias', 'staging', 'v2'], { cwd: root })
    await mvcOk(['branch', 'old', 'v1'], { cwd: root })
    for (const [rev, version] of [['1.0.0', 1], ['staging', 2], ['old', 1], ['main', 3], ['staging~1', 1], [cids[2]!, 3], ['v2', 2]] as const) {
      assert.equal(await versionOf(root, rev), version, rev)
      const to = join(root, '..', `co-${version}-${rev.replace(/[^a-z0-9]/gi, '_')}`)
      const co = await mvcJson(['checkout', rev, '--to', to, '--no-verify'], { cwd: root })
      assert.equal(co.version, version)
      assert.equal(await readFile(join(to, 'a.txt'), 'utf8'), `content ${version}\n`)
    }
    // diff resolves both sides by name.
    const d = await mvcJson(['diff', '1.0.0', 'staging'], { cwd: root })
    assert.deepEqual([d.a.cid, d.a.version, d.b.cid, d.b.version], [cids[0], 1, cids[1], 2])
    await fails(root, ['diff', '1.0.0', 'nothing-named-so'], 4, 'UNKNOWN_REVISION')
    // verify resolves the name, then says there is nothing to verify (plain files): exit 9, not 4.
    await fails(root, ['verify', 'staging'], 9, 'VERIFICATION_UNAVAILABLE')
    await fails(root, ['verify', 'nothing-named-so'], 4, 'UNKNOWN_REVISION')
  })

  test('an ambiguous CID prefix lists the candidates (exit 4); a longer one resolves; a tag wins over a prefix', TIMEOUT, async () => {
    const { root, cids } = await repoWith(2)
    const [a, b] = cids as [string, string]
    let common = 0
    while (a[common] === b[common]) common++
    // Every commit CID is CIDv1 dag-cbor sha2-256 in base32, so all share the header "bafyrei": the
    // common prefix is at least 7 characters long and genuinely matches both commits.
    assert.ok(common >= 7, `common prefix ${a.slice(0, common)}`)
    const prefix = a.slice(0, common)
    const r = await fails(root, ['show', prefix], 4, 'AMBIGUOUS_REVISION')
    const err = jsonError(r)
    assert.deepEqual([...(err.data.candidates as string[])].sort(), [a, b].sort())
    await fails(root, ['checkout', prefix, '--to', join(root, '..', 'amb')], 4, 'AMBIGUOUS_REVISION')

    // One more character separates them.
    assert.equal(await versionOf(root, a.slice(0, common + 1)), 1)
    assert.equal(await versionOf(root, b.slice(0, common + 1)), 2)
    // A prefix no commit has.
    await fails(root, ['show', 'bafyzzzzzz'], 4, 'UNKNOWN_REVISION')

    // Precedence: a tag named like the ambiguous prefix wins over the CID prefix.
    await mvcOk(['tag', prefix, 'v2'], { cwd: root })
    assert.equal(await versionOf(root, prefix), 2)
  })
})
