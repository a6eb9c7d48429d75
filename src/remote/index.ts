/**
 * Remote transports: they move objects and refs, nothing more (docs/remotes.md). What to send, in
 * which order, and when a ref may move is decided in the core (src/core/transfer.ts, src/core/sync.ts).
 *
 * Glossary:
 * - remote: another object store reached over a transport (`Remote`, interface.ts).
 * - store remote: the `Remote` contract over an mvc object store, batching puts (store.ts).
 * - folder remote: a bare store on a local or mounted file system (folder.ts).
 * - memory remote: a store remote over the in-memory store (memory.ts).
 * - HTTP remote: an `mvc serve` server (http-client.ts; the server side is http-server.ts).
 * - S3 remote: a bucket prefix (s3.ts).
 * - retrying remote: a wrapper that retries another remote's transient failures (retry.ts).
 */
export type { Remote, RemoteRef } from './interface.js'
export { StoreRemote, checkRefName, FLUSH_BYTES } from './store.js'
export type { StoreRemoteOptions } from './store.js'
export { FolderRemote, openFolderRemote, folderStoreDir } from './folder.js'
export type { OpenFolderOptions } from './folder.js'
export { MemoryRemote } from './memory.js'
export { RetryingRemote, withRetries, isTransient, DEFAULT_RETRY_POLICY } from './retry.js'
export type { RetryPolicy, RetryEvent } from './retry.js'
export { openRemote, openHttpRemote, openS3Remote } from './open.js'
export type { OpenRemoteOptions } from './open.js'
export { normalizeRemoteUrl, remoteScheme, folderPath, type RemoteScheme } from './url.js'
