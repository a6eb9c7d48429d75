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
  signature: 12
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
// --- integrity ---
export class ObjectNotFoundError extends def('OBJECT_NOT_FOUND', 'integrity') {}
export class CorruptObjectError extends def('CORRUPT_OBJECT', 'integrity') {}
export class InvalidObjectError extends def('INVALID_OBJECT', 'integrity') {}
// --- conflicts ---
export class UncommittedChangesError extends def('UNCOMMITTED_CHANGES', 'conflict') {}
export class RefConflictError extends def('REF_CONFLICT', 'conflict') {}
export class RefExistsError extends def('REF_EXISTS', 'conflict') {}
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

const ALL = [
  UsageError, NotARepositoryError, UnsupportedFormatError, RepositoryLockedError,
  UnknownRevisionError, AmbiguousRevisionError, NoCommitsError,
  ObjectNotFoundError, CorruptObjectError, InvalidObjectError,
  UncommittedChangesError, RefConflictError, RefExistsError,
  InputNotFoundError, UnsafePathError, SymlinkRefusedError, UnsupportedFileTypeError,
  InvalidModelError, InvalidArgumentError,
  VerificationFailedError, VerificationUnavailableError,
  SignatureMissingError, SignatureInvalidError,
  RemoteError, AuthError
]

/** code → exit-code name, for docs and the CLI. */
export const ERROR_EXIT: ReadonlyMap<string, ExitCodeName> = new Map(ALL.map(c => [c.code, c.exit]))

export function isMvcError (e: unknown): e is MvcError {
  return e instanceof MvcError
}

/** The process exit code for any thrown value. */
export function exitCodeFor (e: unknown): number {
  if (isMvcError(e)) return ExitCode[ERROR_EXIT.get(e.code) ?? 'failure']
  return ExitCode.failure
}
