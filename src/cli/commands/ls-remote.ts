import type { CommandModule } from 'yargs'
import { Repository, type RefFilter } from '../../api/index.js'
import { toJson, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs {
  remote?: string
  patterns?: string[]
  branches?: boolean
  tags?: boolean
  aliases?: boolean
  versions?: boolean
}

export function lsRemoteCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'ls-remote [remote] [patterns..]',
    describe: "List a remote's refs (branches, tags, versions, aliases and their histories) as <cid><TAB><ref>, without fetching",
    builder: y => y
      .positional('remote', { type: 'string', describe: 'a configured remote (default origin) or a URL or path; outside a repository, a URL or path' })
      .positional('patterns', { type: 'string', array: true, describe: 'only refs matching a pattern (a glob matched against the whole name, or the part after a "/": production, v1.*, refs/heads/*)' })
      .option('branches', { alias: 'heads', type: 'boolean', default: false, describe: 'branches (refs/heads/)' })
      .option('tags', { alias: 't', type: 'boolean', default: false, describe: 'tags (refs/tags/)' })
      .option('aliases', { type: 'boolean', default: false, describe: 'aliases (refs/aliases/: the commit; refs/alias-log/: the newest move of its history)' })
      .option('versions', { type: 'boolean', default: false, describe: 'version numbers (refs/versions/<n>)' })
      .example('mvc ls-remote', "every ref of origin")
      .example('mvc ls-remote origin --aliases', 'where the shared aliases point, and the newest move of each')
      .example('mvc ls-remote http://127.0.0.1:8080/ production', 'one name on a server, no repository needed'),
    handler: async args => {
      const filters = (['branches', 'tags', 'aliases', 'versions'] as const).filter(f => args[f] === true) as RefFilter[]
      const r = await Repository.lsRemote({ dir: args.C ?? '.', remote: args.remote, filters, patterns: args.patterns ?? [] })
      if (args.json === true) { io.out(toJson(r)); return }
      if (r.refs.length > 0) io.out(r.refs.map(ref => `${ref.value}\t${ref.name}`).join('\n'))
    }
  }
}
