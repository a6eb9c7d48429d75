import type { CommandModule } from 'yargs'
import { UsageError } from '../../api/index.js'
import { toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs { name?: string, rev?: string, delete?: boolean, force?: boolean }

/**
 * `[name] [rev]` including words after `--` (yargs leaves those in `_`), so that `mvc tag -- -x` reaches
 * name validation instead of being dropped. Shared by tag, alias and branch.
 */
export function nameAndRev (args: { _: Array<string | number>, name?: string, rev?: string }): { name?: string, rev?: string } {
  const words = [args.name, args.rev].filter((w): w is string => w !== undefined)
  words.push(...args._.slice(1).map(String))
  if (words.length > 2) throw new UsageError(`expected at most a name and a revision, got: ${words.join(' ')}`, {})
  return { name: words[0], rev: words[1] }
}

export function tagCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'tag [name] [rev]',
    describe: 'Name a version permanently (e.g. 1.2.0); with no name, list tags',
    builder: y => y
      .positional('name', { type: 'string', describe: 'tag name (no whitespace, "..", ~ ^ : ? * [ \\, leading "-", or v<digits>)' })
      .positional('rev', { type: 'string', describe: 'version to tag (default HEAD)' })
      .option('delete', { alias: 'd', type: 'boolean', default: false, describe: 'delete the tag (needs --force: tags are immutable)' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'move or delete an existing tag' })
      .example('mvc tag 1.0.0 v3', 'name v3 1.0.0 (tags never move without --force)')
      .example('mvc tag', 'list tags'),
    handler: async args => {
      Object.assign(args, nameAndRev(args))
      await withRepo(args, async repo => {
        if (args.delete === true) {
          if (args.name === undefined) throw new UsageError('mvc tag -d <name> --force: name the tag to delete', {})
          if (args.rev !== undefined) throw new UsageError('mvc tag -d takes one name', {})
          const r = await repo.deleteTag({ name: args.name, force: args.force })
          if (args.json === true) io.out(toJson({ deleted: r.name, cid: r.cid, version: r.version }))
          else io.out(`deleted tag ${r.name} (was v${r.version} ${r.cid.toString()})`)
          return
        }
        if (args.name === undefined) {
          const tags = await repo.tags()
          if (args.json === true) { io.out(toJson(tags)); return }
          if (tags.length === 0) { io.out('no tags yet; `mvc tag <name> [rev]` creates one'); return }
          const w = Math.max(...tags.map(t => t.name.length))
          io.out(tags.map(t => `${t.name.padEnd(w)}  v${t.version}  ${t.cid.toString()}`).join('\n'))
          return
        }
        const r = await repo.tag({ name: args.name, rev: args.rev, force: args.force })
        if (args.json === true) { io.out(toJson(r)); return }
        if (!r.changed) io.out(`tag ${r.name} already names v${r.version}; nothing changed`)
        else if (r.previous !== null) io.out(`moved tag ${r.name} to v${r.version} ${r.cid.toString()} (was ${r.previous.toString()})`)
        else io.out(`tagged v${r.version} ${r.cid.toString()} as ${r.name}`)
      }, { reader: args.name === undefined && args.delete !== true }) // listing only reads
    }
  }
}
