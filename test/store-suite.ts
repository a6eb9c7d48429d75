/**
 * The ObjectStore conformance suite. Every store implementation runs these same tests, as
 * abstract-level's suite does: `suite({ name, test, factory, supports })`, where `factory` returns a
 * fresh, empty, open store and `supports` declares the optional capabilities the implementation has.
 * A test that needs a capability declared absent is reported as skipped, with the reason; a capability
 * declared present must work (and its fixture hook must exist), or the test fails.
 *
 * The suite also covers `BatchWriter` (src/store/batch.ts), which needs nothing but the store contract.
 */
import { describe, test as nodeTest } from 'node:test'
import assert from 'node:assert/strict'
import type { CID } from 'multiformats/cid'
import { encodeObject, rawCid } from '../src/content/block.js'
import type { ObjectStore } from '../src/store/interface.js'
import type { LevelObjectStore } from '../src/store/level-store.js'
import { MemoryPacks } from '../src/store/packs.js'
import { BatchWriter } from '../src/store/batch.js'
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

/** Optional capabilities of a store implementation. */
export interface StoreSupports {
  /** Committed data survives close and reopen (fixture: `reopen`). */
  readonly persistence: boolean
  /** While the store is open, a second open waits (bounded) and fails with REPOSITORY_LOCKED (fixture: `openAgain`). */
  readonly locking: boolean
  /** Stored bytes can be damaged behind the store's back, to check that reads re-hash (fixture: `corrupt`). */
  readonly corruption: boolean
}

export interface StoreFixture {
  readonly store: ObjectStore
  /** Flips one byte of the stored copy of an object (in its pack or index entry): `corruption`. */
  readonly corrupt?: (cid: CID) => Promise<void>
  /** Closes and removes everything. */
  readonly destroy: () => Promise<void>
  /** Closes and reopens the same store: `persistence`. */
  readonly reopen?: () => Promise<ObjectStore>
  /** Opens the same store a second time while it is open, waiting at most `lockTimeoutMs`: `locking`. */
  readonly openAgain?: (lockTimeoutMs: number) => Promise<ObjectStore>
}

export interface StoreSuiteOptions {
  /** Names the implementation in test names. */
  readonly name: string
  /** The test function to register with (node:test's `test`). */
  readonly test?: typeof nodeTest
  readonly factory: () => Promise<StoreFixture>
  readonly supports: StoreSupports
}

/** Why each capability may be absent, for skip messages. */
const CAPABILITY: Readonly<Record<keyof StoreSupports, string>> = {
  persistence: 'keeps nothing after close',
  locking: 'has no lock: nothing else can open it',
  corruption: 'offers no way to damage stored bytes'
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

export function suite ({ name, test = nodeTest, factory, supports }: StoreSuiteOptions): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    const use = async (fn: (f: StoreFixture) => Promise<void>): Promise<void> => {
      const f = await factory()
      try { await fn(f) } finally { await f.destroy() }
    }
    /** A test that needs `capability`: skipped, with the reason, where the implementation declares it absent. */
    const needs = (capability: keyof StoreSupports, title: string, fn: () => Promise<void>): void => {
      if (supports[capability]) test(title, fn)
      else test(title, { skip: `${name} declares no ${capability} (${CAPABILITY[capability]})` }, () => {})
    }
    const hook = <K extends 'corrupt' | 'reopen' | 'openAgain'>(f: StoreFixture, key: K): NonNullable<StoreFixture[K]> => {
      const h = f[key]
      assert.ok(h !== undefined, `${name} declares the capability but its fixture has no ${key}()`)
      return h as NonNullable<StoreFixture[K]>
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

    needs('corruption', 'every read re-hashes: a damaged chunk is CORRUPT_OBJECT naming the CID', async () => use(async f => {
      const { store } = f
      const corrupt = hook(f, 'corrupt')
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

    needs('persistence', 'committed data survives close and reopen', async () => {
      const f = await factory()
      try {
        const reopen = hook(f, 'reopen')
        const chunk = bytes(2000, 9)
        const c = rawCid(chunk)
        const tx = await f.store.transaction()
        await tx.putRaw(c, chunk)
        tx.setRef({ name: 'HEAD', value: 'ref: refs/heads/main' })
        await tx.commit()
        const again = await reopen()
        sameBytes(await again.get(c), chunk)
        assert.equal(await again.readRef('HEAD'), 'ref: refs/heads/main')
      } finally { await f.destroy() }
    })

    needs('locking', 'a second open while the store is open waits, then fails with REPOSITORY_LOCKED', async () => use(async f => {
      const openAgain = hook(f, 'openAgain')
      const started = Date.now()
      assert.equal(await codeOf(openAgain(300)), 'REPOSITORY_LOCKED')
      assert.ok(Date.now() - started >= 250, `it waited for the lock (${Date.now() - started} ms)`)
    }))

    test('hasMany answers for committed objects only, in order', async () => use(async ({ store }) => {
      const a = bytes(100, 11)
      const b = encodeObject({ type: 'test', n: 11 })
      const absent = rawCid(bytes(100, 12))
      assert.deepEqual(await store.hasMany([]), [])
      const tx = await store.transaction()
      await tx.putRaw(rawCid(a), a)
      await tx.putObject(b.cid, b.bytes)
      assert.deepEqual(await store.hasMany([rawCid(a), b.cid]), [false, false], 'staged objects are not stored yet')
      await tx.commit()
      assert.deepEqual(await store.hasMany([absent, b.cid, rawCid(a), absent]), [false, true, true, false])
    }))

    // ------------------------------------------------------------------------- BatchWriter

    test('BatchWriter: verifies, stages (staged objects count as present), commits every flushBytes and on flush', async () => use(async ({ store }) => {
      const w = new BatchWriter(store, { source: 'the test', flushBytes: 10_000 })
      const small = bytes(4000, 20)
      const obj = encodeObject({ type: 'test', n: 20 })
      assert.equal(await w.put(rawCid(small), small), true)
      assert.equal(await w.put(rawCid(small), small), false, 'a staged object is not new')
      assert.equal(await w.put(obj.cid, obj.bytes), true)
      assert.deepEqual(await w.hasMany([rawCid(small), obj.cid]), [true, true])
      assert.deepEqual(await store.hasMany([rawCid(small), obj.cid]), [false, false], 'staged, not committed')
      // Past flushBytes the batch is committed by the put that crosses it.
      const big = bytes(7000, 21)
      await w.put(rawCid(big), big)
      assert.deepEqual(await store.hasMany([rawCid(small), obj.cid, rawCid(big)]), [true, true, true])
      const more = bytes(100, 22)
      await w.put(rawCid(more), more)
      assert.equal(await store.has(rawCid(more)), false)
      sameBytes(await w.get(rawCid(more)), more) // reading a staged object commits it first
      assert.equal(await store.has(rawCid(more)), true)
      const last = bytes(100, 23)
      await w.put(rawCid(last), last)
      await w.flush()
      assert.equal(await store.has(rawCid(last)), true)
      assert.equal(await w.put(rawCid(last), last), false, 'a stored object is not new')
    }))

    test('BatchWriter: wrong bytes are CORRUPT_OBJECT naming the source, and nothing is stored', async () => use(async ({ store }) => {
      const w = new BatchWriter(store, { source: 'the lying sender' })
      const good = bytes(500, 30)
      const wrong = good.slice()
      wrong[7] ^= 1
      try {
        await w.put(rawCid(good), wrong)
        assert.fail('wrong bytes were accepted')
      } catch (err) {
        assert.equal((err as { code?: string }).code, 'CORRUPT_OBJECT')
        assert.match((err as Error).message, /the lying sender/)
      }
      await w.flush()
      assert.deepEqual(await w.hasMany([rawCid(good)]), [false])
      assert.equal(await store.has(rawCid(good)), false)
    }))

    test('BatchWriter: flushed(fn) runs fn after the staged objects are committed, with no put staging meanwhile', async () => use(async ({ store }) => {
      const w = new BatchWriter(store, { source: 'the test' })
      const a = bytes(300, 40)
      await w.put(rawCid(a), a)
      const b = bytes(300, 41)
      let putB: Promise<boolean> | undefined
      const seen = await w.flushed(async () => {
        putB = w.put(rawCid(b), b) // waits for fn: it cannot open a transaction under it
        const tx = await store.transaction()
        tx.setRef({ name: 'refs/heads/main', value: rawCid(a).toString(), expect: null })
        await tx.commit()
        return await store.hasMany([rawCid(a), rawCid(b)])
      })
      assert.deepEqual(seen, [true, false])
      assert.equal(await putB, true)
      await w.close()
      assert.equal(await store.has(rawCid(b)), true)
    }))

    test('BatchWriter (durable): each put resolves once committed; concurrent puts share transactions', async t => use(async ({ store }) => {
      // The same store, counting the transactions the writer opens.
      let transactions = 0
      const counted: ObjectStore = Object.create(store, {
        transaction: { value: async () => { transactions++; return await store.transaction() } }
      })
      const w = new BatchWriter(counted, { source: 'the test', durable: true })
      const chunks = Array.from({ length: 40 }, (_, i) => bytes(2000 + i, 50 + i))
      const results = await Promise.all(chunks.map(async c => {
        const isNew = await w.put(rawCid(c), c)
        // Acknowledged means committed: visible in the store itself.
        assert.equal(await store.has(rawCid(c)), true)
        return isNew
      }))
      assert.deepEqual(results, chunks.map(() => true))
      t.diagnostic(`40 concurrent durable puts: ${transactions} transactions`)
      assert.ok(transactions < chunks.length / 2, `group commit: ${transactions} transactions for ${chunks.length} puts`)
      // The same object put twice at once: stored once, both acknowledged after the commit.
      const twice = bytes(999, 99)
      const both = await Promise.all([w.put(rawCid(twice), twice), w.put(rawCid(twice), twice)])
      assert.deepEqual(both.sort(), [false, true])
      assert.equal(await store.has(rawCid(twice)), true)
    }))
  })
}
