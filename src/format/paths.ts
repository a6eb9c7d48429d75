/**
 * Path rules for manifests. Manifest paths come from repositories that may have been written by
 * someone else (a remote, a crafted object), so every path is checked before anything is written:
 * relative, '/'-separated, no '.', '..' or empty segments, no NUL, control character or backslash,
 * and never inside `.mvc`. The same rules refuse such names at commit.
 */
import { isAbsolute, relative, sep } from 'node:path'
import { UnsafePathError } from '../errors.js'

export const MVC_DIR = '.mvc'

/** Why a manifest path is unsafe, or undefined when it is fine. */
export function unsafePathReason (p: string): string | undefined {
  if (p.length === 0) return 'it is empty'
  if (p.includes('\0')) return 'it contains a NUL byte'
  // eslint-disable-next-line no-control-regex
  if (/[\x01-\x1f\x7f-\x9f]/.test(p)) return 'it contains a control character (a newline, an escape…), which could rewrite a terminal or break tools that read paths line by line'
  if (p.includes('\\')) return 'it contains a backslash'
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) return 'it is absolute'
  for (const seg of p.split('/')) {
    if (seg === '') return 'it has an empty segment'
    if (seg === '.' || seg === '..') return `it has a '${seg}' segment`
    if (seg.toLowerCase() === MVC_DIR) return 'it points into .mvc'
  }
  return undefined
}

/** True when `child` is `parent` or lies inside it (both absolute, normalised). */
export function isWithin (parent: string, child: string): boolean {
  const rel = relative(parent, child)
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith('..' + sep))
}

/** Throws UnsafePathError when a path from a manifest could escape the target folder. */
export function assertSafePath (p: string, context: string): void {
  const why = unsafePathReason(p)
  if (why !== undefined) {
    throw new UnsafePathError(`${context}: refusing path ${JSON.stringify(p)} because ${why}; the repository object may be corrupt or crafted`, { path: p, reason: why })
  }
}
