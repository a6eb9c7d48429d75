/**
 * The vocabulary of a repository's lifecycle (docs/design.md, "Deleting versions and gc"): the
 * tombstone of a deleted version, and grace periods. Pure: no I/O.
 *
 * - tombstone: `m/deleted/<commit CID>` → UTF-8 JSON `{ version, at, by, reason, purged }`. The commit
 *   object, its version ref and its place in history stay; only its content (manifest, models, tensors,
 *   files, data snapshot, verification tensors) stops counting as reachable once the grace period has
 *   passed, and `purged` records when a gc removed it.
 * - grace period: how old something must be before gc removes it (`--prune=<when>`, `gc.prune`).
 */
import type { Author } from './objects.js'

export interface Tombstone {
  /** The deleted version's number (the commit's `version`, kept for messages). */
  readonly version: number
  /** When it was deleted, ms since the epoch. */
  readonly at: number
  readonly by: Author
  /** `rm` (named by the user) or `keep-last` (a policy). */
  readonly reason: string
  /** When a gc removed its content (ms), or null while it can still be restored. */
  readonly purged: number | null
}

export function encodeTombstone (t: Tombstone): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ version: t.version, at: t.at, by: { name: t.by.name, email: t.by.email }, reason: t.reason, purged: t.purged }))
}

/** A tombstone's value, or undefined when it is not one (a damaged value is ignored: the version counts as not deleted). */
export function parseTombstone (bytes: Uint8Array): Tombstone | undefined {
  let v: unknown
  try { v = JSON.parse(new TextDecoder().decode(bytes)) } catch { return undefined }
  if (v === null || typeof v !== 'object') return undefined
  const o = v as Record<string, unknown>
  const by = o.by as Record<string, unknown> | null | undefined
  if (!Number.isSafeInteger(o.version) || typeof o.at !== 'number' || by === null || typeof by !== 'object' ||
    typeof by.name !== 'string' || typeof by.email !== 'string' || (o.purged !== null && typeof o.purged !== 'number')) return undefined
  return { version: o.version as number, at: o.at, by: { name: by.name, email: by.email }, reason: typeof o.reason === 'string' ? o.reason : 'rm', purged: o.purged as number | null }
}

const UNIT_MS: Readonly<Record<string, number>> = {
  s: 1000, second: 1000, seconds: 1000,
  m: 60_000, min: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  w: 604_800_000, week: 604_800_000, weeks: 604_800_000
}

export const DURATION_SYNTAX = '`now`, `never`, a duration such as `30m`, `12h`, `3d`, `2w` (or git\'s `2.weeks.ago`), or an ISO 8601 date'

/**
 * A grace period as a cutoff time: things older than the cutoff (written, deleted or seen at or before
 * it) may be removed. `now` → now, `never` → -Infinity (nothing is old enough), `2w` / `2.weeks.ago` /
 * `3d` / `12h` / `30m` / `45s` → now minus that, an ISO date → that date. Undefined when unreadable.
 */
export function pruneCutoff (text: string, now: number): number | undefined {
  const t = text.trim().toLowerCase()
  if (t === 'now') return now
  if (t === 'never') return -Infinity
  const m = /^(\d+(?:\.\d+)?)\s*\.?\s*([a-z]+?)(?:\.ago)?$/.exec(t)
  if (m !== null) {
    const unit = UNIT_MS[m[2]!]
    if (unit !== undefined) return now - Number(m[1]) * unit
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const d = Date.parse(text.trim())
    if (Number.isFinite(d)) return d
  }
  return undefined
}
