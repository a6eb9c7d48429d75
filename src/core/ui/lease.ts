/**
 * The UI's access to the store: opened when a request needs it and closed as soon as none does.
 *
 * LevelDB lets one process open a database at a time, and every mvc command holds it while it runs
 * (src/store/open.ts). A UI that kept the store open would make every other command on the repository
 * wait and then fail with REPOSITORY_LOCKED. So the UI holds it only while requests are being answered:
 * the first request opens it (waiting up to `waitMs` while another command holds it), requests that
 * arrive meanwhile share it, and it is closed `lingerMs` after the last one finishes. Another command
 * waits at most as long as the requests in flight take (its own wait is MVC_LOCK_TIMEOUT_MS, 10 s by
 * default). Nothing here writes: the UI never opens a transaction.
 */
import type { LevelObjectStore } from '../../store/level-store.js'

export interface LeaseOptions {
  /** Opens the store; throws RepositoryLockedError after waiting `waitMs` for another process. */
  readonly open: (waitMs: number) => Promise<LevelObjectStore>
  /** How long a request waits for another command to release the repository (ms). */
  readonly waitMs: number
  /** How long the store stays open after the last request, to serve the next burst without reopening (ms). */
  readonly lingerMs: number
}

export class StoreLease {
  private store: LevelObjectStore | undefined
  private opening: Promise<LevelObjectStore> | undefined
  private closing: Promise<void> | undefined
  private users = 0
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  /** Times the store was opened (for tests and the docs' measurements). */
  opens = 0

  constructor (private readonly options: LeaseOptions) {}

  /** Runs `fn` with the store open. */
  async use<T> (fn: (store: LevelObjectStore) => Promise<T>): Promise<T> {
    if (this.stopped) throw new TypeError('the UI server is stopping')
    this.users++
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    try {
      const store = await this.acquire()
      return await fn(store)
    } finally {
      this.users--
      if (this.users === 0) this.scheduleClose()
    }
  }

  /** True while the store is open (tests check that it is closed between requests). */
  get isOpen (): boolean { return this.store !== undefined || this.opening !== undefined }

  private async acquire (): Promise<LevelObjectStore> {
    if (this.closing !== undefined) await this.closing
    if (this.store !== undefined) return this.store
    if (this.opening === undefined) {
      this.opening = this.options.open(this.options.waitMs).then(s => {
        this.opens++
        this.store = s
        return s
      }).finally(() => { this.opening = undefined })
    }
    return await this.opening
  }

  private scheduleClose (): void {
    if (this.options.lingerMs <= 0) { void this.closeNow(); return }
    this.timer = setTimeout(() => { this.timer = undefined; void this.closeNow() }, this.options.lingerMs)
    this.timer.unref()
  }

  private async closeNow (): Promise<void> {
    if (this.users > 0 || this.store === undefined) return
    const s = this.store
    this.store = undefined
    this.closing = s.close().finally(() => { this.closing = undefined })
    await this.closing
  }

  /** Closes the store once requests in flight are done; later `use` calls fail. */
  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    while (this.users > 0 || this.opening !== undefined) await new Promise(resolve => setTimeout(resolve, 10))
    await this.closeNow()
    if (this.closing !== undefined) await this.closing
  }
}
