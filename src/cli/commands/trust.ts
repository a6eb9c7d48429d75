import type { CommandModule } from 'yargs'
import { UsageError } from '../../api/index.js'
import { formatDate, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'
import { readKeyFile } from '../trust.js'

interface Args extends GlobalArgs { action?: string, value?: string, name?: string }

export function trustCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'trust [action] [value]',
    describe: 'Trusted signing keys: list (default), add <key.pub>, remove <name|fingerprint>, require on|off',
    builder: y => y
      .positional('action', { type: 'string', choices: ['list', 'add', 'remove', 'require'], describe: 'what to do' })
      .positional('value', { type: 'string', describe: 'add: a public key file; remove: a name or fingerprint prefix; require: on or off' })
      .option('name', { type: 'string', describe: 'add: a name for the key (default: the file name)' }),
    handler: async args => {
      await withRepo(args, async repo => {
        const action = args.action ?? 'list'
        if (action === 'add') {
          if (args.value === undefined) throw new UsageError('mvc trust add <public key file>', {})
          const k = await repo.trust({ publicKey: await readKeyFile(args.value, 'public key'), name: args.name ?? args.value.replace(/^.*[\\/]/, '').replace(/\.pub$/, '') })
          if (args.json === true) io.out(toJson(k))
          else io.out(`trusting ${k.algorithm} key ${k.name} ${k.fingerprint}`)
          return
        }
        if (action === 'remove') {
          if (args.value === undefined) throw new UsageError('mvc trust remove <name | fingerprint prefix>', {})
          const k = await repo.untrust({ id: args.value })
          if (args.json === true) io.out(toJson(k))
          else io.out(`no longer trusting ${k.name} ${k.fingerprint}`)
          return
        }
        if (action === 'require') {
          if (args.value !== 'on' && args.value !== 'off') throw new UsageError('mvc trust require on|off', {})
          await repo.setRequireSigned({ on: args.value === 'on' })
          if (args.json === true) io.out(toJson({ requireSigned: args.value === 'on' }))
          else io.out(args.value === 'on' ? 'checkout and pull now refuse versions no trusted key signed' : 'checkout and pull no longer require signatures')
          return
        }
        if (args.value !== undefined) throw new UsageError('mvc trust list takes no argument', {})
        const r = await repo.trustedKeys()
        if (args.json === true) { io.out(toJson(r)); return }
        if (r.keys.length === 0) io.out('no trusted keys; `mvc trust add <key.pub>` adds one')
        for (const k of r.keys) io.out(`${k.fingerprint}  ${k.algorithm.padEnd(10)}  ${k.name}  (added ${formatDate(k.added)})`)
        io.out(`signatures required on checkout and pull: ${r.requireSigned ? 'yes' : 'no'}`)
      })
    }
  }
}
