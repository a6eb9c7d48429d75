import type { CommandModule } from 'yargs'
import { resolve } from 'node:path'
import { UsageError } from '../../api/index.js'
import { toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs { action?: string, name?: string, url?: string }

export function remoteCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'remote [action] [name] [url]',
    describe: 'Manage remotes: `remote add <name> <url>`, `remote remove <name>`, `remote list` (the default)',
    builder: y => y
      .positional('action', { type: 'string', choices: ['add', 'remove', 'rm', 'list'], describe: 'what to do (default list)' })
      .positional('name', { type: 'string', describe: 'remote name (e.g. origin)' })
      .positional('url', { type: 'string', describe: 'a path (stored absolute), file:///path, http(s)://host:port/ or s3://bucket/prefix' })
      .example('mvc remote add origin s3://models/classifier', 'add a remote')
      .example('mvc remote list', 'list remotes'),
    handler: async args => {
      const action = args.action ?? 'list'
      await withRepo(args, async repo => {
        if (action === 'list') {
          const all = await repo.remotes()
          if (args.json === true) io.out(toJson(all))
          else if (all.length > 0) io.out(all.map(r => `${r.name}\t${r.url}`).join('\n'))
          return
        }
        if (args.name === undefined) throw new UsageError(`\`mvc remote ${action}\` needs a remote name`, {})
        if (action === 'add') {
          if (args.url === undefined) throw new UsageError('`mvc remote add <name> <url>` needs a URL', {})
          const r = await repo.addRemote({ name: args.name, url: args.url, cwd: resolve(args.C ?? '.') })
          if (args.json === true) io.out(toJson(r))
          else io.out(`added remote ${r.name}: ${r.url}`)
          return
        }
        if (args.url !== undefined) throw new UsageError(`\`mvc remote ${action}\` takes only a name`, {})
        const r = await repo.removeRemote({ name: args.name })
        if (args.json === true) io.out(toJson(r))
        else io.out(`removed remote ${r.name} (${r.url})`)
      })
    }
  }
}
