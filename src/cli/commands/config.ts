import type { CommandModule } from 'yargs'
import { Repository, UsageError, configure, type ConfigEntry } from '../../api/index.js'
import { toJson, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs { key?: string, value?: string, global?: boolean, unset?: boolean, list?: boolean }

function line (e: ConfigEntry): string {
  return `${e.key}=${String(e.value)}${e.level === 'user' ? '  (user)' : ''}`
}

export function configCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'config [key] [value]',
    describe: 'Get and set settings, for this repository or (--global) for your user',
    builder: y => y
      .positional('key', { type: 'string', describe: 'a setting such as user.name, remote.default, verify.backend' })
      .positional('value', { type: 'string', describe: 'the value to set' })
      .option('global', { type: 'boolean', default: false, describe: 'your user\'s settings (~/.config/mvc/config.json) instead of this repository\'s (.mvc/config.json)' })
      .option('unset', { type: 'boolean', default: false, describe: 'remove the setting' })
      .option('list', { alias: 'l', type: 'boolean', default: false, describe: 'list the effective settings and where each comes from' })
      .example('mvc config user.name "Ada Lovelace"', 'author name for this repository\'s commits')
      .example('mvc config --global verify.backend cpu', 'a default for every repository of yours')
      .example('mvc config --list', 'everything that is set')
      .epilogue('Settings: user.name, user.email, remote.default, verify.enabled, verify.backend, verify.runtime, verify.python, verify.atol, verify.rtol, core.gitignore, color.ui, core.pager (docs/cli.md, "mvc config").'),
    handler: async args => {
      if (args.value !== undefined && args.key === undefined) throw new UsageError('name the setting to change', {})
      if (args.unset && args.key === undefined) throw new UsageError('--unset needs the setting to remove', {})
      if (args.unset && args.value !== undefined) throw new UsageError('give either a value or --unset, not both', {})
      let root: string | undefined
      if (args.global !== true) {
        const repo = await Repository.open({ dir: args.C ?? '.' })
        root = repo.root
        await repo.close()
      }
      const r = await configure({ root, key: args.key, value: args.value, unset: args.unset, level: args.global === true ? 'user' : 'repository' })
      if (args.json === true) { io.out(toJson(args.key === undefined || args.list === true ? r.entries : { key: args.key, value: r.value ?? null })); return }
      if (args.key === undefined || args.list === true) {
        io.out(r.entries.map(line).join('\n'))
      } else if (args.value === undefined && !args.unset) {
        if (r.value === undefined) throw new UsageError(`${args.key} is not set`, { key: args.key })
        io.out(String(r.value))
      }
    }
  }
}
