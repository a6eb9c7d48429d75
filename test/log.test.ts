/**
 * Reading the history (issue #4): `mvc log` filters (--where, --data, --code), -n, --all, --json, the
 * metrics in the human line, and --graph (the lane layout as a pure function, and the CLI's output on a
 * repository with two branches).
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, realpath } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { Repository } from '../src/api/repository.js'
import { graphRows, parseCondition, type GraphNode } from '../src/core/history.js'
import { jsonError, mulberry32, mvcJson, mvcOk, put, removeDir, runMvc, stackLines, tmpdir, TEST_ENV, type RunResult } from './helpers.js'

const TIMEOUT = { timeout: 120_000 }
const cleanup: string[] = []
after(async () => { await Promise.all(cleanup.map(removeDir)) })

const AUTHOR = { name: TEST_ENV.MVC_AUTHOR_NAME!, email: TEST_ENV.MVC_AUTHOR_EMAIL! }
const T0 = Date.parse(TEST_ENV.MVC_DATE!)

async function newRepo (): Promise<string> {
  const base = await realpath(await tmpdir('mvc-log-'))
  cleanup.push(base)
  const root = join(base, 'repo')
  await mkdir(root)
  await mvcOk(['init'], { cwd: root })
  return root
}

function assertFails (r: RunResult, exit: number, code: string): void {
  assert.equal(r.code, exit, `expected exit ${exit}, got ${String(r.code)}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  assert.equal(jsonError(r).code, code, r.stderr)
  assert.deepEqual(stackLines(r.stderr), [])
}

interface Spec { metrics?: Record<string, number>, params?: Record<string, number | string>, data?: unknown, code?: unknown }

/** Commits one version per spec through the library (plain file, no verification); returns the CIDs. */
async function commitAll (root: string, specs: Spec[], mutate: (lineage: Spec, manifests: CID[]) => Spec = s => s): Promise<string[]> {
  const repo = await Repository.open({ dir: root })
  const cids: string[] = []
  const manifests: CID[] = []
  try {
    for (const [i, spec] of specs.entries()) {
      await put(join(root, 'model', 'w.txt'), `version ${i + 1}\n`)
      const l = mutate(spec, manifests)
      const r = await repo.commit({ path: join(root, 'model'), message: `run ${i + 1}`, author: AUTHOR, timestamp: T0 + i * 1000, verify: false, lineage: { metrics: l.metrics, params: l.params, data: l.data, code: l.code } })
      assert.equal(r.committed, true)
      cids.push(r.cid!.toString())
      manifests.push(r.manifest)
    }
  } finally { await repo.close() }
  return cids
}

const versions = (entries: Array<{ version: number }>): number[] => entries.map(e => e.version)

describe('mvc log filters', () => {
  const specs: Spec[] = [
    { metrics: { acc: 0.85, loss: 0.4 }, params: { lr: 0.1, optimizer: 'sgd' } },
    { metrics: { acc: 0.93, loss: 0.2 }, params: { lr: 0.01, optimizer: 'adam' } },
    { metrics: { acc: 0.9, loss: 0.25 }, params: { lr: 0.001 } },
    { metrics: { acc: 0.97 }, params: { lr: 0.01 } },
    {}, // no metrics at all
    { metrics: { acc: 0.91 }, params: { lr: '0.01' } } // a string param never meets a numeric condition
  ]
  /** Versions (newest first) whose spec satisfies `pred`. */
  const expected = (pred: (s: Spec) => boolean): number[] => specs.map((s, i) => [s, i + 1] as const).filter(([s]) => pred(s)).map(([, v]) => v).reverse()
  const num = (v: unknown): number | undefined => typeof v === 'number' ? v : undefined

  test('--where keeps versions meeting every condition; -n counts shown versions; metrics show in the line', TIMEOUT, async () => {
    const root = await newRepo()
    await commitAll(root, specs)
    const cwd = { cwd: root }
    assert.deepEqual(versions(await mvcJson(['log'], cwd)), [6, 5, 4, 3, 2, 1])

    const acc = (s: Spec): number | undefined => s.metrics?.acc
    const cases: Array<[string[], (s: Spec) => boolean]> = [
      [['acc>0.9'], s => (acc(s) ?? -Infinity) > 0.9],
      [['acc>=0.9'], s => (acc(s) ?? -Infinity) >= 0.9],
      [['acc<0.9'], s => acc(s) !== undefined && acc(s)! < 0.9],
      [['acc==0.9'], s => acc(s) === 0.9],
      [['acc!=0.9'], s => acc(s) !== undefined && acc(s) !== 0.9],
      [['metrics.acc <= 0.93'], s => acc(s) !== undefined && acc(s)! <= 0.93],
      [['acc>0.9', 'loss<0.3'], s => (acc(s) ?? 0) > 0.9 && s.metrics?.loss !== undefined && s.metrics.loss < 0.3],
      [['params.lr<0.1'], s => num(s.params?.lr) !== undefined && num(s.params?.lr)! < 0.1],
      [['params.lr==0.01', 'acc>0.95'], s => num(s.params?.lr) === 0.01 && (acc(s) ?? 0) > 0.95],
      [['missing>0'], () => false]
    ]
    for (const [where, pred] of cases) {
      const args = ['log', ...where.flatMap(w => ['--where', w])]
      assert.deepEqual(versions(await mvcJson(args, cwd)), expected(pred), where.join(' '))
    }
    // Sanity of the expectations themselves (so a wrong predicate can't make the test vacuous).
    assert.deepEqual(expected(s => (acc(s) ?? -Infinity) > 0.9), [6, 4, 2])

    assert.deepEqual(versions(await mvcJson(['log', '--where', 'acc>0.9', '-n', '2'], cwd)), [6, 4])
    assert.deepEqual(versions(await mvcJson(['log', 'v3', '--where', 'acc>0.9'], cwd)), [2], 'filters apply to the history of rev')

    const human = (await mvcOk(['log', '--where', 'acc>0.9'], cwd)).stdout.trimEnd().split('\n')
    assert.equal(human.length, 3)
    assert.match(human[0]!, /^v6 .*\[acc=0\.91\]/)
    assert.match(human[2]!, /^v2 .*\[acc=0\.93 loss=0\.2\]/)
    const none = await mvcOk(['log', '--where', 'acc>2'], cwd)
    assert.match(none.stdout, /no versions match/)
  })

  test('a malformed --where is INVALID_ARGUMENT (exit 8) and the error carries the expected syntax', TIMEOUT, async () => {
    const root = await newRepo()
    await commitAll(root, [{ metrics: { acc: 0.5 } }])
    for (const bad of ['acc=0.9', 'acc>', '>0.9', 'acc>high', 'acc>0x10', 'acc 0.9', 'acc=>0.9', '', 'params.<1']) {
      const r = await runMvc(['log', '--where', bad, '--json'], { cwd: root })
      assertFails(r, 8, 'INVALID_ARGUMENT')
      assert.equal(typeof jsonError(r).data.syntax, 'string', bad)
    }
    assertFails(await runMvc(['log', '--code', 'xyz!', '--json'], { cwd: root }), 8, 'INVALID_ARGUMENT')
    assertFails(await runMvc(['log', '-n', '-1', '--json'], { cwd: root }), 8, 'INVALID_ARGUMENT')
    // The library parses the same syntax.
    assert.deepEqual(parseCondition('params.lr <= 1e-3'), { field: 'params', name: 'lr', op: '<=', value: 0.001, text: 'params.lr <= 1e-3' })
    assert.deepEqual(parseCondition('val-acc>-1'), { field: 'metrics', name: 'val-acc', op: '>', value: -1, text: 'val-acc>-1' })
  })

  test('--data matches a data snapshot manifest CID prefix or an external ref; --code a git oid prefix', TIMEOUT, async () => {
    const root = await newRepo()
    const oidA = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678'
    const oidB = 'ffee0011223344556677889900aabbccddeeff00'
    const git = (oid: string): unknown => ({ kind: 'git', oid, branch: 'main', remote: null, dirty: false, dirtyPaths: [] })
    // v1's data snapshot is v1's own model manifest (any stored manifest will do); v2, v3 use external refs.
    let dataManifest: CID | undefined
    await commitAll(root, [{}, {}, {}, {}], (s, manifests) => {
      const i = manifests.length
      if (i === 0) return { ...s, code: git(oidA) }
      if (i === 1) { dataManifest = manifests[0]; return { ...s, data: { kind: 'snapshot', manifest: manifests[0], path: 'data', files: 1, bytes: 10 }, code: git(oidA) } }
      if (i === 2) return { ...s, data: { kind: 'ref', ref: 's3://bucket/train.csv?versionId=7' }, code: git(oidB) }
      return { ...s, data: { kind: 'ref', ref: 's3://bucket/eval.csv' }, code: { kind: 'none', reason: 'no git repository' } }
    })
    const cwd = { cwd: root }
    const m = dataManifest!.toString()
    assert.deepEqual(versions(await mvcJson(['log', '--data', m], cwd)), [2])
    assert.deepEqual(versions(await mvcJson(['log', '--data', m.slice(0, 20)], cwd)), [2])
    assert.deepEqual(versions(await mvcJson(['log', '--data', 's3://bucket/'], cwd)), [4, 3])
    assert.deepEqual(versions(await mvcJson(['log', '--data', 's3://bucket/train.csv?versionId=7'], cwd)), [3])
    assert.deepEqual(versions(await mvcJson(['log', '--code', oidA.slice(0, 7)], cwd)), [2, 1])
    assert.deepEqual(versions(await mvcJson(['log', '--code', oidB.toUpperCase()], cwd)), [3])
    assert.deepEqual(versions(await mvcJson(['log', '--code', oidA.slice(0, 7), '--data', 's3://'], cwd)), [], 'all filters must hold')
  })
})

describe('mvc log --json, --all', () => {
  test('--json shape: an array of commits with cid and names; --all includes other and deleted branches', TIMEOUT, async () => {
    const root = await newRepo()
    const cwd = { cwd: root }
    const c = await commitAll(root, [{ metrics: { acc: 0.5 } }, {}])
    await mvcOk(['switch', '-c', 'side', 'v1'], cwd)
    await put(join(root, 'model', 'w.txt'), 'side\n')
    await mvcOk(['commit', 'model', '-m', 'side work', '--no-verify'], cwd)
    await mvcOk(['switch', 'main'], cwd)
    await mvcOk(['tag', '1.0.0', 'v1'], cwd)

    const log = await mvcJson(['log'], cwd)
    assert.deepEqual(versions(log), [2, 1], 'HEAD history only')
    const e = log[1]
    assert.equal(e.cid, c[0])
    assert.deepEqual(e.names, ['tag: 1.0.0'])
    assert.deepEqual(e.parents, [])
    assert.deepEqual(log[0].parents, [c[0]])
    assert.deepEqual(log[0].names, ['HEAD -> main'])
    assert.deepEqual(e.metrics, { acc: 0.5 })
    for (const k of ['type', 'version', 'model', 'path', 'message', 'author', 'timestamp', 'params', 'metrics']) assert.ok(k in e, k)
    assert.equal(typeof e.model, 'string', 'CIDs are plain strings in JSON')

    assert.deepEqual(versions(await mvcJson(['log', '--all'], cwd)), [3, 2, 1])
    assert.deepEqual(versions(await mvcJson(['log', 'side'], cwd)), [3, 1])
    await mvcOk(['branch', '-d', 'side'], cwd)
    assert.deepEqual(versions(await mvcJson(['log', '--all'], cwd)), [3, 2, 1], 'versions stay reachable')
    assert.deepEqual(versions(await mvcJson(['log', '--all', '-n', '1'], cwd)), [3])
    assertFails(await runMvc(['log', '--all', 'v1', '--json'], cwd), 2, 'USAGE')
  })
})

// ---------------------------------------------------------------- graph

/** Commit rows and connector rows of a layout; checks that every node has exactly one `*` row. */
function check (nodes: GraphNode[]): string[] {
  const rows = graphRows(nodes)
  const commitRows = rows.filter(r => r.node !== null)
  assert.deepEqual(commitRows.map(r => r.node), nodes.map((_, i) => i), 'one commit row per node, in order')
  for (const r of rows) {
    assert.match(r.text, /^[*|/\\ ]*$/, r.text)
    assert.equal([...r.text].filter(ch => ch === '*').length, r.node === null ? 0 : 1, r.text)
  }
  return rows.map(r => r.text)
}

describe('graph layout', () => {
  test('linear history: one lane, no connector rows', () => {
    assert.deepEqual(check([{ id: 'c', parents: ['b'] }, { id: 'b', parents: ['a'] }, { id: 'a', parents: [] }]), ['*', '*', '*'])
  })

  test('two branches from a fork point', () => {
    // v5 main, v4 side, v3 main, both from v2.
    const nodes = [{ id: '5', parents: ['3'] }, { id: '4', parents: ['2'] }, { id: '3', parents: ['2'] }, { id: '2', parents: ['1'] }, { id: '1', parents: [] }]
    assert.deepEqual(check(nodes), ['*', '| *', '* |', '|/', '*', '*'])
  })

  test('a merge opens a lane with \\ and the fork closes with /', () => {
    const nodes = [{ id: 'M', parents: ['A', 'B'] }, { id: 'B', parents: ['C'] }, { id: 'A', parents: ['C'] }, { id: 'C', parents: [] }]
    assert.deepEqual(check(nodes), ['*', '|\\', '| *', '* |', '|/', '*'])
  })

  test('an octopus merge and lanes that shift more than one column', () => {
    const nodes = [
      { id: 'M', parents: ['A', 'B', 'C'] },
      { id: 'C', parents: ['R'] },
      { id: 'B', parents: ['R'] },
      { id: 'A', parents: ['R'] },
      { id: 'R', parents: [] }
    ]
    assert.deepEqual(check(nodes), ['*', '|\\', '| |\\', '| | *', '| * |', '| |/', '* |', '|/', '*'])
  })

  test('random DAGs: every commit row has one *, connectors only lane characters', () => {
    const rng = mulberry32(4)
    for (let round = 0; round < 50; round++) {
      const n = 2 + Math.floor(rng() * 25)
      // ids are versions; parents are older versions; listed newest first like log does.
      const nodes: GraphNode[] = []
      for (let v = n; v >= 1; v--) {
        const parents = new Set<string>()
        const k = v === 1 ? 0 : rng() < 0.15 ? 2 + Math.floor(rng() * 2) : rng() < 0.05 ? 0 : 1
        for (let j = 0; j < k; j++) parents.add(String(1 + Math.floor(rng() * (v - 1))))
        nodes.push({ id: String(v), parents: [...parents] })
      }
      check(nodes)
    }
  })
})

describe('mvc log --graph', () => {
  test('a repository with two branches: one * line per commit, lanes where the branches fork', TIMEOUT, async () => {
    const root = await newRepo()
    const cwd = { cwd: root }
    const commit = async (text: string): Promise<void> => {
      await put(join(root, 'model', 'w.txt'), text + '\n')
      await mvcOk(['commit', 'model', '-m', text, '--no-verify'], cwd)
    }
    // main: v1 - v2 - v3 - v5 ; exp (from v2): v4 - v6
    await commit('one'); await commit('two'); await commit('three')
    await mvcOk(['switch', '-c', 'exp', 'v2'], cwd)
    await commit('four')
    await mvcOk(['switch', 'main'], cwd)
    await commit('five')
    await mvcOk(['switch', 'exp'], cwd)
    await commit('six')

    // The DAG as the repository stores it, and the expected layout computed from it.
    const all = await mvcJson(['log', '--all'], cwd)
    assert.deepEqual(versions(all), [6, 5, 4, 3, 2, 1])
    const byCid = new Map<string, number>(all.map((e: { cid: string, version: number }) => [e.cid, e.version]))
    const parentVersions = all.map((e: { parents: string[] }) => e.parents.map(p => byCid.get(p)))
    assert.deepEqual(parentVersions, [[4], [3], [2], [2], [1], []])
    const expectedLanes = check(all.map((e: { cid: string, parents: string[] }) => ({ id: e.cid, parents: e.parents })))
    assert.deepEqual(expectedLanes, ['*', '| *', '* |', '| *', '|/', '*', '*'])

    const out = (await mvcOk(['log', '--all', '--graph'], cwd)).stdout.trimEnd().split('\n')
    assert.equal(out.length, expectedLanes.length)
    const starLines = out.filter(l => /^[|/\\ ]*\*/.test(l))
    assert.equal(starLines.length, 6, 'one * line per commit')
    assert.deepEqual(starLines.map(l => Number(/ v(\d+) /.exec(l)![1])), [6, 5, 4, 3, 2, 1])
    // The lanes before each commit's text match the layout of the DAG.
    out.forEach((l, i) => {
      const lanes = l.replace(/ ?v\d+ .*$/, '')
      assert.equal(lanes, expectedLanes[i], `line ${i}: ${l}`)
    })
    assert.ok(out.some(l => l.includes('/')), 'the fork is drawn')
    assert.match(out[0]!, /^\* v6 .*HEAD -> exp/)
    assert.match(out[1]!, /^\| \* v5 .*main/)

    // Without --all: only HEAD's history, a single lane.
    const mine = (await mvcOk(['log', '--graph'], cwd)).stdout.trimEnd().split('\n')
    assert.deepEqual(mine.map(l => Number(/^\* v(\d+) /.exec(l)![1])), [6, 4, 2, 1])
  })

  test('with a filter, the graph joins shown commits through hidden ones', TIMEOUT, async () => {
    const root = await newRepo()
    await commitAll(root, [{ metrics: { acc: 0.95 } }, { metrics: { acc: 0.1 } }, { metrics: { acc: 0.99 } }])
    const out = (await mvcOk(['log', '--graph', '--where', 'acc>0.9'], { cwd: root })).stdout.trimEnd().split('\n')
    assert.deepEqual(out.map(l => l.slice(0, 4)), ['* v3', '* v1'])
  })
})
