/**
 * Constants and checks shared by the HTTP server (`mvc serve`) and the HTTP client. The protocol itself
 * is specified in docs/protocol.md; change both together.
 */
import { CID } from 'multiformats/cid'
import { DAG_CBOR, RAW, SHA2_256, tryParseCid } from '../content/block.js'
import { HEAD, MAX_REF_NAME_BYTES, SYMBOLIC_PREFIX, refNameProblem } from '../format/keys.js'

/** Protocol version: the `/v1/` prefix and `mvc` in `/v1/info`. */
export const PROTOCOL_VERSION = 1
export const API_PREFIX = `/v${PROTOCOL_VERSION}/`

const MiB = 1024 * 1024
/** Largest object body accepted or sent: chunks are ≤ 4 MiB, but a dag-cbor manifest grows with its files. */
export const MAX_OBJECT_BYTES = 64 * MiB
/** CIDs per `POST /v1/has`. */
export const MAX_HAS_BATCH = 10_000
export const MAX_HAS_BODY_BYTES = 1 * MiB
export const MAX_REF_BODY_BYTES = 64 * 1024
export { MAX_REF_NAME_BYTES }

/** Request header (and `?repository=` URL parameter) pinning the repository a client expects. */
export const REPOSITORY_HEADER = 'mvc-repository'
export const REPOSITORY_PARAM = 'repository'
/** Store metadata key (`m/repo-id`) holding a served store's random id. */
export const REPOSITORY_ID_KEY = 'repo-id'

/** What a request may do, as `/v1/info` reports it (`append` tokens report `write` with `appendOnly`). */
export type Access = 'read' | 'write'
/** What a token in the tokens file grants: `append` may add objects and refs and move branches forward only. */
export type TokenAccess = Access | 'append'

/**
 * Protocol features a server announces in `/v1/info` (`features`), all compatible additions to v1:
 * - `complete-has`: `POST /v1/has` answers true only for objects whose whole closure is stored, and a
 *   ref moves only to a complete commit (docs/design.md, "Complete objects");
 * - `range`: `GET /v1/objects/<cid>` honours `Range: bytes=…` (206, Content-Range) for resuming downloads;
 * - `gc` (announced when the server can run gc): `POST /v1/gc` runs it (write tokens that are not
 *   append-only), body `{ dryRun?, prune?, pruneUnreferenced? }`, answer the report of `mvc gc --json`.
 */
export const FEATURES = ['complete-has', 'range'] as const
export const GC_FEATURE = 'gc'

/** A bearer token: RFC 6750 `b64token`. */
export const TOKEN_PATTERN = /^[A-Za-z0-9\-._~+/]+=*$/

/** `GET /v1/info`. */
export interface InfoBody {
  readonly mvc: number
  readonly format: number
  readonly repository: string
  readonly access: Access
  readonly limits: { readonly maxObjectBytes: number, readonly maxHasBatch: number }
  /** Protocol features (FEATURES); absent from servers older than them. */
  readonly features?: readonly string[]
  /** True when this token (or the whole server) may not delete or rewrite refs. */
  readonly appendOnly?: boolean
}

/** Every non-2xx response. */
export interface ErrorBody { readonly error: { readonly code: string, readonly message: string, readonly data?: Record<string, unknown> } }

/** Error codes of the protocol that are not mvc error codes (docs/protocol.md, "Status codes"). */
export const ProtocolCode = {
  notFound: 'NOT_FOUND',
  methodNotAllowed: 'METHOD_NOT_ALLOWED',
  lengthRequired: 'LENGTH_REQUIRED',
  wrongRepository: 'WRONG_REPOSITORY',
  tooLarge: 'TOO_LARGE',
  missingObject: 'MISSING_OBJECT',
  appendOnly: 'APPEND_ONLY',
  timeout: 'TIMEOUT',
  rangeNotSatisfiable: 'RANGE_NOT_SATISFIABLE',
  unavailable: 'UNAVAILABLE',
  internal: 'INTERNAL'
} as const

/** Joins received chunks into one exact-size Uint8Array (not a pooled Buffer: callers keep it). */
export function joinChunks (chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total)
  let at = 0
  for (const c of chunks) { out.set(c, at); at += c.length }
  return out
}

export { HEAD, SYMBOLIC_PREFIX, refNameProblem }

/** Why `prefix` is not a valid listing prefix, or undefined. */
export function refPrefixProblem (prefix: string): string | undefined {
  if (Buffer.byteLength(prefix) > MAX_REF_NAME_BYTES) return `it is longer than ${MAX_REF_NAME_BYTES} bytes`
  if (/[\x00-\x1f\x7f]/.test(prefix)) return 'it contains a control character' // eslint-disable-line no-control-regex
  return undefined
}

/** A ref name as a URL path: each part percent-encoded, so any valid name travels unchanged. */
export function encodeRefPath (name: string): string {
  return name.split('/').map(encodeURIComponent).join('/')
}

/** The ref name in a URL path, or why it is not one. Parts are decoded one by one: `%2F` can't add a '/'. */
export function decodeRefPath (path: string): string | { problem: string } {
  const parts: string[] = []
  for (const raw of path.split('/')) {
    let part: string
    try { part = decodeURIComponent(raw) } catch { return { problem: 'it is not valid percent-encoded UTF-8' } }
    if (part.includes('/')) return { problem: 'a part contains an encoded \'/\'' }
    parts.push(part)
  }
  const name = parts.join('/')
  const problem = refNameProblem(name)
  return problem === undefined ? name : { problem }
}

/** True for CIDs mvc stores: CIDv1, sha2-256, raw or dag-cbor. */
export function isStorableCid (cid: CID): boolean {
  return cid.version === 1 && cid.multihash.code === SHA2_256 && (cid.code === RAW || cid.code === DAG_CBOR)
}

/** Parses a CID from a path or body, or returns why it is not one mvc stores. */
export function parseObjectCid (s: string): CID | string {
  const cid = tryParseCid(s)
  if (cid === undefined) return `${JSON.stringify(s)} is not a CID`
  if (!isStorableCid(cid)) return `${s} is not a CIDv1 sha2-256 raw or dag-cbor CID`
  return cid
}

/**
 * Why `value` can't be written to ref `name`, or undefined: refs hold canonical (base32 CIDv1) CID
 * strings; HEAD may also be symbolic, `ref: <ref name>`.
 */
export function refValueProblem (name: string, value: string): string | undefined {
  if (name === HEAD && value.startsWith(SYMBOLIC_PREFIX)) {
    const target = value.slice(SYMBOLIC_PREFIX.length)
    return target !== HEAD && refNameProblem(target) === undefined ? undefined : `${JSON.stringify(value)} names no valid ref`
  }
  const cid = parseObjectCid(value)
  if (typeof cid === 'string') return cid
  if (cid.toString() !== value) return `${value} is not in canonical form (${cid.toString()})`
  return undefined
}
