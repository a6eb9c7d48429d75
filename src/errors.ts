/**
 * Typed errors with stable codes.
 *
 * Every error mvc raises on purpose is an `MvcError` with a static string `code` (a contract across
 * versions; messages are not), structured `data`, and an optional `cause`. The CLI maps codes to exit
 * codes in one place (`exitCodeFor`). Programmer mistakes (wrong argument types) throw plain TypeError.
 */

export type ErrorData = Readonly<Record<string, unknown>>

export abstract class MvcError extends Error {
  abstract readonly code: string
  readonly data: ErrorData
  /** Name of the public API function that raised it, set by the API layer. */
  caller?: string

  constructor (message: string, data: ErrorData = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.data = data
  }

  override get name (): string { return this.constructor.name }

  toJSON (): { code: string, message: string, data: ErrorData } {
    return { code: this.code, message: this.message, data: this.data }
  }
}

/** Named exit codes; documented in docs/cli.md. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  repository: 3,
  notFound: 4,
  integrity: 5,
  locked: 6,
  conflict: 7,
  badInput: 8,
  verification: 9,
  remote: 10,
  auth: 11,
  signature: 12,
  environment: 13
} as const
export type ExitCodeName = keyof typeof ExitCode

function def<C extends string> (code: C, exit: ExitCodeName): {
  new (message: string, data?: ErrorData, options?: { cause?: unknown }): MvcError & { readonly code: C }
  readonly code: C
  readonly exit: ExitCodeName
} {
  const cls = class extends MvcError {
    static readonly code: C = code
    static readonly exit: ExitCodeName = exit
    readonly code: C = code
  }
  return cls
}

// --- usage ---
export class UsageError extends def('USAGE', 'usage') {}
// --- repository state ---
export class NotARepositoryError extends def('NOT_A_REPOSITORY', 'repository') {}
export class UnsupportedFormatError extends def('UNSUPPORTED_FORMAT', 'repository') {}
export class RepositoryLockedError extends def('REPOSITORY_LOCKED', 'locked') {}
// --- names ---
export class UnknownRevisionError extends def('UNKNOWN_REVISION', 'notFound') {}
export class AmbiguousRevisionError extends def('AMBIGUOUS_REVISION', 'notFound') {}
export class NoCommitsError extends def('NO_COMMITS', 'notFound') {}
/** The version was deleted (`mvc rm`) and gc has removed its content: it can no longer be checked out, diffed or verified here. */
export class VersionDeletedError extends def('VERSION_DELETED', 'notFound') {}
// --- integrity ---
export class ObjectNotFoundError extends def('OBJECT_NOT_FOUND', 'integrity') {}
export class CorruptObjectError extends def('CORRUPT_OBJECT', 'integrity') {}
export class InvalidObjectError extends def('INVALID_OBJECT', 'integrity') {}
/** The LevelDB index cannot be opened or read (CURRENT, MANIFEST or a table damaged or missing): `mvc repair`. */
export class IndexDamagedError extends def('INDEX_DAMAGED', 'integrity') {}
// --- conflicts ---
export class UncommittedChangesError extends def('UNCOMMITTED_CHANGES', 'conflict') {}
export class RefConflictError extends def('REF_CONFLICT', 'conflict') {}
export class RefExistsError extends def('REF_EXISTS', 'conflict') {}
/** `mvc rm` of a version a branch tip, tag or alias names, without --force. */
export class VersionInUseError extends def('VERSION_IN_USE', 'conflict') {}
// --- bad input ---
export class InputNotFoundError extends def('INPUT_NOT_FOUND', 'badInput') {}
export class UnsafePathError extends def('UNSAFE_PATH', 'badInput') {}
export class SymlinkRefusedError extends def('SYMLINK_REFUSED', 'badInput') {}
export class UnsupportedFileTypeError extends def('UNSUPPORTED_FILE_TYPE', 'badInput') {}
export class InvalidModelError extends def('INVALID_MODEL', 'badInput') {}
export class InvalidArgumentError extends def('INVALID_ARGUMENT', 'badInput') {}
// --- behaviour ---
export class VerificationFailedError extends def('VERIFICATION_FAILED', 'verification') {}
export class VerificationUnavailableError extends def('VERIFICATION_UNAVAILABLE', 'verification') {}
// --- signatures (trust) ---
/** No signature by a trusted key: the version is unsigned, or signed only by keys not trusted. */
export class SignatureMissingError extends def('SIGNATURE_MISSING', 'signature') {}
/** A signature that does not verify, or files that differ from what was signed. */
export class SignatureInvalidError extends def('SIGNATURE_INVALID', 'signature') {}
// --- remotes ---
export class RemoteError extends def('REMOTE_ERROR', 'remote') {}
export class AuthError extends def('AUTH_FAILED', 'auth') {}
// --- the environment: the file system refused ---
/** No space left (ENOSPC), quota exceeded (EDQUOT), or the file-size limit reached (EFBIG). */
export class DiskFullError extends def('DISK_FULL', 'environment') {}
/** A write was needed on a read-only file system or a read-only repository. */
export class ReadOnlyError extends def('READ_ONLY', 'environment') {}
/** The operating system refused access to a file or folder (EACCES, EPERM). */
export class PermissionDeniedError extends def('PERMISSION_DENIED', 'environment') {}
/** Any other failure of the operating system (EIO, EMFILE, ENOTDIR…): its errno code is in `data.errno`. */
export class IoError extends def('IO_ERROR', 'environment') {}

const ALL = [
  UsageError, NotARepositoryError, UnsupportedFormatError, RepositoryLockedError,
  UnknownRevisionError, AmbiguousRevisionError, NoCommitsError, VersionDeletedError,
  ObjectNotFoundError, CorruptObjectError, InvalidObjectError, IndexDamagedError,
  UncommittedChangesError, RefConflictError, RefExistsError, VersionInUseError,
  InputNotFoundError, UnsafePathError, SymlinkRefusedError, UnsupportedFileTypeError,
  InvalidModelError, InvalidArgumentError,
  VerificationFailedError, VerificationUnavailableError,
  SignatureMissingError, SignatureInvalidError,
  RemoteError, AuthError,
  DiskFullError, ReadOnlyError, PermissionDeniedError, IoError
]

/** code → exit-code name, for docs and the CLI. */
export const ERROR_EXIT: ReadonlyMap<string, ExitCodeName> = new Map(ALL.map(c => [c.code, c.exit]))

export function isMvcError (e: unknown): e is MvcError {
  return e instanceof MvcError
}

/** The process exit code for any thrown value (system errors count as what `fromSystemError` makes of them). */
export function exitCodeFor (e: unknown): number {
  const m = isMvcError(e) ? e : fromSystemError(e)
  if (m !== undefined) return ExitCode[ERROR_EXIT.get(m.code) ?? 'failure']
  return ExitCode.failure
}

/** Node's system errors carry an errno name (`ENOSPC`), the system call, and usually the path. */
interface SystemErrorLike { code?: unknown, syscall?: unknown, path?: unknown, dest?: unknown, message?: unknown, cause?: unknown }

/** The strerror texts LevelDB puts in its messages (`IO error: <path>: No space left on device`), by errno name. */
const STRERROR: ReadonlyArray<[RegExp, string]> = [
  [/No space left on device/i, 'ENOSPC'],
  [/Disk quota exceeded/i, 'EDQUOT'],
  [/File too large/i, 'EFBIG'],
  [/Read-only file system/i, 'EROFS'],
  [/Permission denied/i, 'EACCES'],
  [/Operation not permitted/i, 'EPERM'],
  [/Input\/output error/i, 'EIO'],
  [/Too many open files/i, 'EMFILE'],
  [/No such file or directory/i, 'ENOENT']
]

/** The errno name of a system error, also when it is only in a LevelDB message ('IO error: …: Read-only file system'). */
export function errnoOf (e: unknown): string | undefined {
  for (let x = e as SystemErrorLike | undefined, depth = 0; x !== undefined && x !== null && depth < 4; x = x.cause as SystemErrorLike | undefined, depth++) {
    if (typeof x.code === 'string' && /^E[A-Z0-9]+$/.test(x.code) && (typeof x.syscall === 'string' || typeof x.path === 'string')) return x.code
    if (typeof x.message === 'string' && /^IO error:/.test(x.message)) {
      for (const [re, name] of STRERROR) if (re.test(x.message)) return name
    }
  }
  return undefined
}

function pathOf (e: unknown): string | undefined {
  for (let x = e as SystemErrorLike | undefined, depth = 0; x !== undefined && x !== null && depth < 4; x = x.cause as SystemErrorLike | undefined, depth++) {
    if (typeof x.path === 'string') return x.path
    if (typeof x.message === 'string') {
      const m = /^IO error: (.+?): [A-Z][^:]*$/.exec(x.message)
      if (m !== null) return m[1]
    }
  }
  return undefined
}

/**
 * What an error of the operating system means to a user, as a typed error: full disks, read-only file
 * systems, refused permissions and other I/O failures are faults of the environment (exit 12), not
 * bugs. Returns undefined for anything else (an MvcError, a programmer error). `doing` says what mvc was
 * doing ("writing the pack …"), for the message.
 */
export function fromSystemError (e: unknown, doing?: string): MvcError | undefined {
  if (isMvcError(e)) return undefined
  const errno = errnoOf(e)
  if (errno === undefined) return undefined
  const path = pathOf(e)
  const where = path !== undefined ? ` (${path})` : ''
  const what = doing !== undefined ? `${doing}: ` : ''
  const data = { errno, ...(path !== undefined ? { path } : {}) }
  const opts = { cause: e }
  switch (errno) {
    case 'ENOSPC': case 'EDQUOT': case 'EFBIG':
      return new DiskFullError(`${what}${errno === 'EFBIG' ? 'the file-size limit was reached' : errno === 'EDQUOT' ? 'the disk quota is exceeded' : 'no space left on the device'}${where}. ` +
        'Nothing was changed: the operation was undone. Free some space (or raise the limit) and run the command again.', data, opts)
    case 'EROFS':
      return new ReadOnlyError(`${what}the file system is read-only${where}. Commands that only read (log, show, diff, status, fsck, verify) work on a read-only repository; ` +
        'to change it, make it writable or clone it somewhere writable.', data, opts)
    case 'EACCES': case 'EPERM':
      return new PermissionDeniedError(`${what}permission denied${where}. Check that the files and folders are readable (and, to change the repository, writable) by this user; ` +
        'nothing was changed.', data, opts)
    default:
      return new IoError(`${what}the operating system failed with ${errno}${where}: ${String((e as SystemErrorLike).message ?? '')}. Nothing was changed; ` +
        'check the disk and run the command again.', data, opts)
  }
}

/** `e` itself when it is an MvcError, its typed meaning when it is a system error, else `e` unchanged. */
export function toMvcError (e: unknown): unknown {
  return fromSystemError(e) ?? e
}
