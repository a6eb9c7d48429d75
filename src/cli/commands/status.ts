import type { CommandModule } from 'yargs'
import { toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs { path?: string }

export function statusCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'status [path]',
    describe: 'Show files added, modified or removed since the last commit or checkout',
    builder: y => y.positional('path', { type: 'string', describe: 'path to examine (default: the last one committed)' })
      .example('mvc status', 'what changed in the last committed path')
      .example('mvc status model', 'what changed in model/'),
    handler: async args => {
      await withRepo(args, async repo => {
        const s = await repo.status({ path: args.path })
        if (args.json === true) { io.out(toJson(s)); return }
        if (s.base === null && s.path === '.') {
          io.out('nothing committed yet: run `mvc commit <path> -m <message>`, then `mvc status` compares that path')
          return
        }
        const lines = [s.base === null ? `${s.path}: not committed yet` : `${s.path}: compared with v${s.base.version}${s.head !== undefined ? ` (checked out there; HEAD is v${s.head.version}: \`mvc diff v${s.head.version}\` compares HEAD with these files)` : ''}`]
        if (!s.exists) lines.push(`${s.path} does not exist`)
        for (const p of s.added) lines.push(`  added:    ${p}`)
        for (const p of s.modified) lines.push(`  modified: ${p}`)
        for (const p of s.removed) lines.push(`  removed:  ${p}`)
        if (s.clean) lines.push('nothing changed')
        if (s.failedVerification !== undefined) lines.push(`warning: these files are v${s.failedVerification.version}, whose behaviour FAILED verification when checked out (--keep-on-fail); run \`mvc verify v${s.failedVerification.version}\` for the report`)
        io.out(lines.join('\n'))
      })
    }
  }
}
