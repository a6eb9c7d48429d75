/**
 * The UI's access to the store: opened when a request needs it, closed as soon as none does, and
 * handed over to other processes at least every `maxHoldMs` even when requests never stop.
 *
 * LevelDB lets one process open a database at a time, and every mvc command holds it while it runs
 * (src/store/open.ts: a command that finds it taken retries with back-off up to 250 ms, for
 * MVC_LOCK_TIMEOUT_MS, 10 s by default, then fails with REPOSITORY_LOCKED). A UI that kept the store
 * open would lock every other command out. So:
 * - the first request opens the store (itself waiting up to `waitMs` when a command holds it; then the
 *   request fails with REPOSITORY_LOCKED, which the page answers by asking again);
 * - requests that arrive while it is open share it; it is closed `lingerMs` after the last one ends;
 * - once it has been open for `maxHoldMs`, new requests wait while the running ones finish, the store
 *   is closed, and it stays closed for `yieldMs` — longer than a waiting command's back-off, so that
 *   a command waiting for the repository gets it — before it is opened again.
 * Nothing here writes: the UI never opens a transaction.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { LevelObjectStore } from '../../store/level-store.js'

export interface LeaseOptions {
  /** Opens the store; throws RepositoryLockedError after waiting `waitMs` for another process. */
  readonly open: (waitMs: number) => Promise<LevelObjectStore>
  /** How long a request waits for another command to release the repository (ms). */
  readonly waitMs: number
  /** How long the store stays open after the last request, to serve the next burst without reopening (ms). */
  readonly lingerMs: number
  /** Longest time the store is kept open while requests keep coming (ms; default 500). */
  readonly maxHoldMs?: number
  /** How long the store stays closed after `maxHoldMs` (ms; default 400, above the 250 ms back-off of waiting commands). */
  readonly yieldMs?: number
}

export class StoreLease {
  private store: LevelObjectStore | undefined
  private openedAt = 0
  private opening: Promise<LevelObjectStore> | undefined
  private closing: Promise<void> | undefined
  /** Set while the store is handed over: running requests finish, the store closes, then rests. */
  private gate: Promise<void> | undefined
  private active = 0
  private idle: Array<() => void> = []
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  /** Times the store was opened (the docs' measurements and tests read it). */
  opens = 0

  constructor (private readonly options: LeaseOptions) {}

  /** Runs `fn` with the store open. */
  async use<T> (fn: (store: LevelObjectStore) => Promise<T>): Promise<T> {
    if (this.stopped) throw new TypeError('the UI server is stopping')
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    const store = await this.acquire()
    try {
      return await fn(store)
    } finally {
      this.active--
      if (this.active === 0) this.released()
    }
  }

  /** True while the store is open or being opened. */
  get isOpen (): boolean { return this.store !== undefined || this.opening !== undefined }

  /** The open store, counted as in use (`active`) before it is returned, so no hand-over can close it under the caller. */
  private async acquire (): Promise<LevelObjectStore> {
    for (;;) {
      if (this.gate !== undefined) { await this.gate; continue }
      if (this.closing !== undefined) { await this.closing; continue }
      if (this.store !== undefined) {
        if (Date.now() - this.openedAt <= (this.options.maxHoldMs ?? 500)) {
          this.active++
          return this.store
        }
        this.gate = this.handOver().finally(() => { this.gate = undefined })
        continue
      }
      if (this.opening === undefined) {
        this.opening = this.options.open(this.options.waitMs).then(s => {
          this.opens++
          this.store = s
          this.openedAt = Date.now()
          return s
        }).finally(() => { this.opening = undefined })
      }
      await this.opening
    }
  }

  private async handOver (): Promise<void> {
    while (this.active > 0) await new Promise<void>(resolve => { this.idle.push(resolve) })
    await this.closeNow()
    await sleep(this.options.yieldMs ?? 400)
  }

  private released (): void {
    const waiting = this.idle
    this.idle = []
    for (const w of waiting) w()
    if (this.gate !== undefined || this.stopped) return
    if (this.options.lingerMs <= 0) { void this.closeNow(); return }
    this.timer = setTimeout(() => { this.timer = undefined; if (this.active === 0 && this.gate === undefined) void this.closeNow() }, this.options.lingerMs)
    this.timer.unref()
  }

  private async closeNow (): Promise<void> {
    if (this.active > 0 || this.store === undefined) return
    const s = this.store
    this.store = undefined
    this.closing = s.close().finally(() => { this.closing = undefined })
    await this.closing
  }

  /** Closes the store once requests in flight are done; later `use` calls fail. */
  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    while (this.active > 0 || this.opening !== undefined || this.gate !== undefined) {
      await Promise.race([this.gate, this.opening?.catch(() => {}), sleep(10)])
    }
    await this.closeNow()
    if (this.closing !== undefined) await this.closing
  }
}
