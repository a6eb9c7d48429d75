/**
 * Remotes: the `Remote` contract, the folder remote, opening remotes by URL, their configuration, and
 * the negotiation and streaming of objects (docs/remotes.md).
 */
export type { Remote, RemoteRef } from './interface.js'
export { StoreRemote, FolderRemote, openFolderRemote, folderStoreDir, checkRefName, FLUSH_BYTES } from './folder.js'
export type { StoreRemoteOptions, OpenFolderOptions } from './folder.js'
export { openRemote } from './open.js'
export type { OpenRemoteOptions } from './open.js'
export {
  addRemoteConfig, removeRemoteConfig, getRemoteConfig, requireRemoteConfig, listRemoteConfigs, normalizeRemoteUrl,
  validateRemoteName, remoteScheme, folderPath, partialRemote, DEFAULT_REMOTE, REMOTES, PARTIAL_KEY
} from './config.js'
export type { RemoteConfig, RemoteScheme } from './config.js'
export { negotiate, sendObjects, objectLinks, pool, storeSource, StoreTarget } from './transfer.js'
export type { TransferProgress, TransferPhase, ProgressFn, ObjectSource, ObjectTarget, Link, LinkKind, TransferPlan, PlannedObject, WalkOptions, SendOptions } from './transfer.js'
