/**
 * `mvc export` / `mvc import` through the real CLI, checked by an independent CAR reader: the reader
 * below uses only @ipld/car, multiformats and @ipld/dag-cbor (no mvc code) to list the blocks,
 * re-hash each, and walk commit → manifest → file → chunks back to the exact bytes of the committed
 * files. Imports are all or nothing: a corrupt, truncated or incomplete CAR leaves the repository as
 * it was.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createReadStream } from 'node:fs'
import { readFile, truncate, writeFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { CarBlockIterator, CarWriter } from '@ipld/car'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as dagCbor from '@ipld/dag-cbor'
import { jsonError, mvcJson, mvcOk, newRepo, put, removeDir, runMvc, writeRandomFile } from './helpers.js'

const dirs: string[] = []
after(async () => { for (const d of dirs) await removeDir(d) })

// ---------------------------------------------------------------- an independent reader (no mvc code)

interface CarContents { roots: CID[], blocks: Map<string, { cid: CID, bytes: Uint8Array }>, order: string[] }

async function readCar (path: string): Promise<CarContents> {
  const it = await CarBlockIterator.fromIterable(createReadStream(path))
  const roots = await it.getRoots()
  const blocks = new Map<string, { cid: CID, bytes: Uint8Array }>()
  const order: string[] = []
  for await (const { cid, bytes } of it) {
    const c = CID.asCID(cid)!
    // Every block re-hashed with multiformats' own sha2-256.
    assert.equal(c.multihash.code, sha256.code)
    assert.deepEqual((await sha256.digest(bytes)).digest, c.multihash.digest, `block ${c.toString()} does not hash to its CID`)
    assert.ok(c.code === 0x55 || c.code === 0x71, `codec ${c.code}`)
    assert.ok(!blocks.has(c.toString()), `block ${c.toString()} written twice`)
    blocks.set(c.toString(), { cid: c, bytes })
    order.push(c.toString())
  }
  return { roots, blocks, order }
}

/** commit → manifest → files → chunks: every file's bytes, rebuilt from the CAR alone. */
function filesOf (car: CarContents, commit: CID): Map<string, Buffer> {
  const obj = (c: CID): any => dagCbor.decode(car.blocks.get(c.toString())!.bytes) // eslint-disable-line @typescript-eslint/no-explicit-any
  const raw = (c: CID): Uint8Array => { const b = car.blocks.get(c.toString()); assert.ok(b !== undefined, `chunk ${c.toString()} missing`); return b.bytes }
  const cm = obj(commit)
  assert.equal(cm.type, 'mvc/commit')
  const manifest = obj(cm.model)
  assert.equal(manifest.type, 'mvc/manifest')
  const out = new Map<string, Buffer>()
  for (const e of manifest.entries as Array<{ path: string, size: number, file: CID }>) {
    const file = obj(e.file)
    assert.equal(file.type, 'mvc/file')
    const parts = (file.extents as Array<[CID, number, number?]>).map(([c, len, off = 0]) => raw(c).subarray(off, off + len))
    const bytes = Buffer.concat(parts)
    assert.equal(bytes.length, e.size)
    out.set(e.path, bytes)
  }
  return out
}

// ----------------------------------------------------------------------------------------- fixtures

async function twoVersions (): Promise<{ base: string, root: string, v1: string, v2: string, files: Map<string, Buffer> }> {
  const r = await newRepo(dirs)
  await put(join(r.root, 'model', 'config.json'), '{"v":1}\n')
  await writeRandomFile(join(r.root, 'model', 'weights.bin'), 5 << 20, 'car-weights')
  await put(join(r.root, 'model', 'vocab', 'words.txt'), 'alpha\nbeta\n')
  await put(join(r.root, 'model', 'empty.txt'), '')
  const v1 = (await mvcJson<{ cid: string }>(['commit', 'model', '-m', 'one', '--no-verify', '--no-code'], { cwd: r.root })).cid
  await put(join(r.root, 'model', 'config.json'), '{"v":2}\n')
  const v2 = (await mvcJson<{ cid: string }>(['commit', 'model', '-m', 'two', '--no-verify', '--no-code'], { cwd: r.root })).cid
  const files = new Map<string, Buffer>()
  for (const p of ['config.json', 'weights.bin', 'vocab/words.txt', 'empty.txt']) files.set(p, await readFile(join(r.root, 'model', p)))
  return { ...r, v1, v2, files }
}

async function refsOf (root: string): Promise<string[]> {
  const log = await runMvc(['log', '--all', '--json'], { cwd: root })
  return log.code === 0 ? (JSON.parse(log.stdout) as Array<{ cid: string }>).map(e => e.cid) : []
}

// -------------------------------------------------------------------------------------------- tests

test('export writes a CARv1 an independent reader verifies and walks back to the committed bytes', async () => {
  const { base, root, v1, v2, files } = await twoVersions()
  const out = join(base, 'v2.car')
  const r = await mvcJson<{ cid: string, blocks: number, commits: number, fileBytes: number }>(['export', 'v2', '-o', out], { cwd: root })
  assert.equal(r.cid, v2)
  assert.equal(r.commits, 1)
  const car = await readCar(out)
  assert.deepEqual(car.roots.map(c => c.toString()), [v2])
  assert.equal(car.blocks.size, r.blocks)
  assert.equal(car.order[0], v2) // the commit first: depth-first from the root
  assert.ok(!car.blocks.has(v1), 'without --history the parent is not in the file')
  const rebuilt = filesOf(car, CID.parse(v2))
  assert.deepEqual([...rebuilt.keys()].sort(), [...files.keys()].sort())
  for (const [p, b] of files) assert.ok(rebuilt.get(p)!.equals(b), p)

  const h = join(base, 'hist.car')
  const rh = await mvcJson<{ commits: number }>(['export', 'v2', '-o', h, '--history'], { cwd: root })
  assert.equal(rh.commits, 2)
  const carH = await readCar(h)
  assert.ok(carH.blocks.has(v1))
  assert.equal(filesOf(carH, CID.parse(v1)).get('config.json')!.toString(), '{"v":1}\n')
})

test('import: a version with its history keeps its numbers and signatures; without history it is imported by CID, shallow, and checks out', async () => {
  const { base, root, v1, v2, files } = await twoVersions()
  await mvcOk(['keygen', join(base, 'ed')], { cwd: base })
  await mvcOk(['sign', 'v1', '--key', join(base, 'ed')], { cwd: root })
  await mvcOk(['export', 'v2', '-o', join(base, 'hist.car'), '--history'], { cwd: root })
  await mvcOk(['export', 'v2', '-o', join(base, 'v2.car')], { cwd: root })

  const a = (await newRepo(dirs)).root
  const ra = await mvcJson<{ commits: Array<{ cid: string, version: number, ref: string, shallow: boolean }>, signatures: number, branch?: string }>(['import', join(base, 'hist.car')], { cwd: a })
  assert.deepEqual(ra.commits.map(c => [c.cid, c.ref, c.shallow]), [[v1, 'refs/versions/1', false], [v2, 'refs/versions/2', false]])
  assert.equal(ra.signatures, 1)
  assert.equal(ra.branch, 'refs/heads/main')
  const log = await mvcJson<Array<{ version: number }>>(['log'], { cwd: a })
  assert.deepEqual(log.map(e => e.version), [2, 1])
  await mvcOk(['verify', 'v1', '--signature', '--trusted-key', join(base, 'ed.pub')], { cwd: a })
  const fsck = await mvcJson<{ ok: boolean }>(['fsck'], { cwd: a })
  assert.equal(fsck.ok, true)

  // Without history, into an empty repository: no version number (v1 is unknown here), found by CID.
  const b = (await newRepo(dirs)).root
  const rb = await mvcJson<{ commits: Array<{ cid: string, ref: string, shallow: boolean }> }>(['import', join(base, 'v2.car')], { cwd: b })
  assert.deepEqual(rb.commits.map(c => [c.cid, c.ref, c.shallow]), [[v2, `refs/imports/${v2}`, true]])
  const target = join(base, 'out')
  await mvcOk(['checkout', v2.slice(0, 20), '--to', target, '--no-verify'], { cwd: b })
  for (const [p, bytes] of files) assert.ok((await readFile(join(target, p))).equals(bytes), p)
  const lb = await mvcJson<Array<{ cid: string }>>(['log', v2.slice(0, 12)], { cwd: b })
  assert.deepEqual(lb.map(e => e.cid), [v2]) // its history stops where the import did
  assert.equal((await mvcJson<{ ok: boolean, shallow: number }>(['fsck'], { cwd: b })).shallow, 1)

  // Into a repository that has v1 (with the same number): v2 gets its number.
  const c = (await newRepo(dirs)).root
  await mvcOk(['export', 'v1', '-o', join(base, 'v1.car')], { cwd: root })
  await mvcOk(['import', join(base, 'v1.car')], { cwd: c })
  const rc = await mvcJson<{ commits: Array<{ ref: string }> }>(['import', join(base, 'v2.car')], { cwd: c })
  assert.deepEqual(rc.commits.map(x => x.ref), ['refs/versions/2'])
  // Importing the same file again changes nothing.
  const again = await mvcJson<{ newBlocks: number, commits: Array<{ ref: string }> }>(['import', join(base, 'v2.car')], { cwd: c })
  assert.equal(again.newBlocks, 0)
  assert.deepEqual(again.commits.map(x => x.ref), ['refs/versions/2'])
})

test('import is all or nothing: a corrupt block, a truncated file, a missing block or a root that is not a commit change nothing', async () => {
  const { base, root, v2 } = await twoVersions()
  const good = join(base, 'v2.car')
  await mvcOk(['export', 'v2', '-o', good], { cwd: root })
  const bytes = await readFile(good)
  const car = await readCar(good)

  // 1. One byte flipped inside the largest raw chunk.
  const big = [...car.blocks.values()].filter(b => b.cid.code === 0x55).sort((x, y) => y.bytes.length - x.bytes.length)[0]!
  const at = bytes.indexOf(Buffer.from(big.bytes.subarray(0, 64))) + 1000
  const corrupt = Buffer.from(bytes)
  corrupt[at] = corrupt[at]! ^ 0xff
  await writeFile(join(base, 'corrupt.car'), corrupt)
  // 2. Cut short.
  await writeFile(join(base, 'short.car'), bytes)
  await truncate(join(base, 'short.car'), bytes.length - 777)
  // 3. Every block but one chunk, written by @ipld/car itself.
  const { writer, out } = CarWriter.create([CID.parse(v2)])
  const chunks: Uint8Array[] = []
  const drain = (async () => { for await (const c of out) chunks.push(c) })()
  for (const k of car.order) if (k !== big.cid.toString()) await writer.put(car.blocks.get(k)!)
  await writer.close()
  await drain
  await writeFile(join(base, 'incomplete.car'), Buffer.concat(chunks))
  // 4. A root that is a raw chunk.
  const w2 = CarWriter.create([big.cid])
  const c2: Uint8Array[] = []
  const d2 = (async () => { for await (const c of w2.out) c2.push(c) })()
  await w2.writer.put(big)
  await w2.writer.close()
  await d2
  await writeFile(join(base, 'rawroot.car'), Buffer.concat(c2))

  const cases: Array<[string, number, string]> = [
    ['corrupt.car', 5, 'CORRUPT_OBJECT'],
    ['short.car', 5, 'INVALID_OBJECT'],
    ['incomplete.car', 5, 'INVALID_OBJECT'],
    ['rawroot.car', 5, 'INVALID_OBJECT']
  ]
  const repo = (await newRepo(dirs)).root
  for (const [name, exit, code] of cases) {
    const r = await runMvc(['import', join(base, name), '--json'], { cwd: repo })
    assert.equal(r.code, exit, `${name}: ${r.stderr}`)
    assert.equal(jsonError(r).code, code, name)
    assert.deepEqual(await refsOf(repo), [], name)
    const f = await mvcJson<{ ok: boolean, objects: number, unreachable: number, tempPacks: string[] }>(['fsck'], { cwd: repo })
    assert.deepEqual([f.ok, f.objects, f.unreachable, f.tempPacks], [true, 0, 0, []], name)
  }
  assert.deepEqual((await readdir(join(repo, '.mvc', 'packs'))).filter(n => n.endsWith('.pack')), [])
  // The good file still imports afterwards.
  await mvcOk(['import', good], { cwd: repo })
  // Not a CAR at all.
  await writeFile(join(base, 'junk.car'), 'not a car file')
  const junk = await runMvc(['import', join(base, 'junk.car'), '--json'], { cwd: repo })
  assert.equal(jsonError(junk).code, 'INVALID_OBJECT')
})
