import type { CommandModule } from 'yargs'
import { toJson, withRepo, type GlobalArgs, type Io, colors } from '../output.js'
import { formatReport, verifyArgs, verifyingStep, verifyOptions, type VerifyFlags } from '../verification.js'

interface Args extends GlobalArgs, VerifyFlags { rev: string }

export function verifyCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'verify [rev]',
    describe: 'Load a version\'s models from the store, run the recorded inputs and compare outputs (the working folder is not touched)',
    builder: y => verifyOptions(y, 'verify').positional('rev', { type: 'string', default: 'HEAD', describe: 'version to verify' })
      .example('mvc verify production', 'check the aliased version from the store')
      .example('mvc verify v2 --backend cpu --json', 'on another backend, as JSON'),
    handler: async args => {
      await withRepo(args, async repo => {
        const v = (await verifyArgs(args, true)) ?? {}
        const r = await verifyingStep(io, args.json === true, [], async () => await repo.verify({ rev: args.rev, ...v }))
        if (args.json === true) io.out(toJson(r))
        else io.out(`v${r.version} ${r.cid.toString()}\n${formatReport(r, colors(io))}`)
      })
    }
  }
}
