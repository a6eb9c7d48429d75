/**
 * `mvc checkout`, whole: fetch the version's content if this is a partial clone, rebuild its files in
 * a staging folder beside the target (worktree.ts), load the staged models and compare their outputs
 * with those recorded at commit (verify/), and only then swap the files into place. A version that
 * fails verification never replaces the user's files — unless `keepOnFail`, and then status and show
 * say that the files there failed verification.
 */
import type { Remote } from '../remote/interface.js'
import type { Repo } from './repo.js'
import { ensureLocal } from './partial.js'
import type { ProgressFn } from './transfer.js'
import { verifyCheckout, type CheckSettings, type VerificationReport } from './verify/index.js'
import { completeCheckout, prepareCheckout, type CheckoutResult } from './worktree.js'
import { VerificationFailedError, VerificationUnavailableError, isMvcError } from '../errors.js'
import { enforcePolicyForRev, type TrustPolicy } from './sign.js'

export interface CheckoutOperation {
  readonly repo: Repo
  readonly rev: string
  /** Absolute target; default: each tracked path in the repository (several paths: a folder holding them). */
  readonly to?: string
  /** Only these tracked paths of the version. */
  readonly only?: readonly string[]
  readonly force?: boolean
  readonly onFile?: (path: string, size: number) => void
  /** Bytes written so far of the total, for a progress bar. */
  readonly onBytes?: (done: number, total: number) => void
  /** Verify behaviour after rebuilding with these settings (when the commit recorded it); undefined: don't. */
  readonly verify?: CheckSettings
  /** Put the files in place even when verification fails (they are marked as failed). */
  readonly keepOnFail?: boolean
  /** Partial clones: the remote to fetch missing content through (default: the configured one). */
  readonly transport?: Remote
  readonly onProgress?: ProgressFn
  /** Refuse a version no trusted key signed (default: the repository's `require-signed` setting). */
  readonly trust?: TrustPolicy
}

export type CheckoutOutcome = CheckoutResult & { verification?: VerificationReport }

export async function checkout (options: CheckoutOperation): Promise<CheckoutOutcome> {
  const { repo } = options
  await ensureLocal(repo.store, options.rev, { transport: options.transport, onProgress: options.onProgress })
  // Before any file is written: an unsigned or untrusted version is never checked out.
  await enforcePolicyForRev(repo.store, options.rev, options.trust)
  const p = await prepareCheckout({ repo, rev: options.rev, to: options.to, only: options.only, force: options.force, onFile: options.onFile, onBytes: options.onBytes })
  const record = p.commit.verification
  if (options.verify === undefined || record === null) return await completeCheckout(repo, p)
  let report: VerificationReport
  try {
    const parts = p.parts.map(x => ({ path: x.path, manifest: x.manifest, dir: x.staged.dir }))
    report = await verifyCheckout({ ...options.verify, store: repo.store, record, parts, prefixed: p.commit.paths.length > 1, version: p.commit.version, formats: repo.formats })
  } catch (err) {
    if (options.keepOnFail === true && isMvcError(err) && err.code === VerificationFailedError.code) {
      await completeCheckout(repo, p, true)
    } else if (isMvcError(err) && err.code === VerificationUnavailableError.code) {
      // The bytes are verified (every chunk re-hashed); only behaviour could not be checked here:
      // the files go in place and the error (exit 9) says what would be needed to check it.
      const r = await completeCheckout(repo, p)
      err.message = `checked out v${r.commit.version} to ${r.target}, but its behaviour could not be verified here: ${err.message}`
    } else {
      await p.discard()
    }
    throw err
  }
  const r = await completeCheckout(repo, p)
  return { ...r, verification: report }
}
