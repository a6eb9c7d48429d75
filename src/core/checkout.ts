/**
 * `mvc checkout`, whole: fetch the version's content if this is a partial clone, rebuild its files
 * (staging folder, then swap; worktree.ts), then load the models and compare their outputs with those
 * recorded at commit (verify/).
 */
import type { Remote } from '../remote/interface.js'
import type { Repo } from './repo.js'
import { ensureLocal } from './partial.js'
import type { ProgressFn } from './transfer.js'
import { verifyCheckout, type CheckSettings, type VerificationReport } from './verify/index.js'
import { checkoutFiles, type CheckoutResult } from './worktree.js'
import { enforcePolicyForRev, type TrustPolicy } from './sign.js'

export interface CheckoutOperation {
  readonly repo: Repo
  readonly rev: string
  /** Absolute target; default: the commit's own path in the repository. */
  readonly to?: string
  readonly force?: boolean
  readonly onFile?: (path: string, size: number) => void
  /** Verify behaviour after rebuilding with these settings (when the commit recorded it); undefined: don't. */
  readonly verify?: CheckSettings
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
  const r = await checkoutFiles({ repo, rev: options.rev, to: options.to, force: options.force, onFile: options.onFile })
  const record = r.commit.verification
  if (options.verify === undefined || record === null) return r
  const report = await verifyCheckout({ ...options.verify, store: repo.store, record, manifest: r.manifest, target: r.target, version: r.commit.version, formats: repo.formats })
  return { ...r, verification: report }
}
