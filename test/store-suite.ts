/**
 * The ObjectStore conformance suite. Every store implementation runs these same tests:
 * `storeSuite({ name, factory })` where factory returns a fresh, empty, open store and a way to
 * damage one object's stored bytes (for the corruption tests).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { CID } from 'multiformats/cid'
import { encodeObject, rawCid } from '../src/content/block.js'
import type { ObjectStore } from '../src/store/interface.js'
import type { LevelObjectStore } from '../src/store/level-store.js'
import { MemoryPacks } from '../src/store/packs.js'
import { open } from 'node:fs/promises'

/**
 * Flips one byte of an object where a LevelObjectStore keeps it: in its pack file on disk, in an
 * in-memory pack, or in its inline index entry. Used by every suite that needs real damage.
 */
export async function corruptStoredObject (store: LevelObjectStore, cid: CID): Promise<void> {
  const loc = await store.locate(cid)
  if (loc === undefined) throw new Error(`no object ${cid.toString()} to corrupt`)
  if (loc === 'inline') {
    const key = 'o/' + cid.toString()
    const copy = (await store.kv.get(key))!.slice()
    copy[copy.length - 1] ^= 0xff
    await store.kv.batch([{ type: 'put', key, value: copy }], { sync: true })
    return
  }
  const at = loc.offset + Math.floor(loc.length / 2)
  if (store.packs instanceof MemoryPacks) {
    store.packs.packs.get(loc.pack)![at] ^= 0x01
    return
  }
  const fh = await open(store.packs.describe(loc.pack), 'r+')
  try {
    const b = new Uint8Array(1)
    await fh.read(b, 0, 1, at)
    b[0] = b[0]! ^ 0x01
    await fh.write(b, 0, 1, at)
  } finally { await fh.close() }
}

export interface StoreFixture {
  readonly store: ObjectStore
  /** Flips one byte of the stored copy of an object (in its pack or index entry). */
  readonly corrupt: (cid: CID) => Promise<void>
  /** Closes and removes everything. */
  readonly destroy: () => Promise<void>
  /** Closes and reopens the same store (persistence), when the implementation has one. */
  readonly reopen?: () => Promise<ObjectStore>
}

function bytes (n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x & 0xff }
  return b
}

/** Byte equality regardless of Buffer vs Uint8Array prototypes. */
function sameBytes (actual: Uint8Array, expected: Uint8Array): void {
  assert.equal(Buffer.compare(Buffer.from(actual), Buffer.from(expected)), 0, 'bytes differ')
}

async function codeOf (p: Promise<unknown>): Promise<string | undefined> {
  try { await p } catch (err) { return (err as { code?: string }).code }
  return undefined
}

export function storeSuite (name: string, factory: () => Promise<StoreFixture>): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    const use = async (fn: (f: StoreFixture) => Promise<void>): Promise<void> => {
      const f = await factory()
      try { await fn(f) } finally { await f.destroy() }
    }

    test('raw chunks and objects round-trip after commit, and not before', async () => use(async ({ store }) => {
      const chunk = bytes(100_000, 1)
      const c1 = rawCid(chunk)
      const obj = encodeObject({ type: 'test', n: 1, link: c1 })
      const tx = await store.transaction()
      assert.equal(await tx.putRaw(c1, chunk), true)
      assert.equal(await tx.putObject(obj.cid, obj.bytes), true)
      assert.equal(await tx.has(c1), true, 'staged objects are visible to their transaction')
      assert.equal(await store.has(c1), false, 'staged objects are invisible to the store')
      await tx.commit()
      sameBytes(await store.get(c1), chunk)
      sameBytes(await store.get(obj.cid), obj.bytes)
      assert.equal(await store.has(obj.cid), true)
    }))

    test('duplicate puts are skipped, within and across transactions', async () => use(async ({ store }) => {
      const chunk = bytes(5000, 2)
      const c = rawCid(chunk)
      const tx = await store.transaction()
      assert.equal(await tx.putRaw(c, chunk), true)
      assert.equal(await tx.putRaw(c, chunk), false)
      assert.equal(tx.stagedObjects, 1)
      assert.equal(tx.stagedBytes, 5000)
      await tx.commit()
      const tx2 = await store.transaction()
      assert.equal(await tx2.putRaw(c, chunk), false)
      assert.equal(tx2.stagedBytes, 0)
      await tx2.commit()
    }))

    test('aborted transactions leave nothing', async () => use(async ({ store }) => {
      const chunk = bytes(1000, 3)
      const c = rawCid(chunk)
      const tx = await store.transaction()
      await tx.putRaw(c, chunk)
      tx.setRef({ name: 'refs/heads/x', value: c.toString() })
      await tx.abort()
      assert.equal(await store.has(c), false)
      assert.equal(await store.readRef('refs/heads/x'), undefined)
    }))

    test('missing objects are OBJECT_NOT_FOUND', async () => use(async ({ store }) => {
      assert.equal(await codeOf(store.get(rawCid(bytes(10, 4)))), 'OBJECT_NOT_FOUND')
    }))

    test('every read re-hashes: a damaged chunk is CORRUPT_OBJECT naming the CID', async () => use(async ({ store, corrupt }) => {
      const chunk = bytes(70_000, 5)
      const c = rawCid(chunk)
      const obj = encodeObject({ type: 'test', text: 'hello' })
      const tx = await store.transaction()
      await tx.putRaw(c, chunk)
      await tx.putObject(obj.cid, obj.bytes)
      await tx.commit()
      for (const cid of [c, obj.cid]) {
        await corrupt(cid)
        try {
          await store.get(cid)
          assert.fail('corrupt object was returned')
        } catch (err) {
          assert.equal((err as { code?: string }).code, 'CORRUPT_OBJECT')
          assert.match((err as Error).message, new RegExp(cid.toString()))
          assert.equal((err as { data: { cid: string } }).data.cid, cid.toString())
        }
      }
    }))

    test('putRaw and putObject refuse the wrong codec', async () => use(async ({ store }) => {
      const obj = encodeObject({ a: 1 })
      const raw = bytes(10, 6)
      const tx = await store.transaction()
      await assert.rejects(tx.putRaw(obj.cid, obj.bytes), TypeError)
      await assert.rejects(tx.putObject(rawCid(raw), raw), TypeError)
      await tx.abort()
    }))

    test('refs: create, read, list by prefix, delete', async () => use(async ({ store }) => {
      const tx = await store.transaction()
      tx.setRef({ name: 'refs/heads/b', value: 'B' })
      tx.setRef({ name: 'refs/heads/a', value: 'A' })
      tx.setRef({ name: 'refs/tags/t', value: 'T' })
      await tx.commit()
      assert.equal(await store.readRef('refs/heads/a'), 'A')
      assert.deepEqual(await store.listRefs('refs/heads/'), [['refs/heads/a', 'A'], ['refs/heads/b', 'B']])
      const tx2 = await store.transaction()
      tx2.setRef({ name: 'refs/heads/a', value: null })
      await tx2.commit()
      assert.deepEqual(await store.listRefs('refs/heads/'), [['refs/heads/b', 'B']])
    }))

    test('refs are compare-and-swap: a stale expectation is REF_CONFLICT and applies nothing', async () => use(async ({ store }) => {
      const chunk = bytes(300, 7)
      const c = rawCid(chunk)
      const t0 = await store.transaction()
      t0.setRef({ name: 'refs/heads/main', value: 'one', expect: null })
      await t0.commit()
      // Two writers both read 'one' and try to move it; they are serialised, the second must fail.
      const [first, second] = [store.transaction(), store.transaction()]
      const tx1 = await first
      tx1.setRef({ name: 'refs/heads/main', value: 'two', expect: 'one' })
      const commit1 = tx1.commit()
      const tx2 = await second
      await tx2.putRaw(c, chunk)
      tx2.setRef({ name: 'refs/heads/main', value: 'three', expect: 'one' })
      tx2.setMeta('side-effect', new Uint8Array([1]))
      await commit1
      assert.equal(await codeOf(tx2.commit()), 'REF_CONFLICT')
      assert.equal(await store.readRef('refs/heads/main'), 'two', 'the first update survives')
      assert.equal(await store.has(c), false, 'the losing transaction stored nothing')
      assert.equal(await store.readMeta('side-effect'), undefined)
      // expect: null means "must not exist".
      const tx3 = await store.transaction()
      tx3.setRef({ name: 'refs/heads/main', value: 'four', expect: null })
      assert.equal(await codeOf(tx3.commit()), 'REF_CONFLICT')
    }))

    test('meta: set, list by prefix, delete', async () => use(async ({ store }) => {
      const tx = await store.transaction()
      tx.setMeta('k/1', new Uint8Array([1]))
      tx.setMeta('k/2', new Uint8Array([2]))
      await tx.commit()
      assert.deepEqual((await store.listMeta('k/')).map(([k, v]) => [k, [...v]]), [['k/1', [1]], ['k/2', [2]]])
      const tx2 = await store.transaction()
      tx2.setMeta('k/1', null)
      await tx2.commit()
      assert.equal(await store.readMeta('k/1'), undefined)
    }))

    test('cids() lists every stored object exactly once', async () => use(async ({ store }) => {
      const want = new Set<string>()
      const tx = await store.transaction()
      for (let i = 0; i < 20; i++) {
        const b = bytes(1000 + i, 100 + i)
        const c = rawCid(b)
        await tx.putRaw(c, b)
        want.add(c.toString())
        const o = encodeObject({ i })
        await tx.putObject(o.cid, o.bytes)
        want.add(o.cid.toString())
      }
      await tx.commit()
      const got: string[] = []
      for await (const c of store.cids()) got.push(c.toString())
      assert.equal(got.length, want.size)
      assert.deepEqual(new Set(got), want)
    }))

    test('large transactions: many chunks, all readable', async () => use(async ({ store }) => {
      const tx = await store.transaction()
      const cids: Array<[CID, Uint8Array]> = []
      for (let i = 0; i < 64; i++) {
        const b = bytes(64 * 1024, 1000 + i)
        const c = rawCid(b)
        await tx.putRaw(c, b)
        cids.push([c, b])
      }
      await tx.commit()
      for (const [c, b] of cids) sameBytes(await store.get(c), b)
    }))

    test('objects spread over more packs than stay open are all readable, also concurrently', async () => use(async ({ store }) => {
      const written: Array<[CID, Uint8Array]> = []
      for (let i = 0; i < 100; i++) {
        const tx = await store.transaction()
        const b = bytes(512 + i, 5000 + i)
        const c = rawCid(b)
        await tx.putRaw(c, b)
        await tx.commit()
        written.push([c, b])
      }
      const got = await Promise.all(written.map(async ([c]) => await store.get(c)))
      got.forEach((g, i) => sameBytes(g, written[i]![1]))
      for (const [c, b] of written.slice(0, 10)) sameBytes(await store.get(c), b)
    }))

    test('committed data survives close and reopen', async (t) => {
      const f = await factory()
      if (f.reopen === undefined) {
        await f.destroy()
        // The in-memory store has no persistence; assert that explicitly rather than skip.
        assert.equal(name.includes('memory'), true, 'only the memory store may lack reopen')
        return
      }
      const chunk = bytes(2000, 9)
      const c = rawCid(chunk)
      const tx = await f.store.transaction()
      await tx.putRaw(c, chunk)
      tx.setRef({ name: 'HEAD', value: 'ref: refs/heads/main' })
      await tx.commit()
      const again = await f.reopen()
      sameBytes(await again.get(c), chunk)
      assert.equal(await again.readRef('HEAD'), 'ref: refs/heads/main')
      await f.destroy()
      t.diagnostic('reopened')
    })
  })
}
