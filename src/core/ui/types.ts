/**
 * The JSON the `mvc ui` server answers (docs/ui.md, "API"). Pure types: the browser code (src/ui/)
 * imports them with `import type`, so both ends agree on the shapes without the bundle importing any
 * Node code. CIDs are strings; sizes are bytes; times are milliseconds since the epoch.
 */

/** A scalar param or metric value as recorded. */
export type Scalar = string | number | boolean | null

/** GET /api/summary */
export interface SummaryResponse {
  /** Absolute path of the repository's working root. */
  readonly root: string
  readonly versions: number
  /** The branch HEAD points at (short name). */
  readonly head: string
  readonly branches: ReadonlyArray<{ readonly name: string, readonly cid: string, readonly version: number, readonly current: boolean }>
  readonly tags: ReadonlyArray<{ readonly name: string, readonly cid: string, readonly version: number }>
  readonly aliases: ReadonlyArray<{ readonly name: string, readonly cid: string, readonly version: number }>
  /** Every metric and param name any version records, sorted, with how many versions record it as a number. */
  readonly metrics: ReadonlyArray<{ readonly name: string, readonly numeric: number }>
  readonly params: ReadonlyArray<{ readonly name: string, readonly numeric: number }>
  /** True when the repository is a partial clone: some versions' content may not be here. */
  readonly partial: boolean
  readonly mvc: string
}

/** One edge of the version graph between a row and the next: from lane `from` to lane `to`. */
export type GraphEdge = readonly [from: number, to: number]

/** A row's place in the version graph (newest version first, like `mvc log --all --graph`). */
export interface GraphCell {
  /** The lane of this version's dot. */
  readonly lane: number
  /** Lines from this row down to the next one. */
  readonly down: readonly GraphEdge[]
}

export interface VersionRow {
  readonly version: number
  readonly cid: string
  /** Versions of the parents (first parent first). */
  readonly parents: readonly number[]
  /** First line of the message. */
  readonly title: string
  readonly author: string
  readonly timestamp: number
  readonly path: string
  /** `HEAD -> main`, `main`, `tag: 1.0.0`, `alias: production`. */
  readonly names: readonly string[]
  readonly metrics: Readonly<Record<string, Scalar>>
  readonly params: Readonly<Record<string, Scalar>>
  /** 'recorded' (every model), 'partial' (some skipped), 'skipped', or 'none'. */
  readonly verification: 'recorded' | 'partial' | 'skipped' | 'none'
  readonly graph: GraphCell
}

/** GET /api/versions?offset=&limit= */
export interface VersionsPage {
  readonly total: number
  readonly offset: number
  readonly limit: number
  /** Newest version first. */
  readonly rows: readonly VersionRow[]
  /** Lines entering the first row from the row above it (on the previous page). */
  readonly incoming: readonly GraphEdge[]
  /** Lanes the graph needs on this page. */
  readonly lanes: number
}

export interface TensorContractJson { readonly name: string, readonly dtype: string, readonly shape: ReadonlyArray<number | null> }

export interface ModelJson {
  readonly path: string
  readonly format: string
  readonly cid: string
  readonly tensors: number
  readonly runnable: boolean
  readonly contract: { readonly inputs: readonly TensorContractJson[], readonly outputs: readonly TensorContractJson[] } | null
  readonly customObjects: readonly string[]
}

/** A reference input or output; `cid` is null for an input generated again from the recorded seed (not stored). */
export interface RecordedTensor { readonly name: string, readonly dtype: string, readonly shape: readonly number[], readonly cid: string | null }

export interface VerificationJson {
  readonly backend: string
  readonly tfjsVersion: string
  readonly tolerance: { readonly atol: number, readonly rtol: number }
  readonly models: ReadonlyArray<
    | { readonly path: string, readonly status: 'recorded', readonly runtime: { readonly id: string, readonly version: string, readonly backend: string } | null, readonly inputs: readonly RecordedTensor[], readonly outputs: readonly RecordedTensor[] }
    | { readonly path: string, readonly status: 'skipped', readonly reason: string }
  >
}

/** GET /api/version/:rev */
export interface VersionDetail {
  readonly version: number
  readonly cid: string
  readonly parents: ReadonlyArray<{ readonly version: number, readonly cid: string }>
  /** Versions whose first or other parent this is. */
  readonly children: ReadonlyArray<{ readonly version: number, readonly cid: string }>
  readonly names: readonly string[]
  readonly message: string
  readonly author: { readonly name: string, readonly email: string }
  readonly timestamp: number
  readonly path: string
  readonly manifest: string
  readonly data:
    | { readonly kind: 'snapshot', readonly manifest: string, readonly path: string, readonly files: number, readonly bytes: number }
    | { readonly kind: 'ref', readonly ref: string } | null
  readonly code:
    | { readonly kind: 'git', readonly oid: string, readonly branch: string | null, readonly remote: string | null, readonly dirty: boolean, readonly dirtyPaths: readonly string[] }
    | { readonly kind: 'none', readonly reason: string } | null
  readonly params: Readonly<Record<string, Scalar>>
  readonly metrics: Readonly<Record<string, Scalar>>
  readonly environment: { readonly mvc: string, readonly node: string, readonly platform: string, readonly arch: string, readonly tfjs: string | null, readonly backend: string | null } | null
  readonly verification: VerificationJson | null
  /** The inputs metadata.json declares (`input_signature`), when it does. */
  readonly inputs: readonly TensorContractJson[] | null
  /** Null when the content is not in this repository (a partial clone that has not fetched it). */
  readonly files: ReadonlyArray<{ readonly path: string, readonly mode: number, readonly size: number, readonly cid: string }> | null
  readonly models: readonly ModelJson[] | null
  /** Why files and models are missing, when they are. */
  readonly missing: string | null
  /** Bytes of the files the version holds (what a checkout writes). */
  readonly bytes: number
}

/** GET /api/metrics?rev= — one column per metric and param, aligned with `versions` (ascending). */
export interface MetricsResponse {
  readonly versions: readonly number[]
  readonly titles: readonly string[]
  readonly metrics: Readonly<Record<string, readonly Scalar[]>>
  readonly params: Readonly<Record<string, readonly Scalar[]>>
}

export interface TensorStatsJson {
  readonly maxAbs: number
  readonly meanAbs: number
  readonly relL2: number | null
  readonly relL2Exact: boolean
  readonly changedElements: number
  readonly elements: number
  readonly nonFinite: number
}

/** One tensor of a model in a comparison; unchanged tensors are listed too, with zero change. */
export interface TensorChange {
  readonly model: string
  readonly name: string
  /** The layer (or node) the tensor belongs to: its name up to the last '/'. */
  readonly layer: string
  /** 'weights', 'optimizer', …: the part of the model it belongs to. */
  readonly role: string
  readonly status: 'unchanged' | 'changed' | 'added' | 'removed'
  readonly kind: 'values' | 'shape' | 'dtype' | 'quantization' | null
  readonly dtype: string
  readonly shape: readonly number[]
  readonly shapeA: readonly number[] | null
  readonly bytes: number
  readonly stats: TensorStatsJson | null
  readonly note: string | null
}

export interface OutputDiff {
  readonly name: string
  readonly shape: readonly number[]
  readonly dtype: string
  readonly maxAbs: number | null
  readonly meanAbs: number | null
  /** Within the newer version's recorded tolerance (|b − a| ≤ atol + rtol·|a|). */
  readonly withinTolerance: boolean
  /** Up to 512 leading elements of each side, for a scatter plot. */
  readonly sampleA: readonly number[]
  readonly sampleB: readonly number[]
  readonly note: string | null
}

/** Outputs of both versions on the reference inputs recorded at commit. */
export interface BehaviourDiff {
  readonly model: string
  /** 'compared', or why not: an input set that differs, nothing recorded on one side. */
  readonly status: 'compared' | 'different-inputs' | 'not-recorded' | 'missing'
  readonly reason: string | null
  readonly runtimeA: string | null
  readonly runtimeB: string | null
  readonly tolerance: { readonly atol: number, readonly rtol: number } | null
  readonly outputs: readonly OutputDiff[]
}

/** GET /api/diff?a=&b= */
export interface CompareResponse {
  readonly a: { readonly rev: string, readonly version: number, readonly cid: string }
  readonly b: { readonly rev: string, readonly version: number, readonly cid: string }
  readonly identical: boolean
  readonly models: ReadonlyArray<{ readonly path: string, readonly status: string, readonly formatA: string | null, readonly formatB: string | null, readonly shardsChanged: boolean }>
  readonly topology: ReadonlyArray<{ readonly model: string, readonly kind: string, readonly name: string | null, readonly type: string | null, readonly fields: readonly string[], readonly shapes: ReadonlyArray<{ readonly field: string, readonly a: unknown, readonly b: unknown }> }>
  readonly contracts: ReadonlyArray<{ readonly model: string, readonly breaking: boolean, readonly changes: readonly string[] }>
  readonly tensors: readonly TensorChange[]
  readonly files: { readonly added: readonly string[], readonly removed: readonly string[], readonly modified: readonly string[] }
  readonly params: ReadonlyArray<{ readonly name: string, readonly a: Scalar | undefined, readonly b: Scalar | undefined }>
  readonly metrics: ReadonlyArray<{ readonly name: string, readonly a: Scalar | undefined, readonly b: Scalar | undefined, readonly delta: number | null }>
  readonly data: { readonly status: string } | null
  readonly code: { readonly status: string } | null
  readonly behaviour: readonly BehaviourDiff[]
  /** How long the server took, in ms (0 when the result came from its cache). */
  readonly ms: number
}

export interface StorageRow {
  readonly version: number
  readonly cid: string
  /** Bytes of the version's files (what a checkout writes). */
  readonly logical: number
  /** Objects first stored by this version (in version order), and their stored bytes. */
  readonly objects: number
  readonly added: number
  /** logical − added: what sharing objects with earlier versions saved. Negative when the version's structure costs more than it shares. */
  readonly saved: number
  /** Objects this version links that are not in the repository (partial clones). */
  readonly missing: number
}

/** GET /api/storage?offset=&limit= (rows newest first) */
export interface StorageResponse {
  /** False while the walk of a long history is under way: `rows`, `chart` and `totals` are then empty; ask again. */
  readonly complete: boolean
  /** Versions walked so far, of `versions`. */
  readonly walked: number
  readonly versions: number
  readonly total: number
  readonly offset: number
  readonly limit: number
  readonly rows: readonly StorageRow[]
  /** Every version, ascending: for the chart. */
  readonly chart: { readonly versions: readonly number[], readonly added: readonly number[], readonly logical: readonly number[] }
  readonly totals: { readonly logical: number, readonly added: number, readonly saved: number, readonly objects: number, readonly packBytes: number }
  /** ms the server spent walking new versions for this answer. */
  readonly ms: number
}

/** Every error answer: `{ error: { code, message } }`. */
export interface ErrorResponse { readonly error: { readonly code: string, readonly message: string } }
