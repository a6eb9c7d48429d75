import type { CommandModule } from 'yargs'
import { UsageError, type RmResult } from '../../api/index.js'
import { formatDate, shortCid, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs {
  revs?: string[]
  force?: boolean
  undo?: boolean
  list?: boolean
  'keep-last'?: number
  'dry-run'?: boolean
}

function removedLines (r: RmResult): string[] {
  const verb = r.dryRun ? 'would delete' : 'deleted'
  const lines: string[] = []
  for (const v of r.removed) {
    if (v.already) { lines.push(`v${v.version} was already deleted`); continue }
    lines.push(`${verb} v${v.version}  ${shortCid(v.cid)}${v.namedBy.length > 0 ? `  (still named by ${v.namedBy.join(', ')}: --force)` : ''}`)
  }
  for (const k of r.kept ?? []) lines.push(`kept v${k.version}  (${k.why})`)
  const fresh = r.removed.filter(v => !v.already)
  if (fresh.length === 0) lines.push(r.kept !== undefined ? 'nothing to delete' : 'nothing changed')
  else if (!r.dryRun) lines.push(`restore with \`mvc rm --undo ${fresh.map(v => `v${v.version}`).join(' ')}\` until \`mvc gc\` removes their content after the grace period (gc.prune, default 2 weeks)`)
  return lines
}

export function rmCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'rm [revs..]',
    describe: 'Delete versions: their content is removed by the next gc past the grace period; history and version numbers stay',
    builder: y => y
      .positional('revs', { type: 'string', array: true, describe: 'versions to delete (v3, a tag, an alias, a CID prefix)' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'also delete versions a branch tip, tag or alias names (the names then point at a deleted version)' })
      .option('undo', { type: 'boolean', default: false, describe: 'restore the named deleted versions (before gc removed their content)' })
      .option('keep-last', { type: 'number', describe: 'policy: delete every version but the last N, branch tips and tagged or aliased versions' })
      .option('dry-run', { alias: 'n', type: 'boolean', default: false, describe: 'say what would be deleted, change nothing' })
      .option('list', { type: 'boolean', default: false, describe: 'list deleted versions' })
      .example('mvc rm v3', 'delete v3 (restorable until gc removes its content)')
      .example('mvc rm --undo v3', 'restore it')
      .example('mvc rm --keep-last 5 --dry-run', 'which versions a keep-the-last-5 policy would delete')
      .example('mvc rm v4 --force', 'delete v4 although tag 1.0 names it'),
    handler: async args => {
      const revs = [...(args.revs ?? []), ...args._.slice(1).map(String)]
      const keep = args['keep-last']
      await withRepo(args, async repo => {
        if (args.list === true) {
          if (revs.length > 0 || keep !== undefined || args.undo === true) throw new UsageError('mvc rm --list takes no versions or other options', {})
          const list = await repo.deletedVersions()
          if (args.json === true) { io.out(toJson(list)); return }
          if (list.length === 0) { io.out('no deleted versions'); return }
          io.out(list.map(t => `v${t.version}  ${shortCid(t.cid)}  deleted ${formatDate(t.at)} by ${t.by.name}${t.purged !== null ? `, content removed by gc ${formatDate(t.purged)}` : ' (restorable: mvc rm --undo)'}`).join('\n'))
          return
        }
        if (args.undo === true) {
          if (keep !== undefined) throw new UsageError('--undo and --keep-last do not go together', {})
          if (revs.length === 0) throw new UsageError('mvc rm --undo <version>…: name the versions to restore (`mvc rm --list` lists deleted versions)', {})
          const r = await repo.undoRemove({ revs })
          if (args.json === true) { io.out(toJson({ restored: r })); return }
          io.out(r.map(v => v.wasDeleted ? `restored v${v.version}  ${shortCid(v.cid)}` : `v${v.version} was not deleted`).join('\n'))
          return
        }
        let r: RmResult
        if (keep !== undefined) {
          if (revs.length > 0) throw new UsageError('--keep-last is a policy over all versions: give it no versions', {})
          r = await repo.keepLast({ keep, dryRun: args['dry-run'] })
        } else {
          if (revs.length === 0) throw new UsageError('mvc rm <version>…: name the versions to delete, or a policy (--keep-last N)', {})
          r = await repo.remove({ revs, force: args.force, dryRun: args['dry-run'] })
        }
        if (args.json === true) io.out(toJson(r))
        else io.out(removedLines(r).join('\n'))
      })
    }
  }
}
