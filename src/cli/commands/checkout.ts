import type { CommandModule } from 'yargs'
import { formatBytes, progress, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs { rev: string, to?: string, force?: boolean }

export function checkoutCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'checkout <rev>',
    describe: 'Rebuild a version on disk, byte for byte (vN, tag, alias, branch, HEAD~n or CID prefix)',
    builder: y => y
      .positional('rev', { type: 'string', demandOption: true, describe: 'version to check out' })
      .option('to', { type: 'string', describe: 'write here instead of the committed path' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'overwrite uncommitted changes in the target' }),
    handler: async args => {
      await withRepo(args, async repo => {
        const p = progress(io, 'checking out')
        let r
        try {
          r = await repo.checkout({ rev: args.rev, to: args.to, force: args.force, onFile: (_f, size) => p.tick(size) })
        } finally { p.done() }
        if (args.json === true) io.out(toJson({ cid: r.cid, version: r.commit.version, target: r.target, files: r.files, bytes: r.bytes }))
        else io.out(`checked out v${r.commit.version} (${r.cid.toString()}) to ${r.target}: ${r.files} files, ${formatBytes(r.bytes)}`)
      })
    }
  }
}
