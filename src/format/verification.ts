/**
 * The verification record a commit carries (docs/design.md, "Verification"): which runtime recorded
 * reference outputs, with which tolerance, and for each model either the `mvc/tensor` objects of its
 * inputs and outputs or why it could not be recorded. Pure types and the parser; the core fills it
 * (src/core/verify/) and checks against it.
 */
import { CID } from 'multiformats/cid'

/** Outputs match when |a − e| ≤ atol + rtol·|e| element-wise (numpy's allclose). */
export interface Tolerance { readonly atol: number, readonly rtol: number }
export const DEFAULT_TOLERANCE: Tolerance = Object.freeze({ atol: 1e-5, rtol: 1e-5 })

/** The runtime that recorded a model's outputs: its id ('tfjs', 'python-tensorflow'), version and backend. */
export interface RuntimeRecord { readonly id: string, readonly version: string, readonly backend: string }

export type ModelVerification =
  | { readonly path: string, readonly status: 'recorded', readonly inputs: readonly CID[], readonly outputs: readonly CID[], readonly runtime?: RuntimeRecord }
  | { readonly path: string, readonly status: 'skipped', readonly reason: string }

export interface VerificationRecord {
  /** The runtime's backend that recorded the outputs ('wasm', 'cpu', 'tensorflow'), or 'none'. */
  readonly backend: string
  readonly tfjsVersion: string
  readonly tolerance: Tolerance
  readonly models: readonly ModelVerification[]
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && CID.asCID(v) === null
}

function links (v: unknown): CID[] | undefined {
  if (!Array.isArray(v)) return undefined
  const out: CID[] = []
  for (const x of v) {
    const c = CID.asCID(x)
    if (c === null) return undefined
    out.push(c)
  }
  return out
}

/**
 * A commit's `verification` field, or null when none was recorded or the value is not a record this
 * version understands (it is then treated as not recorded; the bytes are kept as they are).
 */
export function parseVerificationRecord (v: unknown): VerificationRecord | null {
  if (!isRecord(v) || !Array.isArray(v.models) || typeof v.backend !== 'string' || !isRecord(v.tolerance)) return null
  const t = v.tolerance
  if (typeof t.atol !== 'number' || typeof t.rtol !== 'number') return null
  const models: ModelVerification[] = []
  for (const m of v.models) {
    if (!isRecord(m) || typeof m.path !== 'string') return null
    if (m.status === 'recorded') {
      const inputs = links(m.inputs)
      const outputs = links(m.outputs)
      if (inputs === undefined || outputs === undefined) return null
      const rt = m.runtime
      const runtime = isRecord(rt) && typeof rt.id === 'string' && typeof rt.version === 'string' && typeof rt.backend === 'string'
        ? { id: rt.id, version: rt.version, backend: rt.backend }
        : undefined
      models.push(runtime === undefined ? { path: m.path, status: 'recorded', inputs, outputs } : { path: m.path, status: 'recorded', inputs, outputs, runtime })
    } else if (m.status === 'skipped' && typeof m.reason === 'string') {
      models.push({ path: m.path, status: 'skipped', reason: m.reason })
    } else return null
  }
  return { backend: v.backend, tfjsVersion: typeof v.tfjsVersion === 'string' ? v.tfjsVersion : 'none', tolerance: { atol: t.atol, rtol: t.rtol }, models }
}
