/**
 * `RetryingRemote`: retries as a wrapper that implements `Remote` around another remote, as restic's
 * backend wrappers do, instead of inside each transport (docs/remotes.md, "Retries"). `openRemote`
 * wraps HTTP and S3 remotes in it; folder and in-memory remotes have no transient failures to retry.
 *
 *   const remote = new RetryingRemote(await openHttpRemote(url), { attempts: 5 })
 *
 * What is retried: operations that are safe to repeat — `hasMany`, `get`, `listRefs`, and `put` (objects
 * are immutable and named by their content, so storing one twice is a no-op) — when they fail with a
 * transient error (`isTransient`): a connection reset or timed out, or HTTP 429, 502, 503 or 504.
 * Everything else (auth, conflicts, corrupt bytes, a refused connection, an unknown host, HTTP 500) is
 * reported at once.
 *
 * `casRef` is never repeated blindly: its first attempt may have been applied with the answer lost. The
 * retry is the same compare-and-swap, which the remote checks against the ref's current value. Either
 * it applies (the first attempt never did), or it fails with REF_CONFLICT carrying the ref's value
 * (`data.actual`): when that is the value asked for, an earlier attempt landed and the update succeeded;
 * anything else is the conflict it looks like.
 *
 * Delays grow exponentially (`baseDelayMs` · 2ⁿ, at most `maxDelayMs`, jittered down by up to half),
 * for at most `attempts` attempts and never starting a retry `budgetMs` after the operation began.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { CID } from 'multiformats/cid'
import { RefConflictError, RemoteError, isMvcError } from '../errors.js'
import type { Remote, RemoteRef } from './interface.js'

export interface RetryPolicy {
  /** Attempts per operation, the first included (default 5). */
  readonly attempts?: number
  /** Delay before the first retry, doubled for each next one (default 100 ms). */
  readonly baseDelayMs?: number
  /** Upper bound on one delay (default 2,000 ms). */
  readonly maxDelayMs?: number
  /** No retry starts once this long has passed since the operation began (default 30,000 ms). */
  readonly budgetMs?: number
  /** Hears every retry before its delay (progress, logs, tests). */
  readonly onRetry?: (event: RetryEvent) => void
}

export interface RetryEvent {
  readonly operation: 'hasMany' | 'get' | 'put' | 'listRefs' | 'casRef'
  /** The attempt that failed (1 = the first). */
  readonly attempt: number
  readonly delayMs: number
  readonly error: unknown
}

export const DEFAULT_RETRY_POLICY = { attempts: 5, baseDelayMs: 100, maxDelayMs: 2_000, budgetMs: 30_000 } as const

/** HTTP statuses that say "try again later": too many requests, and a gateway or server that is briefly unavailable. */
export const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504])
/**
 * Network errors after which the same request may well succeed: the connection was reset or aborted
 * (possibly after the request was handled), a write hit a closed socket, no progress, a temporary DNS
 * failure. A refused connection and an unknown host are not among them: they are reported at once.
 */
export const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT', 'EAI_AGAIN'])

/**
 * True for a failure worth retrying: a REMOTE_ERROR whose `data.status` is a transient HTTP status or
 * whose `data.cause` is a transient network error code (the HTTP and S3 transports fill both in).
 */
export function isTransient (err: unknown): boolean {
  if (!isMvcError(err) || err.code !== RemoteError.code) return false
  const { status, cause } = err.data as { status?: unknown, cause?: unknown }
  if (typeof status === 'number') return TRANSIENT_STATUSES.has(status)
  return typeof cause === 'string' && TRANSIENT_NETWORK_CODES.has(cause)
}

export class RetryingRemote implements Remote {
  readonly url: string
  readonly flush?: () => Promise<void>
  readonly keepsClosures?: () => Promise<boolean>
  readonly collectGarbage?: Remote['collectGarbage']
  readonly listObjects?: Remote['listObjects']
  readonly deleteObjects?: Remote['deleteObjects']
  private readonly attempts: number
  private readonly baseDelayMs: number
  private readonly maxDelayMs: number
  private readonly budgetMs: number

  constructor (readonly inner: Remote, private readonly policy: RetryPolicy = {}) {
    this.url = inner.url
    this.attempts = Math.max(1, policy.attempts ?? DEFAULT_RETRY_POLICY.attempts)
    this.baseDelayMs = Math.max(0, policy.baseDelayMs ?? DEFAULT_RETRY_POLICY.baseDelayMs)
    this.maxDelayMs = Math.max(this.baseDelayMs, policy.maxDelayMs ?? DEFAULT_RETRY_POLICY.maxDelayMs)
    this.budgetMs = Math.max(0, policy.budgetMs ?? DEFAULT_RETRY_POLICY.budgetMs)
    // Batching remotes make puts durable on flush; it is passed through (flushing is not retried:
    // a remote that batches is local).
    if (inner.flush !== undefined) this.flush = async () => { await inner.flush!() }
    // What the remote vouches for is the remote's (its /v1/info, fetched with retries like any request).
    if (inner.keepsClosures !== undefined) this.keepsClosures = async () => await this.retry('hasMany', async () => await inner.keepsClosures!())
    // gc is passed through, not retried: one run at a time, and a failure is worth seeing. Listing
    // pages are the transport's; deleting is idempotent, retried like a put.
    if (inner.collectGarbage !== undefined) this.collectGarbage = async request => await inner.collectGarbage!(request)
    if (inner.listObjects !== undefined) this.listObjects = () => inner.listObjects!()
    if (inner.deleteObjects !== undefined) this.deleteObjects = async cids => { await this.retry('put', async () => { await inner.deleteObjects!(cids) }) }
  }

  async hasMany (cids: readonly CID[]): Promise<boolean[]> {
    return await this.retry('hasMany', async () => await this.inner.hasMany(cids))
  }

  async get (cid: CID): Promise<Uint8Array> {
    return await this.retry('get', async () => await this.inner.get(cid))
  }

  async put (cid: CID, bytes: Uint8Array): Promise<void> {
    await this.retry('put', async () => { await this.inner.put(cid, bytes) })
  }

  async listRefs (prefix: string): Promise<RemoteRef[]> {
    return await this.retry('listRefs', async () => await this.inner.listRefs(prefix))
  }

  async casRef (name: string, expect: string | null, value: string | null): Promise<void> {
    await this.retry('casRef', async attempt => {
      try {
        await this.inner.casRef(name, expect, value)
      } catch (err) {
        // After a transient failure, the retried CAS reads the ref: at the value asked for means an
        // earlier attempt was applied and only its answer was lost.
        if (attempt > 1 && isMvcError(err) && err.code === RefConflictError.code && (err.data.actual ?? null) === value) return
        throw err
      }
    })
  }

  async close (): Promise<void> {
    await this.inner.close()
  }

  private delay (attempt: number): number {
    const d = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1))
    return Math.round(d / 2 + Math.random() * d / 2)
  }

  private async retry<T> (operation: RetryEvent['operation'], fn: (attempt: number) => Promise<T>): Promise<T> {
    const start = Date.now()
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(attempt)
      } catch (error) {
        if (attempt >= this.attempts || !isTransient(error)) throw error
        const delayMs = this.delay(attempt)
        if (Date.now() - start + delayMs > this.budgetMs) throw error
        this.policy.onRetry?.({ operation, attempt, delayMs, error })
        await sleep(delayMs)
      }
    }
  }
}

/** `remote` wrapped in a `RetryingRemote` (once: an already retrying remote is returned as it is); `false` turns retries off. */
export function withRetries (remote: Remote, policy: RetryPolicy | false = {}): Remote {
  if (policy === false || remote instanceof RetryingRemote) return remote
  return new RetryingRemote(remote, policy)
}
