/**
 * `mvc serve` end to end: the real CLI in a child process on 127.0.0.1 with `--port 0`, spoken to with
 * raw HTTP (paths sent exactly as written, no client-side normalisation), checking statuses and error
 * codes of docs/protocol.md, start-up refusals and exit codes, and a clean shutdown on SIGTERM.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { request, type IncomingHttpHeaders } from 'node:http'
import { createServer } from 'node:net'
import { mkdir, realpath, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { encodeObject, rawCid } from '../src/content/block.js'
import { openDiskStore } from '../src/store/open.js'
import { openHttpRemote } from '../src/remote/http-client.js'
import { jsonError, keystream, mvcOk, put, removeDir, runMvc, spawnMvc, stackLines, tmpdir, type RunResult } from './helpers.js'

const TIMEOUT = { timeout: 120_000 }
const WRITE = 'write-token-0123456789abcdef'
const READ = 'read-token-0123456789abcdef'

const cleanup: string[] = []
after(async () => { await Promise.all(cleanup.map(removeDir)) })

interface Served { readonly url: string, readonly child: ChildProcess, readonly done: Promise<RunResult> }

/** Starts `mvc serve --port 0 …` and resolves with the URL it prints. */
async function serve (args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<Served> {
  const { child, done } = spawnMvc(['serve', '--port', '0', ...args], { cwd, env })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`mvc serve printed no URL in 30 s: ${out}`))
    }, 30_000)
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString('utf8')
      // `listening on <url>`, or with --json `{"url":"<url>",…}`
      const m = /listening on (http:\/\/\S+)|"url":"(http:[^"]+)"/.exec(out)
      if (m !== null) { clearTimeout(timer); resolve(m[1] ?? m[2]!) }
    })
    void done.then(r => { clearTimeout(timer); reject(new Error(`mvc serve exited ${String(r.code)} before listening:\n${r.stdout}\n${r.stderr}`)) })
  })
  return { url, child, done }
}

async function stop (s: Served): Promise<RunResult> {
  s.child.kill('SIGTERM')
  return await s.done
}

/** A repository with one commit and a tokens file; returns its root. */
async function newRepo (): Promise<{ root: string, tokens: string }> {
  const base = await realpath(await tmpdir())
  cleanup.push(base)
  const root = join(base, 'repo')
  await mkdir(root)
  await mvcOk(['init'], { cwd: root })
  await put(join(root, 'model', 'weights.bin'), keystream('serve', 5000))
  await mvcOk(['commit', 'model', '-m', 'first'], { cwd: root })
  const tokens = join(base, 'tokens')
  await writeFile(tokens, `# test tokens\n${WRITE} write\n\n${READ}   read  # read only\n`, { mode: 0o600 })
  return { root, tokens }
}

interface Reply { readonly status: number, readonly headers: IncomingHttpHeaders, readonly body: Buffer, json: () => any } // eslint-disable-line @typescript-eslint/no-explicit-any

/** One request on its own connection; `path` is sent byte for byte. */
async function http (base: string, method: string, path: string, options: { token?: string, body?: Uint8Array | string, headers?: Record<string, string> } = {}): Promise<Reply> {
  const u = new URL(base)
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`
  const body = typeof options.body === 'string' ? Buffer.from(options.body) : options.body
  if (body !== undefined && headers['Content-Length'] === undefined && headers['Transfer-Encoding'] === undefined) headers['Content-Length'] = String(body.length)
  return await new Promise<Reply>((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers, agent: false }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const b = Buffer.concat(chunks)
        resolve({ status: res.statusCode!, headers: res.headers, body: b, json: () => JSON.parse(b.toString('utf8')) })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

function assertError (r: Reply, status: number, code: string): void {
  assert.equal(r.status, status, r.body.toString())
  assert.equal(r.headers['content-type'], 'application/json')
  assert.equal(r.json().error.code, code, r.body.toString())
}

function assertFails (r: RunResult, exit: number, code?: string): void {
  assert.equal(r.code, exit, `expected exit ${exit}, got ${String(r.code)}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  if (code !== undefined) assert.equal(jsonError(r).code, code, r.stderr)
  assert.deepEqual(stackLines(r.stderr), [], 'no stack trace for an expected error')
}

describe('mvc serve: protocol', () => {
  let served: Served
  let url: string
  before(async () => {
    const { root, tokens } = await newRepo()
    served = await serve(['--tokens', tokens], root)
    url = served.url
  })
  after(async () => { await stop(served) })

  test('prints its URL; /v1/info answers protocol, format, repository id and access', TIMEOUT, async () => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
    const w = await http(url, 'GET', '/v1/info', { token: WRITE })
    assert.equal(w.status, 200)
    const info = w.json()
    assert.equal(info.mvc, 1)
    assert.equal(info.format, 1)
    assert.match(info.repository, /^[0-9a-f]{32}$/)
    assert.equal(info.access, 'write')
    assert.equal(info.limits.maxObjectBytes, 64 * 1024 * 1024)
    assert.equal(info.limits.maxHasBatch, 10_000)
    assert.equal((await http(url, 'GET', '/v1/info', { token: READ })).json().access, 'read')
  })

  test('401 without a token, with an unknown token or another scheme; nothing is revealed', TIMEOUT, async () => {
    for (const path of ['/v1/info', '/v1/refs?prefix=refs/', '/v1/nonsense']) {
      const r = await http(url, 'GET', path)
      assertError(r, 401, 'AUTH_FAILED')
      assert.equal(r.headers['www-authenticate'], 'Bearer realm="mvc"')
    }
    assertError(await http(url, 'GET', '/v1/info', { token: 'not-a-listed-token' }), 401, 'AUTH_FAILED')
    assertError(await http(url, 'GET', '/v1/info', { headers: { Authorization: `Basic ${Buffer.from(`x:${WRITE}`).toString('base64')}` } }), 401, 'AUTH_FAILED')
    const bytes = Buffer.from('unauthenticated put')
    assertError(await http(url, 'PUT', `/v1/objects/${rawCid(bytes).toString()}`, { body: bytes }), 401, 'AUTH_FAILED')
    assert.equal((await http(url, 'POST', '/v1/has', { token: WRITE, body: JSON.stringify([rawCid(bytes).toString()]) })).json()[0], false)
  })

  test('403 when a read token writes an object or a ref; it may read', TIMEOUT, async () => {
    const bytes = Buffer.from('read token put')
    const cid = rawCid(bytes).toString()
    assertError(await http(url, 'PUT', `/v1/objects/${cid}`, { token: READ, body: bytes }), 403, 'AUTH_FAILED')
    assertError(await http(url, 'POST', '/v1/refs/refs/heads/x', { token: READ, body: JSON.stringify({ expect: null, value: cid }) }), 403, 'AUTH_FAILED')
    assert.deepEqual((await http(url, 'POST', '/v1/has', { token: READ, body: JSON.stringify([cid]) })).json(), [false])
    const refs = await http(url, 'GET', '/v1/refs?prefix=refs/', { token: READ })
    assert.equal(refs.status, 200)
    assert.ok(refs.json().some((r: { name: string }) => r.name === 'refs/heads/main'), 'the committed branch is listed')
  })

  test('PUT re-hashes: 422 naming the CID for wrong bytes and nothing stored; 201 then 200 for right bytes; GET returns them', TIMEOUT, async () => {
    const bytes = keystream('put', 100_000)
    const cid = rawCid(bytes).toString()
    const wrong = Buffer.from(bytes)
    wrong[500]! ^= 1
    const r = await http(url, 'PUT', `/v1/objects/${cid}`, { token: WRITE, body: wrong })
    assertError(r, 422, 'CORRUPT_OBJECT')
    assert.ok(r.json().error.message.includes(cid), 'the message names the CID')
    assert.deepEqual((await http(url, 'POST', '/v1/has', { token: WRITE, body: JSON.stringify([cid]) })).json(), [false], 'nothing was stored')
    assertError(await http(url, 'GET', `/v1/objects/${cid}`, { token: WRITE }), 404, 'OBJECT_NOT_FOUND')

    const created = await http(url, 'PUT', `/v1/objects/${cid}`, { token: WRITE, body: bytes })
    assert.equal(created.status, 201, created.body.toString())
    assert.deepEqual(created.json(), { cid, stored: true })
    const again = await http(url, 'PUT', `/v1/objects/${cid}`, { token: WRITE, body: bytes })
    assert.equal(again.status, 200)
    assert.equal(again.json().stored, false)
    const got = await http(url, 'GET', `/v1/objects/${cid}`, { token: READ })
    assert.equal(got.status, 200)
    assert.equal(got.headers['content-type'], 'application/octet-stream')
    assert.equal(Buffer.compare(got.body, bytes), 0)

    const obj = encodeObject({ type: 'test/serve', link: rawCid(bytes) })
    assert.equal((await http(url, 'PUT', `/v1/objects/${obj.cid.toString()}`, { token: WRITE, body: obj.bytes })).status, 201)
    assert.equal(Buffer.compare((await http(url, 'GET', `/v1/objects/${obj.cid.toString()}`, { token: WRITE })).body, obj.bytes), 0)
  })

  test('413 for bodies over the limits (decided from Content-Length, before reading), 411 without a length', TIMEOUT, async () => {
    const cid = rawCid(Buffer.from('big')).toString()
    const big = await http(url, 'PUT', `/v1/objects/${cid}`, { token: WRITE, headers: { 'Content-Length': String(64 * 1024 * 1024 + 1) } })
    assertError(big, 413, 'TOO_LARGE')
    const many = Array.from({ length: 10_001 }, (_, i) => rawCid(Buffer.from(String(i))).toString())
    assertError(await http(url, 'POST', '/v1/has', { token: WRITE, body: JSON.stringify(many) }), 413, 'TOO_LARGE')
    assertError(await http(url, 'POST', '/v1/has', { token: WRITE, body: JSON.stringify(many.slice(0, 10_000)).padEnd(1024 * 1024 + 1) }), 413, 'TOO_LARGE')
    const chunked = await http(url, 'POST', '/v1/has', { token: WRITE, headers: { 'Transfer-Encoding': 'chunked' }, body: '[' + ' '.repeat(1024 * 1024 + 100) + ']' })
    assertError(chunked, 413, 'TOO_LARGE')
    assert.equal(chunked.headers.connection, 'close', 'an unread body of unknown length is not drained')
    assert.equal((await http(url, 'POST', '/v1/has', { token: WRITE, body: JSON.stringify(many.slice(0, 10_000)) })).json().length, 10_000)
    assertError(await http(url, 'PUT', `/v1/objects/${cid}`, { token: WRITE, headers: { 'Transfer-Encoding': 'chunked' }, body: 'big' }), 411, 'LENGTH_REQUIRED')
  })

  test('400 for bad CIDs, ref names with .. or outside refs/, and bad bodies; paths are not normalised', TIMEOUT, async () => {
    const cid = rawCid(Buffer.from('x')).toString()
    const ref = (name: string, body: unknown = { expect: null, value: cid }): Promise<Reply> => http(url, 'POST', `/v1/refs/${name}`, { token: WRITE, body: JSON.stringify(body) })
    assertError(await http(url, 'GET', '/v1/objects/not-a-cid', { token: WRITE }), 400, 'INVALID_ARGUMENT')
    assertError(await http(url, 'PUT', '/v1/objects/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG', { token: WRITE, body: 'v0' }), 400, 'INVALID_ARGUMENT')
    for (const name of ['refs/heads/../x', 'refs/../refs/heads/x', 'refs/heads/a..b', 'refs/heads/%2E%2E/x', 'heads/main', 'refs/x', '/refs/heads/x', 'refs//heads/x', 'refs/heads/x/', 'refs/heads/a%2Fb', 'refs/heads/.hidden', 'refs/heads/a%20b', 'refs/heads/%ff']) {
      assertError(await ref(name), 400, 'INVALID_ARGUMENT')
    }
    assertError(await ref('refs/heads/ok', { value: cid }), 400, 'INVALID_ARGUMENT')
    assertError(await ref('refs/heads/ok', { expect: null, value: 'bafy-not-a-cid' }), 400, 'INVALID_ARGUMENT')
    assertError(await ref('refs/heads/ok', '{'), 400, 'INVALID_ARGUMENT')
    assertError(await http(url, 'POST', '/v1/has', { token: WRITE, body: JSON.stringify(['nope']) }), 400, 'INVALID_ARGUMENT')
    assertError(await http(url, 'POST', '/v1/has', { token: WRITE, body: '{"not":"a list"}' }), 400, 'INVALID_ARGUMENT')
    assertError(await http(url, 'GET', '/v1/refs?prefix=%00', { token: WRITE }), 400, 'INVALID_ARGUMENT')
    assertError(await http(url, 'GET', '/v1/../v1/info', { token: WRITE }), 404, 'NOT_FOUND')
    const wrongMethod = await http(url, 'DELETE', `/v1/objects/${cid}`, { token: WRITE })
    assertError(wrongMethod, 405, 'METHOD_NOT_ALLOWED')
    assert.equal(wrongMethod.headers.allow, 'GET, PUT')
  })

  test('refs move by compare-and-swap: 409 with the actual value; only to stored objects; names travel percent-encoded', TIMEOUT, async () => {
    const a = Buffer.from('ref target a')
    const b = Buffer.from('ref target b')
    const ca = rawCid(a).toString()
    const cb = rawCid(b).toString()
    const name = 'refs/heads/modèle-ü@1'
    const path = `/v1/refs/${name.split('/').map(encodeURIComponent).join('/')}`
    const cas = (body: unknown): Promise<Reply> => http(url, 'POST', path, { token: WRITE, body: JSON.stringify(body) })
    const missing = await cas({ expect: null, value: ca })
    assertError(missing, 422, 'MISSING_OBJECT')
    for (const [cid, bytes] of [[ca, a], [cb, b]] as const) assert.equal((await http(url, 'PUT', `/v1/objects/${cid}`, { token: WRITE, body: bytes })).status, 201)
    assert.equal((await cas({ expect: null, value: ca })).status, 200)
    const conflict = await cas({ expect: null, value: cb })
    assertError(conflict, 409, 'REF_CONFLICT')
    assert.deepEqual(conflict.json().error.data, { name, expected: null, actual: ca })
    assertError(await cas({ expect: cb, value: cb }), 409, 'REF_CONFLICT')
    assert.equal((await cas({ expect: ca, value: cb })).status, 200)
    const listed = await http(url, 'GET', `/v1/refs?prefix=${encodeURIComponent('refs/heads/mod')}`, { token: READ })
    assert.deepEqual(listed.json(), [{ name, value: cb }])
    assert.equal((await cas({ expect: cb, value: null })).status, 200, 'null deletes')
    assert.deepEqual((await http(url, 'GET', `/v1/refs?prefix=${encodeURIComponent(name)}`, { token: READ })).json(), [])
  })

  test('a pinned repository id that differs gets 412', TIMEOUT, async () => {
    const id = (await http(url, 'GET', '/v1/info', { token: READ })).json().repository as string
    assert.equal((await http(url, 'GET', '/v1/info', { token: READ, headers: { 'Mvc-Repository': id } })).status, 200)
    assertError(await http(url, 'GET', '/v1/refs', { token: READ, headers: { 'Mvc-Repository': '0'.repeat(32) } }), 412, 'WRONG_REPOSITORY')
  })

  test('50 concurrent clients, each on its own connection: has, put and get all succeed', TIMEOUT, async () => {
    const results = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const bytes = keystream(`client-${i}`, 50_000 + i)
      const cid = rawCid(bytes).toString()
      const [before, stored] = await Promise.all([
        http(url, 'POST', '/v1/has', { token: WRITE, body: JSON.stringify([cid]) }),
        http(url, 'PUT', `/v1/objects/${cid}`, { token: WRITE, body: bytes })
      ])
      assert.equal(before.status, 200)
      assert.equal(stored.status, 201, stored.body.toString())
      const [has, got] = await Promise.all([
        http(url, 'POST', '/v1/has', { token: READ, body: JSON.stringify([cid]) }),
        http(url, 'GET', `/v1/objects/${cid}`, { token: READ })
      ])
      assert.deepEqual(has.json(), [true])
      assert.equal(Buffer.compare(got.body, bytes), 0)
      return cid
    }))
    const all = await http(url, 'POST', '/v1/has', { token: READ, body: JSON.stringify(results) })
    assert.ok((all.json() as boolean[]).every(x => x))
  })

  test('the HTTP client works against the CLI server', TIMEOUT, async () => {
    const remote = await openHttpRemote(url, { token: WRITE })
    try {
      const bytes = keystream('client', 3 * 1024 * 1024)
      const cid = rawCid(bytes)
      await remote.put(cid, bytes)
      assert.deepEqual(await remote.hasMany([cid]), [true])
      assert.equal(Buffer.compare(Buffer.from(await remote.get(cid)), bytes), 0)
      const main = (await remote.listRefs('refs/heads/')).find(r => r.name === 'refs/heads/main')
      assert.ok(main !== undefined)
      await remote.casRef('refs/tags/served', null, main.value)
      assert.deepEqual(await remote.listRefs('refs/tags/served'), [{ name: 'refs/tags/served', value: main.value }])
    } finally {
      await remote.close()
    }
  })
})

describe('mvc serve: starting and stopping', () => {
  test('refuses to start without --tokens unless --no-auth (exit 2); not both', TIMEOUT, async () => {
    const { root, tokens } = await newRepo()
    const r = await runMvc(['serve', '--port', '0', '--json'], { cwd: root })
    assertFails(r, 2, 'USAGE')
    assert.match(jsonError(r).message, /--tokens/)
    assert.match(jsonError(r).message, /--no-auth/)
    assertFails(await runMvc(['serve', '--port', '0', '--tokens', tokens, '--no-auth', '--json'], { cwd: root }), 2, 'USAGE')
    assertFails(await runMvc(['serve', '--port', '70000', '--tokens', tokens, '--json'], { cwd: root }), 2, 'USAGE')
    assertFails(await runMvc(['serve', '--port', '0', '--tokens', tokens, '--init', '--json'], { cwd: root }), 2, 'USAGE')
  })

  test('a malformed, empty or missing tokens file stops it (exit 8), naming the line', TIMEOUT, async () => {
    const { root } = await newRepo()
    const cases: Array<[string, RegExp | undefined]> = [
      [`${WRITE} write\n# fine\n\n${READ} admin\n`, /line 4/],
      [`${WRITE} write extra\n`, /line 1/],
      [`${WRITE}\n`, /line 1/],
      [`${WRITE} write\n${WRITE} read\n`, /line 2.*line 1/],
      ['tok\u00e9n write\n', /line 1/],
      ['# only comments\n\n', undefined]
    ]
    for (const [i, [text, line]] of cases.entries()) {
      const file = join(root, `tokens-${i}`)
      await writeFile(file, text, { mode: 0o600 })
      const r = await runMvc(['serve', '--port', '0', '--tokens', file, '--json'], { cwd: root })
      assertFails(r, 8, 'INVALID_ARGUMENT')
      const e = jsonError(r)
      assert.ok(e.message.includes(file), 'the message names the file')
      if (line !== undefined) assert.match(e.message, line)
      assert.ok(!e.message.includes(WRITE), 'the message does not print the token')
    }
    assertFails(await runMvc(['serve', '--port', '0', '--tokens', join(root, 'absent'), '--json'], { cwd: root }), 8, 'INPUT_NOT_FOUND')
  })

  test('SIGTERM: an upload in flight completes, the process exits 0 and releases the store', TIMEOUT, async () => {
    const { root, tokens } = await newRepo()
    const s = await serve(['--tokens', tokens], root, { MVC_LOCK_TIMEOUT_MS: '200' })
    // Writers are told the repository is in use; readers answer from a snapshot.
    const locked = await runMvc(['tag', 'while-serving', 'v1', '--json'], { cwd: root, env: { MVC_LOCK_TIMEOUT_MS: '200' } })
    assertFails(locked, 6, 'REPOSITORY_LOCKED')
    const read = await runMvc(['log', '--json'], { cwd: root, env: { MVC_LOCK_TIMEOUT_MS: '200' } })
    assert.equal(read.code, 0, read.stderr)
    assert.equal(JSON.parse(read.stdout).length, 1)

    const bytes = keystream('in-flight', 1024 * 1024)
    const cid = rawCid(bytes).toString()
    const u = new URL(s.url)
    const reply = new Promise<{ status: number, connection: string | undefined }>((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, method: 'PUT', path: `/v1/objects/${cid}`, agent: false, headers: { Authorization: `Bearer ${WRITE}`, 'Content-Length': String(bytes.length) } }, res => {
        res.resume()
        res.on('end', () => { resolve({ status: res.statusCode!, connection: res.headers.connection }) })
      })
      req.on('error', reject)
      req.write(bytes.subarray(0, 1000))
      setTimeout(() => {
        s.child.kill('SIGTERM')
        setTimeout(() => { req.end(bytes.subarray(1000)) }, 500)
      }, 300)
    })
    const answered = await reply
    assert.equal(answered.status, 201, 'the request in flight was completed')
    assert.equal(answered.connection, 'close')
    const r = await s.done
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(stackLines(r.stderr), [])
    assert.match(r.stderr, /shutting down/)

    assert.equal((await runMvc(['log'], { cwd: root })).code, 0, 'the store is free again')
    const store = await openDiskStore(join(root, '.mvc'))
    try {
      assert.equal(await store.has(rawCid(bytes)), true, 'the object uploaded during shutdown is stored')
      assert.match(new TextDecoder().decode(await store.readMeta('repo-id')), /^[0-9a-f]{32}$/)
    } finally { await store.close() }
  })

  test('--store serves a bare store (--init creates it; without --init exit 3); --no-auth needs no token', TIMEOUT, async () => {
    const base = await realpath(await tmpdir())
    cleanup.push(base)
    const bare = join(base, 'models.mvc')
    assertFails(await runMvc(['serve', '--port', '0', '--no-auth', '--store', bare, '--json'], { cwd: base }), 3, 'NOT_A_REPOSITORY')
    const s = await serve(['--no-auth', '--store', bare, '--init'], base)
    try {
      const info = await http(s.url, 'GET', '/v1/info')
      assert.equal(info.status, 200)
      assert.equal(info.json().access, 'write')
      assert.deepEqual((await http(s.url, 'GET', '/v1/refs?prefix=')).json(), [{ name: 'HEAD', value: 'ref: refs/heads/main' }])
      const bytes = Buffer.from('bare')
      assert.equal((await http(s.url, 'PUT', `/v1/objects/${rawCid(bytes).toString()}`, { body: bytes })).status, 201)
      // The served store declares the format of what it receives: a version of several paths raises it to 2.
      const client = join(base, 'client')
      await mkdir(client)
      await mvcOk(['init'], { cwd: client })
      await put(join(client, 'a', 'x.bin'), 'a')
      await put(join(client, 'b', 'y.bin'), 'b')
      await mvcOk(['commit', 'a', '-m', 'one path', '--no-verify'], { cwd: client })
      await mvcOk(['remote', 'add', 'origin', s.url], { cwd: client })
      await mvcOk(['push', 'origin'], { cwd: client })
      assert.equal((await http(s.url, 'GET', '/v1/info')).json().format, 1)
      await mvcOk(['commit', 'b', '-m', 'two paths', '--no-verify'], { cwd: client })
      await mvcOk(['push', 'origin'], { cwd: client })
      assert.equal((await http(s.url, 'GET', '/v1/info')).json().format, 2)
    } finally {
      const r = await stop(s)
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stderr, /no authentication/)
    }
    const again = await serve(['--no-auth', '--store', bare, '--json'], base)
    const r = await stop(again)
    assert.equal(r.code, 0)
    const printed = JSON.parse(r.stdout.trim()) as { url: string, repository: string, store: string }
    assert.equal(printed.url, again.url)
    assert.equal(printed.store, bare)
    assert.match(printed.repository, /^[0-9a-f]{32}$/)
  })

  test('a port in use is refused with exit 8', TIMEOUT, async () => {
    const { root, tokens } = await newRepo()
    const blocker = createServer()
    await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve))
    try {
      const port = (blocker.address() as { port: number }).port
      const r = await runMvc(['serve', '--port', String(port), '--tokens', tokens, '--json'], { cwd: root })
      assertFails(r, 8, 'INVALID_ARGUMENT')
      assert.ok(jsonError(r).message.includes(String(port)))
    } finally {
      await new Promise(resolve => blocker.close(resolve))
    }
  })
})
