import type { CommandModule } from 'yargs'
import { formatBytes, formatDate, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs { rev: string }

export function showCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'show [rev]',
    describe: 'Show everything a version records',
    builder: y => y.positional('rev', { type: 'string', default: 'HEAD', describe: 'version to show' }),
    handler: async args => {
      await withRepo(args, async repo => {
        const s = await repo.show({ rev: args.rev })
        if (args.json === true) { io.out(toJson({ cid: s.cid, names: s.names, commit: s.commit, manifest: s.manifest })); return }
        const c = s.commit
        const total = s.manifest.entries.reduce((a, e) => a + e.size, 0)
        const lines = [
          `version   v${c.version}${s.names.length > 0 ? `  (${s.names.join(', ')})` : ''}`,
          `commit    ${s.cid.toString()}`,
          `parents   ${c.parents.length === 0 ? '(none)' : c.parents.map(p => p.toString()).join(' ')}`,
          `author    ${c.author.name} <${c.author.email}>`,
          `date      ${formatDate(c.timestamp)}`,
          `path      ${c.path} (${s.manifest.kind === 'file' ? 'file' : 'folder'})`,
          `manifest  ${c.model.toString()}: ${s.manifest.entries.length} files, ${formatBytes(total)}`,
          '',
          `    ${c.message}`,
          ''
        ]
        for (const e of s.manifest.entries) lines.push(`  ${e.mode.toString(8).padStart(4, '0')}  ${String(e.size).padStart(12)}  ${e.path}`)
        for (const d of s.manifest.dirs) lines.push(`  dir   ${''.padStart(12)}  ${d}/`)
        io.out(lines.join('\n'))
      })
    }
  }
}
