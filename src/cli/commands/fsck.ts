import type { CommandModule } from 'yargs'
import { CorruptObjectError, ObjectNotFoundError } from '../../api/index.js'
import { formatBytes, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

export function fsckCommand (io: Io): CommandModule<GlobalArgs, GlobalArgs> {
  return {
    command: 'fsck',
    describe: 'Check the repository: refs, every reachable object (re-hashed), dangling and temporary packs',
    builder: y => y.example('mvc fsck', 're-hash every reachable object and report damage'),
    handler: async args => {
      await withRepo(args, async repo => {
        const r = await repo.fsck()
        if (args.json === true) io.out(toJson(r))
        else {
          const lines = [`checked ${r.refs} refs and ${r.objects} reachable objects (${formatBytes(r.bytes)})`]
          for (const p of r.missing) lines.push(`missing ${p.cid} (linked from ${p.from})`)
          for (const p of r.corrupt) lines.push(`corrupt ${p.cid} (linked from ${p.from}): ${p.message}`)
          for (const b of r.badRefs) lines.push(`bad ref ${b.name} = ${b.value}: ${b.reason}`)
          if (r.notFetched > 0) lines.push(`${r.notFetched} objects not fetched (partial clone: fetched when a version is used)`)
          if (r.purgedVersions > 0) lines.push(`${r.purgedVersions} deleted versions whose content gc removed (their history is kept)`)
          if (r.unreachable > 0) lines.push(`${r.unreachable} stored objects are unreachable from any ref (harmless)`)
          for (const p of r.danglingPacks) lines.push(`dangling pack ${p}.pack: no index entry uses it (left by an interrupted write; safe to delete)`)
          for (const p of r.tempPacks) lines.push(`temporary pack ${p}: left by an interrupted write (of a live process, or of another host); safe to delete when no mvc process runs`)
          for (const p of r.staging) lines.push(`staging folder ${p}: left by an interrupted init, clone or checkout (of a live process, or of another host); safe to delete when no mvc process runs`)
          lines.push(r.ok ? 'ok' : 'the repository is damaged: restore the objects named above from a remote (mvc fetch) or a backup')
          io.out(lines.join('\n'))
        }
        if (!r.ok) {
          const first = r.corrupt[0] ?? r.missing[0]
          const Err = r.corrupt.length > 0 ? CorruptObjectError : ObjectNotFoundError
          throw new Err(`fsck found ${r.missing.length} missing and ${r.corrupt.length} corrupt objects and ${r.badRefs.length} bad refs${first !== undefined ? `; first: ${first.cid}` : ''}`, { missing: r.missing.length, corrupt: r.corrupt.length, badRefs: r.badRefs.length })
        }
      }, { reader: true })
    }
  }
}
