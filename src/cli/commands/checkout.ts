import type { CommandModule } from 'yargs'
import { formatReport, verifyArgs, verifyingStep, verifyOptions, verifyProgress, type VerifyFlags } from '../verification.js'
import { colors, formatBytes, progress, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'
import { trustArgs, trustOptions, type TrustFlags } from '../trust.js'

interface Args extends GlobalArgs, VerifyFlags, TrustFlags { rev: string, to?: string, force?: boolean, 'keep-on-fail'?: boolean }

export function checkoutCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'checkout <rev>',
    describe: 'Rebuild a version on disk, byte for byte (vN, tag, alias, branch, HEAD~n or CID prefix)',
    builder: y => trustOptions(verifyOptions(y, 'load the rebuilt model with TF.js and compare outputs with those recorded at commit'), 'the version (nothing is written)')
      .positional('rev', { type: 'string', demandOption: true, describe: 'version to check out' })
      .option('to', { type: 'string', describe: 'write here instead of the committed path' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'overwrite uncommitted changes in the target' })
      .option('keep-on-fail', { type: 'boolean', default: false, describe: 'put the files in place even when verification fails (status then says so); by default a version that fails verification leaves your files as they were' })
      .example('mvc checkout v1', 'rebuild v1 in its path and verify its behaviour')
      .example('mvc checkout v3 --to /tmp/v3 --no-verify', 'rebuild elsewhere, skip verification'),
    handler: async args => {
      await withRepo(args, async repo => {
        const p = progress(io, 'checking out')
        const vp = verifyProgress(io, 'verifying')
        const verify = (await verifyArgs(args, true, vp.onProgress)) ?? false
        const trust = await trustArgs(args)
        const r = await verifyingStep(io, args.json === true, [p, vp], async () =>
          await repo.checkout({ rev: args.rev, to: args.to, ...((io.paths ?? []).length > 0 ? { only: (io.paths ?? []) } : {}), force: args.force, verify, keepOnFail: args['keep-on-fail'], ...trust, onBytes: (done, total) => p.bytes(done, total) }))
        if (args.json === true) {
          io.out(toJson({ cid: r.cid, version: r.commit.version, target: r.target, files: r.files, bytes: r.bytes, verification: r.verification ?? null }))
          return
        }
        io.out(`checked out v${r.commit.version} (${r.cid.toString()}) to ${r.target}: ${r.files} files, ${formatBytes(r.bytes)}`)
        if (r.verification !== undefined) io.out(formatReport(r.verification, colors(io)))
      })
    }
  }
}
