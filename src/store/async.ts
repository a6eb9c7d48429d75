/**
 * The async primitives every layer above shares, written once: a bounded `pool`, a FIFO `Mutex`, and a
 * FIFO `ByteBudget`. They live in the store layer because the store is the lowest layer that needs
 * one (transactions are serialised by a `Mutex`); remote transports and the core import them from here.
 *
 *   await pool(chunks, 8, async c => { await send(c) }, { weigh: c => c.size, bytes: 16 << 20 })
 *   await mutex.run(async () => { … })          // one at a time, in arrival order
 *   const release = await budget.acquire(n)     // wait until n bytes fit, then release()
 */

/** A bound on the bytes of the items running at once. */
export interface PoolBudget<T> {
  /** Bytes an item holds while it runs (an item heavier than `bytes` still runs, alone). */
  readonly weigh: (item: T) => number
  readonly bytes: number
}

/**
 * Runs `fn` over `items` in order, at most `limit` at a time (and, with `budget`, at most `budget.bytes`
 * in flight). After the first failure no new item starts; the first error is rethrown once the running
 * ones have settled, so nothing is left running behind the caller's back.
 */
export async function pool<T> (items: readonly T[], limit: number, fn: (item: T) => Promise<void>, budget?: PoolBudget<T>): Promise<void> {
  if (items.length === 0) return
  const max = Math.max(1, limit)
  const bytes = budget?.bytes ?? Infinity
  await new Promise<void>((resolve, reject) => {
    let next = 0
    let active = 0
    let used = 0
    let failed = false
    let error: unknown
    const launch = (): void => {
      if (failed) { if (active === 0) reject(error); return }
      if (next >= items.length) { if (active === 0) resolve(); return }
      while (next < items.length && active < max) {
        const item = items[next]!
        const w = Math.min(budget?.weigh(item) ?? 0, bytes)
        if (active > 0 && used + w > bytes) break
        next++
        active++
        used += w
        let run: Promise<void>
        try { run = fn(item) } catch (e) { run = Promise.reject(e) }
        run.then(() => {}, (e: unknown) => { if (!failed) { failed = true; error = e } }).finally(() => {
          active--
          used -= w
          launch()
        })
      }
    }
    launch()
  })
}

/** Serialises async critical sections, in the order they ask. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve()

  /** Waits for every earlier holder; the returned function releases (calling it twice is harmless). */
  async acquire (): Promise<() => void> {
    const previous = this.tail
    let release!: () => void
    this.tail = new Promise<void>(resolve => { release = resolve })
    await previous
    let released = false
    return () => { if (!released) { released = true; release() } }
  }

  /** Runs `fn` holding the mutex. */
  async run<T> (fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire()
    try { return await fn() } finally { release() }
  }
}

/** A FIFO semaphore over bytes: callers wait until their bytes fit (a request larger than the total waits for all of it). */
export class ByteBudget {
  private available: number
  private readonly waiters: Array<{ n: number, go: () => void }> = []
  constructor (private readonly total: number) { this.available = total }

  async acquire (bytes: number): Promise<() => void> {
    const n = Math.min(bytes, this.total)
    if (this.waiters.length === 0 && n <= this.available) this.available -= n
    else await new Promise<void>(resolve => this.waiters.push({ n, go: resolve }))
    let released = false
    return () => {
      if (released) return
      released = true
      this.available += n
      while (this.waiters.length > 0 && this.waiters[0]!.n <= this.available) {
        const w = this.waiters.shift()!
        this.available -= w.n
        w.go()
      }
    }
  }
}
