import type { CommandModule } from 'yargs'
import { formatDate, shortCid, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs { rev?: string, n?: number }

export function logCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'log [rev]',
    describe: 'Show the history, newest version first',
    builder: y => y
      .positional('rev', { type: 'string', describe: 'start here instead of HEAD' })
      .option('n', { alias: 'max-count', type: 'number', describe: 'show at most n versions' }),
    handler: async args => {
      await withRepo(args, async repo => {
        const entries = await repo.log({ rev: args.rev, limit: args.n })
        if (args.json === true) {
          io.out(toJson(entries.map(e => ({ cid: e.cid, names: e.names, ...e.commit }))))
          return
        }
        if (entries.length === 0) { io.out('no versions yet'); return }
        for (const e of entries) {
          const c = e.commit
          const names = e.names.length > 0 ? `  (${e.names.join(', ')})` : ''
          io.out(`v${c.version}  ${shortCid(e.cid)}  ${formatDate(c.timestamp)}  ${c.author.name}  ${c.path}  ${c.message}${names}`)
        }
      })
    }
  }
}
