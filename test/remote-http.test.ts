/**
 * The HTTP remote: the remote conformance suite (test/remote-suite.ts) against `startServer` running
 * in this process over an in-memory store, then the client's own behaviour — error mapping, auth,
 * repository pinning, protocol checks, retries, limits — partly against small fake servers that
 * misbehave on purpose. The CLI process (`mvc serve`) is covered by test/serve.test.ts.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { CID } from 'multiformats/cid'
import { encodeObject, rawCid } from '../src/content/block.js'
import { isMvcError } from '../src/errors.js'
import { openMemoryStore } from '../src/store/open.js'
import type { LevelObjectStore } from '../src/store/level-store.js'
import type { Remote } from '../src/remote/interface.js'
import { openHttpRemote, openRemote } from '../src/remote/open.js'
import { startServer, type RunningServer } from '../src/remote/http-server.js'
import type { Access } from '../src/remote/http-protocol.js'
import { keystream } from './helpers.js'
import { remoteSuite, type RemoteFixture } from './remote-suite.js'

const WRITE = 'suite-write-token'
const READ = 'suite-read-token'
const TOKENS: ReadonlyMap<string, Access> = new Map([[WRITE, 'write'], [READ, 'read']])
const HOST = '127.0.0.1'

/** A server over a fresh in-memory store; `tampered` CIDs are sent with a flipped byte. */
async function serveMemory (): Promise<{ server: RunningServer, store: LevelObjectStore, tampered: Set<string>, close: () => Promise<void> }> {
  const store = await openMemoryStore()
  const tampered = new Set<string>()
  const server = await startServer({ store, tokens: TOKENS, host: HOST, port: 0, tamper: cid => tampered.has(cid.toString()) })
  return { server, store, tampered, close: async () => { await server.close(); await store.close() } }
}

remoteSuite({ name: 'http', supports: { corruption: true, auth: true, processes: true }, factory: httpFixture })

async function httpFixture (): Promise<RemoteFixture> {
  const main = await serveMemory()
  const others: Array<() => Promise<void>> = []
  const remote = await openHttpRemote(main.server.url, { token: WRITE })
  return {
    remote,
    url: main.server.url,
    env: { MVC_TOKEN: WRITE },
    corrupt: async (cid: CID) => { main.tampered.add(cid.toString()) },
    readOnly: async () => await openHttpRemote(main.server.url, { token: READ }),
    unauthenticated: async () => await openHttpRemote(main.server.url, { token: '' }),
    // A client pinned to this repository that reaches another server (a port reused, a server restarted on another store).
    wrongRepository: async () => {
      const other = await serveMemory()
      others.push(other.close)
      return await openHttpRemote(other.server.url, { token: WRITE, repository: main.server.repositoryId })
    },
    destroy: async () => {
      await remote.close()
      for (const close of others) await close()
      await main.close()
    }
  }
}

// ------------------------------------------------------------------------------------ client tests

async function codeOf (p: Promise<unknown>): Promise<{ code: string | undefined, err: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  try { await p } catch (err) { return { code: isMvcError(err) ? err.code : `not an mvc error: ${String(err)}`, err } }
  return { code: undefined, err: undefined }
}

/** Runs `fn` with a remote on a fresh memory server, closing both. */
async function withServer (fn: (s: Awaited<ReturnType<typeof serveMemory>>, remote: Remote) => Promise<void>, token = WRITE): Promise<void> {
  const s = await serveMemory()
  const remote = await openHttpRemote(s.server.url, { token })
  try { await fn(s, remote) } finally { await remote.close(); await s.close() }
}

/** A throwaway HTTP server answering with `handler`. */
async function fake (handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void): Promise<{ url: string, paths: string[], close: () => Promise<void> }> {
  const paths: string[] = []
  const server = createServer((req, res) => {
    paths.push(`${req.method ?? ''} ${req.url ?? ''}`)
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => { handler(req, res, Buffer.concat(chunks)) })
  })
  await new Promise<void>(resolve => server.listen(0, HOST, resolve))
  return {
    url: `http://${HOST}:${(server.address() as AddressInfo).port}/`,
    paths,
    close: async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) }
  }
}

function sendJson (res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' })
  res.end(JSON.stringify(body))
}

const INFO = { mvc: 1, format: 1, repository: 'f'.repeat(32), access: 'write', limits: { maxObjectBytes: 64 << 20, maxHasBatch: 10_000 } }

describe('HTTP client', () => {
  const fakes: Array<() => Promise<void>> = []
  after(async () => { for (const close of fakes) await close() })

  test('round trip: put, get, hasMany (batched past 10,000, order kept), listRefs, casRef', async () => {
    await withServer(async (_s, remote) => {
      const chunk = keystream('rt', 10 * 1024 * 1024)
      const cid = rawCid(chunk)
      const obj = encodeObject({ type: 'test/http', link: cid })
      await remote.put(cid, chunk)
      await remote.put(obj.cid, obj.bytes)
      await remote.put(cid, chunk) // idempotent
      assert.equal(Buffer.compare(Buffer.from(await remote.get(cid)), chunk), 0)
      assert.deepEqual(await remote.get(obj.cid), obj.bytes)
      assert.deepEqual(await remote.hasMany([]), [])
      const many = Array.from({ length: 25_000 }, (_, i) => rawCid(Buffer.from(`absent ${i}`)))
      many[3] = cid
      many[17_777] = obj.cid
      const has = await remote.hasMany(many)
      assert.equal(has.length, 25_000)
      assert.deepEqual(has.flatMap((h, i) => h ? [i] : []), [3, 17_777])

      await remote.casRef('refs/heads/main', null, obj.cid.toString())
      await remote.casRef('refs/tags/v-ü', null, obj.cid.toString())
      assert.deepEqual(await remote.listRefs('refs/'), [
        { name: 'refs/heads/main', value: obj.cid.toString() },
        { name: 'refs/tags/v-ü', value: obj.cid.toString() }
      ])
      assert.deepEqual(await remote.listRefs('refs/tags/'), [{ name: 'refs/tags/v-ü', value: obj.cid.toString() }])
      await remote.casRef('HEAD', null, 'ref: refs/heads/main')
      assert.deepEqual(await remote.listRefs('HEAD'), [{ name: 'HEAD', value: 'ref: refs/heads/main' }])
      await remote.casRef('refs/tags/v-ü', obj.cid.toString(), null)
      assert.deepEqual((await remote.listRefs('refs/tags/')), [])
    })
  })

  test('errors keep their codes: OBJECT_NOT_FOUND, CORRUPT_OBJECT (both directions), REF_CONFLICT, REMOTE_ERROR, INVALID_ARGUMENT', async () => {
    await withServer(async (s, remote) => {
      const bytes = keystream('errors', 70_000)
      const cid = rawCid(bytes)
      assert.equal((await codeOf(remote.get(cid))).code, 'OBJECT_NOT_FOUND')

      const wrong = Buffer.from(bytes)
      wrong[0]! ^= 1
      const put = await codeOf(remote.put(cid, wrong))
      assert.equal(put.code, 'CORRUPT_OBJECT')
      assert.equal(put.err.data.cid, cid.toString())
      assert.deepEqual(await remote.hasMany([cid]), [false], 'wrong bytes are not stored')

      await remote.put(cid, bytes)
      s.tampered.add(cid.toString())
      const got = await codeOf(remote.get(cid))
      assert.equal(got.code, 'CORRUPT_OBJECT')
      assert.equal(got.err.data.cid, cid.toString())
      assert.ok(got.err.message.includes(cid.toString()) && got.err.message.includes(s.server.url), 'the message names the CID and the URL')

      const missing = await codeOf(remote.casRef('refs/heads/main', null, rawCid(Buffer.from('not there')).toString()))
      assert.equal(missing.code, 'REMOTE_ERROR', 'a ref may only name an object the remote has')
      await remote.casRef('refs/heads/main', null, cid.toString())
      const conflict = await codeOf(remote.casRef('refs/heads/main', null, cid.toString()))
      assert.equal(conflict.code, 'REF_CONFLICT')
      assert.equal(conflict.err.data.actual, cid.toString())

      for (const name of ['refs/heads/../x', 'heads/main', 'refs/x', 'refs/heads/a b', 'refs/heads/']) {
        assert.equal((await codeOf(remote.casRef(name, null, cid.toString()))).code, 'INVALID_ARGUMENT', name)
      }
      assert.equal((await codeOf(remote.casRef('refs/heads/x', null, 'not a cid'))).code, 'INVALID_ARGUMENT')
      assert.equal((await codeOf(remote.listRefs('refs/\u0000'))).code, 'INVALID_ARGUMENT')
    })
  })

  test('auth: no token and unknown tokens are AUTH_FAILED everywhere; a read token reads but cannot write; MVC_TOKEN is the default', async () => {
    await withServer(async (s, remote) => {
      const bytes = Buffer.from('auth')
      const cid = rawCid(bytes)
      await remote.put(cid, bytes)
      for (const token of ['', 'unknown-token']) {
        const r = await openHttpRemote(s.server.url, { token })
        try {
          for (const op of [r.hasMany([cid]), r.get(cid), r.put(cid, bytes), r.listRefs('refs/'), r.casRef('refs/heads/x', null, cid.toString())]) {
            const { code, err } = await codeOf(op)
            assert.equal(code, 'AUTH_FAILED')
            assert.match(err.message, /MVC_TOKEN/)
          }
        } finally { await r.close() }
      }
      const ro = await openHttpRemote(s.server.url, { token: READ })
      try {
        assert.deepEqual(await ro.hasMany([cid]), [true])
        assert.deepEqual(await ro.get(cid), new Uint8Array(bytes))
        assert.equal((await codeOf(ro.put(cid, bytes))).code, 'AUTH_FAILED')
        assert.equal((await codeOf(ro.casRef('refs/heads/x', null, cid.toString()))).code, 'AUTH_FAILED')
      } finally { await ro.close() }

      const saved = process.env.MVC_TOKEN
      process.env.MVC_TOKEN = READ
      try {
        const viaEnv = await openRemote(s.server.url)
        try { assert.deepEqual(await viaEnv.hasMany([cid]), [true]) } finally { await viaEnv.close() }
      } finally {
        if (saved === undefined) delete process.env.MVC_TOKEN
        else process.env.MVC_TOKEN = saved
      }
      assert.equal((await codeOf(openHttpRemote(s.server.url, { token: 'has space' }))).code, 'INVALID_ARGUMENT')
    })
  })

  test('repository pinning: by ?repository= or the remote\'s configuration; another repository is REMOTE_ERROR', async () => {
    await withServer(async (s) => {
      const id = s.server.repositoryId
      for (const [url, options] of [[`${s.server.url}?repository=${id}`, {}], [s.server.url, { config: { repository: id } }]] as const) {
        const r = await openRemote(url, { token: WRITE, ...options })
        try { assert.deepEqual(await r.listRefs('refs/'), []) } finally { await r.close() }
      }
      const other = '0'.repeat(32)
      for (const [url, options] of [[`${s.server.url}?repository=${other}`, {}], [s.server.url, { config: { repository: other } }]] as const) {
        const r = await openRemote(url, { token: WRITE, ...options })
        try {
          const { code, err } = await codeOf(r.hasMany([rawCid(Buffer.from('x'))]))
          assert.equal(code, 'REMOTE_ERROR')
          assert.equal(err.data.reason, 'wrong-repository')
          assert.ok(err.message.includes(id) && err.message.includes(other))
        } finally { await r.close() }
      }
      assert.equal((await codeOf(openHttpRemote(`${s.server.url}?repository=${other}`, { repository: id }))).code, 'INVALID_ARGUMENT')
    })
  })

  test('bad URLs are INVALID_ARGUMENT; an unreachable server is REMOTE_ERROR naming the URL', async () => {
    assert.equal((await codeOf(openHttpRemote('http://user:secret@127.0.0.1:1/'))).code, 'INVALID_ARGUMENT')
    assert.equal((await codeOf(openHttpRemote('ftp://127.0.0.1/'))).code, 'INVALID_ARGUMENT')
    assert.equal((await codeOf(openHttpRemote('not a url'))).code, 'INVALID_ARGUMENT')
    const s = await serveMemory()
    const url = s.server.url
    await s.close()
    const r = await openHttpRemote(url, { token: WRITE })
    try {
      const { code, err } = await codeOf(r.listRefs('refs/'))
      assert.equal(code, 'REMOTE_ERROR')
      assert.ok(err.message.includes(url), err.message)
      assert.equal(err.data.url, url)
    } finally { await r.close() }
  })

  test('the client refuses servers that are not mvc or speak another protocol or format version', async () => {
    const cases: Array<[string, (res: ServerResponse) => void]> = [
      ['REMOTE_ERROR', res => { sendJson(res, 200, { ...INFO, mvc: 2 }) }],
      ['UNSUPPORTED_FORMAT', res => { sendJson(res, 200, { ...INFO, format: 99 }) }],
      ['REMOTE_ERROR', res => { res.writeHead(404); res.end('not found') }],
      ['REMOTE_ERROR', res => { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end('<html>hello</html>') }],
      ['REMOTE_ERROR', res => { sendJson(res, 200, { mvc: 1, format: 1 }) }],
      ['REMOTE_ERROR', res => { sendJson(res, 500, { error: { code: 'INTERNAL', message: 'boom' } }) }]
    ]
    for (const [expected, answer] of cases) {
      const f = await fake((_req, res) => { answer(res) })
      fakes.push(f.close)
      const r = await openHttpRemote(f.url, { token: WRITE })
      try {
        assert.equal((await codeOf(r.listRefs('refs/'))).code, expected)
        assert.deepEqual(f.paths, ['GET /v1/info'], 'nothing is sent before the handshake succeeds')
      } finally { await r.close() }
    }
  })

  test('a base path is kept; a reset connection and 503 are retried for idempotent requests', async () => {
    let resets = 0
    let unavailable = 0
    const bytes = Buffer.from('retried object')
    const cid = rawCid(bytes)
    const f = await fake((req, res) => {
      if (req.url === '/mvc/v1/info') return sendJson(res, 200, INFO)
      if (req.url === `/mvc/v1/objects/${cid.toString()}` && resets++ === 0) { req.socket.destroy(); return }
      if (req.url === `/mvc/v1/objects/${cid.toString()}`) { res.writeHead(200, { 'Content-Length': String(bytes.length) }); res.end(bytes); return }
      if (req.url === '/mvc/v1/has' && unavailable++ === 0) return sendJson(res, 503, { error: { code: 'UNAVAILABLE', message: 'later' } })
      if (req.url === '/mvc/v1/has') return sendJson(res, 200, [true])
      sendJson(res, 404, { error: { code: 'NOT_FOUND', message: req.url ?? '' } })
    })
    fakes.push(f.close)
    const r = await openHttpRemote(`${f.url}mvc`, { token: WRITE })
    try {
      assert.deepEqual(await r.get(cid), new Uint8Array(bytes))
      assert.equal(resets, 2)
      assert.deepEqual(await r.hasMany([cid]), [true])
      assert.equal(unavailable, 2)
      assert.ok(f.paths.every(p => p.includes(' /mvc/v1/')), f.paths.join(', '))
    } finally { await r.close() }
  })

  test('a ref update whose answer was lost is retried; it succeeds when the ref holds the value asked for', async () => {
    const target = rawCid(Buffer.from('t')).toString()
    for (const [actual, expected] of [[target, undefined], [rawCid(Buffer.from('other')).toString(), 'REF_CONFLICT']] as const) {
      let attempts = 0
      const f = await fake((req, res) => {
        if (req.url === '/v1/info') return sendJson(res, 200, INFO)
        if (attempts++ === 0) { req.socket.destroy(); return } // applied, but the answer is lost
        sendJson(res, 409, { error: { code: 'REF_CONFLICT', message: 'moved', data: { name: 'refs/heads/main', expected: null, actual } } })
      })
      fakes.push(f.close)
      const r = await openHttpRemote(f.url, { token: WRITE })
      try {
        assert.equal((await codeOf(r.casRef('refs/heads/main', null, target))).code, expected)
        assert.equal(attempts, 2)
      } finally { await r.close() }
    }
  })

  test('objects over 64 MiB are refused before sending; concurrent puts through one client all land', async t => {
    await withServer(async (s, remote) => {
      const huge = new Uint8Array(64 * 1024 * 1024 + 1)
      const hugeCid = rawCid(huge)
      const { code, err } = await codeOf(remote.put(hugeCid, huge))
      assert.equal(code, 'REMOTE_ERROR')
      assert.equal(err.data.limit, 64 * 1024 * 1024)

      const objects = Array.from({ length: 64 }, (_, i) => keystream(`concurrent-${i}`, 20_000 + i))
      const packsBefore = (await s.store.packs.list()).length
      await Promise.all(objects.map(async b => { await remote.put(rawCid(b), b) }))
      assert.ok((await remote.hasMany(objects.map(b => rawCid(b)))).every(x => x))
      t.diagnostic(`64 concurrent puts sealed ${(await s.store.packs.list()).length - packsBefore} packs (in-memory store: commits are too quick to overlap much; on disk, group commit merges about 4 puts per transaction, docs/protocol.md)`)
    })
  })
})
