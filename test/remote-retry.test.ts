/**
 * Retries as a wrapper (`RetryingRemote`, src/remote/retry.ts) against a real `mvc serve` in a child
 * process, reached through a small HTTP proxy in this test that fails on purpose: it resets
 * connections, answers 503 / 429 / 500 like a gateway, or forwards a request and then drops the
 * answer (the server applied it; the client never hears). Nothing is mocked: the server, the client,
 * the CLI and the stores are the real ones; only the network between them misbehaves.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, realpath, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { rawCid } from '../src/content/block.js'
import { isMvcError } from '../src/errors.js'
import type { Remote } from '../src/remote/interface.js'
import { openHttpRemote, openRemote } from '../src/remote/open.js'
import { RetryingRemote, type RetryEvent } from '../src/remote/retry.js'
import { attemptsOf, faultyProxy, type Fault, type Proxy } from './remote-faults.js'
import { keystream, mvcJson, mvcOk, removeDir, spawnMvc, tmpdir, treeSnapshot, writeRandomFile, MiB, type RunResult } from './helpers.js'

const TIMEOUT = { timeout: 180_000 }
const TOKEN = 'retry-write-token-0123456789'

// ------------------------------------------------------------------------------------ the server

interface Served { readonly url: string, readonly child: ChildProcess, readonly done: Promise<RunResult> }

/** `mvc serve --store <dir> --init --port 0 --tokens <file>`, resolved with the URL it prints. */
async function serve (dir: string, tokens: string): Promise<Served> {
  const { child, done } = spawnMvc(['serve', '--store', dir, '--init', '--port', '0', '--tokens', tokens], { cwd: dir })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`mvc serve printed no URL in 30 s: ${out}`)) }, 30_000)
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString('utf8')
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m !== null) { clearTimeout(timer); resolve(m[1]!) }
    })
    void done.then(r => { clearTimeout(timer); reject(new Error(`mvc serve exited ${String(r.code)} before listening:\n${r.stdout}\n${r.stderr}`)) })
  })
  return { url, child, done }
}

async function codeOf (p: Promise<unknown>): Promise<{ code: string | undefined, err: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  try { await p } catch (err) { return { code: isMvcError(err) ? err.code : `not an mvc error: ${String(err)}`, err } }
  return { code: undefined, err: undefined }
}

async function refOn (remote: Remote, name: string): Promise<string | undefined> {
  return (await remote.listRefs(name)).find(r => r.name === name)?.value
}

// ----------------------------------------------------------------------------------------- tests

describe('retries around a real mvc serve behind a failing proxy', () => {
  let base: string
  let served: Served
  let proxy: Proxy
  /** Talks to the server directly, without retries: the independent view of what is stored. */
  let direct: Remote

  before(async () => {
    base = await realpath(await tmpdir('mvc-retry-'))
    const tokens = join(base, 'tokens')
    await writeFile(tokens, `${TOKEN} write\n`, { mode: 0o600 })
    await mkdir(join(base, 'store'))
    served = await serve(join(base, 'store'), tokens)
    proxy = await faultyProxy(served.url)
    direct = await openHttpRemote(served.url, { token: TOKEN, retry: false })
  })
  after(async () => {
    await direct?.close()
    await proxy?.close()
    if (served !== undefined) { served.child.kill('SIGTERM'); await served.done }
    await removeDir(base)
  })

  test('mvc push through resets, 503, 429 and lost answers completes; every failed request was sent again; a clone is identical', TIMEOUT, async t => {
    const root = join(base, 'repo')
    await mkdir(join(root, 'model', 'notes'), { recursive: true })
    await mvcOk(['init'], { cwd: root })
    await writeFile(join(root, 'model', 'config.txt'), 'lr=0.1\n')
    await writeFile(join(root, 'model', 'notes', 'readme.md'), '# retried\n')
    await writeRandomFile(join(root, 'model', 'weights.bin'), 3 * MiB, 'retry-weights')
    await mvcOk(['commit', 'model', '-m', 'v1', '--no-verify'], { cwd: root })

    let puts = 0
    const cycle: Fault[] = ['reset', 503, 'lose-answer', 429]
    proxy.plan = (method, path, attempt) => {
      if (attempt > 1) return 'pass'
      if (path === '/v1/info') return 503
      if (path.startsWith('/v1/refs?')) return 'reset'
      if (path === '/v1/has') return 429
      if (method === 'PUT') return cycle[puts++ % cycle.length]!
      if (path === '/v1/refs/refs/versions/1') return 'reset'
      if (path === '/v1/refs/refs/heads/main') return 'lose-answer'
      return 'pass'
    }
    const env = { MVC_TOKEN: TOKEN }
    await mvcOk(['remote', 'add', 'origin', proxy.url], { cwd: root, env })
    const pushed = await mvcJson(['push'], { cwd: root, env })
    assert.equal(pushed.ref, 'refs/heads/main')
    assert.equal(pushed.old, null)
    assert.match(pushed.new, /^bafy/)

    // Every request the proxy failed was sent again and then got through.
    const keys = [...new Set(proxy.log.map(e => e.key))]
    const failed = keys.filter(k => attemptsOf(proxy, k)[0] !== 'pass')
    for (const k of failed) {
      const a = attemptsOf(proxy, k)
      assert.ok(a.length >= 2 && a.at(-1) === 'pass', `${k}: ${a.join(', ')}`)
    }
    const objectPuts = keys.filter(k => k.startsWith('PUT /v1/objects/'))
    assert.equal(objectPuts.length, pushed.objectsSent, 'one PUT path per object sent')
    assert.ok(failed.length >= objectPuts.length + 5, `${failed.length} requests failed at first`)
    t.diagnostic(`${proxy.log.length} requests through the proxy for ${pushed.objectsSent} objects; ${failed.length} failed at first, all sent again`)

    // The ref whose answer was lost is set exactly once, to the pushed commit.
    assert.deepEqual(attemptsOf(proxy, 'POST /v1/refs/refs/heads/main'), ['lose-answer', 'pass'])
    assert.equal(await refOn(direct, 'refs/heads/main'), pushed.new)
    assert.equal(await refOn(direct, 'refs/versions/1'), pushed.new)

    // An independent check of what the server holds: a clone straight from it, compared file by file.
    const cloned = join(base, 'clone')
    await mvcJson(['clone', served.url, cloned, '--no-verify'], { cwd: base, env })
    assert.deepEqual(await treeSnapshot(join(cloned, 'model')), await treeSnapshot(join(root, 'model')))
  })

  test('a ref update whose answer was lost: the retried compare-and-swap finds the ref at the value asked for and succeeds', TIMEOUT, async () => {
    const bytes = keystream('lost-answer', 5000)
    const cid = rawCid(bytes)
    await direct.put(cid, bytes)
    const retries: RetryEvent[] = []
    const remote = await openHttpRemote(proxy.url, { token: TOKEN, retry: { baseDelayMs: 10, onRetry: e => retries.push(e) } })
    try {
      assert.ok(remote instanceof RetryingRemote)
      proxy.plan = (method, path, attempt) => method === 'POST' && path === '/v1/refs/refs/heads/lost' && attempt === 1 ? 'lose-answer' : 'pass'
      await remote.casRef('refs/heads/lost', null, cid.toString())
      assert.deepEqual(attemptsOf(proxy, 'POST /v1/refs/refs/heads/lost'), ['lose-answer', 'pass'])
      assert.deepEqual(retries.map(r => [r.operation, r.attempt]), [['casRef', 1]])
      assert.equal(await refOn(direct, 'refs/heads/lost'), cid.toString())
    } finally { await remote.close() }
  })

  test('a ref update whose answer was lost while someone else moved the ref: REF_CONFLICT, and the other update stays', TIMEOUT, async () => {
    const [a, b] = [keystream('mine', 3000), keystream('theirs', 3000)]
    await direct.put(rawCid(a), a)
    await direct.put(rawCid(b), b)
    const mine = rawCid(a).toString()
    const theirs = rawCid(b).toString()
    const remote = await openHttpRemote(proxy.url, { token: TOKEN, retry: { baseDelayMs: 10 } })
    try {
      proxy.plan = (method, path, attempt) => method === 'POST' && path === '/v1/refs/refs/heads/raced' && attempt === 1 ? 'lose-answer' : 'pass'
      // Between our update landing and its answer being lost, another client moves the ref on.
      proxy.beforeDrop = async () => { await direct.casRef('refs/heads/raced', mine, theirs) }
      const { code, err } = await codeOf(remote.casRef('refs/heads/raced', null, mine))
      assert.equal(code, 'REF_CONFLICT')
      assert.equal(err.data.actual, theirs)
      assert.equal(await refOn(direct, 'refs/heads/raced'), theirs)
    } finally {
      proxy.beforeDrop = async () => {}
      await remote.close()
    }
  })

  test('bounded: a server that keeps answering 503 is REMOTE_ERROR after `attempts` tries, with growing delays; the budget stops retries early', TIMEOUT, async () => {
    proxy.plan = (method, path) => method === 'GET' && path.startsWith('/v1/refs?prefix=refs%2Fbounded') ? 503 : 'pass'
    const retries: RetryEvent[] = []
    const remote = await openRemote(proxy.url, { token: TOKEN, retry: { attempts: 4, baseDelayMs: 40, maxDelayMs: 1000, onRetry: e => retries.push(e) } })
    try {
      const { code, err } = await codeOf(remote.listRefs('refs/bounded'))
      assert.equal(code, 'REMOTE_ERROR')
      assert.equal(err.data.status, 503)
      assert.equal(attemptsOf(proxy, 'GET /v1/refs?prefix=refs%2Fbounded').length, 4)
      assert.deepEqual(retries.map(r => r.attempt), [1, 2, 3])
      // Delay n is in [d/2, d] for d = 40 · 2^(n-1).
      retries.forEach((r, i) => {
        const d = 40 * 2 ** i
        assert.ok(r.delayMs >= d / 2 && r.delayMs <= d, `delay ${i + 1}: ${r.delayMs} ms, expected ${d / 2}…${d}`)
      })
    } finally { await remote.close() }

    proxy.plan = (method, path) => method === 'GET' && path.startsWith('/v1/refs?prefix=refs%2Fbudget') ? 503 : 'pass'
    const limited = await openRemote(proxy.url, { token: TOKEN, retry: { attempts: 1000, baseDelayMs: 100, maxDelayMs: 100, budgetMs: 600 } })
    try {
      const started = Date.now()
      assert.equal((await codeOf(limited.listRefs('refs/budget'))).code, 'REMOTE_ERROR')
      const elapsed = Date.now() - started
      const tries = attemptsOf(proxy, 'GET /v1/refs?prefix=refs%2Fbudget').length
      assert.ok(elapsed < 600 + 1000, `gave up after ${elapsed} ms`)
      assert.ok(tries >= 3 && tries <= 14, `${tries} attempts in a 600 ms budget of 50–100 ms delays`)
    } finally { await limited.close() }
  })

  test('not retried: HTTP 500, a refused token, a refused connection; and the transport alone makes one attempt', TIMEOUT, async () => {
    const retries: RetryEvent[] = []
    const policy = { baseDelayMs: 10, onRetry: (e: RetryEvent) => retries.push(e) }
    proxy.plan = (method, path) => path.startsWith('/v1/refs?prefix=refs%2Finternal') ? 500 : 'pass'
    const remote = await openRemote(proxy.url, { token: TOKEN, retry: policy })
    try {
      assert.equal((await codeOf(remote.listRefs('refs/internal'))).code, 'REMOTE_ERROR')
      assert.equal(attemptsOf(proxy, 'GET /v1/refs?prefix=refs%2Finternal').length, 1)
    } finally { await remote.close() }

    const wrongToken = await openRemote(proxy.url, { token: 'not-a-known-token', retry: policy })
    try {
      assert.equal((await codeOf(wrongToken.listRefs('refs/'))).code, 'AUTH_FAILED')
    } finally { await wrongToken.close() }

    const closed = await faultyProxy(served.url)
    const deadUrl = closed.url
    await closed.close()
    const dead = await openRemote(deadUrl, { token: TOKEN, retry: policy })
    try {
      const { code, err } = await codeOf(dead.listRefs('refs/'))
      assert.equal(code, 'REMOTE_ERROR')
      assert.equal(err.data.cause, 'ECONNREFUSED')
    } finally { await dead.close() }
    assert.deepEqual(retries, [], 'none of these was retried')

    // retry: false is the HTTP transport alone: a reset is reported, not retried.
    proxy.plan = (method, path, attempt) => path.startsWith('/v1/refs?prefix=refs%2Fonce') && attempt === 1 ? 'reset' : 'pass'
    const bare = await openRemote(proxy.url, { token: TOKEN, retry: false })
    try {
      assert.equal(bare instanceof RetryingRemote, false)
      const { code, err } = await codeOf(bare.listRefs('refs/once'))
      assert.equal(code, 'REMOTE_ERROR')
      assert.equal(err.data.cause, 'ECONNRESET')
      assert.equal(attemptsOf(proxy, 'GET /v1/refs?prefix=refs%2Fonce').length, 1)
    } finally { await bare.close() }
  })
})
