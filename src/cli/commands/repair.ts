import type { CommandModule } from 'yargs'
import { ObjectNotFoundError, Repository } from '../../api/index.js'
import { toJson, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs { 'dry-run'?: boolean }

/** Lists at most `n` items, then how many more. */
function some<T> (xs: readonly T[], n: number, line: (x: T) => string): string[] {
  const out = xs.slice(0, n).map(line)
  if (xs.length > n) out.push(`  … and ${xs.length - n} more (--json lists all)`)
  return out
}

export function repairCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'repair',
    describe: 'Rebuild the index (.mvc/db) from the pack files and what the old index still holds; report what could not be recovered',
    builder: y => y.option('dry-run', { type: 'boolean', describe: 'report what would be recovered and lost, change nothing' }),
    handler: async args => {
      const r = await Repository.repair({ dir: '.', dryRun: args['dry-run'] === true })
      if (args.json === true) io.out(toJson(r))
      else {
        const how = { intact: 'read as it was', 'leveldb-repair': 'damaged; read after LevelDB\'s own repair of a copy', unreadable: 'unreadable', absent: 'missing' }[r.index.how]
        const lines = [
          `${r.dryRun ? 'would rebuild' : 'rebuilt'} the index of ${r.location}`,
          `old index: ${how}${r.index.problem !== undefined ? ` (${r.index.problem})` : ''}; ${r.index.keys} keys read`,
          `packs: ${r.packs.scanned} scanned, ${r.packs.chunks} intact chunks${r.packs.corruptEntries > 0 ? `, ${r.packs.corruptEntries} corrupt entries skipped` : ''}`,
          ...r.packs.problems.map(p => `  pack ${p.pack}: ${p.problem}`),
          `kept: ${r.kept.chunks} chunks, ${r.kept.objects} structured objects, ${r.kept.refs} refs, ${r.kept.meta} metadata keys; next version v${r.nextVersion}`
        ]
        for (const x of r.rebuiltRefs) lines.push(`recreated ${x.name} → ${x.value}`)
        if (r.lost.versions.length > 0) lines.push(`versions lost: ${r.lost.versions.map(v => `v${v}`).join(', ')}`)
        lines.push(...some(r.lost.refs, 20, x => `lost ref ${x.name} = ${x.value}: ${x.reason}`))
        lines.push(...some(r.lost.objects, 20, x => `lost object ${x.cid}${x.type !== undefined ? ` (${x.type})` : ''}: ${x.reason}`))
        lines.push(...some(r.lost.chunks, 20, x => `lost chunk ${x}: no pack holds it intact`))
        if (r.lost.orphanChunks > 0) lines.push(`${r.lost.orphanChunks} chunks in packs are linked by no recovered object${r.index.how === 'intact' ? ' (left by interrupted writes: harmless)' : ': the file objects, tensors, manifests and commits that used them were in the part of the index that could not be read'}`)
        if (r.backup !== null) lines.push(`the old index is kept in ${r.backup} (delete it when satisfied)`)
        lines.push(r.ok ? 'nothing was lost' : 'what was lost can be restored from a remote that has it: `mvc fetch <remote>` (then `mvc fsck`)')
        io.out(lines.join('\n'))
      }
      if (!r.ok) {
        throw new ObjectNotFoundError(`repair ${r.dryRun ? 'would rebuild' : 'rebuilt'} the index, but not everything could be recovered: ${r.lost.objects.length} objects, ${r.lost.chunks.length} chunks and ${r.lost.refs.length} refs are lost` +
          `${r.index.how !== 'intact' && r.lost.orphanChunks > 0 ? `, and objects the unreadable part of the index held (${r.lost.orphanChunks} chunks are no longer linked)` : ''} (listed above). The repository is consistent; fetch what was lost from a remote.`,
        { objects: r.lost.objects.length, chunks: r.lost.chunks.length, refs: r.lost.refs.length, versions: r.lost.versions, orphanChunks: r.lost.orphanChunks })
      }
    }
  }
}
