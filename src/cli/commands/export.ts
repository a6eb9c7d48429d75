import type { CommandModule } from 'yargs'
import { formatBytes, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs { rev: string, output: string, history?: boolean }

export function exportCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'export [rev]',
    describe: 'Write a version as one CAR file (CARv1, root = its commit): every object it needs and its signatures',
    builder: y => y
      .positional('rev', { type: 'string', default: 'HEAD', describe: 'version to export' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'CAR file to write' })
      .option('history', { type: 'boolean', default: false, describe: 'include every ancestor version too (then `mvc import` can give each its version number)' }),
    handler: async args => {
      await withRepo(args, async repo => {
        const r = await repo.exportCar({ rev: args.rev, out: args.output, history: args.history })
        if (args.json === true) { io.out(toJson(r)); return }
        io.out(`exported v${r.version} ${r.cid.toString()} to ${r.out}: ${r.blocks} blocks, ${formatBytes(r.fileBytes)} (${r.commits} commit${r.commits === 1 ? '' : 's'}, ${r.signatures} signature${r.signatures === 1 ? '' : 's'})`)
      })
    }
  }
}
