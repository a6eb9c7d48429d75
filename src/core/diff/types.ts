/**
 * The shapes of a diff's result (public: returned by `Repository.diff`, printed by `mvc diff`).
 */
import type { CID } from 'multiformats/cid'
import type { Repo } from '../repo.js'
import type { ModelContract } from '../../format/objects.js'

// ---------------------------------------------------------------------------------------------------
// result shapes (documented in docs/cli.md, "mvc diff")

export interface DiffEndpoint {
  /** The revision as given; null for the working folder. */
  readonly rev: string | null
  readonly cid: CID | null
  readonly version: number | null
  /** Repository-relative path of the commit (or of the working folder compared). */
  readonly path: string
  /** Manifest CID (for the working folder: what a commit would produce); null when it does not exist. */
  readonly manifest: CID | null
  readonly worktree: boolean
  readonly exists: boolean
}

export type ModelStatus = 'added' | 'removed' | 'modified' | 'unchanged'

export interface ModelDiff {
  /** Path of the model JSON, relative to the committed root. */
  readonly path: string
  readonly status: ModelStatus
  readonly format: { readonly a: string | null, readonly b: string | null }
  /** `mvc/model` CIDs. */
  readonly a: CID | null
  readonly b: CID | null
  /** Shard files of each side, only when they differ (re-sharding); null otherwise. */
  readonly shards: { readonly a: readonly string[], readonly b: readonly string[] } | null
  /** The model JSON file's bytes differ (for a modified model; may be formatting only). */
  readonly jsonChanged: boolean
}

export type TopologyChangeKind =
  | 'layer-added' | 'layer-removed' | 'layer-changed' | 'layer-order-changed'
  | 'node-added' | 'node-removed' | 'node-changed'
  | 'weight-shape-changed' | 'config-changed' | 'meta-changed' | 'format-changed'

export interface ShapeChange { readonly field: string, readonly a: unknown, readonly b: unknown }

export interface TopologyChange {
  readonly kind: TopologyChangeKind
  /** Layer, node or weight name; null for model-wide changes. */
  readonly name: string | null
  /** Layer class_name or node op (b's when both exist); null when not applicable. */
  readonly type: string | null
  /** Changed fields, dotted (`config.units`, `attr.T`, `input`, `generatedBy`); [] when not applicable. */
  readonly fields: readonly string[]
  /** Shape changes among those fields (and a weight's shape). */
  readonly shapes: readonly ShapeChange[]
}

export interface ModelTopologyDiff {
  readonly model: string
  readonly changes: readonly TopologyChange[]
}

export interface TensorMeta {
  readonly dtype: string
  readonly shape: readonly number[]
  readonly quantization: unknown
  readonly size: number
  readonly cid: CID
}

export interface TensorStats {
  /** Elements of the tensor (all of them, including skipped chunks). */
  readonly elements: number
  /** Elements whose values differ. */
  readonly changedElements: number
  /** max |b - a| over finite pairs. */
  readonly maxAbs: number
  /** Σ|b - a| / elements. */
  readonly meanAbs: number
  /** ||b - a|| / ||a||; 0 when both are 0; null when ||a|| = 0 but b ≠ a. */
  readonly relL2: number | null
  /** False when identical chunks were skipped: ||a|| then covers only the chunks read, so relL2 is an upper bound. */
  readonly relL2Exact: boolean
  /** Element pairs where a value is NaN or ±Infinity and the two differ (left out of max, sums and norms). */
  readonly nonFinite: number
  readonly chunks: number
  /** Chunks read, both sides together (including reads for the norm with exactNorm). */
  readonly chunksRead: number
  /** Chunk pairs skipped because both sides had the same chunk CID at the same offset. */
  readonly chunksSkipped: number
}

export type TensorChangeKind = 'values' | 'shape' | 'dtype' | 'quantization'

export interface TensorDiff {
  readonly model: string
  readonly name: string
  readonly status: 'changed' | 'added' | 'removed'
  /** For changed tensors: what changed (shape wins over dtype); null for added/removed. */
  readonly kind: TensorChangeKind | null
  readonly a: TensorMeta | null
  readonly b: TensorMeta | null
  /** Numeric comparison; null when not computed (added/removed, shape or dtype change, strings, unsupported quantization). */
  readonly stats: TensorStats | null
  /** Why there are no stats for a changed tensor (e.g. 'quantized: bytes differ'); null otherwise. */
  readonly note: string | null
  /** The part of the model the tensor belongs to when it is not a weight ('optimizer'). */
  readonly role?: string
}

export interface FileModified {
  readonly path: string
  /** The bytes differ (file CIDs differ). */
  readonly content: boolean
  /** Permission bits on each side when they differ, else null. */
  readonly mode: { readonly a: number, readonly b: number } | null
}

export interface FilesDiff {
  readonly added: readonly string[]
  readonly removed: readonly string[]
  readonly modified: readonly FileModified[]
  readonly dirsAdded: readonly string[]
  readonly dirsRemoved: readonly string[]
}

export interface ValueEntry { readonly name: string, readonly value: unknown }
export interface ChangedEntry { readonly name: string, readonly a: unknown, readonly b: unknown }
export interface MetricChange extends ChangedEntry {
  /** b - a when both are numbers, else null. */
  readonly delta: number | null
}

export interface ParamsDiff {
  readonly added: readonly ValueEntry[]
  readonly removed: readonly ValueEntry[]
  readonly changed: readonly ChangedEntry[]
}
export interface MetricsDiff {
  readonly added: readonly ValueEntry[]
  readonly removed: readonly ValueEntry[]
  readonly changed: readonly MetricChange[]
}

export type LineageStatus = 'none' | 'same' | 'changed' | 'added' | 'removed'

export interface DataDiff {
  readonly status: LineageStatus
  /** The recorded `data` values. */
  readonly a: unknown
  readonly b: unknown
  /** When both are snapshots whose manifests are stored: data files added, modified, removed. */
  readonly files: { readonly added: readonly string[], readonly modified: readonly string[], readonly removed: readonly string[] } | null
}

export interface CodeDiff {
  readonly status: LineageStatus
  readonly a: unknown
  readonly b: unknown
}

export interface DiffCounts { readonly added: number, readonly removed: number, readonly changed: number }

export interface DiffSummary {
  readonly models: { readonly added: number, readonly removed: number, readonly modified: number, readonly unchanged: number }
  readonly topology: { readonly added: number, readonly removed: number, readonly changed: number, readonly shapes: number }
  readonly tensors: { readonly changed: number, readonly added: number, readonly removed: number, readonly unchanged: number }
  readonly files: { readonly added: number, readonly removed: number, readonly modified: number }
  readonly params: DiffCounts | null
  readonly metrics: DiffCounts | null
  readonly data: LineageStatus | null
  readonly code: LineageStatus | null
}

export interface DiffCounters {
  /** Changed tensors whose values were compared numerically. */
  tensorsCompared: number
  /** Tensor chunks read, both sides together. */
  chunksRead: number
  bytesRead: number
  /** Chunk pairs skipped as identical. */
  chunksSkipped: number
  /** Of chunksRead: chunks read only for ||a|| (exactNorm). */
  normChunksRead: number
}

/** A change to what a model takes or gives (`model` is the model's path, or 'metadata.json' for declared inputs). */
export interface ContractDiff {
  readonly model: string
  readonly a: ModelContract | null
  readonly b: ModelContract | null
  /** True when callers of the old model may break. */
  readonly breaking: boolean
  readonly changes: readonly string[]
}

export interface DiffResult {
  readonly a: DiffEndpoint
  readonly b: DiffEndpoint
  /** True when no section has a difference. */
  readonly identical: boolean
  readonly models: readonly ModelDiff[]
  readonly topology: readonly ModelTopologyDiff[]
  readonly tensors: readonly TensorDiff[]
  /** Input/output contract changes (empty when none). */
  readonly contracts: readonly ContractDiff[]
  readonly files: FilesDiff
  /** null when b is the working folder (it has no lineage). */
  readonly params: ParamsDiff | null
  readonly metrics: MetricsDiff | null
  readonly data: DataDiff | null
  readonly code: CodeDiff | null
  readonly summary: DiffSummary
  readonly stats: DiffCounters
}

export interface DiffOptions {
  readonly repo: Repo
  readonly a: string
  /** A revision, or undefined for the working folder at a's committed path. */
  readonly b?: string
  /** Also read the skipped chunks of a, so that relL2 is exact (costs reading a's changed tensors whole). */
  readonly exactNorm?: boolean
  /** Only these tracked paths (`mvc diff v1 v2 -- model`). */
  readonly paths?: readonly string[]
}
