import type { CommandModule } from 'yargs'
import { formatBytes, progress, shortCid, toJson, withRepo, type GlobalArgs, type Io, colors } from '../output.js'
import { formatReport, verifyArgs, verifyingStep, verifyOptions, type VerifyFlags } from '../verification.js'
import { formatAliasChange, formatRefChange, printedRefChanges, transferProgress } from './push.js'
import { trustArgs, trustOptions, type TrustFlags } from '../trust.js'

interface Args extends GlobalArgs, VerifyFlags, TrustFlags { remote?: string, branch?: string, force?: boolean, checkout?: boolean }

export function pullCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'pull [remote] [branch]',
    describe: "Fetch, then fast-forward the current branch to the remote's and check the new version out",
    builder: y => trustOptions(verifyOptions(y, 'load the checked-out model with TF.js and compare outputs with those recorded at commit'), 'to move to the remote\'s version')
      .positional('remote', { type: 'string', describe: 'remote name (default origin)' })
      .positional('branch', { type: 'string', describe: "the remote's branch (default: the current branch's name)" })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: "reset the current branch to the remote's when they have diverged; take the remote's tags and versions" })
      .option('checkout', { type: 'boolean', default: true, describe: 'check the new version out into its committed path (--no-checkout moves only the branch)' })
      .example('mvc pull', 'fetch, fast-forward and check out'),
    handler: async args => {
      await withRepo(args, async repo => {
        const p = transferProgress(io, 'pulling')
        const files = progress(io, 'checking out')
        const verify = (await verifyArgs(args, true)) ?? false
        const r = await verifyingStep(io, args.json === true, [p, files], async () => await repo.pull({
            remote: args.remote,
            branch: args.branch,
            force: args.force,
            checkout: args.checkout,
            verify,
            ...(await trustArgs(args)),
            onProgress: p.onProgress,
            onFile: (_f, size) => files.tick(size)
          }))
        const f = r.fetch
        if (args.json === true) {
          io.out(toJson({
            action: r.action,
            ref: r.branch,
            branch: r.branch.replace(/^refs\/heads\//, ''),
            old: r.old,
            new: r.new,
            objectsReceived: f.objectsReceived,
            bytesReceived: f.bytesReceived,
            objectsSkipped: f.objectsSkipped,
            url: f.url,
            refs: f.refs,
            versions: f.versions,
            rollbacks: f.rollbacks,
            warnings: f.warnings,
            aliases: f.aliases,
            checkout: r.checkout === undefined ? null : { cid: r.checkout.cid, version: r.checkout.commit.version, target: r.checkout.target, files: r.checkout.files, bytes: r.checkout.bytes, verification: r.checkout.verification ?? null }
          }))
          return
        }
        const b = r.branch.replace(/^refs\/heads\//, '')
        const what = {
          'up-to-date': `${b} is up to date (${shortCid(r.new)})`,
          ahead: `${b} is ahead of the remote's; nothing to pull (push to publish your versions)`,
          'fast-forward': `${b}: ${r.old === null ? '(new)' : shortCid(r.old)} → ${shortCid(r.new)} (fast-forward)`,
          create: `${b}: created at ${shortCid(r.new)}`,
          reset: `${b}: ${r.old === null ? '(new)' : shortCid(r.old)} → ${shortCid(r.new)} (reset to the remote's; the old tip stays reachable as ${r.old ?? ''})`
        }[r.action]
        io.out(what)
        for (const c of printedRefChanges(f.refs, false)) if (c.ref.startsWith('refs/tags/')) io.out(formatRefChange(c))
        for (const a of f.aliases) if (a.status !== 'up-to-date') io.out(formatAliasChange(a, 'fetch'))
        if (r.checkout !== undefined) {
          io.out(`checked out v${r.checkout.commit.version} to ${r.checkout.target}: ${r.checkout.files} files, ${formatBytes(r.checkout.bytes)}`)
          if (r.checkout.verification !== undefined) io.out(formatReport(r.checkout.verification, colors(io)))
        }
        for (const w of f.warnings) io.err(`warning: ${w}`)
        io.err(`fetched from ${f.url}: ${f.objectsReceived} objects, ${formatBytes(f.bytesReceived)} received (${f.objectsSkipped} already here)`)
      })
    }
  }
}
