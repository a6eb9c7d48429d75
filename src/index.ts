/**
 * mvc — Git-style, content-addressed version control for TensorFlow.js models.
 *
 * Glossary:
 * - repository: a folder holding `.mvc/` (LevelDB index + pack files).
 * - version: a commit, numbered v1, v2, … in commit order.
 * - manifest: the object listing every file of a committed path.
 * - CID: content identifier (CIDv1, sha2-256; raw chunks or dag-cbor objects).
 */
export { Repository, defaultAuthor, defaultTimestamp } from './api/repository.js'
export type { OpenRepositoryOptions, CommitArgs, ShowResult } from './api/repository.js'
export type { CommitResult, Lineage } from './core/commit.js'
export type { CheckoutResult, StatusResult } from './core/worktree.js'
export type { LogEntry } from './core/history.js'
export type { CommitObject, Manifest, ManifestEntry, FileObject, Author } from './format/objects.js'
export * from './errors.js'
export type { VerifyArgs, CheckoutArgs } from './api/repository.js'
export type { VerificationRecord, VerificationReport, ModelCheck, Tolerance, BackendName } from './core/verify.js'
export type { LogOptions } from './core/history.js'
export type { NamedCommit, TagResult, AliasResult, AliasLogEntry, BranchInfo, SwitchResult } from './core/names.js'
export type { DiffResult, DiffSummary, TensorDiff, TensorStats, TopologyChange } from './core/diff.js'
export type { DataLineage, CodeLineage, EnvironmentLineage, ParamValue } from './format/lineage.js'
export type { Remote, RemoteRef } from './remote/interface.js'
export { artifactsToFiles, filesToArtifacts } from './api/iohandler.js'
