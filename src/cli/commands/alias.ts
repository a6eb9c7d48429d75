import type { CommandModule } from 'yargs'
import { UsageError } from '../../api/index.js'
import { nameAndRev } from './tag.js'
import { formatDate, shortCid, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs { name?: string, rev?: string, delete?: boolean, history?: boolean, message?: string }

const version = (v: number | null): string => v === null ? '(none)' : `v${v}`

export function aliasCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'alias [name] [rev]',
    describe: 'Point a movable name (production, staging) at a version, with a recorded history; with no name, list aliases',
    builder: y => y
      .positional('name', { type: 'string', describe: 'alias name' })
      .positional('rev', { type: 'string', describe: 'version to point at (default HEAD)' })
      .option('delete', { alias: 'd', type: 'boolean', default: false, describe: 'delete the alias (recorded in its history)' })
      .option('history', { type: 'boolean', default: false, describe: 'show every move of the alias (with no name: of every alias), newest first' })
      .option('message', { alias: 'm', type: 'string', describe: 'why it moved (kept in the history)' })
      .example('mvc alias production v3 -m "rollout"', 'point production at v3 (recorded in its history)')
      .example('mvc alias production --history', 'every move of production'),
    handler: async args => {
      Object.assign(args, nameAndRev(args))
      await withRepo(args, async repo => {
        if (args.history === true || args.delete === true) {
          if (args.name === undefined && args.delete === true) throw new UsageError('mvc alias -d <name>: name the alias', {})
          if (args.rev !== undefined) throw new UsageError(`mvc alias ${args.history === true ? '--history' : '-d'} takes one name`, {})
          if (args.history === true && args.delete === true) throw new UsageError('use either --history or -d', {})
        }
        if (args.history === true) {
          const h = await repo.aliasHistory(args.name !== undefined ? { name: args.name } : {})
          if (args.json === true) { io.out(toJson(h)); return }
          const line = (e: typeof h[number]): string => {
            const what = e.from === null ? 'created' : e.to === null ? 'deleted' : 'moved'
            const end = (v: number | null, cid: string | null): string => cid === null ? '(none)' : `${version(v)} ${shortCid(cid)}`
            return `#${e.seq}  ${formatDate(e.at)}  ${what.padEnd(7)}  ${end(e.fromVersion, e.from)} -> ${end(e.toVersion, e.to)}  by ${e.by.name} <${e.by.email}>${e.message !== undefined ? `  ${e.message}` : ''}`
          }
          if (args.name !== undefined) { io.out(h.map(line).join('\n')); return }
          // Every alias: a heading per alias, its moves newest first.
          if (h.length === 0) { io.out('no aliases yet; `mvc alias <name> [rev]` creates one'); return }
          const blocks: string[] = []
          for (const e of h) {
            if (e.seq === h.find(x => x.name === e.name)!.seq) blocks.push(`alias ${e.name}`)
            blocks.push(`  ${line(e)}`)
          }
          io.out(blocks.join('\n'))
          return
        }
        if (args.delete === true) {
          const r = await repo.deleteAlias({ name: args.name!, message: args.message })
          if (args.json === true) io.out(toJson({ deleted: r.name, cid: r.cid, version: r.version }))
          else io.out(`deleted alias ${r.name} (was v${r.version} ${r.cid.toString()})`)
          return
        }
        if (args.name === undefined) {
          const list = await repo.aliases()
          if (args.json === true) { io.out(toJson(list)); return }
          if (list.length === 0) { io.out('no aliases yet; `mvc alias <name> [rev]` creates one'); return }
          const w = Math.max(...list.map(a => a.name.length))
          io.out(list.map(a => `${a.name.padEnd(w)}  v${a.version}  ${a.cid.toString()}`).join('\n'))
          return
        }
        const r = await repo.alias({ name: args.name, rev: args.rev, message: args.message })
        if (args.json === true) { io.out(toJson(r)); return }
        if (!r.changed) io.out(`alias ${r.name} already points at v${r.version}; nothing changed`)
        else if (r.previous === null) io.out(`alias ${r.name} -> v${r.version} ${r.cid.toString()}`)
        else io.out(`alias ${r.name} -> v${r.version} ${r.cid.toString()} (was ${r.previous.toString()})`)
      }, { reader: args.delete !== true && (args.history === true || args.name === undefined) }) // listing and history only read
    }
  }
}
