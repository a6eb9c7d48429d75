/**
 * The library API, and everything the CLI may use: the CLI imports this module and nothing below it.
 *
 * Glossary:
 * - Repository: an open repository (`Repository.open`, `.init`, `.clone`), one method per operation.
 * - revision: `v3`, a tag, an alias, a branch, `HEAD`, a CID prefix, each with optional `~n` / `^`.
 * - verification: reference inputs and outputs recorded at commit and compared at checkout/verify.
 */
export {
  Repository, defaultAuthor, defaultTimestamp, cloneDirName, configure, repositoryAuthor,
  type OpenRepositoryOptions, type CommitArgs, type CheckoutArgs, type ShowResult, type VerifyArgs, type LineageArgs,
  type RemoteArgs, type PushArgs, type FetchArgs, type LsRemoteArgs, type PullArgs, type PullResult, type CloneArgs, type CloneResult,
  type TrustArgs, type KeyArgs
} from './repository.js'
export { serve, type ServeArgs, type Serving } from './serve.js'
export { outputSettings } from './settings.js'
export { ui, type UiArgs, type UiServer } from './ui.js'
export * from '../errors.js'

// Types of results.
export type { CommitResult, Lineage } from '../core/commit.js'
export type { InitResult } from '../core/init.js'
export type { ConfigEntry, ConfigLevel, ConfigValue } from '../core/config.js'
export { CONFIG_KEYS } from '../core/config.js'
export type { CheckoutOutcome } from '../core/checkout.js'
export type { ModelSummary } from '../core/show.js'
export type { CheckoutResult, StatusResult } from '../core/worktree.js'
export type { LogEntry, LogLine, CommitSummary, LogOptions, GraphNode, GraphRow } from '../core/history.js'
export type { NamedCommit, TagResult, AliasResult, AliasLogEntry, BranchInfo, SwitchResult } from '../core/names.js'
export type { DiffResult, DiffSummary, DiffEndpoint, TensorDiff, TensorStats, TopologyChange } from '../core/diff/index.js'
export type { OutputsDiff, ModelOutputsDiff, OutputChange } from '../core/diff/outputs.js'
export type { VerificationReport, ModelCheck, OutputComparison, OutputResult, VerifyProgress } from '../core/verify/index.js'
export type { FetchResult, PushResult, RefChange } from '../core/sync.js'
export type { AliasChange, AliasSyncStatus, MoveInfo } from '../core/alias-sync.js'
export type { LsRemoteResult, ListedRef, RefFilter, RemoteRefKind } from '../core/ls-remote.js'
export type { ProgressFn, TransferProgress } from '../core/transfer.js'
export type { FsckReport } from '../core/fsck.js'
export type { GcReport, GcOptions } from '../core/gc.js'
export type { RemoteGcResult } from '../core/gc-remote.js'
export type { RmResult, RemovedVersion, UndoneVersion, Tombstone } from '../core/lifecycle.js'
export type { GeneratedKey, SignResult, SignatureCheck, SignedResult, TrustedKey } from '../core/sign.js'
export type { ExportBundleResult, VerifyBundleResult, FileDigest, DigestStats } from '../core/sign-openssf.js'
export type { ExportResult as CarExportResult, ImportResult as CarImportResult, ImportedCommit, CarProgress } from '../core/car.js'
export type { SignatureAlgorithm } from '../format/objects.js'
export type { RepairReport, RepairLoss } from '../core/repair.js'
export type { RemoteConfig } from '../core/remotes.js'
export type { CommitObject, Manifest, ManifestEntry, FileObject, Author, ModelContract, TensorContract } from '../format/objects.js'
export type { DataLineage, CodeLineage, EnvironmentLineage, ParamValue } from '../format/lineage.js'
export type { VerificationRecord, ModelVerification, Tolerance, RuntimeRecord, OutputReference, OutputCheck } from '../format/verification.js'
export type { BackendName } from '../formats/tfjs/runtime.js'
export type { Remote, RemoteRef } from '../remote/interface.js'

// Helpers the CLI shares with library users.
export { parseAssignments } from '../core/lineage/params.js'
export { graphRows } from '../core/history.js'
export { remoteScheme } from '../remote/url.js'
export { artifactsToFiles, filesToArtifacts } from '../formats/tfjs/artifacts.js'
