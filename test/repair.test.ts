/**
 * `mvc repair` on real repositories with real damage: a healthy index is rebuilt identical; a lost
 * inline object drops exactly what links it (closure kept, I1) and a fetch from a remote restores it; a
 * lost index leaves only chunks (reported); a damaged pack entry is skipped and what needs it listed;
 * --dry-run changes nothing.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { cp, mkdir, readdir, realpath, rm, writeFile, open } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { Level } from 'level'
import { buildFixtures } from '../fixtures/build.js'
import { jsonError, mvcJson, mvcOk, removeDir, runMvc, tmpdir } from './helpers.js'
import { openDiskStore } from '../src/store/open.js'

const dirs: string[] = []
after(async () => { for (const d of dirs) await removeDir(d) })

let fx: string | undefined
async function repo (): Promise<string> {
  const d = await realpath(await tmpdir('mvc-repair-'))
  dirs.push(d)
  if (fx === undefined) { fx = join(d, 'fx'); await buildFixtures(fx) }
  const root = join(d, 'r')
  await mkdir(root)
  await mvcOk(['init'], { cwd: root })
  await cp(join(fx, 'dense'), join(root, 'm'), { recursive: true })
  await mvcOk(['commit', 'm', '-m', 'one', '--no-verify', '--no-code'], { cwd: root })
  await writeFile(join(root, 'm', 'notes.txt'), 'second version')
  await mvcOk(['commit', 'm', '-m', 'two', '--no-verify', '--no-code'], { cwd: root })
  await mvcOk(['tag', 'first', 'v1'], { cwd: root })
  return root
}

/** Every key and value of the index, as text, for comparisons. */
async function dump (root: string, skipCaches = true): Promise<string[]> {
  const db = new Level<string, Uint8Array>(join(root, '.mvc', 'db'), { keyEncoding: 'utf8', valueEncoding: 'view', createIfMissing: false })
  await db.open()
  const out: string[] = []
  try {
    for await (const [k, v] of db.iterator()) {
      if (skipCaches && (k.startsWith('m/stat/') || k.startsWith('m/model-cache/'))) continue
      out.push(`${k}=${Buffer.from(v).toString('hex')}`)
    }
  } finally { await db.close() }
  return out
}

interface Report { ok: boolean, index: { how: string }, lost: { objects: Array<{ cid: string, type?: string }>, refs: Array<{ name: string }>, versions: number[], chunks: string[], orphanChunks: number }, backup: string | null, rebuiltRefs: Array<{ name: string }> }

test('a healthy index is rebuilt identical (caches aside); the old one is kept; --dry-run changes nothing', async () => {
  const root = await repo()
  const before = await dump(root)
  const dry = await mvcJson<Report>(['repair', '--dry-run'], { cwd: root })
  assert.equal(dry.ok, true)
  assert.equal(dry.backup, null)
  assert.deepEqual(await dump(root, false), await dump(root, false))
  const r = await mvcJson<Report>(['repair'], { cwd: root })
  assert.equal(r.ok, true)
  assert.equal(r.index.how, 'intact')
  assert.deepEqual(r.rebuiltRefs, [])
  assert.deepEqual(await dump(root), before)
  assert.ok(r.backup !== null && (await readdir(join(root, '.mvc'))).some(n => n.startsWith('db.before-repair-')))
  const log = await mvcJson<Array<{ version: number }>>(['log'], { cwd: root })
  assert.deepEqual(log.map(e => e.version), [2, 1])
  assert.equal((await runMvc(['fsck'], { cwd: root })).code, 0)
})

test('a structured object lost from the index: what links it is dropped and listed (v2 and its refs), v1 stays; a fetch from a remote restores v2', async () => {
  const root = await repo()
  const remote = join(root, '..', 'remote')
  await mvcOk(['remote', 'add', 'origin', remote], { cwd: root })
  await mvcOk(['push', 'origin'], { cwd: root })
  // The file object of notes.txt exists only in v2: remove it from the index.
  const show = await mvcJson<{ manifest: { entries: Array<{ path: string, file: string }> } }>(['show', 'v2'], { cwd: root })
  const lost = show.manifest.entries.find(e => e.path === 'notes.txt')!.file
  const db = new Level<string, Uint8Array>(join(root, '.mvc', 'db'), { keyEncoding: 'utf8', valueEncoding: 'view' })
  await db.open()
  await db.del('o/' + lost)
  await db.close()
  assert.equal((await runMvc(['fsck'], { cwd: root })).code, 5)
  const r = await runMvc(['repair', '--json'], { cwd: root })
  assert.equal(r.code, 5, r.stderr)
  assert.equal(jsonError(r).code, 'OBJECT_NOT_FOUND')
  const report = JSON.parse(r.stdout) as Report
  assert.deepEqual(report.lost.versions, [2])
  assert.deepEqual(report.lost.objects.map(o => o.type).sort(), ['mvc/commit', 'mvc/manifest'])
  assert.deepEqual(report.lost.refs.map(x => x.name).sort(), ['refs/heads/main', 'refs/remotes/origin/main', 'refs/versions/2'])
  assert.ok(report.rebuiltRefs.some(x => x.name === 'refs/heads/main'))
  assert.equal((await runMvc(['fsck'], { cwd: root })).code, 0)
  const log = await mvcJson<Array<{ version: number }>>(['log'], { cwd: root })
  assert.deepEqual(log.map(e => e.version), [1])
  // Nothing incomplete was kept, so a fetch brings v2 back whole.
  await mvcOk(['fetch', 'origin'], { cwd: root })
  const all = await mvcJson<Array<{ version: number }>>(['log', 'origin/main'], { cwd: root })
  assert.deepEqual(all.map(e => e.version), [2, 1])
  assert.equal((await runMvc(['fsck'], { cwd: root })).code, 0)
  const co = await runMvc(['checkout', 'v2', '--to', join(root, '..', 'v2'), '--no-verify'], { cwd: root })
  assert.equal(co.code, 0, co.stderr)
})

test('the whole index deleted: only chunks survive; repair says so (orphan chunks), the repository is empty but sound', async () => {
  const root = await repo()
  await rm(join(root, '.mvc', 'db'), { recursive: true })
  assert.equal((await runMvc(['log'], { cwd: root })).code, 3)
  const r = await runMvc(['repair', '--json'], { cwd: root })
  assert.equal(r.code, 5, r.stderr)
  const report = JSON.parse(r.stdout) as Report
  assert.equal(report.index.how, 'absent')
  assert.ok(report.lost.orphanChunks > 0)
  const log = await runMvc(['log'], { cwd: root })
  assert.equal(log.code, 0, log.stderr)
  assert.match(log.stdout, /no versions yet/)
  assert.equal((await runMvc(['fsck'], { cwd: root })).code, 0)
})

test('a damaged entry in a pack: the chunk is skipped, everything that needs it is dropped and listed', async () => {
  const root = await repo()
  const store = await openDiskStore(join(root, '.mvc'))
  let chunk: CID | undefined
  let loc: { pack: string, offset: number } | undefined
  try {
    for await (const c of store.cids()) {
      const l = await store.locate(c)
      if (l !== undefined && l !== 'inline') { chunk = c; loc = l; break }
    }
  } finally { await store.close() }
  assert.ok(chunk !== undefined && loc !== undefined)
  const fh = await open(join(root, '.mvc', 'packs', `${loc.pack}.pack`), 'r+')
  try { await fh.write(Buffer.from([0xff ^ 0x5a]), 0, 1, loc.offset) } finally { await fh.close() }
  const r = await runMvc(['repair', '--json'], { cwd: root })
  assert.equal(r.code, 5, r.stderr)
  const report = JSON.parse(r.stdout) as Report & { packs: { corruptEntries: number } }
  assert.equal(report.packs.corruptEntries, 1)
  assert.ok(report.lost.objects.length > 0)
  assert.ok(report.lost.objects.every(o => o.type !== undefined))
  assert.equal((await runMvc(['fsck'], { cwd: root })).code, 0)
})
