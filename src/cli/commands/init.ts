import type { CommandModule } from 'yargs'
import { Repository } from '../../api/index.js'
import { toJson, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs { dir?: string }

export function initCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'init [dir]',
    describe: 'Create an empty repository (.mvc/) in dir (default: the current folder)',
    builder: y => y.positional('dir', { type: 'string', describe: 'folder to create the repository in' })
      .example('mvc init', 'create .mvc/ here (in a git work tree, .mvc/ goes into .gitignore)'),
    handler: async args => {
      const r = await Repository.init({ dir: args.dir ?? args.C ?? '.' })
      if (args.json === true) io.out(toJson(r))
      else io.out(r.created ? `Initialized empty mvc repository in ${r.root}/.mvc` : `${r.root} is already an mvc repository; nothing changed`)
      if (args.json !== true && r.gitignore !== undefined) io.err(`added ${r.gitignore.added.join(', ')} to ${r.gitignore.file} (commit it to git)`)
    }
  }
}
