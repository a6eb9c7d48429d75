/**
 * Generic comparisons of decoded values (JSON-like, with CIDs), shared by the topology and lineage diffs.
 */
import { CID } from 'multiformats/cid'

// ---------------------------------------------------------------------------------------------------
// generic value helpers

export function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !isCid(v)
}

export function isCid (v: unknown): v is CID {
  return typeof v === 'object' && v !== null && (v as { asCID?: unknown }).asCID === v
}

/** Structural equality of decoded dag-cbor / JSON values. */
export function deepEqual (a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b)
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (isCid(a) || isCid(b)) return isCid(a) && isCid(b) && a.equals(b)
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i])
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  }
  const ra = a as Record<string, unknown>
  const rb = b as Record<string, unknown>
  const ka = Object.keys(ra).filter(k => ra[k] !== undefined)
  const kb = Object.keys(rb).filter(k => rb[k] !== undefined)
  return ka.length === kb.length && ka.every(k => Object.prototype.hasOwnProperty.call(rb, k) && deepEqual(ra[k], rb[k]))
}

/** Dotted paths of the fields that differ, descending into maps up to `depth` levels. */
export function changedFields (a: unknown, b: unknown, prefix: string, depth: number): string[] {
  if (deepEqual(a, b)) return []
  if (depth <= 0 || !isRecord(a) || !isRecord(b)) return [prefix]
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
  return keys.flatMap(k => changedFields(a[k], b[k], prefix === '' ? k : `${prefix}.${k}`, depth - 1))
}

export function isShapeField (key: string): boolean {
  const last = key.split('.').pop() ?? key
  return /(^|_)shapes?$/i.test(last)
}

/** A GraphDef shape attr (`{ shape: { dim: [{ size: '-1' }] } }`, `{ list: { shape: [...] } }`) as plain arrays. */
export function plainShape (v: unknown): unknown {
  if (!isRecord(v)) return v
  if (isRecord(v.shape)) return plainShape(v.shape)
  if (isRecord(v.list) && Array.isArray(v.list.shape)) return v.list.shape.map(plainShape)
  if (v.unknownRank === true) return null
  if (Array.isArray(v.dim)) return v.dim.map(d => isRecord(d) ? Number(d.size ?? -1) : d)
  // A TensorShapeProto with no dims is a scalar.
  return Object.keys(v).length === 0 ? [] : v
}
