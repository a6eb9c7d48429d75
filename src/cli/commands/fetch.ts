import type { CommandModule } from 'yargs'
import { formatBytes, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'
import { formatAliasChange, formatRefChange, formatVersions, printedRefChanges, transferProgress } from './push.js'

interface Args extends GlobalArgs { remote?: string, force?: boolean }

export function fetchCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'fetch [remote]',
    describe: "Get a remote's branches (as <remote>/<branch>), tags, versions and aliases with the objects they need",
    builder: y => y
      .positional('remote', { type: 'string', describe: 'remote name (default origin)' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: "take the remote's tags, version numbers and alias histories where they differ from yours, and follow branches the remote moved backwards" })
      .example('mvc fetch', `get origin's branches, tags, versions and aliases`)
      .example('mvc fetch && mvc alias --history production', 'who moved production on other machines, and when'),
    handler: async args => {
      await withRepo(args, async repo => {
        const p = transferProgress(io, 'fetching')
        let r
        try {
          r = await repo.fetch({ remote: args.remote, force: args.force, onProgress: p.onProgress })
        } finally { p.done() }
        if (args.json === true) {
          io.out(toJson({ objectsReceived: r.objectsReceived, bytesReceived: r.bytesReceived, objectsSkipped: r.objectsSkipped, url: r.url, refs: r.refs, versions: r.versions, signatures: r.signatures ?? 0, rollbacks: r.rollbacks, warnings: r.warnings, aliases: r.aliases }))
          for (const w of r.warnings) io.err(`warning: ${w}`)
          return
        }
        for (const w of r.warnings) io.err(`warning: ${w}`)
        for (const c of printedRefChanges(r.refs, false)) io.out(formatRefChange(c))
        for (const a of r.aliases) if (a.status !== 'up-to-date') io.out(formatAliasChange(a, 'fetch'))
        io.err(`fetched from ${r.url}: ${r.objectsReceived} objects, ${formatBytes(r.bytesReceived)} received (${r.objectsSkipped} already here)${r.versions.length > 0 ? `; versions ${formatVersions(r.versions)}` : ''}${(r.signatures ?? 0) > 0 ? `; ${r.signatures ?? 0} signature(s)` : ''}`)
      })
    }
  }
}
