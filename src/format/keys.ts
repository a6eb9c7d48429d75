/**
 * The repository format's vocabulary: every ref name and every metadata key mvc writes, in one place
 * (docs/design.md, "Refs" and "LevelDB keys"). Pure: no I/O.
 *
 * Refs are names whose value is a CID string, or `ref: <other name>` for a symbolic ref (HEAD).
 * Metadata keys live in the store's `m/` key space; their values are UTF-8 text or JSON.
 */

// ------------------------------------------------------------------------------------------- refs

export const HEAD = 'HEAD'
/** Prefix of a symbolic ref's value: `ref: refs/heads/main`. */
export const SYMBOLIC_PREFIX = 'ref: '
export const REFS = 'refs/'
export const HEADS = 'refs/heads/'
/** `refs/versions/<n>`: the commit numbered n. Written once, never moved. */
export const VERSIONS = 'refs/versions/'
export const TAGS = 'refs/tags/'
export const ALIASES = 'refs/aliases/'
/**
 * `refs/alias-log/<a>`: the newest `mvc/alias-move` of alias a — its history, content-addressed. Moves
 * with `refs/aliases/<a>` (which names the move's `to`) in one transaction; on a remote it is the ref
 * that compare-and-swap guards, and `refs/aliases/<a>` follows it.
 */
export const ALIAS_LOG = 'refs/alias-log/'
/** `refs/remotes/<remote>/<branch>`: where a remote's branch was when last fetched or pushed. */
export const REMOTES = 'refs/remotes/'
/**
 * `refs/signatures/<commit CID>/<key fingerprint>`: an `mvc/signature` object signing that commit with
 * that key (fingerprint: lowercase hex SHA-256 of the key's SPKI DER). Created once, never moved.
 */
export const SIGNATURES = 'refs/signatures/'
/** `refs/imports/<commit CID>`: a commit imported from a CAR file without a version number. */
export const IMPORTS = 'refs/imports/'
export const DEFAULT_BRANCH = 'main'
export const DEFAULT_REMOTE = 'origin'

export function branchRef (name: string): string { return HEADS + name }
export function tagRef (name: string): string { return TAGS + name }
export function aliasRef (name: string): string { return ALIASES + name }
export function aliasLogRef (name: string): string { return ALIAS_LOG + name }
export function versionRef (version: number): string { return VERSIONS + String(version) }
export function remoteBranchRef (remote: string, branch: string): string { return `${REMOTES}${remote}/${branch}` }
export function signatureRef (commit: string, fingerprint: string): string { return `${SIGNATURES}${commit}/${fingerprint}` }
export function signaturesOf (commit: string): string { return `${SIGNATURES}${commit}/` }
export function importRef (commit: string): string { return IMPORTS + commit }

/** The commit and key fingerprint of a `refs/signatures/<commit>/<fingerprint>` name, or undefined. */
export function parseSignatureRef (name: string): { commit: string, fingerprint: string } | undefined {
  if (!name.startsWith(SIGNATURES)) return undefined
  const m = /^([a-z2-7]{59})\/([0-9a-f]{64})$/.exec(name.slice(SIGNATURES.length))
  return m === null ? undefined : { commit: m[1]!, fingerprint: m[2]! }
}

/** The value of a symbolic ref pointing at `target`. */
export function symbolicRef (target: string): string { return SYMBOLIC_PREFIX + target }

/** The target of a symbolic ref value, or undefined when the value is a CID. */
export function symbolicTarget (value: string): string | undefined {
  return value.startsWith(SYMBOLIC_PREFIX) ? value.slice(SYMBOLIC_PREFIX.length) : undefined
}

/** The version number of a `refs/versions/<n>` name, or undefined. */
export function versionOfRef (name: string): number | undefined {
  if (!name.startsWith(VERSIONS)) return undefined
  const rest = name.slice(VERSIONS.length)
  return /^[1-9]\d*$/.test(rest) ? Number(rest) : undefined
}

/** Longest ref name any remote accepts, in UTF-8 bytes. */
export const MAX_REF_NAME_BYTES = 1024

/**
 * The one rule for ref names that cross a remote (folder, HTTP and S3 alike): `HEAD`, or
 * `refs/<namespace>/<name…>` whose parts are not empty and don't start with '.', with no '..', no
 * control characters, whitespace or backslash, at most MAX_REF_NAME_BYTES UTF-8 bytes. Every name
 * `mvc tag`, `alias` and `branch` accept fits. Returns why a name breaks it, or undefined.
 */
export function refNameProblem (name: string): string | undefined {
  if (name === HEAD) return undefined
  const parts = name.split('/')
  if (parts[0] !== 'refs' || parts.length < 3) return 'it is neither HEAD nor refs/<namespace>/<name>'
  if (new TextEncoder().encode(name).length > MAX_REF_NAME_BYTES) return `it is longer than ${MAX_REF_NAME_BYTES} bytes`
  if (name.includes('..')) return 'it contains \'..\''
  if (/[\x00-\x20\x7f\\]|\s/u.test(name)) return 'it contains a control character, whitespace or a backslash' // eslint-disable-line no-control-regex
  for (const part of parts) {
    if (part === '') return 'it has an empty part (leading, trailing or double \'/\')'
    if (part.startsWith('.')) return 'a part starts with \'.\''
  }
  return undefined
}

// ------------------------------------------------------------------------------------- metadata

/** Metadata keys (without the store's `m/` prefix). */
export const META = {
  /** The repository format version, decimal text. */
  format: 'format',
  /** The number the next commit gets, decimal text. */
  nextVersion: 'next-version',
  /** The repository-relative path committed or checked out last: the default of `commit` and `status`. */
  lastPath: 'last-path',
  /** `worktree/<path>` → the commit CID the files at that path were last committed from or checked out to. */
  worktree: 'worktree/',
  /** The name of the remote a partial clone (`--filter=commits`) fetches content from. */
  partial: 'partial',
  /** `remote/<name>` → JSON `{ url, options }`. */
  remote: 'remote/',
  /** `stat/<scope>\0<path>` → JSON stat-cache entry (a cache: may be dropped at any time). */
  stat: 'stat/',
  /** `model-cache/<sha256 hex>` → the model object CID of an unchanged model (a cache). */
  modelCache: 'model-cache/',
  /** `alias-log/<name>/<seq, 8 digits>` → JSON alias move record (written by mvc before alias moves were objects; read and converted). */
  aliasLog: 'alias-log/',
  /** `alias-log-converted/<name>` → decimal seq of the last `alias-log` record converted into `mvc/alias-move` objects. */
  aliasLogConverted: 'alias-log-converted/',
  /** A served repository's random id, for clients that pin it. */
  repositoryId: 'repo-id',
  /** `checkout-failed/<path>` → the commit whose files were kept at that path although its verification failed. */
  checkoutFailed: 'checkout-failed/',
  /** `trusted-key/<fingerprint>` → JSON `{ name, publicKey (PEM), added }`: keys whose signatures count. */
  trustedKey: 'trusted-key/',
  /** `require-signed` → `1`: checkout and pull refuse versions no trusted key signed. */
  requireSigned: 'require-signed',
  /** `sha256/<file object CID>` → lowercase hex SHA-256 of the whole file (a cache, for OpenSSF bundles). */
  fileSha256: 'sha256/',
  /** `shallow/<commit CID>` → `1`: a commit imported without its parents (they are absent by design). */
  shallow: 'shallow/',
  /**
   * `log/<commit CID>` → JSON summary of that commit for `mvc log` (version, parents, time, author name,
   * path, message, metrics): a cache derived from the immutable commit object, read in one scan instead
   * of one object read per commit; commits missing from it are read and added by the next log.
   */
  logIndex: 'log/',
  /**
   * `deleted/<commit CID>` → JSON tombstone `{ version, at, by, reason, purged }`: the version was
   * deleted (`mvc rm`); its content is kept until a gc past the grace period removes it (`purged`).
   */
  deleted: 'deleted/',
  /** `gc/…`: gc's own bookkeeping (see the keys below). */
  gc: 'gc/'
} as const

export function worktreeKey (rel: string): string { return META.worktree + rel }
export function failedCheckoutKey (rel: string): string { return META.checkoutFailed + rel }
export function remoteConfigKey (name: string): string { return META.remote + name }
export function trustedKeyKey (fingerprint: string): string { return META.trustedKey + fingerprint }
export function fileSha256Key (file: string): string { return META.fileSha256 + file }
export function shallowKey (commit: string): string { return META.shallow + commit }
/**
 * `incomplete/<cid>` → "1": a structured object stored by a receiving store (a served or folder remote)
 * whose closure was not complete when it arrived (docs/design.md, "Complete objects").
 */
export const INCOMPLETE_PREFIX = 'incomplete/'
/** `remote-seen/<remote>/<ref>` → the CID that ref of that remote had when last fetched or pushed (rollback detection). */
export const REMOTE_SEEN_PREFIX = 'remote-seen/'
export function remoteSeenPrefix (remote: string): string { return `${REMOTE_SEEN_PREFIX}${remote}/` }
export function logIndexKey (commit: string): string { return META.logIndex + commit }
export function deletedKey (commit: string): string { return META.deleted + commit }
/**
 * `gc/unreferenced/<cid>` → ASCII ms: when a gc first found this inline (structured) object reachable
 * from nothing. Inline objects carry no time of their own; an object seen unreferenced at T is at
 * least now − T old, which is what the grace period for unreferenced objects is measured against.
 */
export const GC_UNREFERENCED = 'gc/unreferenced/'
/**
 * `gc/deferred-pack/<64 hex>` → ASCII ms: a pack no index entry names any more, whose file a gc could
 * not delete because a reader's snapshot of the index (taken before the gc) may still read it. The
 * next gc deletes it once no such reader is alive.
 */
export const GC_DEFERRED_PACK = 'gc/deferred-pack/'
/** `gc/last` → JSON summary of the last gc that changed something (time, objects and bytes removed). */
export const GC_LAST = 'gc/last'
/** Width of the zero-padded sequence number in alias log keys, so keys sort in move order. */
export const ALIAS_LOG_SEQ_WIDTH = 8
export function aliasLogPrefix (name: string): string { return `${META.aliasLog}${name}/` }
export function aliasLogKey (name: string, seq: number): string { return aliasLogPrefix(name) + String(seq).padStart(ALIAS_LOG_SEQ_WIDTH, '0') }
export function aliasLogConvertedKey (name: string): string { return META.aliasLogConverted + name }

export const utf8 = {
  encode: (s: string): Uint8Array => new TextEncoder().encode(s),
  decode: (b: Uint8Array): string => new TextDecoder().decode(b)
}
