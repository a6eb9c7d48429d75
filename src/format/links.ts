/**
 * The links of repository objects, classified: a commit's `parents`, its `model` manifest (or the
 * manifests of its `paths`), its `data`
 * manifest (whose files are deliberately not stored), and everything else (`content`). Pure; used by
 * transfers (what to send) and fsck (what to check).
 */
import { CID } from 'multiformats/cid'

export type LinkKind = 'parent' | 'model' | 'data' | 'content'
export interface Link {
  readonly cid: CID
  readonly kind: LinkKind
  /** Size of the linked chunk when the link says it ([cid, length] or [cid, length, offset]). */
  readonly size?: number
}

/** Every link of a decoded object, classified (see the module comment). */
export function objectLinks (value: unknown): Link[] {
  const out: Link[] = []
  const scan = (v: unknown, kind: LinkKind): void => {
    const c = CID.asCID(v)
    if (c !== null) { out.push({ cid: c, kind }); return }
    if (v instanceof Uint8Array || v === null || typeof v !== 'object') return
    if (Array.isArray(v)) {
      // [cid, length] and [cid, length, offset] (file extents, tensor chunks) say how big the chunk is at least.
      const head = CID.asCID(v[0])
      if (head !== null && (v.length === 2 || v.length === 3) && v.slice(1).every(n => typeof n === 'number')) {
        out.push({ cid: head, kind, size: (v[1] as number) + ((v[2] as number | undefined) ?? 0) })
        return
      }
      for (const x of v) scan(x, kind)
      return
    }
    for (const x of Object.values(v)) scan(x, kind)
  }
  const r = value as Record<string, unknown> | null
  if (r !== null && typeof r === 'object' && r.type === 'mvc/commit') {
    for (const [k, v] of Object.entries(r)) {
      if (k === 'parents') scan(v, 'parent')
      else if (k === 'model' || k === 'paths') scan(v, 'model')
      else if (k === 'data' && v !== null && typeof v === 'object' && (v as Record<string, unknown>).kind === 'snapshot') {
        for (const [dk, dv] of Object.entries(v as Record<string, unknown>)) scan(dv, dk === 'manifest' ? 'data' : 'content')
      } else scan(v, 'content')
    }
    return out
  }
  scan(value, 'content')
  return out
}

