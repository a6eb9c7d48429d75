import type { CommandModule } from 'yargs'
import { toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs { path?: string }

export function statusCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'status [path]',
    describe: 'Show files added, modified or removed since the last commit or checkout',
    builder: y => y.positional('path', { type: 'string', describe: 'path to examine (default: every tracked path)' })
      .example('mvc status', 'what changed in every tracked path')
      .example('mvc status model', 'what changed in model/'),
    handler: async args => {
      await withRepo(args, async repo => {
        const given = args.path ?? (io.paths !== undefined && io.paths.length === 1 ? io.paths[0] : undefined)
        const s = await repo.status({ path: given })
        if (args.json === true) { io.out(toJson(s)); return }
        if (s.base === null && s.path === '.') {
          io.out('nothing committed yet: run `mvc commit <path> -m <message>`, then `mvc status` compares that path')
          return
        }
        const lines: string[] = []
        for (const one of s.paths ?? [s]) {
          lines.push(one.base === null ? `${one.path}: not committed yet` : `${one.path}: compared with v${one.base.version}${one.head !== undefined ? ` (checked out there; HEAD is v${one.head.version}: \`mvc diff v${one.head.version}\` compares HEAD with these files)` : ''}`)
          if (!one.exists) lines.push(`${one.path} does not exist`)
          for (const p of one.added) lines.push(`  added:    ${p}`)
          for (const p of one.modified) lines.push(`  modified: ${p}`)
          for (const p of one.removed) lines.push(`  removed:  ${p}`)
          if (one.clean) lines.push('nothing changed')
          if (one.failedVerification !== undefined) lines.push(`warning: these files are v${one.failedVerification.version}, whose behaviour FAILED verification when checked out (--keep-on-fail); run \`mvc verify v${one.failedVerification.version}\` for the report`)
        }
        io.out(lines.join('\n'))
      }, { reader: true })
    }
  }
}
