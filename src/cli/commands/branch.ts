import type { CommandModule } from 'yargs'
import { UsageError } from '../../api/index.js'
import { nameAndRev } from './tag.js'
import { toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs { name?: string, rev?: string, delete?: boolean }

export function branchCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'branch [name] [rev]',
    describe: 'List branches (current marked *), create one at a version, or delete one',
    builder: y => y
      .positional('name', { type: 'string', describe: 'branch to create' })
      .positional('rev', { type: 'string', describe: 'where it starts (default HEAD)' })
      .option('delete', { alias: 'd', type: 'boolean', default: false, describe: 'delete the branch (not the current one; its versions stay)' })
      .example('mvc branch experiment v2', 'a branch at v2')
      .example('mvc branch', 'list branches'),
    handler: async args => {
      Object.assign(args, nameAndRev(args))
      await withRepo(args, async repo => {
        if (args.delete === true) {
          if (args.name === undefined) throw new UsageError('mvc branch -d <name>: name the branch to delete', {})
          if (args.rev !== undefined) throw new UsageError('mvc branch -d takes one name', {})
          const r = await repo.deleteBranch({ name: args.name })
          if (args.json === true) io.out(toJson({ deleted: r.name, cid: r.cid, version: r.version }))
          else io.out(`deleted branch ${r.name} (was v${r.version} ${r.cid.toString()})`)
          return
        }
        if (args.name === undefined) {
          const list = await repo.branches()
          if (args.json === true) { io.out(toJson(list)); return }
          const w = Math.max(...list.map(b => b.name.length))
          io.out(list.map(b => `${b.current ? '*' : ' '} ${b.name.padEnd(w)}  ${b.cid === null ? '(no commits yet)' : `v${b.version}  ${b.cid.toString()}`}`.trimEnd()).join('\n'))
          return
        }
        const r = await repo.createBranch({ name: args.name, rev: args.rev })
        if (args.json === true) { io.out(toJson(r)); return }
        io.out(`created branch ${r.name} at v${r.version} ${r.cid.toString()}; \`mvc switch ${r.name}\` to commit on it`)
      }, { reader: args.name === undefined && args.delete !== true }) // listing only reads
    }
  }
}
