/**
 * The shared async primitives (src/store/async.ts): `pool`, `Mutex`, `ByteBudget`. Timings are driven
 * by explicit promises the test resolves, not by sleeps, so every assertion is about order.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ByteBudget, Mutex, pool } from '../src/store/async.js'

/** A promise with its resolve and reject. */
function deferred (): { promise: Promise<void>, resolve: () => void, reject: (e: unknown) => void } {
  let resolve!: () => void
  let reject!: (e: unknown) => void
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

test('pool: at most `limit` run at once, started in order, all run', async () => {
  const started: number[] = []
  let active = 0
  let peak = 0
  await pool(Array.from({ length: 20 }, (_, i) => i), 3, async i => {
    started.push(i)
    active++
    peak = Math.max(peak, active)
    await tick()
    active--
  })
  assert.equal(peak, 3)
  assert.deepEqual(started, Array.from({ length: 20 }, (_, i) => i))
})

test('pool: the byte budget bounds the weight in flight; an item heavier than the budget runs alone', async () => {
  const weights = [4, 4, 4, 10, 1, 1, 6, 2]
  let used = 0
  let peak = 0
  let heavyAlone = false
  await pool(weights, 8, async w => {
    used += w
    peak = Math.max(peak, used)
    if (w === 10) heavyAlone = used === 10
    await tick()
    used -= w
  }, { weigh: w => w, bytes: 8 })
  assert.equal(peak, 10, 'the heavy item ran (capped to the budget, so alone)')
  assert.equal(heavyAlone, true)
  // Without the heavy one, nothing exceeded 8.
  used = 0
  peak = 0
  await pool([4, 4, 4, 1, 1, 6, 2], 8, async w => { used += w; peak = Math.max(peak, used); await tick(); used -= w }, { weigh: w => w, bytes: 8 })
  assert.ok(peak <= 8, `peak ${peak}`)
})

test('pool: after the first error nothing new starts; it is rethrown once the running ones settle', async () => {
  const gates = Array.from({ length: 6 }, () => deferred())
  const started: number[] = []
  const finished: number[] = []
  const run = pool([0, 1, 2, 3, 4, 5], 2, async i => {
    started.push(i)
    await gates[i]!.promise
    finished.push(i)
  })
  let settled = false
  run.then(() => { settled = true }, () => { settled = true })
  await tick()
  assert.deepEqual(started, [0, 1])
  gates[0]!.reject(new Error('first'))
  await tick()
  assert.deepEqual(started, [0, 1], 'no new item after the failure')
  assert.equal(settled, false, 'item 1 is still running')
  gates[1]!.reject(new Error('second'))
  await assert.rejects(run, /first/)
  assert.deepEqual(finished, [])
  // A synchronous throw counts as a failure too.
  await assert.rejects(pool([1], 1, () => { throw new Error('sync') }), /sync/)
  await pool([], 4, async () => { assert.fail('no items') })
})

test('Mutex: one holder at a time, in the order they asked; a failing section releases it', async () => {
  const m = new Mutex()
  const order: string[] = []
  let inside = 0
  const section = async (name: string, fail = false): Promise<void> => {
    await m.run(async () => {
      inside++
      assert.equal(inside, 1)
      order.push(`${name}+`)
      await tick()
      order.push(`${name}-`)
      inside--
      if (fail) throw new Error(name)
    })
  }
  const results = await Promise.allSettled([section('a'), section('b', true), section('c')])
  assert.deepEqual(order, ['a+', 'a-', 'b+', 'b-', 'c+', 'c-'])
  assert.deepEqual(results.map(r => r.status), ['fulfilled', 'rejected', 'fulfilled'])
  const release = await m.acquire()
  release()
  release() // twice is harmless
  await m.run(async () => {})
})

test('ByteBudget: waits until the bytes fit, first come first served; oversized requests take it all', async () => {
  const b = new ByteBudget(10)
  const r1 = await b.acquire(6)
  const log: string[] = []
  const got = (): string[] => [...log]
  const p2 = b.acquire(6).then(r => { log.push('six'); return r })
  const p3 = b.acquire(1).then(r => { log.push('one'); return r })
  await tick()
  assert.deepEqual(got(), [], 'the 1-byte request waits behind the 6-byte one (FIFO)')
  r1()
  const r2 = await p2
  const r3 = await p3
  assert.deepEqual(got(), ['six', 'one'])
  r2()
  r3()
  const big = await b.acquire(1000)
  const after = b.acquire(1).then(() => { log.push('after big') })
  await tick()
  assert.equal(got().includes('after big'), false)
  big()
  await after
})
