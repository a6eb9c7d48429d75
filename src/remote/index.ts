/**
 * Remote transports: they move objects and refs, nothing more (docs/remotes.md). What to send, in
 * which order, and when a ref may move is decided in the core (src/core/transfer.ts, src/core/sync.ts).
 *
 * Glossary:
 * - remote: another object store reached over a transport (`Remote`, interface.ts).
 * - folder remote: a bare store on a local or mounted file system (folder.ts).
 * - HTTP remote: an `mvc serve` server (http-client.ts; the server side is http-server.ts).
 * - S3 remote: a bucket prefix (s3.ts).
 */
export type { Remote, RemoteRef } from './interface.js'
export { StoreRemote, FolderRemote, openFolderRemote, folderStoreDir, checkRefName, FLUSH_BYTES } from './folder.js'
export type { StoreRemoteOptions, OpenFolderOptions } from './folder.js'
export { openRemote } from './open.js'
export type { OpenRemoteOptions } from './open.js'
export { normalizeRemoteUrl, remoteScheme, folderPath, type RemoteScheme } from './url.js'
