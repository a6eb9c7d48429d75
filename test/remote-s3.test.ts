/**
 * The S3 remote (src/remote/s3.ts) against a real S3 server: the remote conformance suite
 * (test/remote-suite.ts) plus S3-specific behaviour — conditional writes, ETag compare-and-swap, racing
 * ref updates, tombstones, error mapping.
 *
 * Needs an S3 server named by the standard AWS variables, and MVC_S3_TEST=1 (docs/s3.md, "Tests"):
 *
 *   bash scripts/radosgw.sh start && eval "$(bash scripts/radosgw.sh env)"
 *
 * Without MVC_S3_TEST these tests FAIL (saying the above) rather than pass silently; MVC_SKIP_S3=1
 * registers them as skipped instead. Every fixture gets a bucket of its own, removed afterwards.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import {
  CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command,
  PutBucketPolicyCommand, PutObjectCommand, S3Client
} from '@aws-sdk/client-s3'
import type { CID } from 'multiformats/cid'
import { encodeObject, rawCid } from '../src/content/block.js'
import { isMvcError } from '../src/errors.js'
import type { Remote } from '../src/remote/interface.js'
import { openRemote } from '../src/remote/open.js'
import { openS3Remote, parseS3Url } from '../src/remote/s3.js'
import { openS3Remote as openS3RemoteWithRetries } from '../src/remote/open.js'
import { RetryingRemote, type RetryEvent } from '../src/remote/retry.js'
import { faultyProxy } from './remote-faults.js'
import { remoteSuite, type RemoteFixture } from './remote-suite.js'

const SKIP = process.env.MVC_SKIP_S3 === '1'
const ENABLED = process.env.MVC_S3_TEST === '1' && !SKIP
const PREFIX = 'team/models'
const HOW = 'run `bash scripts/radosgw.sh start` and `eval "$(bash scripts/radosgw.sh env)"` (or point AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ' +
  'AWS_SECRET_ACCESS_KEY at another S3 server and set MVC_S3_TEST=1); set MVC_SKIP_S3=1 to skip these tests on purpose'

// ------------------------------------------------------------------------------------------ fixtures

let admin: S3Client | undefined
function adminClient (): S3Client {
  admin ??= new S3Client({
    forcePathStyle: true,
    region: process.env.AWS_REGION ?? 'us-east-1',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED'
  })
  return admin
}

let buckets = 0
async function newBucket (): Promise<string> {
  const bucket = `mvc-test-${process.pid}-${++buckets}-${randomBytes(3).toString('hex')}`
  await adminClient().send(new CreateBucketCommand({ Bucket: bucket }))
  return bucket
}

async function removeBucket (bucket: string): Promise<void> {
  const s3 = adminClient()
  for (;;) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }))
    const keys = (page.Contents ?? []).map(o => o.Key!)
    if (keys.length === 0) break
    await Promise.all(keys.map(async Key => { await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key })) }))
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }))
}

function objectKey (cid: CID): string { return `${PREFIX}/objects/${cid.toString()}` }

async function readKey (bucket: string, key: string): Promise<Buffer> {
  const r = await adminClient().send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  return Buffer.from(await r.Body!.transformToByteArray())
}

async function fixture (): Promise<RemoteFixture & { bucket: string }> {
  const bucket = await newBucket()
  const url = `s3://${bucket}/${PREFIX}`
  const remote = await openS3Remote(url)
  const env: Record<string, string> = {}
  for (const k of ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']) if (process.env[k] !== undefined) env[k] = process.env[k]!
  const roKey = process.env.MVC_S3_READONLY_ACCESS_KEY_ID
  const roSecret = process.env.MVC_S3_READONLY_SECRET_ACCESS_KEY
  const roUser = process.env.MVC_S3_READONLY_USER
  return {
    bucket,
    remote,
    url,
    env,
    // Wrong bytes under the object's key, written behind the remote's back (unconditionally).
    corrupt: async (cid: CID) => {
      const bytes = await readKey(bucket, objectKey(cid))
      bytes[bytes.length >> 1]! ^= 0x01
      await adminClient().send(new PutObjectCommand({ Bucket: bucket, Key: objectKey(cid), Body: bytes }))
    },
    // Credentials the server does not know.
    unauthenticated: async () => await openS3Remote(url, { accessKeyId: 'MVCUNKNOWNACCESSKEY0', secretAccessKey: 'not-a-secret-0000000000000000000000000000' }),
    // A second user that a bucket policy lets read this bucket (scripts/radosgw.sh creates it).
    ...(roKey !== undefined && roSecret !== undefined && roUser !== undefined
      ? {
          readOnly: async () => {
            await adminClient().send(new PutBucketPolicyCommand({
              Bucket: bucket,
              Policy: JSON.stringify({
                Version: '2012-10-17',
                Statement: [{
                  Effect: 'Allow',
                  Principal: { AWS: [`arn:aws:iam:::user/${roUser}`] },
                  Action: ['s3:GetObject', 's3:ListBucket'],
                  Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`]
                }]
              })
            }))
            return await openS3Remote(url, { accessKeyId: roKey, secretAccessKey: roSecret })
          }
        }
      : {}),
    // The credentials are fine but the URL names a bucket that is not there.
    wrongRepository: async () => await openS3Remote(`s3://${bucket}-missing/${PREFIX}`),
    destroy: async () => {
      await remote.close()
      await removeBucket(bucket)
    }
  }
}

async function codeOf (p: Promise<unknown>): Promise<string | undefined> {
  try { await p } catch (err) { return isMvcError(err) ? err.code : `not an mvc error: ${String(err)}` }
  return undefined
}

async function errorOf (p: Promise<unknown>): Promise<Error & { code?: string, data?: Record<string, unknown> }> {
  try { await p } catch (err) { return err as Error }
  throw new assert.AssertionError({ message: 'expected a rejection' })
}

function chunk (seed: string, size = 1000): { cid: CID, bytes: Uint8Array } {
  const bytes = new Uint8Array(size)
  const fill = Buffer.from(seed)
  for (let i = 0; i < size; i++) bytes[i] = fill[i % fill.length]! ^ (i & 0xff)
  return { cid: rawCid(bytes), bytes }
}

async function refValue (remote: Remote, name: string): Promise<string | undefined> {
  return (await remote.listRefs(name)).find(r => r.name === name)?.value
}

/** Wraps the remote's SDK client so a test can act between the remote's requests. */
function intercept (remote: Remote, before: (command: { constructor: { name: string }, input: Record<string, unknown> }) => Promise<void>): void {
  const client = (remote as unknown as { client: S3Client }).client
  const send = client.send.bind(client) as (c: unknown) => Promise<unknown>
  ;(client as unknown as { send: (c: unknown) => Promise<unknown> }).send = async (c: unknown) => {
    await before(c as { constructor: { name: string }, input: Record<string, unknown> })
    return await send(c)
  }
}

// ------------------------------------------------------------------------------------------ tests

const TIMEOUT = { timeout: 120_000 }

if (!ENABLED && !SKIP) {
  test('S3 remote tests need an S3 server', () => {
    assert.fail(`MVC_S3_TEST is not set, so there is no S3 server to test the S3 remote against: ${HOW}.`)
  })
} else {
  if (ENABLED) {
    remoteSuite({ name: 's3', supports: { corruption: true, auth: true, processes: true }, factory: fixture })
  } else {
    test('remote conformance: s3', { skip: 'MVC_SKIP_S3 set' }, () => {})
  }

  const s3test = (name: string, fn: () => Promise<void>): void => {
    test(`s3: ${name}`, SKIP ? { skip: 'MVC_SKIP_S3 set' } : TIMEOUT, fn)
  }

  s3test('URLs: bucket, prefix and parameters', async () => {
    assert.deepEqual(parseS3Url('s3://Bucket.x/a/b/'), { bucket: 'Bucket.x', base: 'a/b/', endpoint: undefined, region: undefined, forcePathStyle: undefined })
    assert.deepEqual(parseS3Url('s3://b1?endpoint=http://127.0.0.1:7480&region=eu-west-1&forcePathStyle=false'),
      { bucket: 'b1', base: '', endpoint: 'http://127.0.0.1:7480', region: 'eu-west-1', forcePathStyle: false })
    for (const bad of ['s3://', 's3:///x', 's3://b/../x', 's3://b?token=1', 's3://b?forcePathStyle=yes']) {
      assert.equal(await codeOf(openS3Remote(bad)), 'INVALID_ARGUMENT', bad)
    }
  })

  s3test('objects: put, get, hasMany (HEAD and listing), layout under the prefix', async () => {
    const fx = await fixture()
    try {
      const objects = Array.from({ length: 150 }, (_, i) => chunk(`obj-${i}`, 100 + i))
      const stored = objects.filter((_, i) => i % 3 === 0)
      for (const o of stored) await fx.remote.put(o.cid, o.bytes)
      const structured = encodeObject({ type: 'test', n: 1 })
      await fx.remote.put(structured.cid, structured.bytes)
      // Large batch (listing first), small batch (HEAD only); order preserved.
      assert.deepEqual(await fx.remote.hasMany(objects.map(o => o.cid)), objects.map((_, i) => i % 3 === 0))
      assert.deepEqual(await fx.remote.hasMany([objects[1]!.cid, objects[0]!.cid, structured.cid]), [false, true, true])
      assert.deepEqual(await fx.remote.hasMany([]), [])
      assert.deepEqual(await fx.remote.get(stored[5]!.cid), stored[5]!.bytes)
      assert.deepEqual(await fx.remote.get(structured.cid), structured.bytes)
      // Bytes exactly, under <prefix>/objects/<cid>.
      assert.deepEqual(new Uint8Array(await readKey(fx.bucket, objectKey(stored[7]!.cid))), stored[7]!.bytes)
      const missing = await errorOf(fx.remote.get(objects[1]!.cid))
      assert.equal(missing.code, 'OBJECT_NOT_FOUND')
      // Objects through a fresh remote from openRemote (the s3:// dispatch in open.ts).
      const again = await openRemote(fx.url)
      try {
        assert.deepEqual(await again.get(stored[0]!.cid), stored[0]!.bytes)
      } finally { await again.close() }
    } finally { await fx.destroy() }
  })

  s3test('hasMany by listing: dense batches page through the listing, sparse ones fall back to HEAD', async () => {
    const fx = await fixture()
    const small = await openS3Remote(fx.url, { listPageSize: 20 })
    try {
      const objects = Array.from({ length: 200 }, (_, i) => chunk(`page-${i}`, 64 + i))
      const stored = new Set(objects.filter((_, i) => i % 2 === 0).map(o => o.cid.toString()))
      await Promise.all(objects.filter(o => stored.has(o.cid.toString())).map(async o => { await fx.remote.put(o.cid, o.bytes) }))
      const counts = (): { list: number, head: number } => ({ list: 0, head: 0 })
      let seen = counts()
      intercept(small, async cmd => {
        if (cmd.constructor.name === 'ListObjectsV2Command') seen.list++
        if (cmd.constructor.name === 'HeadObjectCommand') seen.head++
      })
      // Dense: every stored object is asked about, so each 20-key page answers ~40 requested keys.
      assert.deepEqual(await small.hasMany(objects.map(o => o.cid)), objects.map(o => stored.has(o.cid.toString())))
      assert.ok(seen.list >= 5 && seen.head === 0, `paged listing only: ${JSON.stringify(seen)}`)
      // Sparse: 70 unstored CIDs; the first page answers too few of them, the rest go by HEAD.
      seen = counts()
      const sparse = [...objects.filter(o => !stored.has(o.cid.toString())).slice(0, 69), objects[0]!]
      assert.deepEqual(await small.hasMany(sparse.map(o => o.cid)), sparse.map(o => stored.has(o.cid.toString())))
      assert.ok(seen.list === 1 && seen.head > 0, `one page, then HEAD: ${JSON.stringify(seen)}`)
    } finally {
      await small.close()
      await fx.destroy()
    }
  })

  s3test('put of an object that exists is a no-op: conditional create, nothing rewritten', async () => {
    const fx = await fixture()
    try {
      const o = chunk('exists', 4096)
      await fx.remote.put(o.cid, o.bytes)
      const head1 = await adminClient().send(new HeadObjectCommand({ Bucket: fx.bucket, Key: objectKey(o.cid) }))
      // Damage the stored copy behind the remote's back: a second put must leave it alone (If-None-Match: *
      // answered 412), which shows it did not rewrite. Repairing takes deleting the key first (docs/s3.md).
      await fx.corrupt!(o.cid)
      const damaged = await readKey(fx.bucket, objectKey(o.cid))
      await fx.remote.put(o.cid, o.bytes)
      assert.deepEqual(await readKey(fx.bucket, objectKey(o.cid)), damaged, 'the existing object was not overwritten')
      const err = await errorOf(fx.remote.get(o.cid))
      assert.equal(err.code, 'CORRUPT_OBJECT')
      assert.equal(err.data?.cid, o.cid.toString())
      assert.match(err.message, new RegExp(`s3://${fx.bucket}/${PREFIX}/objects/${o.cid.toString()}`))
      assert.ok(head1.ETag !== undefined)
      // Many concurrent puts of one new object all succeed.
      const p = chunk('parallel', 2048)
      await Promise.all(Array.from({ length: 8 }, async () => { await fx.remote.put(p.cid, p.bytes) }))
      assert.deepEqual(await fx.remote.get(p.cid), p.bytes)
    } finally { await fx.destroy() }
  })

  s3test('put refuses bytes that do not match the CID, and stores nothing', async () => {
    const fx = await fixture()
    try {
      const o = chunk('mismatch')
      const wrong = o.bytes.slice()
      wrong[0]! ^= 0xff
      assert.equal(await codeOf(fx.remote.put(o.cid, wrong)), 'CORRUPT_OBJECT')
      assert.deepEqual(await fx.remote.hasMany([o.cid]), [false])
    } finally { await fx.destroy() }
  })

  // ---------------------------------------------------------------------- format marker (docs/s3.md)

  const MARKER_KEY = `${PREFIX}/mvc-format`
  const MARKER_V1 = '{"format":"mvc-remote","version":1}'

  async function keyExists (bucket: string, key: string): Promise<boolean> {
    try { await adminClient().send(new HeadObjectCommand({ Bucket: bucket, Key: key })); return true } catch { return false }
  }

  s3test('format marker: reads do not create it, the first write does (before the object), with the exact v1 bytes', async () => {
    const fx = await fixture()
    try {
      const o = chunk('marker')
      assert.deepEqual(await fx.remote.listRefs('refs/'), [])
      assert.deepEqual(await fx.remote.hasMany([o.cid]), [false])
      assert.equal(await keyExists(fx.bucket, MARKER_KEY), false, 'reading an empty prefix writes nothing')
      const order: string[] = []
      intercept(fx.remote, async cmd => { if (cmd.constructor.name === 'PutObjectCommand') order.push(String(cmd.input.Key)) })
      await fx.remote.put(o.cid, o.bytes)
      assert.deepEqual(order, [MARKER_KEY, objectKey(o.cid)], 'the marker is written first, then the object')
      assert.equal((await readKey(fx.bucket, MARKER_KEY)).toString('utf8'), MARKER_V1)
      // Later writes, and another client's first write, leave it alone.
      await fx.remote.casRef('refs/heads/main', null, o.cid.toString())
      const other = await openS3Remote(fx.url)
      try {
        await other.casRef('refs/tags/t', null, o.cid.toString())
        assert.deepEqual((await other.listRefs('refs/')).map(r => r.name), ['refs/heads/main', 'refs/tags/t'])
      } finally { await other.close() }
      assert.deepEqual(order, [MARKER_KEY, objectKey(o.cid), `${PREFIX}/refs/heads/main`])
      assert.equal((await readKey(fx.bucket, MARKER_KEY)).toString('utf8'), MARKER_V1)
    } finally { await fx.destroy() }
  })

  s3test('format marker: a prefix written without one (older mvc) is read as version 1 and gets it on the first write', async () => {
    const fx = await fixture()
    try {
      const [a, b] = [chunk('legacy-a'), chunk('legacy-b')]
      // What an mvc before the marker left: an object and a ref, written directly.
      await adminClient().send(new PutObjectCommand({ Bucket: fx.bucket, Key: objectKey(a.cid), Body: a.bytes }))
      await adminClient().send(new PutObjectCommand({ Bucket: fx.bucket, Key: `${PREFIX}/refs/heads/main`, Body: a.cid.toString() }))
      const old = await openS3Remote(fx.url)
      try {
        assert.deepEqual(await old.get(a.cid), a.bytes)
        assert.deepEqual(await old.listRefs('refs/'), [{ name: 'refs/heads/main', value: a.cid.toString() }])
        assert.equal(await keyExists(fx.bucket, MARKER_KEY), false)
        await old.put(b.cid, b.bytes)
        await old.casRef('refs/heads/main', a.cid.toString(), b.cid.toString())
      } finally { await old.close() }
      assert.equal((await readKey(fx.bucket, MARKER_KEY)).toString('utf8'), MARKER_V1)
      assert.deepEqual(await fx.remote.get(a.cid), a.bytes)
    } finally { await fx.destroy() }
  })

  s3test('format marker: another version or format is UNSUPPORTED_FORMAT for every operation, and nothing is written', async () => {
    const fx = await fixture()
    try {
      const o = chunk('future')
      await fx.remote.put(o.cid, o.bytes)
      await fx.remote.casRef('refs/heads/main', null, o.cid.toString())
      const p = chunk('not-written')
      for (const marker of ['{"format":"mvc-remote","version":2}', '{"format":"something-else","version":1}', '{"format":"mvc-remote"}', 'not json', '']) {
        await adminClient().send(new PutObjectCommand({ Bucket: fx.bucket, Key: MARKER_KEY, Body: marker }))
        const r = await openS3Remote(fx.url)
        try {
          const err = await errorOf(r.listRefs('refs/'))
          assert.equal(err.code, 'UNSUPPORTED_FORMAT', `listRefs with marker ${JSON.stringify(marker)}: ${err.message}`)
          assert.match(err.message, new RegExp(`s3://${fx.bucket}/${PREFIX}/mvc-format`))
          assert.equal(err.data?.supported, 1)
          assert.equal(await codeOf(r.get(o.cid)), 'UNSUPPORTED_FORMAT', marker)
          assert.equal(await codeOf(r.hasMany([o.cid])), 'UNSUPPORTED_FORMAT', marker)
          assert.equal(await codeOf(r.put(p.cid, p.bytes)), 'UNSUPPORTED_FORMAT', marker)
          assert.equal(await codeOf(r.casRef('refs/heads/main', o.cid.toString(), null)), 'UNSUPPORTED_FORMAT', marker)
        } finally { await r.close() }
        assert.equal(await keyExists(fx.bucket, objectKey(p.cid)), false, 'the object was not written')
        assert.equal((await readKey(fx.bucket, `${PREFIX}/refs/heads/main`)).toString('utf8'), o.cid.toString(), 'the ref did not move')
        assert.equal((await readKey(fx.bucket, MARKER_KEY)).toString('utf8'), marker, 'the marker was not rewritten')
      }
      const v2 = await errorOf((async () => {
        await adminClient().send(new PutObjectCommand({ Bucket: fx.bucket, Key: MARKER_KEY, Body: '{"format":"mvc-remote","version":2}' }))
        const r = await openS3Remote(fx.url)
        try { await r.get(o.cid) } finally { await r.close() }
      })())
      assert.equal(v2.data?.version, 2)
    } finally { await fx.destroy() }
  })

  s3test('refs: create, update, delete (tombstone), list; stale expectations are REF_CONFLICT', async () => {
    const fx = await fixture()
    try {
      const [a, b, c] = [chunk('a'), chunk('b'), chunk('c')]
      for (const o of [a, b, c]) await fx.remote.put(o.cid, o.bytes)
      const name = 'refs/heads/main'
      await fx.remote.casRef(name, null, a.cid.toString())
      assert.equal(await codeOf(fx.remote.casRef(name, null, b.cid.toString())), 'REF_CONFLICT', 'create over an existing ref')
      await fx.remote.casRef(name, a.cid.toString(), b.cid.toString())
      assert.equal(await codeOf(fx.remote.casRef(name, a.cid.toString(), c.cid.toString())), 'REF_CONFLICT', 'update from a stale value')
      await fx.remote.casRef('refs/versions/1', null, a.cid.toString())
      await fx.remote.casRef('refs/tags/t', null, c.cid.toString())
      await fx.remote.casRef('HEAD', null, 'ref: refs/heads/main')
      assert.deepEqual(await fx.remote.listRefs('refs/'), [
        { name: 'refs/heads/main', value: b.cid.toString() },
        { name: 'refs/tags/t', value: c.cid.toString() },
        { name: 'refs/versions/1', value: a.cid.toString() }
      ])
      assert.deepEqual(await fx.remote.listRefs('HEAD'), [{ name: 'HEAD', value: 'ref: refs/heads/main' }])
      assert.equal((await fx.remote.listRefs('')).length, 4)
      assert.deepEqual((await fx.remote.listRefs('refs/heads/')).map(r => r.name), ['refs/heads/main'])
      // Refs are small objects holding the value, under <prefix>/refs/….
      assert.equal((await readKey(fx.bucket, `${PREFIX}/refs/heads/main`)).toString('utf8'), b.cid.toString())

      // Delete: a stale expectation fails; the right one leaves an empty tombstone that lists as absent.
      assert.equal(await codeOf(fx.remote.casRef('refs/tags/t', a.cid.toString(), null)), 'REF_CONFLICT')
      await fx.remote.casRef('refs/tags/t', c.cid.toString(), null)
      assert.equal(await refValue(fx.remote, 'refs/tags/t'), undefined)
      assert.equal((await readKey(fx.bucket, `${PREFIX}/refs/tags/t`)).length, 0, 'a tombstone')
      assert.equal(await codeOf(fx.remote.casRef('refs/tags/t', c.cid.toString(), null)), 'REF_CONFLICT', 'deleting a deleted ref')
      await fx.remote.casRef('refs/tags/t', null, null) // absent stays absent: fine
      await fx.remote.casRef('refs/tags/t', null, a.cid.toString()) // re-created over the tombstone
      assert.equal(await refValue(fx.remote, 'refs/tags/t'), a.cid.toString())

      // Refs move only to objects the remote has; names are checked.
      const absent = chunk('absent')
      assert.equal(await codeOf(fx.remote.casRef(name, b.cid.toString(), absent.cid.toString())), 'REMOTE_ERROR')
      assert.equal(await codeOf(fx.remote.casRef('refs/../x', null, a.cid.toString())), 'INVALID_ARGUMENT')
      assert.equal(await codeOf(fx.remote.casRef('objects/x', null, a.cid.toString())), 'INVALID_ARGUMENT')
      assert.equal(await refValue(fx.remote, name), b.cid.toString())
    } finally { await fx.destroy() }
  })

  s3test('CAS: the ref moving between the read and the write (stale ETag) is REF_CONFLICT, and the other write stays', async () => {
    const fx = await fixture()
    try {
      const [a, b, c] = [chunk('s-a'), chunk('s-b'), chunk('s-c')]
      for (const o of [a, b, c]) await fx.remote.put(o.cid, o.bytes)
      const name = 'refs/heads/main'
      const key = `${PREFIX}/${name}`
      await fx.remote.casRef(name, null, a.cid.toString())
      // Just before the conditional PUT of the ref, another writer moves it (unconditionally).
      let injected = false
      intercept(fx.remote, async cmd => {
        if (!injected && cmd.constructor.name === 'PutObjectCommand' && cmd.input.Key === key && cmd.input.IfMatch !== undefined) {
          injected = true
          await adminClient().send(new PutObjectCommand({ Bucket: fx.bucket, Key: key, Body: c.cid.toString() }))
        }
      })
      const err = await errorOf(fx.remote.casRef(name, a.cid.toString(), b.cid.toString()))
      assert.ok(injected, 'the conditional PUT was made')
      assert.equal(err.code, 'REF_CONFLICT')
      assert.equal(err.data?.actual, c.cid.toString())
      assert.equal(await refValue(fx.remote, name), c.cid.toString(), 'the other writer\'s value stays')

      // The same for creating: someone creates the ref between our read (absent) and our PUT.
      const created = 'refs/heads/new'
      let injected2 = false
      intercept(fx.remote, async cmd => {
        if (!injected2 && cmd.constructor.name === 'PutObjectCommand' && cmd.input.Key === `${PREFIX}/${created}` && cmd.input.IfNoneMatch === '*') {
          injected2 = true
          await adminClient().send(new PutObjectCommand({ Bucket: fx.bucket, Key: `${PREFIX}/${created}`, Body: c.cid.toString() }))
        }
      })
      assert.equal(await codeOf(fx.remote.casRef(created, null, b.cid.toString())), 'REF_CONFLICT')
      assert.equal(await refValue(fx.remote, created), c.cid.toString())
    } finally { await fx.destroy() }
  })

  s3test('racing casRef on one ref: exactly one wins (create and update), from separate clients', async () => {
    const fx = await fixture()
    const others: Remote[] = []
    try {
      const n = 8
      const all = Array.from({ length: 2 * n }, (_, i) => chunk(`race-${i}`))
      for (const o of all) await fx.remote.put(o.cid, o.bytes)
      for (let i = 0; i < n; i++) others.push(await openS3Remote(fx.url))
      for (const round of ['create', 'update'] as const) {
        const name = 'refs/heads/race'
        const expect = round === 'create' ? null : (await refValue(fx.remote, name))!
        // Every client moves the ref to a value of its own, different from the expected one.
        const values = round === 'create' ? all.slice(0, n) : all.slice(n)
        const results = await Promise.allSettled(others.map(async (r, i) => { await r.casRef(name, expect, values[i]!.cid.toString()) }))
        const won = [...results.keys()].filter(i => results[i]!.status === 'fulfilled')
        assert.equal(won.length, 1, `${round}: exactly one wins: ${results.map(r => r.status === 'fulfilled' ? 'ok' : (r.reason as { code?: string }).code).join(' ')}`)
        for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'REF_CONFLICT')
        assert.equal(await refValue(fx.remote, name), values[won[0]!]!.cid.toString())
      }
    } finally {
      for (const r of others) await r.close()
      await fx.destroy()
    }
  })

  s3test('errors: unknown keys and wrong secrets are AUTH_FAILED, a missing bucket and an unreachable endpoint REMOTE_ERROR naming them', async () => {
    const fx = await fixture()
    try {
      const o = chunk('errors')
      const unknown = await openS3Remote(fx.url, { accessKeyId: 'MVCUNKNOWNACCESSKEY0', secretAccessKey: 'x'.repeat(40) })
      const wrongSecret = await openS3Remote(fx.url, { accessKeyId: process.env.AWS_ACCESS_KEY_ID!, secretAccessKey: 'x'.repeat(40) })
      const noBucket = await openS3Remote(`s3://${fx.bucket}-nope/x`)
      const dead = await openS3Remote(fx.url, { endpoint: 'http://127.0.0.1:9' })
      try {
        for (const r of [unknown, wrongSecret]) {
          assert.equal(await codeOf(r.listRefs('refs/')), 'AUTH_FAILED')
          assert.equal(await codeOf(r.hasMany([o.cid])), 'AUTH_FAILED')
          assert.equal(await codeOf(r.put(o.cid, o.bytes)), 'AUTH_FAILED')
        }
        for (const call of [() => noBucket.listRefs('refs/'), () => noBucket.hasMany([o.cid]), () => noBucket.get(o.cid), () => noBucket.put(o.cid, o.bytes)]) {
          const err = await errorOf(call())
          assert.equal(err.code, 'REMOTE_ERROR')
          assert.match(err.message, new RegExp(`bucket ${fx.bucket}-nope does not exist`))
        }
        const err = await errorOf(dead.listRefs('refs/'))
        assert.equal(err.code, 'REMOTE_ERROR')
        assert.match(err.message, /127\.0\.0\.1:9/)
      } finally {
        for (const r of [unknown, wrongSecret, noBucket, dead]) await r.close()
      }
      await fx.remote.close()
      assert.equal(await codeOf(fx.remote.listRefs('refs/')), 'REMOTE_ERROR', 'closed')
    } finally { await fx.destroy() }
  })

  s3test('openRemote wraps S3 in RetryingRemote: a 503 the SDK gives up on is retried as a whole operation (proxy in front of the server)', async () => {
    const fx = await fixture()
    const proxy = await faultyProxy(process.env.AWS_ENDPOINT_URL ?? 'http://127.0.0.1:7480')
    const events: RetryEvent[] = []
    const remote = await openS3RemoteWithRetries(fx.url, { endpoint: proxy.url, retry: { baseDelayMs: 50, onRetry: e => events.push(e) } })
    try {
      assert.ok(remote instanceof RetryingRemote)
      const plain = await openRemote(fx.url)
      try { assert.ok(plain instanceof RetryingRemote, 'openRemote wraps S3 too') } finally { await plain.close() }
      const o = chunk('through a failing proxy', 5000)
      // The first three PUTs of the object are answered 503 (SlowDown) by the "gateway"; then it passes.
      proxy.plan = (method, path, attempt) => method === 'PUT' && path.includes(`/objects/${o.cid.toString()}`) && attempt <= 3 ? 503 : 'pass'
      await remote.put(o.cid, o.bytes)
      const tries = proxy.log.filter(e => e.key.startsWith('PUT ') && e.key.includes(`/objects/${o.cid.toString()}`))
      assert.deepEqual(tries.map(e => e.fault), [503, 503, 503, 'pass'])
      assert.ok(events.length >= 1 && events.every(e => e.operation === 'put'), `the wrapper retried: ${events.length}`)
      assert.equal(Buffer.compare(Buffer.from(await fx.remote.get(o.cid)), Buffer.from(o.bytes)), 0, 'stored, read back directly')
    } finally {
      await remote.close()
      await proxy.close()
      await fx.destroy()
    }
  })
}
