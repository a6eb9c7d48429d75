import type { CommandModule } from 'yargs'
import type { GcReport } from '../../api/index.js'
import { formatBytes, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs {
  'dry-run'?: boolean
  prune?: string
  'prune-unreferenced'?: string
  remote?: string
}

/** The report of a gc as text: what was (or would be) removed, the packs, the bytes freed. */
export function gcLines (r: GcReport, listed = false): string[] {
  const would = r.dryRun ? 'would remove' : 'removed'
  const lines = [
    `${would} ${r.removed.objects} objects (${r.removed.chunks} chunks, ${r.removed.inline} structured; ${formatBytes(r.removed.bytes)}); kept ${r.reachable.objects} reachable objects (${formatBytes(r.reachable.bytes)})`
  ]
  if (r.young.objects > 0) lines.push(`kept ${r.young.objects} unreferenced objects (${formatBytes(r.young.bytes)}) younger than the grace period (${r.cutoffs.unreferenced ?? 'never'}): a push may be using them`)
  if (r.versions.purged.length > 0) lines.push(`${r.dryRun ? 'would remove' : 'removed'} the content of deleted ${r.versions.purged.map(v => `v${v}`).join(', ')}`)
  if (r.versions.restorable.length > 0) lines.push(`deleted ${r.versions.restorable.map(v => `v${v}`).join(', ')} kept: deleted after ${r.cutoffs.deleted ?? 'never'} (restorable with mvc rm --undo)`)
  const p = r.packs
  if (p.repacked.length > 0) lines.push(`${r.dryRun ? 'would repack' : 'repacked'} ${p.repacked.length} packs (${p.chunksMoved} live chunks${p.written.length > 0 ? ` into ${p.written.length} new` : ''})`)
  if (p.deleted.length > 0) lines.push(`${r.dryRun ? 'would delete' : 'deleted'} ${p.deleted.length} packs`)
  if (p.deferred.length > 0) lines.push(`kept ${p.deferred.length} unused packs on disk: ${p.readers.length} reader(s) may still read them (${p.readers.join(', ')}); the next gc deletes them`)
  if (r.cacheEntries > 0) lines.push(`dropped ${r.cacheEntries} cache entries naming removed objects`)
  for (const l of r.leftovers) lines.push(`removed leftover ${l}`)
  const d = r.disk
  if (listed) {
    // A bucket: sizes of the objects as listed, no packs or index.
    lines.push(`${r.dryRun ? 'would free' : 'freed'} ${formatBytes(d.freed)}: objects ${formatBytes(d.packsBefore)} → ${formatBytes(d.packsAfter)}`)
    return lines
  }
  lines.push(r.dryRun
    ? `would free about ${formatBytes(d.freed)} of ${formatBytes(d.packsBefore + d.indexBefore)} (packs ${formatBytes(d.packsBefore)}, index ${formatBytes(d.indexBefore)})`
    : `freed ${formatBytes(Math.max(0, d.freed))}: packs ${formatBytes(d.packsBefore)} → ${formatBytes(d.packsAfter)}, index ${formatBytes(d.indexBefore)} → ${formatBytes(d.indexAfter)}`)
  return lines
}

export function gcCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'gc',
    describe: 'Remove what no ref, version, tag, alias or log reaches (after a grace period), deleted versions\' content, and leftovers; repack; report the bytes freed',
    builder: y => y
      .option('dry-run', { alias: 'n', type: 'boolean', default: false, describe: 'report what would be removed, change nothing' })
      .option('prune', { type: 'string', describe: 'grace period of deleted versions and unreferenced objects: now, never, 30m, 12h, 3d, 2w, an ISO date (default: gc.prune, else 2w)' })
      .option('prune-unreferenced', { type: 'string', describe: 'minimum age of an object nothing references, even with --prune=now (default: gc.pruneUnreferenced, else 1h: a push in flight)' })
      .option('remote', { type: 'string', describe: 'collect a remote instead (a name, URL or path): a folder remote here, `mvc serve` on the server (write token), S3 from this client' })
      .example('mvc gc --dry-run', 'what would be removed, and how many bytes that frees')
      .example('mvc rm v3 && mvc gc --prune=now', 'delete v3 and remove its content at once')
      .example('mvc gc --prune=now --prune-unreferenced=now', 'remove everything unreachable, whatever its age (no push may be running)')
      .example('mvc gc --remote origin --dry-run', 'what gc would remove on the remote origin'),
    handler: async args => {
      await withRepo(args, async repo => {
        const options = { dryRun: args['dry-run'], prune: args.prune, pruneUnreferenced: args['prune-unreferenced'] }
        if (args.remote !== undefined) {
          const r = await repo.gcRemote({ ...options, remote: args.remote })
          io.out(args.json === true ? toJson(r) : [`gc of ${r.url} (${r.how === 'folder' ? 'its store, here' : r.how === 'server' ? 'by the server' : 'from this client'})`, ...gcLines(r.report, r.how === 's3')].join('\n'))
          return
        }
        const r = await repo.gc(options)
        io.out(args.json === true ? toJson(r) : gcLines(r).join('\n'))
      }, { reader: args.remote !== undefined })
    }
  }
}
