/**
 * Shapes of a commit's lineage fields (docs/design.md, "Lineage"). Pure types and parsers; the core
 * fills them (src/core/data.ts, src/core/code.ts, src/core/params.ts) and diff/log read them.
 */
import { CID } from 'multiformats/cid'

/**
 * `data`: what the model was trained on.
 * - snapshot: the training data folder or file hashed with the same scheme as models (chunks → file
 *   objects → an `mvc/manifest`); only the manifest object is stored, the data itself is not.
 * - ref: an external identifier (`s3://bucket/key?versionId=…`, a DVC hash) recorded as given.
 */
export type DataLineage =
  | { readonly kind: 'snapshot', readonly manifest: CID, readonly path: string, readonly files: number, readonly bytes: number }
  | { readonly kind: 'ref', readonly ref: string }

/** `code`: the git commit the training code was at. `none` when no git repository encloses it. */
export type CodeLineage =
  | { readonly kind: 'git', readonly oid: string, readonly branch: string | null, readonly remote: string | null, readonly dirty: boolean, readonly dirtyPaths: readonly string[] }
  | { readonly kind: 'none', readonly reason: string }

/** `environment`: where the commit was made. */
export interface EnvironmentLineage {
  readonly mvc: string
  readonly node: string
  readonly platform: string
  readonly arch: string
  /** TF.js version and backend used for verification, null when TF.js was not loaded. */
  readonly tfjs: string | null
  readonly backend: string | null
}

/** Scalar values allowed in params and metrics (numbers stay numbers). */
export type ParamValue = string | number | boolean | null

export function parseDataLineage (v: unknown): DataLineage | null {
  if (typeof v !== 'object' || v === null) return null
  const r = v as Record<string, unknown>
  if (r.kind === 'ref' && typeof r.ref === 'string') return { kind: 'ref', ref: r.ref }
  const m = CID.asCID(r.manifest)
  if (r.kind === 'snapshot' && m !== null && typeof r.path === 'string' && typeof r.files === 'number' && typeof r.bytes === 'number') {
    return { kind: 'snapshot', manifest: m, path: r.path, files: r.files, bytes: r.bytes }
  }
  return null
}

export function parseCodeLineage (v: unknown): CodeLineage | null {
  if (typeof v !== 'object' || v === null) return null
  const r = v as Record<string, unknown>
  if (r.kind === 'none' && typeof r.reason === 'string') return { kind: 'none', reason: r.reason }
  if (r.kind === 'git' && typeof r.oid === 'string' && typeof r.dirty === 'boolean' && Array.isArray(r.dirtyPaths)) {
    return {
      kind: 'git',
      oid: r.oid,
      branch: typeof r.branch === 'string' ? r.branch : null,
      remote: typeof r.remote === 'string' ? r.remote : null,
      dirty: r.dirty,
      dirtyPaths: r.dirtyPaths.filter((p): p is string => typeof p === 'string')
    }
  }
  return null
}

export function parseEnvironmentLineage (v: unknown): EnvironmentLineage | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null
  const r = v as Record<string, unknown>
  const text = (x: unknown): string => typeof x === 'string' ? x : String(x)
  return {
    mvc: text(r.mvc),
    node: text(r.node),
    platform: text(r.platform),
    arch: text(r.arch),
    tfjs: typeof r.tfjs === 'string' ? r.tfjs : null,
    backend: typeof r.backend === 'string' ? r.backend : null
  }
}

/** A short human form: the data manifest CID or the external ref. */
export function dataId (d: DataLineage | null): string | null {
  if (d === null) return null
  return d.kind === 'ref' ? d.ref : d.manifest.toString()
}
