import type { CommandModule } from 'yargs'
import { toJson, withRepo, type GlobalArgs, type Io } from '../output.js'
import { formatReport, verifyArgs, verifyingStep, verifyOptions, verifyProgress, type VerifyFlags } from '../verification.js'

interface Args extends GlobalArgs, VerifyFlags { rev: string }

export function verifyCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'verify [rev]',
    describe: 'Load a version\'s models from the store, run the recorded inputs and compare outputs (the working folder is not touched)',
    builder: y => verifyOptions(y, 'verify').positional('rev', { type: 'string', default: 'HEAD', describe: 'version to verify' }),
    handler: async args => {
      await withRepo(args, async repo => {
        const vp = verifyProgress(io, 'verifying')
        const v = (await verifyArgs(args, true, vp.onProgress)) ?? {}
        const r = await verifyingStep(io, args.json === true, [vp], async () => await repo.verify({ rev: args.rev, ...v }))
        if (args.json === true) io.out(toJson(r))
        else io.out(`v${r.version} ${r.cid.toString()}\n${formatReport(r)}`)
      })
    }
  }
}
