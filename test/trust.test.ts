/**
 * The server trust model (issue 12, items 1–4, 10 and 15), each as an attack or a fault against the real
 * CLI, a real `mvc serve` in a child process, a real folder remote and (when configured) a real S3
 * server:
 *
 * - closure poisoning: a client with a write token stores a model's structured objects without their
 *   chunks; the owner's later push must still send the chunks, and clones must be complete;
 * - refs to incomplete or junk commits: refused by the server (HTTP), the folder remote, and checked by
 *   the pushing client where the remote can't (S3);
 * - append-only serving (`--append-only`, `append` tokens): objects and new refs yes, deleting or
 *   rewriting refs no;
 * - upload budget: stalled uploads do not starve other clients;
 * - rollback: a remote branch that moves backwards is reported and not followed without --force;
 *   `clone --expect` pins a commit;
 * - resumable downloads: an object cut off mid-answer is resumed with an HTTP Range request, across
 *   retries and across processes.
 *
 * Expected values come from the test's own walk of the objects (decoded here with @ipld/dag-cbor, not
 * through mvc's link code) and from the files written, never from the code under test.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect as netConnect, type Socket } from 'node:net'
import { mkdir, readdir, readFile, realpath, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { encodeObject, rawCid } from '../src/content/block.js'
import { isMvcError } from '../src/errors.js'
import type { Remote } from '../src/remote/interface.js'
import { openHttpRemote, openRemote } from '../src/remote/open.js'
import { openFolderRemote } from '../src/remote/folder.js'
import { openDiskStore } from '../src/store/open.js'
import { attemptsOf, faultyProxy, rawHttp, serveCli, stopServed, type Proxy, type Served } from './remote-faults.js'
import {
  exists, jsonError, keystream, mvcJson, mvcOk, removeDir, runMvc, spawnMvc, stackLines, tmpdir, treeSnapshot,
  writeRandomFile, MiB, type RunResult
} from './helpers.js'

const TIMEOUT = { timeout: 240_000 }
const OWNER = 'owner-write-token-0123456789'
const MALLORY = 'mallory-write-token-0123456789'
const APPENDER = 'appender-append-token-0123456789'
const STALLERS = [1, 2, 3, 4, 5].map(i => `staller-${i}-write-token-0123456789`)
const TOKENS = `${OWNER} write\n${MALLORY} write\n${APPENDER} append\n${STALLERS.map(t => `${t} write`).join('\n')}\n`

const cleanup: string[] = []
after(async () => { await Promise.all(cleanup.map(removeDir)) })

async function newBase (): Promise<string> {
  const base = await realpath(await tmpdir('mvc-trust-'))
  cleanup.push(base)
  return base
}

async function codeOf (p: Promise<unknown>): Promise<{ code: string | undefined, err: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  try { await p } catch (err) { return { code: isMvcError(err) ? err.code : `not an mvc error: ${String(err)}`, err } }
  return { code: undefined, err: undefined }
}

function assertFails (r: RunResult, exit: number, code?: string): void {
  assert.equal(r.code, exit, `expected exit ${exit}, got ${String(r.code)}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  if (code !== undefined) assert.equal(jsonError(r).code, code, r.stderr)
  assert.deepEqual(stackLines(r.stderr), [], 'no stack trace for an expected error')
  assert.doesNotMatch(r.stderr, /report (it|this) as a bug/i)
}

/** A repository with a model folder of a few files, one of them `weightsBytes` of random bytes; committed once. */
async function ownerRepo (base: string, name: string, weightsBytes = 3 * MiB): Promise<string> {
  const root = join(base, name)
  await mkdir(join(root, 'model', 'notes'), { recursive: true })
  await mvcOk(['init'], { cwd: root })
  await writeFile(join(root, 'model', 'config.txt'), `lr=0.1 ${name}\n`)
  await writeFile(join(root, 'model', 'notes', 'readme.md'), `# ${name}\n`)
  await writeRandomFile(join(root, 'model', 'weights.bin'), weightsBytes, `${name}-weights`)
  await mvcOk(['commit', 'model', '-m', 'v1', '--no-verify'], { cwd: root })
  return root
}

async function commitMore (root: string, seed: string, bytes = 2 * MiB): Promise<string> {
  await writeRandomFile(join(root, 'model', `more-${seed}.bin`), bytes, seed)
  await mvcOk(['commit', 'model', '-m', seed, '--no-verify'], { cwd: root })
  return await readRef(root, 'refs/heads/main')
}

async function readRef (root: string, name: string): Promise<string> {
  const store = await openDiskStore(join(root, '.mvc'))
  try {
    const v = await store.readRef(name)
    assert.ok(v !== undefined, `${name} is set in ${root}`)
    return v
  } finally { await store.close() }
}

interface Obj { readonly cid: CID, readonly bytes: Uint8Array }

/** Every CID inside a decoded dag-cbor value (the test's own walk: any tag-42 link, anywhere). */
function linksIn (v: unknown, out: CID[] = []): CID[] {
  const c = CID.asCID(v)
  if (c !== null) { out.push(c); return out }
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return out
  for (const x of Array.isArray(v) ? v : Object.values(v)) linksIn(x, out)
  return out
}

/** The closure of `from` in the repository at `root`: every object reachable by links, read from its store. */
async function closureOf (root: string, from: string): Promise<Obj[]> {
  const store = await openDiskStore(join(root, '.mvc'))
  try {
    const seen = new Map<string, Obj>()
    const queue = [CID.parse(from)]
    while (queue.length > 0) {
      const cid = queue.pop()!
      if (seen.has(cid.toString())) continue
      const bytes = await store.get(cid)
      seen.set(cid.toString(), { cid, bytes })
      if (cid.code === 0x71) {
        const value = dagCbor.decode(bytes) as Record<string, unknown>
        // A data snapshot's manifest links files that are stored nowhere (docs/design.md, "Lineage").
        if (value.type === 'mvc/manifest' && !(await Promise.all(linksIn(value).map(async l => await store.has(l)))).every(Boolean)) continue
        for (const l of linksIn(value)) queue.push(l)
      }
    }
    return [...seen.values()]
  } finally { await store.close() }
}

async function junkUnderDagCbor (text: string): Promise<Obj> {
  const bytes = new TextEncoder().encode(text)
  return { cid: CID.createV1(0x71, await sha256.digest(bytes)), bytes }
}

// ------------------------------------------------------------------------------------------- HTTP

/** A fresh `mvc serve --store … --init --tokens …` (plus `args`) for one test, with a direct (owner) client. */
async function withServer (args: readonly string[], fn: (s: { base: string, url: string, direct: Remote }) => Promise<void>): Promise<void> {
  const base = await newBase()
  const tokens = join(base, 'tokens')
  await writeFile(tokens, TOKENS, { mode: 0o600 })
  const served = await serveCli(['--store', join(base, 'store'), '--init', '--tokens', tokens, ...args], base)
  const direct = await openHttpRemote(served.url, { token: OWNER, retry: false })
  try {
    await fn({ base, url: served.url, direct })
  } finally {
    await direct.close()
    await stopServed(served)
  }
}

describe('mvc serve: a server that cannot be poisoned', () => {
  test('closure poisoning: structured objects stored without their chunks do not make the owner\'s push skip them; clones are complete', TIMEOUT, async t => await withServer([], async ({ base, url, direct }) => {
    const served = { url }
    const root = await ownerRepo(base, 'poisoned')
    const head = await readRef(root, 'refs/heads/main')
    const closure = await closureOf(root, head)
    const structured = closure.filter(o => o.cid.code === 0x71 && o.cid.toString() !== head)
    const chunks = closure.filter(o => o.cid.code === 0x55)
    assert.ok(chunks.length >= 3, `${chunks.length} chunks`)

    // Mallory (a write token) stores every structured object below the commit, and no chunk.
    const mallory = await openHttpRemote(served.url, { token: MALLORY, retry: false })
    try {
      for (const o of structured) await mallory.put(o.cid, o.bytes)
    } finally { await mallory.close() }
    // The server does not vouch for them: `has` is about complete closures.
    const has = await rawHttp(served.url, 'POST', '/v1/has', { token: OWNER, body: JSON.stringify(structured.map(o => o.cid.toString())) })
    assert.equal(has.status, 200)
    const vouched = has.json() as boolean[]

    const env = { MVC_TOKEN: OWNER }
    await mvcOk(['remote', 'add', 'origin', served.url], { cwd: root })
    const pushed = await mvcJson(['push'], { cwd: root, env })
    assert.equal(pushed.new, head)
    const there = await direct.hasMany(chunks.map(o => o.cid))
    const missing = chunks.filter((_, i) => !there[i]).length
    t.diagnostic(`after Mallory's ${structured.length} objects and the owner's push (${pushed.objectsSent as number} objects sent): ${missing} of ${chunks.length} chunks missing on the server`)
    const cloned = join(base, 'poisoned-clone')
    const clonedRun = await runMvc(['clone', served.url, cloned, '--no-verify'], { cwd: base, env })
    t.diagnostic(`clone: exit ${String(clonedRun.code)}`)
    assert.equal(missing, 0)
    assert.equal(clonedRun.code, 0, clonedRun.stderr)
    assert.deepEqual(await treeSnapshot(join(cloned, 'model')), await treeSnapshot(join(root, 'model')))
    assert.deepEqual(vouched, structured.map(() => false), 'objects whose chunks were missing were not reported as there')
  }))

  test('junk bytes under a dag-cbor CID are refused (422 INVALID_OBJECT) and never stored', TIMEOUT, async () => await withServer([], async ({ url, direct }) => {
    const served = { url }
    const junk = await junkUnderDagCbor('this is not dag-cbor \u00ff')
    const r = await rawHttp(served.url, 'PUT', `/v1/objects/${junk.cid.toString()}`, { token: MALLORY, body: junk.bytes })
    assert.equal(r.status, 422, r.body.toString())
    assert.equal(r.json().error.code, 'INVALID_OBJECT')
    assert.deepEqual(await direct.hasMany([junk.cid]), [false])
    assert.equal((await rawHttp(served.url, 'GET', `/v1/objects/${junk.cid.toString()}`, { token: OWNER })).status, 404)
  }))

  test('a ref moves only to a commit whose closure is complete: a commit without its manifest → 422 for a branch, a version, a tag; once pushed, it may', TIMEOUT, async () => await withServer([], async ({ base, url }) => {
    const served = { url }
    const root = await ownerRepo(base, 'refs-check')
    await commitMore(root, 'second')
    const head = await readRef(root, 'refs/heads/main')
    const commitBytes = (await closureOf(root, head)).find(o => o.cid.toString() === head)!.bytes
    const mallory = await openHttpRemote(served.url, { token: MALLORY, retry: false })
    const chunk = keystream('a chunk', 1000)
    try {
      // The commit object alone (its manifest and parent are absent).
      await mallory.put(CID.parse(head), commitBytes)
      await mallory.put(rawCid(chunk), chunk)
    } finally { await mallory.close() }
    const setRef = async (name: string, value: string): Promise<any> => // eslint-disable-line @typescript-eslint/no-explicit-any
      await rawHttp(served.url, 'POST', `/v1/refs/${name}`, { token: MALLORY, body: JSON.stringify({ expect: null, value }) })

    const incomplete = await setRef('refs/heads/evil', head)
    assert.equal(incomplete.status, 422, incomplete.body.toString())
    assert.equal(incomplete.json().error.code, 'MISSING_OBJECT')
    assert.match(incomplete.json().error.message, /closure|missing|not on this server/i)
    const version = await setRef('refs/versions/1', head)
    assert.equal(version.status, 422)
    const tag = await setRef('refs/tags/evil', head)
    assert.equal(tag.status, 422)
    const refs = (await rawHttp(served.url, 'GET', '/v1/refs?prefix=refs%2F', { token: OWNER })).json() as Array<{ name: string }>
    assert.deepEqual(refs.filter(r => ['refs/heads/evil', 'refs/versions/1', 'refs/tags/evil'].includes(r.name)), [])
    // A chunk is complete by itself: a ref may name it (readers refuse branches that name no commit).
    assert.equal((await setRef('refs/heads/raw', rawCid(chunk).toString())).status, 200)
    await rawHttp(served.url, 'POST', '/v1/refs/refs/heads/raw', { token: MALLORY, body: JSON.stringify({ expect: rawCid(chunk).toString(), value: null }) })

    // Once the owner pushes, the same commit is complete and a ref to it is accepted.
    const env = { MVC_TOKEN: OWNER }
    await mvcOk(['remote', 'add', 'origin', served.url], { cwd: root })
    await mvcOk(['push'], { cwd: root, env })
    assert.equal((await setRef('refs/heads/evil', head)).status, 200)
    const cloned = join(base, 'refs-check-clone')
    const r = await runMvc(['clone', served.url, cloned, '--no-verify', '--json'], { cwd: base, env })
    assert.equal(r.code, 0, r.stderr)
  }))

  test('append-only tokens may add objects, create refs and fast-forward branches, never delete or rewrite (403 APPEND_ONLY)', TIMEOUT, async () => await withServer([], async ({ base, url, direct }) => {
    const served = { url }
    const root = await ownerRepo(base, 'appended')
    const v1 = await readRef(root, 'refs/heads/main')
    const env = { MVC_TOKEN: APPENDER }
    await mvcOk(['remote', 'add', 'origin', served.url], { cwd: root })
    await mvcOk(['branch', 'ap'], { cwd: root })
    await mvcOk(['switch', 'ap'], { cwd: root })
    await mvcOk(['tag', 'ap-first'], { cwd: root })
    await mvcOk(['push', 'origin', 'ap'], { cwd: root, env })
    const v2 = await commitMore(root, 'ap-second').then(async () => await readRef(root, 'refs/heads/ap'))
    const ff = await mvcJson(['push', 'origin', 'ap'], { cwd: root, env })
    assert.equal(ff.new, v2)
    // Rewrites: the branch back to v1, deleting it, deleting a version, moving a tag.
    const reset = await rawHttp(served.url, 'POST', '/v1/refs/refs/heads/ap', { token: APPENDER, body: JSON.stringify({ expect: v2, value: v1 }) })
    assert.equal(reset.status, 403, reset.body.toString())
    assert.equal(reset.json().error.code, 'APPEND_ONLY')
    const del = await rawHttp(served.url, 'POST', '/v1/refs/refs/heads/ap', { token: APPENDER, body: JSON.stringify({ expect: v2, value: null }) })
    assert.equal(del.status, 403)
    const versions = (await direct.listRefs('refs/versions/')).map(r => r.name)
    assert.ok(versions.length > 0)
    const delVersion = await rawHttp(served.url, 'POST', `/v1/refs/${versions[0]!}`, { token: APPENDER, body: JSON.stringify({ expect: (await direct.listRefs(versions[0]!))[0]!.value, value: null }) })
    assert.equal(delVersion.status, 403)
    const moveTag = await rawHttp(served.url, 'POST', '/v1/refs/refs/tags/ap-first', { token: APPENDER, body: JSON.stringify({ expect: v1, value: v2 }) })
    assert.equal(moveTag.status, 403)
    // The CLI: push --force of a rewritten branch is AUTH_FAILED (exit 11) saying why; the branch stays.
    const other = await ownerRepo(base, 'appended-other')
    await mvcOk(['remote', 'add', 'origin', served.url], { cwd: other })
    await mvcOk(['branch', 'ap'], { cwd: other })
    await mvcOk(['switch', 'ap'], { cwd: other })
    const r = await runMvc(['push', 'origin', 'ap', '--force', '--json'], { cwd: other, env })
    assertFails(r, 11, 'AUTH_FAILED')
    assert.match(jsonError(r).message, /append-only/)
    assert.equal((await direct.listRefs('refs/heads/ap'))[0]!.value, v2)
    // /v1/info says so, and still says "write" for older clients.
    const info = (await rawHttp(served.url, 'GET', '/v1/info', { token: APPENDER })).json()
    assert.equal(info.access, 'write')
    assert.equal(info.appendOnly, true)
    // A write token may still rewrite on this server.
    const byWriter = await rawHttp(served.url, 'POST', '/v1/refs/refs/tags/ap-first', { token: OWNER, body: JSON.stringify({ expect: v1, value: null }) })
    assert.equal(byWriter.status, 200, byWriter.body.toString())
  }))
})

describe('mvc serve --append-only', () => {
  test('every write token is append-only: push works, forced pushes and deletions are refused', TIMEOUT, async () => {
    const base = await newBase()
    const tokens = join(base, 'tokens')
    await writeFile(tokens, TOKENS, { mode: 0o600 })
    const served = await serveCli(['--store', join(base, 'store'), '--init', '--tokens', tokens, '--append-only'], base)
    try {
      const root = await ownerRepo(base, 'ao')
      const v1 = await readRef(root, 'refs/heads/main')
      const env = { MVC_TOKEN: OWNER }
      await mvcOk(['remote', 'add', 'origin', served.url], { cwd: root })
      await mvcOk(['push'], { cwd: root, env })
      const v2 = await commitMore(root, 'ao-2')
      await mvcOk(['push'], { cwd: root, env })
      const back = await rawHttp(served.url, 'POST', '/v1/refs/refs/heads/main', { token: OWNER, body: JSON.stringify({ expect: v2, value: v1 }) })
      assert.equal(back.status, 403)
      const del = await rawHttp(served.url, 'POST', '/v1/refs/refs/versions/1', { token: OWNER, body: JSON.stringify({ expect: v1, value: null }) })
      assert.equal(del.status, 403)
      const info = (await rawHttp(served.url, 'GET', '/v1/info', { token: OWNER })).json()
      assert.equal(info.appendOnly, true)
    } finally { await stopServed(served) }
  })
})

// --------------------------------------------------------------------------------- upload budget

/** Opens a PUT of a `declared`-byte object, sends `send` bytes and then nothing. Resolves when the server answers or closes. */
function stalledUpload (url: string, token: string, declared: number, send: number): { socket: Socket, ended: Promise<{ at: number, head: string }> } {
  const u = new URL(url)
  const socket = netConnect(Number(u.port), u.hostname)
  const cid = rawCid(keystream(`stall-${token}-${Math.random()}`, 16)).toString()
  socket.write(`PUT /v1/objects/${cid} HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`)
  socket.write(Buffer.alloc(send, 7))
  let head = ''
  const ended = new Promise<{ at: number, head: string }>(resolve => {
    socket.on('data', (b: Buffer) => { head += b.toString('latin1') })
    socket.on('close', () => { resolve({ at: Date.now(), head: head.split('\r\n')[0] ?? '' }) })
    socket.on('error', () => {})
  })
  return { socket, ended }
}

async function timedPush (root: string, env: Record<string, string>, limitMs: number): Promise<{ ms: number, result: RunResult }> {
  const started = Date.now()
  const { child, done } = spawnMvc(['push', '--json'], { cwd: root, env })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, limitMs)
  const result = await done
  clearTimeout(timer)
  return { ms: Date.now() - started, result }
}

describe('mvc serve: stalled uploads do not starve other clients', () => {
  test('five stalled 64 MiB uploads of one client: another client\'s push completes while they are still stalled', TIMEOUT, async t => {
    const base = await newBase()
    const tokens = join(base, 'tokens')
    await writeFile(tokens, TOKENS, { mode: 0o600 })
    // A long idle timeout: the push must not need it.
    const served = await serveCli(['--store', join(base, 'store'), '--init', '--tokens', tokens, '--idle-timeout', '120'], base)
    const stalled = [0, 1, 2, 3, 4].map(() => stalledUpload(served.url, STALLERS[0]!, 64 * MiB, 64 * 1024))
    try {
      let open = stalled.length
      for (const s of stalled) void s.ended.then(() => { open-- })
      await new Promise(resolve => setTimeout(resolve, 500))
      const root = await ownerRepo(base, 'budget-one')
      await mvcOk(['remote', 'add', 'origin', served.url], { cwd: root })
      const pushed = await timedPush(root, { MVC_TOKEN: OWNER }, 90_000)
      t.diagnostic(`push beside five stalled uploads of one client: exit ${String(pushed.result.code)} in ${pushed.ms} ms`)
      assert.equal(pushed.result.code, 0, pushed.result.stderr)
      assert.equal(open, stalled.length, 'the stalled uploads were still open when the push finished: it did not wait for them')
    } finally {
      for (const s of stalled) s.socket.destroy()
      await stopServed(served)
    }
  })

  test('five stalled 64 MiB uploads of five clients (more than the whole upload budget): a push completes within the idle timeout; the stalled requests get 408', TIMEOUT, async t => {
    const base = await newBase()
    const tokens = join(base, 'tokens')
    await writeFile(tokens, TOKENS, { mode: 0o600 })
    const idle = 4
    const served = await serveCli(['--store', join(base, 'store'), '--init', '--tokens', tokens, '--idle-timeout', String(idle)], base)
    const root = await ownerRepo(base, 'budget-five')
    await mvcOk(['remote', 'add', 'origin', served.url], { cwd: root })
    const started = Date.now()
    const stalled = STALLERS.map(tok => stalledUpload(served.url, tok, 64 * MiB, 64 * 1024))
    try {
      await new Promise(resolve => setTimeout(resolve, 300))
      const pushed = await timedPush(root, { MVC_TOKEN: OWNER }, 90_000)
      t.diagnostic(`push beside five stalled uploads of five clients: exit ${String(pushed.result.code)} in ${pushed.ms} ms (idle timeout ${idle} s)`)
      assert.equal(pushed.result.code, 0, pushed.result.stderr)
      assert.ok(Date.now() - started < (idle + 30) * 1000, `bounded by the idle timeout: ${pushed.ms} ms`)
      const ends = await Promise.all(stalled.map(s => s.ended))
      for (const e of ends) {
        assert.ok(e.at - started < (idle + 30) * 1000, 'each stalled upload was cut')
        assert.match(e.head, /^HTTP\/1\.1 408|^$/, `a stalled upload ends with 408 or a closed connection: ${e.head}`)
      }
      assert.ok(ends.some(e => /^HTTP\/1\.1 408/.test(e.head)), 'answered 408')
    } finally {
      for (const s of stalled) s.socket.destroy()
      await stopServed(served)
    }
  })
})

// ------------------------------------------------------------------------------------ folder remote

describe('folder remotes keep closures too', () => {
  test('poisoning a folder remote through the API does not make a push skip chunks; a ref to an incomplete commit or junk is refused', TIMEOUT, async () => {
    const base = await newBase()
    const remoteDir = join(base, 'remote.mvc')
    const root = await ownerRepo(base, 'folder-owner')
    const head = await readRef(root, 'refs/heads/main')
    const closure = await closureOf(root, head)
    const chunks = closure.filter(o => o.cid.code === 0x55)
    const mallory = await openFolderRemote(remoteDir, { create: true })
    try {
      for (const o of closure) if (o.cid.code === 0x71 && o.cid.toString() !== head) await mallory.put(o.cid, o.bytes)
      await mallory.put(CID.parse(head), closure.find(o => o.cid.toString() === head)!.bytes)
      assert.equal((await codeOf(mallory.casRef('refs/heads/evil', null, head))).code, 'REMOTE_ERROR')
      const junk = await junkUnderDagCbor('junk for a folder')
      assert.equal((await codeOf(mallory.put(junk.cid, junk.bytes))).code, 'INVALID_OBJECT')
      assert.deepEqual(await mallory.hasMany([CID.parse(head)]), [false])
    } finally { await mallory.close() }

    await mvcOk(['remote', 'add', 'origin', remoteDir], { cwd: root })
    await mvcOk(['push'], { cwd: root })
    const check = await openFolderRemote(remoteDir)
    try {
      assert.deepEqual(await check.hasMany(chunks.map(c => c.cid)), chunks.map(() => true))
      assert.equal((await check.listRefs('refs/heads/evil')).length, 0)
    } finally { await check.close() }
    const cloned = join(base, 'folder-clone')
    await mvcOk(['clone', remoteDir, cloned, '--no-verify'], { cwd: base })
    assert.deepEqual(await treeSnapshot(join(cloned, 'model')), await treeSnapshot(join(root, 'model')))
  })
})

// ------------------------------------------------------------------------------------- hostile server

/**
 * A hostile (or damaged) remote: a bare store written directly, below every check mvc makes — a branch
 * to a commit whose manifest is absent, a branch to junk bytes under a dag-cbor CID. Clones and fetches
 * must fail cleanly (exit 5, a documented code, no "report this as a bug"), leave nothing behind (clone)
 * or move no ref (fetch).
 */
describe('a hostile remote cannot make a branch name an incomplete closure here', () => {
  test('clone and fetch from a remote whose branches name a commit without its manifest, or junk: exit 5, nothing moves', TIMEOUT, async t => {
    const base = await newBase()
    const root = await ownerRepo(base, 'hostile-src', 256 * 1024)
    const v1 = await readRef(root, 'refs/heads/main')
    const v2 = await commitMore(root, 'hostile-2', 64 * 1024)
    const closure2 = await closureOf(root, v2)
    const remoteDir = join(base, 'hostile.mvc')
    await mvcOk(['push', remoteDir], { cwd: root }) // a well-formed remote at v2 …
    const reader = join(base, 'hostile-reader')
    await mvcOk(['clone', remoteDir, reader, '--no-verify'], { cwd: base })

    // … then damaged behind mvc's back: v3 is a commit whose manifest was never stored; `junk` a
    // branch naming bytes that are not dag-cbor under a dag-cbor CID.
    const commit2 = dagCbor.decode(closure2.find(o => o.cid.toString() === v2)!.bytes) as Record<string, unknown>
    const lost = encodeObject({ type: 'mvc/manifest', kind: 'dir', entries: [], dirs: ['never-stored'], models: [] })
    const v3 = encodeObject({ ...commit2, version: 3, parents: [CID.parse(v2)], model: lost.cid, message: 'manifest missing' })
    const junk = await junkUnderDagCbor('\u00ff\u00fe not cbor')
    const store = await openDiskStore(remoteDir)
    try {
      const tx = await store.transaction()
      await tx.putObject(v3.cid, v3.bytes)
      await tx.putObject(junk.cid, junk.bytes)
      tx.setRef({ name: 'refs/heads/main', value: v3.cid.toString(), expect: v2 })
      tx.setRef({ name: 'refs/versions/3', value: v3.cid.toString(), expect: null })
      await tx.commit()
    } finally { await store.close() }

    const fetched = await runMvc(['fetch', '--json'], { cwd: reader })
    assertFails(fetched, 5, 'OBJECT_NOT_FOUND')
    assert.match(jsonError(fetched).message, new RegExp(lost.cid.toString()))
    assert.equal(await readRef(reader, 'refs/remotes/origin/main'), v2, 'origin/main did not move to the incomplete commit')
    const cloned = join(base, 'hostile-clone')
    const c = await runMvc(['clone', remoteDir, cloned, '--json'], { cwd: base })
    assertFails(c, 5, 'OBJECT_NOT_FOUND')
    assert.equal(await exists(cloned), false)

    const store2 = await openDiskStore(remoteDir)
    try {
      const tx = await store2.transaction()
      tx.setRef({ name: 'refs/heads/main', value: v2, expect: v3.cid.toString() })
      tx.setRef({ name: 'refs/versions/3', value: null, expect: v3.cid.toString() })
      tx.setRef({ name: 'refs/heads/junk', value: junk.cid.toString(), expect: null })
      await tx.commit()
    } finally { await store2.close() }
    const j = await runMvc(['fetch', '--json'], { cwd: reader })
    assertFails(j, 5, 'INVALID_OBJECT')
    t.diagnostic(jsonError(j).message)
    assert.match(jsonError(j).message, new RegExp(junk.cid.toString()))
    const jc = await runMvc(['clone', remoteDir, join(base, 'junk-clone'), '--json'], { cwd: base })
    assertFails(jc, 5, 'INVALID_OBJECT')
    // Nothing of either was stored here.
    const local = await openDiskStore(join(reader, '.mvc'))
    try {
      assert.deepEqual(await local.hasMany([junk.cid, v3.cid]), [false, false])
    } finally { await local.close() }
    void v1
  })
})

describe('a repository that served as a folder remote', () => {
  test('objects left incomplete in it by another client are fetched in full later; the fetched version checks out', TIMEOUT, async () => {
    const base = await newBase()
    const a = await ownerRepo(base, 'folder-a')
    const head = await readRef(a, 'refs/heads/main')
    const b = await ownerRepo(base, 'folder-b', 64 * 1024)
    // Mallory pushes A's structured objects, without chunks, into B (a repository used as a folder remote).
    const mallory = await openFolderRemote(b)
    try {
      for (const o of await closureOf(a, head)) if (o.cid.code === 0x71 && o.cid.toString() !== head) await mallory.put(o.cid, o.bytes)
    } finally { await mallory.close() }
    // B fetches A: what Mallory left is not taken for complete.
    await mvcOk(['remote', 'add', 'a', a], { cwd: b })
    await mvcOk(['fetch', 'a', '--force'], { cwd: b })
    const out = join(base, 'folder-b-out')
    const r = await runMvc(['checkout', head, '--to', out, '--no-verify'], { cwd: b })
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(await treeSnapshot(out), await treeSnapshot(join(a, 'model')))
    const store = await openDiskStore(join(b, '.mvc'))
    try {
      assert.deepEqual(await store.listMeta('incomplete/'), [], 'the marks were cleared once the closures arrived')
    } finally { await store.close() }
  })
})

// ------------------------------------------------------------------------------------------- rollback

async function rollbackScenario (t: { diagnostic: (s: string) => void }, base: string, url: string, env: Record<string, string>, rewind: (v1: string, v3: string) => Promise<void>): Promise<void> {
  const root = await ownerRepo(base, 'rb-owner', MiB)
  const v1 = await readRef(root, 'refs/heads/main')
  await commitMore(root, 'rb-2', 64 * 1024)
  const v3 = await commitMore(root, 'rb-3', 64 * 1024)
  await mvcOk(['remote', 'add', 'origin', url], { cwd: root })
  await mvcOk(['push'], { cwd: root, env })
  const reader = join(base, 'rb-reader')
  await mvcOk(['clone', url, reader, '--no-verify'], { cwd: base, env })

  // The remote serves an older branch and has lost v3.
  await rewind(v1, v3)

  const r = await runMvc(['fetch', '--json'], { cwd: reader, env })
  assertFails(r, 7, 'REF_CONFLICT')
  const e = jsonError(r)
  assert.match(e.message, /rewound|backwards|not a descendant/i)
  t.diagnostic(e.message)
  assert.equal(await readRef(reader, 'refs/remotes/origin/main'), v3, 'origin/main did not move backwards')

  const forced = await mvcJson(['fetch', '--force'], { cwd: reader, env })
  assert.equal(await readRef(reader, 'refs/remotes/origin/main'), v1)
  assert.ok(Array.isArray(forced.warnings) && forced.warnings.some((w: string) => /v3/.test(w)), `a vanished version is reported: ${JSON.stringify(forced.warnings)}`)

  // A fresh clone has no history to compare with; --expect pins a commit the branch must contain.
  const pinned = join(base, 'rb-pinned')
  const c = await runMvc(['clone', url, pinned, '--expect', v3, '--no-verify', '--json'], { cwd: base, env })
  assertFails(c, 7, 'REF_CONFLICT')
  assert.equal(await exists(pinned), false, 'nothing is left behind')
  await mvcOk(['clone', url, join(base, 'rb-ok'), '--expect', v1, '--no-verify'], { cwd: base, env })
}

describe('rollback: a remote that serves an older branch', () => {
  test('HTTP: fetch reports the rewound branch (exit 7) and does not follow it without --force; vanished versions are reported; clone --expect', TIMEOUT, async t => {
    const base = await newBase()
    const tokens = join(base, 'tokens')
    await writeFile(tokens, TOKENS, { mode: 0o600 })
    const served = await serveCli(['--store', join(base, 'store'), '--init', '--tokens', tokens], base)
    const mallory = await openHttpRemote(served.url, { token: MALLORY, retry: false })
    try {
      await rollbackScenario(t, base, served.url, { MVC_TOKEN: OWNER }, async (v1, v3) => {
        await mallory.casRef('refs/heads/main', v3, v1)
        await mallory.casRef('refs/versions/3', v3, null)
      })
    } finally {
      await mallory.close()
      await stopServed(served)
    }
  })

  test('S3: the same rollback on a bucket is reported', { ...TIMEOUT, skip: process.env.MVC_S3_TEST !== '1' ? 'needs MVC_S3_TEST=1 and an S3 server (scripts/radosgw.sh)' : false }, async t => {
    const base = await newBase()
    const s3 = new S3Client({ forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1' })
    const bucket = `mvc-trust-${process.pid}-${Date.now() % 100000}`
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))
    const url = `s3://${bucket}/models`
    const remote = await openRemote(url)
    try {
      await rollbackScenario(t, base, url, {}, async (v1, v3) => {
        await remote.casRef('refs/heads/main', v3, v1)
        await remote.casRef('refs/versions/3', v3, null)
      })
    } finally {
      await remote.close()
      for (;;) {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }))
        const keys = (page.Contents ?? []).map(o => o.Key!)
        if (keys.length === 0) break
        await Promise.all(keys.map(async Key => { await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key })) }))
      }
      await s3.send(new DeleteBucketCommand({ Bucket: bucket }))
      s3.destroy()
    }
  })

  test('S3: a co-writer\'s structured objects without chunks do not make a push skip them', { ...TIMEOUT, skip: process.env.MVC_S3_TEST !== '1' ? 'needs MVC_S3_TEST=1 and an S3 server (scripts/radosgw.sh)' : false }, async () => {
    const base = await newBase()
    const s3 = new S3Client({ forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1' })
    const bucket = `mvc-trust-p-${process.pid}-${Date.now() % 100000}`
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))
    const url = `s3://${bucket}/models`
    const remote = await openRemote(url)
    try {
      const root = await ownerRepo(base, 's3-owner')
      const head = await readRef(root, 'refs/heads/main')
      const closure = await closureOf(root, head)
      for (const o of closure) if (o.cid.code === 0x71 && o.cid.toString() !== head) await remote.put(o.cid, o.bytes)
      await mvcOk(['remote', 'add', 'origin', url], { cwd: root })
      await mvcOk(['push'], { cwd: root })
      const chunks = closure.filter(o => o.cid.code === 0x55)
      assert.deepEqual(await remote.hasMany(chunks.map(c => c.cid)), chunks.map(() => true))
      const cloned = join(base, 's3-clone')
      await mvcOk(['clone', url, cloned, '--no-verify'], { cwd: base })
      assert.deepEqual(await treeSnapshot(join(cloned, 'model')), await treeSnapshot(join(root, 'model')))
    } finally {
      await remote.close()
      for (;;) {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }))
        const keys = (page.Contents ?? []).map(o => o.Key!)
        if (keys.length === 0) break
        await Promise.all(keys.map(async Key => { await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key })) }))
      }
      await s3.send(new DeleteBucketCommand({ Bucket: bucket }))
      s3.destroy()
    }
  })
})

// ------------------------------------------------------------------------------ resumable downloads

describe('resumable downloads (HTTP Range)', () => {
  let base: string
  let served: Served
  let proxy: Proxy

  before(async () => {
    base = await newBase()
    const tokens = join(base, 'tokens')
    await writeFile(tokens, TOKENS, { mode: 0o600 })
    served = await serveCli(['--store', join(base, 'store'), '--init', '--tokens', tokens], base)
    proxy = await faultyProxy(served.url)
  })
  after(async () => {
    await proxy?.close()
    await stopServed(served)
  })

  test('the server answers Range requests with 206 and Content-Range; unsatisfiable ranges with 416', TIMEOUT, async () => {
    const bytes = keystream('ranged', 100_000)
    const cid = rawCid(bytes)
    const remote = await openHttpRemote(served.url, { token: OWNER, retry: false })
    try { await remote.put(cid, bytes) } finally { await remote.close() }
    const r = await rawHttp(served.url, 'GET', `/v1/objects/${cid.toString()}`, { token: OWNER, headers: { Range: 'bytes=60000-' } })
    assert.equal(r.status, 206)
    assert.equal(r.headers['content-range'], 'bytes 60000-99999/100000')
    assert.deepEqual(r.body, bytes.subarray(60000))
    const mid = await rawHttp(served.url, 'GET', `/v1/objects/${cid.toString()}`, { token: OWNER, headers: { Range: 'bytes=10-19' } })
    assert.equal(mid.status, 206)
    assert.deepEqual(mid.body, bytes.subarray(10, 20))
    const bad = await rawHttp(served.url, 'GET', `/v1/objects/${cid.toString()}`, { token: OWNER, headers: { Range: 'bytes=100000-' } })
    assert.equal(bad.status, 416)
    assert.equal(bad.headers['content-range'], 'bytes */100000')
  })

  test('a pull whose large object is cut mid-answer resumes with a Range request (in one process, and in the next run); the whole is verified', TIMEOUT, async t => {
    const env = { MVC_TOKEN: OWNER }
    const root = await ownerRepo(base, 'resume-owner', MiB)
    await mvcOk(['remote', 'add', 'origin', served.url], { cwd: root })
    await mvcOk(['push'], { cwd: root, env })
    const reader = join(base, 'resume-reader')
    await mvcOk(['clone', proxy.url, reader, '--no-verify'], { cwd: base, env })

    const big = async (seed: string): Promise<Obj> => {
      const before = new Set((await closureOf(root, await readRef(root, 'refs/heads/main'))).map(o => o.cid.toString()))
      const head = await commitMore(root, seed, 12 * MiB)
      await mvcOk(['push'], { cwd: root, env })
      const fresh = (await closureOf(root, head)).filter(o => o.cid.code === 0x55 && !before.has(o.cid.toString()))
      return fresh.sort((a, b) => b.bytes.length - a.bytes.length)[0]!
    }

    // 1. Cut once after half of the object: the retry asks for the rest only.
    const first = await big('resume-1')
    const size = first.bytes.length
    t.diagnostic(`largest new chunk: ${size} bytes`)
    assert.ok(size >= 512 * 1024, `a chunk of ${size} bytes`)
    const key1 = `GET /v1/objects/${first.cid.toString()}`
    const half = Math.floor(size / 2)
    proxy.plan = (method, path, attempt) => `${method} ${path}` === key1 && attempt === 1 ? { cutAfter: half } : 'pass'
    await mvcOk(['pull', '--no-verify'], { cwd: reader, env })
    const tries = proxy.log.filter(e => e.key === key1)
    assert.equal(tries.length, 2, JSON.stringify(tries))
    assert.equal(tries[1]!.range, `bytes=${half}-`)
    assert.equal(tries[1]!.status, 206)
    assert.equal(tries[0]!.bytes + tries[1]!.bytes, size, 'every byte crossed the wire once')
    assert.deepEqual(await treeSnapshot(join(reader, 'model')), await treeSnapshot(join(root, 'model')))

    // 2. Cut every attempt: the pull fails, the partial bytes stay under .mvc/tmp; the next pull resumes there.
    const second = await big('resume-2')
    const key2 = `GET /v1/objects/${second.cid.toString()}`
    const step = 96 * 1024
    proxy.plan = (method, path) => `${method} ${path}` === key2 ? { cutAfter: step } : 'pass'
    const failed = await runMvc(['pull', '--no-verify', '--json'], { cwd: reader, env })
    assertFails(failed, 10, 'REMOTE_ERROR')
    const attempts = proxy.log.filter(e => e.key === key2)
    const kept = attempts.reduce((n, e) => n + e.bytes, 0)
    const partial = join(reader, '.mvc', 'tmp', 'downloads', `${second.cid.toString()}.part`)
    assert.equal((await stat(partial)).size, kept, `${attempts.length} attempts kept ${kept} bytes`)
    proxy.plan = () => 'pass'
    await mvcOk(['pull', '--no-verify'], { cwd: reader, env })
    const resumed = proxy.log.filter(e => e.key === key2).slice(attempts.length)
    assert.equal(resumed.length, 1)
    assert.equal(resumed[0]!.range, `bytes=${kept}-`)
    assert.equal(resumed[0]!.status, 206)
    assert.equal(resumed[0]!.bytes, second.bytes.length - kept)
    assert.equal(await exists(partial), false, 'the partial file is removed once the object is stored')
    assert.deepEqual(await treeSnapshot(join(reader, 'model')), await treeSnapshot(join(root, 'model')))
    t.diagnostic(`cross-process resume: ${kept} of ${second.bytes.length} bytes kept from the failed pull; the next pull fetched ${resumed[0]!.bytes}`)
    void attemptsOf
    void readFile
    void readdir
  })

  test('a damaged partial file is not trusted: the whole is re-hashed, and a mismatch restarts the download', TIMEOUT, async () => {
    const bytes = keystream('damaged-part', 300_000)
    const cid = rawCid(bytes)
    const remote = await openHttpRemote(served.url, { token: OWNER, retry: false })
    try { await remote.put(cid, bytes) } finally { await remote.close() }
    const dir = join(base, 'parts')
    await mkdir(dir, { recursive: true })
    const wrong = Buffer.from(bytes.subarray(0, 100_000))
    wrong[500] ^= 0xff
    await writeFile(join(dir, `${cid.toString()}.part`), wrong)
    const reader = await openHttpRemote(proxy.url, { token: OWNER, retry: false, downloadDir: dir } as any) // eslint-disable-line @typescript-eslint/no-explicit-any
    try {
      proxy.plan = () => 'pass'
      const before = proxy.log.length
      const got = await reader.get(cid)
      assert.deepEqual(Buffer.from(got), bytes)
      const asked = proxy.log.slice(before).filter(e => e.key === `GET /v1/objects/${cid.toString()}`)
      assert.deepEqual(asked.map(e => [e.range ?? null, e.status]), [['bytes=100000-', 206], [null, 200]])
      assert.equal(await exists(join(dir, `${cid.toString()}.part`)), false)
    } finally { await reader.close() }
  })
})

void encodeObject
