import type { CommandModule } from 'yargs'
import { toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs { branch: string, rev?: string, create?: boolean }

export function switchCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'switch <branch> [rev]',
    describe: 'Make a branch current (new commits go on it); with -c, create it first at rev (default HEAD). Files are not touched: `mvc checkout <branch>` rebuilds them',
    builder: y => y
      .positional('branch', { type: 'string', demandOption: true, describe: 'branch to switch to' })
      .positional('rev', { type: 'string', describe: 'with -c: where the new branch starts (default HEAD)' })
      .option('create', { alias: 'c', type: 'boolean', default: false, describe: 'create the branch, then switch to it' })
      .example('mvc switch -c experiment v2', 'create a branch at v2 and move HEAD to it'),
    handler: async args => {
      await withRepo(args, async repo => {
        const r = await repo.switch({ name: args.branch, create: args.create, rev: args.rev })
        if (args.json === true) { io.out(toJson(r)); return }
        const at = r.cid === null ? 'no commits yet' : `at v${r.version} ${r.cid.toString()}`
        if (r.branch === r.previous && !r.created) { io.out(`already on ${r.branch} (${at})`); return }
        io.out(`switched to ${r.created ? 'new ' : ''}branch ${r.branch} (${at})`)
        if (r.cid !== null) io.err(`files were not changed; \`mvc checkout ${r.branch}\` rebuilds v${r.version} on disk`)
      })
    }
  }
}
