/**
 * `mvc gc --remote` against real remotes: a folder remote (its store collected here), a real
 * `mvc serve` (collected by the server, `POST /v1/gc`), and S3 on the radosgw that scripts/radosgw.sh
 * starts (collected from the client). Each remote gets garbage the way remotes get it — objects stored
 * without a ref update (an interrupted push) — and a push in flight (objects uploaded, ref not moved
 * yet): gc keeps the push's objects (younger than the grace period), the ref update then succeeds, and
 * old garbage goes when the grace periods allow; the remote is then cloned byte for byte.
 *
 * The S3 test needs an S3 server (MVC_S3_TEST=1 and the AWS variables: `eval "$(bash
 * scripts/radosgw.sh env)"`), as test/remote-s3.test.ts does; without it, it fails saying so, unless
 * MVC_SKIP_S3=1.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readdir, realpath, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { CID } from 'multiformats/cid'
import { encodeObject, rawCid } from '../src/content/block.js'
import { openDiskStore } from '../src/store/open.js'
import { openFolderRemote } from '../src/remote/folder.js'
import { openHttpRemote, openS3Remote } from '../src/remote/open.js'
import type { Remote } from '../src/remote/interface.js'
import { negotiate, sendObjects, storeSource } from '../src/core/transfer.js'
import { jsonError, keystream, mvcJson, mvcOk, removeDir, runMvc, sha256File, tmpdir, type RunResult } from './helpers.js'
import { serveCli } from './remote-faults.js'
import { commitVersions, writeModel } from './gc-lib.js'

const TIMEOUT = { timeout: 90_000 }
const cleanup: string[] = []
after(async () => { for (const d of cleanup) await removeDir(d) })
const WRITE = 'gc-write-token-0123456789'
const APPEND = 'gc-append-token-0123456789'

async function base (): Promise<string> {
  const d = await realpath(await tmpdir('mvc-gc-remote-'))
  cleanup.push(d)
  return d
}

/** A repository with versions 1..3 committed. */
async function repoWithVersions (dir: string): Promise<Map<number, string>> {
  await mkdir(dir)
  await mvcOk(['init'], { cwd: dir })
  return await commitVersions(dir, 3, 512 * 1024)
}

/** Garbage as an interrupted push leaves it: a 1 MiB chunk and a structured object linking it, no ref. */
async function putGarbage (remote: Remote, seed: string): Promise<{ chunk: CID, object: CID }> {
  const bytes = keystream(seed, 1024 * 1024)
  const chunk = rawCid(bytes)
  const block = encodeObject({ type: 'test/garbage', seed, link: chunk })
  await remote.put(chunk, bytes)
  await remote.put(block.cid, block.bytes)
  await remote.flush?.()
  return { chunk, object: block.cid }
}

/**
 * A push in flight: the objects of the local HEAD commit the remote lacks are uploaded, bottom-up,
 * but no ref is moved. Returns the commit and its version.
 */
async function uploadWithoutRefs (root: string, remote: Remote): Promise<{ commit: string, objects: number }> {
  const store = await openDiskStore(join(root, '.mvc'))
  try {
    const head = (await store.readRef('refs/heads/main'))!
    const keeps = await remote.keepsClosures?.() ?? false
    const plan = await negotiate(storeSource(store, 'local'), remote, [{ cid: CID.parse(head), kind: 'parent' }], { receiverKeepsClosures: keeps, complete: new Set() })
    const sent = await sendObjects(storeSource(store, 'local'), remote, plan)
    await remote.flush?.()
    return { commit: head, objects: sent.objects }
  } finally { await store.close() }
}

async function packTotal (storeDir: string): Promise<number> {
  let total = 0
  for (const n of await readdir(join(storeDir, 'packs'))) if (n.endsWith('.pack')) total += (await stat(join(storeDir, 'packs', n))).size
  return total
}

async function clonesByteForByte (url: string, where: string, sums: Map<number, string>, env: Record<string, string> = {}): Promise<void> {
  await mvcOk(['clone', url, where, '--no-verify'], { cwd: join(where, '..'), env })
  for (const [v, sum] of sums) {
    const to = join(where, '..', `${where.split('/').pop()!}-v${v}`)
    await mvcOk(['checkout', `v${v}`, '--to', to, '--no-verify'], { cwd: where, env })
    assert.equal(await sha256File(join(to, 'w.bin')), sum, `v${v} from ${url}`)
  }
  const f = await runMvc(['fsck'], { cwd: where, env })
  assert.equal(f.code, 0, f.stdout + f.stderr)
}

/** `mvc serve` in a child process (remote-faults.ts), with a stop that sends SIGTERM and waits. */
async function serve (args: readonly string[], cwd: string): Promise<{ url: string, stop: () => Promise<RunResult> }> {
  const s = await serveCli(args, cwd)
  return { url: s.url, stop: async () => { s.child.kill('SIGTERM'); return await s.done } }
}

describe('gc of remotes', () => {
  test('folder remote: young garbage and a push in flight survive; old garbage goes; the remote clones byte for byte', TIMEOUT, async () => {
    const b = await base()
    const root = join(b, 'repo')
    const sums = await repoWithVersions(root)
    const bare = join(b, 'bare')
    await mvcOk(['remote', 'add', 'origin', bare], { cwd: root })
    await mvcOk(['push', 'origin'], { cwd: root })
    let remote: Remote = await openFolderRemote(bare)
    await putGarbage(remote, 'garbage')
    await remote.close()
    const before = await packTotal(bare)

    // Default grace: nothing is old enough.
    const kept = await mvcJson(['gc', '--remote', 'origin', '--prune=now'], { cwd: root })
    assert.equal(kept.how, 'folder')
    assert.equal(kept.report.removed.objects, 0)
    assert.equal(kept.report.young.objects, 2, 'the garbage chunk and object, younger than --prune-unreferenced (1h)')
    // Now it is: the chunk (1 MiB) and the object go, nothing else.
    const r = await mvcJson(['gc', '--remote', 'origin', '--prune=now', '--prune-unreferenced=now'], { cwd: root })
    assert.equal(r.report.removed.objects, 2)
    assert.equal(r.report.removed.chunks, 1)
    const freed = before - await packTotal(bare)
    assert.ok(freed >= 1024 * 1024 && freed < 1024 * 1024 + 4096, `the folder remote's packs shrank by ${freed}`)
    assert.equal(r.report.disk.packsBefore - r.report.disk.packsAfter, freed)
    await clonesByteForByte(bare, join(b, 'clone'), sums)
  })

  test('mvc serve: POST /v1/gc collects the served store; a push in flight survives and its ref update then succeeds; append-only tokens may not gc', TIMEOUT, async () => {
    const b = await base()
    const root = join(b, 'repo')
    await repoWithVersions(root)
    const bare = join(b, 'served')
    await mvcOk(['push', bare], { cwd: root })
    await writeFile(join(b, 'tokens'), `${WRITE} write\n${APPEND} append\n`, { mode: 0o600 })
    const server = await serve(['--store', bare, '--tokens', join(b, 'tokens')], b)
    try {
      const remote = await openHttpRemote(server.url, { token: WRITE })
      try {
        await putGarbage(remote, 'served-garbage')
        // v4, committed here, its objects uploaded to the server but no ref moved: a push in flight.
        await writeModel(join(root, 'model'), 'v4', 512 * 1024)
        await mvcOk(['commit', 'model', '-m', 'four', '--no-verify'], { cwd: root })
        const sums = new Map([[4, await sha256File(join(root, 'model', 'w.bin'))]])
        const inFlight = await uploadWithoutRefs(root, remote)
        assert.ok(inFlight.objects > 0)
        const env = { MVC_TOKEN: WRITE }
        await mvcOk(['remote', 'add', 'srv', server.url], { cwd: root })
        const r = await mvcJson(['gc', '--remote', 'srv', '--prune=now'], { cwd: root, env })
        assert.equal(r.how, 'server')
        assert.equal(r.report.removed.objects, 0, 'every unreferenced object is younger than an hour')
        assert.equal(r.report.young.objects, inFlight.objects + 2)
        // The push finishes: its ref updates pass the server's closure check.
        const old = (await remote.listRefs('refs/heads/main'))[0]!.value
        await remote.casRef('refs/versions/4', null, inFlight.commit)
        await remote.casRef('refs/heads/main', old, inFlight.commit)
        // Old garbage goes (the push's objects are referenced now and stay).
        const r2 = await mvcJson(['gc', '--remote', 'srv', '--prune=now', '--prune-unreferenced=now'], { cwd: root, env })
        assert.equal(r2.report.removed.objects, 2)
        assert.ok(r2.report.disk.freed >= 1024 * 1024, `freed ${String(r2.report.disk.freed)}`)
        // An append-only token may push but never delete: gc is refused (exit 11).
        const refused = await runMvc(['gc', '--remote', 'srv', '--json'], { cwd: root, env: { MVC_TOKEN: APPEND } })
        assert.equal(refused.code, 11, refused.stderr)
        assert.equal(jsonError(refused).code, 'AUTH_FAILED')
        await clonesByteForByte(server.url, join(b, 'clone'), sums, env)
      } finally { await remote.close() }
    } finally { await server.stop() }
  })

  const s3 = process.env.MVC_S3_TEST === '1' && process.env.MVC_SKIP_S3 !== '1'
  test('S3 (radosgw): refs read first, objects listed after; young objects and a push in flight survive; old garbage goes', { ...TIMEOUT, skip: process.env.MVC_SKIP_S3 === '1' ? 'MVC_SKIP_S3=1' : false }, async () => {
    if (!s3) assert.fail('MVC_S3_TEST is not set, so there is no S3 server to test gc against: run `bash scripts/radosgw.sh start` and `eval "$(bash scripts/radosgw.sh env)"`, or set MVC_SKIP_S3=1 to skip on purpose')
    const admin = new S3Client({ forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1', requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
    const bucket = `mvc-gc-${process.pid}-${randomBytes(3).toString('hex')}`
    await admin.send(new CreateBucketCommand({ Bucket: bucket }))
    const keys = async (): Promise<Map<string, number>> => {
      const out = new Map<string, number>()
      let token: string | undefined
      do {
        const page = await admin.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }))
        for (const o of page.Contents ?? []) out.set(o.Key!, o.Size ?? 0)
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined
      } while (token !== undefined)
      return out
    }
    try {
      const b = await base()
      const root = join(b, 'repo')
      await repoWithVersions(root)
      const url = `s3://${bucket}/models`
      await mvcOk(['remote', 'add', 'origin', url], { cwd: root })
      await mvcOk(['push', 'origin'], { cwd: root })
      const remote = await openS3Remote(url)
      try {
        const garbage = await putGarbage(remote, 's3-garbage')
        await writeModel(join(root, 'model'), 'v4', 512 * 1024)
        await mvcOk(['commit', 'model', '-m', 'four', '--no-verify'], { cwd: root })
        const sums = new Map([[4, await sha256File(join(root, 'model', 'w.bin'))]])
        const inFlight = await uploadWithoutRefs(root, remote)
        const before = await keys()
        const r = await mvcJson(['gc', '--remote', 'origin', '--prune=now'], { cwd: root })
        assert.equal(r.how, 's3')
        assert.equal(r.report.removed.objects, 0)
        assert.equal(r.report.young.objects, inFlight.objects + 2)
        assert.deepEqual(await keys(), before, 'nothing deleted')
        const old = (await remote.listRefs('refs/heads/main'))[0]!.value
        await remote.casRef('refs/versions/4', null, inFlight.commit)
        await remote.casRef('refs/heads/main', old, inFlight.commit)
        const withRefs = await keys()
        const dry = await mvcJson(['gc', '--remote', 'origin', '--prune=now', '--prune-unreferenced=now', '--dry-run'], { cwd: root })
        assert.equal(dry.report.removed.objects, 2)
        assert.deepEqual(await keys(), withRefs, 'a dry run deletes nothing')
        const r2 = await mvcJson(['gc', '--remote', 'origin', '--prune=now', '--prune-unreferenced=now'], { cwd: root })
        assert.equal(r2.report.removed.objects, 2)
        const afterGc = await keys()
        assert.deepEqual([...before.keys()].filter(k => !afterGc.has(k)).sort(), [`models/objects/${garbage.chunk.toString()}`, `models/objects/${garbage.object.toString()}`].sort())
        assert.equal(r2.report.disk.freed, before.get(`models/objects/${garbage.chunk.toString()}`)! + before.get(`models/objects/${garbage.object.toString()}`)!)
        await clonesByteForByte(url, join(b, 'clone'), sums)
      } finally { await remote.close() }
    } finally {
      for (const k of (await keys()).keys()) await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: k }))
      await admin.send(new DeleteBucketCommand({ Bucket: bucket }))
      admin.destroy()
    }
  })
})
