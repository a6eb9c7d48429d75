import type { CommandModule } from 'yargs'
import { formatBytes, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs { file: string }

export function importCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'import <file>',
    describe: 'Import a CAR file: every block re-hashed and the closure checked before anything becomes visible',
    builder: y => y.positional('file', { type: 'string', demandOption: true, describe: 'CAR file (from `mvc export`)' }),
    handler: async args => {
      await withRepo(args, async repo => {
        const r = await repo.importCar({ file: args.file })
        if (args.json === true) { io.out(toJson(r)); return }
        io.out(`imported ${args.file}: ${r.blocks} blocks, ${formatBytes(r.bytes)} (${r.newBlocks} new), ${r.signatures} signature${r.signatures === 1 ? '' : 's'}`)
        for (const c of r.commits) {
          io.out(c.ref.startsWith('refs/versions/')
            ? `  v${c.version} ${c.cid.toString()}${c.shallow ? ' (without its history)' : ''}`
            : `  ${c.cid.toString()} as ${c.ref} (v${c.version} where it came from; that number is taken here or its history is missing${c.shallow ? ': imported without its parents' : ''})`)
        }
        if (r.branch !== undefined) io.out(`  ${r.branch.replace(/^refs\/heads\//, '')} now at ${r.roots[0]!.toString()}`)
      })
    }
  }
}
