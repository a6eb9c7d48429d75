/**
 * Opening a remote by URL (docs/remotes.md, "URL forms"):
 *
 *   /abs/path, ./rel/path, file:///abs/path   folder remote (src/remote/folder.ts)
 *   http://host:port/…, https://…            `mvc serve` over HTTP: module ./http-client.js
 *   s3://bucket/prefix                       S3: module ./s3.js
 *   memory://name                            in-memory remote (memory.ts): never opened by URL, only passed as a transport
 *
 * HTTP and S3 remotes are wrapped in a `RetryingRemote` (retry.ts): the transports make one attempt
 * per operation, retries are this one wrapper. Folder remotes are not wrapped (nothing transient).
 *
 * The HTTP and S3 transports are loaded on demand by a computed specifier, so a command that never
 * talks to them never loads them (the AWS SDK is large). Each exports `open(url, options): Promise<Remote>`
 * (also accepted under the names `openHttpRemote` / `openS3Remote`, `openRemote`, or as the default export).
 */
import { InvalidArgumentError, RemoteError } from '../errors.js'
import type { Remote } from './interface.js'
import { folderPath, remoteScheme } from './url.js'
import { openFolderRemote } from './folder.js'
import { withRetries, type RetryPolicy } from './retry.js'
import type { HttpRemoteOptions } from './http-client.js'
import type { S3RemoteOptions } from './s3.js'

export interface OpenRemoteOptions {
  /** Bearer token for HTTP remotes (default: the MVC_TOKEN environment variable). */
  readonly token?: string
  /** Folder remotes: create a bare store if there is none (push). */
  readonly create?: boolean
  /** Folder remotes: how long to wait for another process holding the remote's store. */
  readonly lockTimeoutMs?: number
  /** Options stored with the remote's configuration (`m/remote/<name>`), passed to the transport. */
  readonly config?: Readonly<Record<string, unknown>>
  /** HTTP and S3 remotes: how failed operations are retried (docs/remotes.md, "Retries"); `false`: not at all. */
  readonly retry?: RetryPolicy | false
  /** HTTP remotes: where partial downloads are kept to be resumed (the repository's `.mvc/tmp/downloads`). */
  readonly downloadDir?: string
}

type Opener = (url: string, options: OpenRemoteOptions) => Promise<Remote>

const TRANSPORTS = {
  http: { module: './http-client.js', names: ['open', 'openHttpRemote', 'openRemote', 'default'], what: 'HTTP remotes (mvc serve)' },
  s3: { module: './s3.js', names: ['open', 'openS3Remote', 'openRemote', 'default'], what: 'S3 remotes' }
} as const

async function loadTransport (kind: 'http' | 's3', url: string): Promise<Opener> {
  const t = TRANSPORTS[kind]
  const specifier = new URL(t.module, import.meta.url).href
  let mod: Record<string, unknown>
  try {
    mod = await import(specifier) as Record<string, unknown>
  } catch (err) {
    const e = err as { code?: string, message?: string }
    if (e?.code === 'ERR_MODULE_NOT_FOUND' && (e.message ?? '').includes(t.module.slice(2))) {
      throw new RemoteError(`${t.what} are not available in this build of mvc (no ${t.module.slice(2)}); cannot open ${url}`, { url, transport: kind }, { cause: err })
    }
    throw err
  }
  for (const n of t.names) {
    if (typeof mod[n] === 'function') return mod[n] as Opener
  }
  throw new RemoteError(`${t.module.slice(2)} does not export an opener (${t.names.join(', ')}); cannot open ${url}`, { url, transport: kind })
}

/** Opens the remote at `url`. */
export async function openRemote (url: string, options: OpenRemoteOptions = {}): Promise<Remote> {
  if (typeof url !== 'string' || url === '') throw new InvalidArgumentError('a remote URL cannot be empty', { url })
  const scheme = remoteScheme(url)
  if (scheme === 'folder') {
    return await openFolderRemote(folderPath(url), { create: options.create, lockTimeoutMs: options.lockTimeoutMs })
  }
  if (scheme === 'memory') {
    throw new RemoteError(`${url} is an in-memory remote: it exists only inside the process that created it and cannot be opened by URL; pass the open remote as the transport`, { url })
  }
  const token = options.token ?? (process.env.MVC_TOKEN !== undefined && process.env.MVC_TOKEN !== '' ? process.env.MVC_TOKEN : undefined)
  const opener = await loadTransport(scheme, url)
  return withRetries(await opener(url, { ...options, token }), options.retry)
}

/** An HTTP remote as `openRemote` opens one (with retries), taking the HTTP transport's own options. */
export async function openHttpRemote (url: string, options: HttpRemoteOptions & { readonly retry?: RetryPolicy | false } = {}): Promise<Remote> {
  const opener = await loadTransport('http', url)
  return withRetries(await opener(url, options), options.retry)
}

/** An S3 remote as `openRemote` opens one (with retries), taking the S3 transport's own options. */
export async function openS3Remote (url: string, options: S3RemoteOptions & { readonly retry?: RetryPolicy | false } = {}): Promise<Remote> {
  const opener = await loadTransport('s3', url)
  return withRetries(await opener(url, options), options.retry)
}
