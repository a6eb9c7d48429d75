import type { CommandModule } from 'yargs'
import type { AliasChange, ProgressFn, RefChange, TransferProgress } from '../../api/index.js'
import { formatBytes, shortCid, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

/**
 * Progress of a transfer on stderr: on a terminal, one line rewritten in place with objects, bytes,
 * rate and ETA; otherwise nothing while it runs (the command prints a one-line summary at the end).
 */
export function transferProgress (io: Io, label: string): { onProgress: ProgressFn, done: () => void } {
  if (!io.tty) return { onProgress: () => {}, done: () => {} }
  let start = 0
  let last = 0
  let drawn = false
  let latest: TransferProgress | undefined
  const draw = (p: TransferProgress): void => {
    const now = Date.now()
    if (p.phase === 'negotiate') {
      process.stderr.write(`\r${label}: finding what to transfer: ${p.objects} objects checked\x1b[K`)
      drawn = true
      return
    }
    if (start === 0) start = now
    const secs = Math.max(0.001, (now - start) / 1000)
    const rate = p.bytes / secs
    const left = Math.max(0, p.totalBytes - p.bytes)
    const eta = rate > 0 && p.bytes > 0 ? Math.ceil(left / rate) : undefined
    const pct = p.totalBytes > 0 ? ` ${Math.floor(100 * p.bytes / p.totalBytes)}%` : ''
    process.stderr.write(`\r${label}:${pct} ${p.objects}/${p.totalObjects} objects, ${formatBytes(p.bytes)}/${formatBytes(p.totalBytes)}, ${formatBytes(rate)}/s${eta !== undefined ? `, ETA ${formatEta(eta)}` : ''}\x1b[K`)
    drawn = true
  }
  return {
    onProgress: p => {
      latest = p
      const now = Date.now()
      if (now - last < 100 && p.phase !== 'done') return
      last = now
      draw(p)
    },
    done: () => {
      if (latest !== undefined && latest.phase !== 'negotiate' && drawn) draw(latest)
      if (drawn) process.stderr.write('\r\x1b[K')
    }
  }
}

function formatEta (s: number): string {
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

/** `alias production: v5 → v7 (updated, 2 moves)`; `behind` and `ahead` say what to do. */
export function formatAliasChange (c: AliasChange, side: 'push' | 'fetch'): string {
  const end = (cid: string | null, v: number | null): string => cid === null ? '(none)' : v === null ? shortCid(cid) : `v${v}`
  const name = `alias ${c.name}`
  const moves = c.moves === 1 ? '1 move' : `${c.moves} moves`
  switch (c.status) {
    case 'up-to-date': return `${name}: up to date (${end(c.new, c.newVersion)})`
    case 'behind': return `${name}: not pushed: the remote's history has moves yours lacks (it was moved to ${end(c.theirs?.to ?? null, c.theirs?.toVersion ?? null)} by ${c.theirs?.by.name ?? '?'}); \`mvc fetch\` gets them`
    case 'ahead': return `${name}: yours has moves the remote lacks (${end(c.new, c.newVersion)}); \`mvc push\` sends them`
    case 'diverged': return `${name}: diverged from the remote's; kept yours (${end(c.new, c.newVersion)})`
    default: return `${name}: ${c.old === null && c.status === 'created' ? '(new)' : end(c.old, c.oldVersion)} → ${c.new === null ? '(deleted)' : end(c.new, c.newVersion)} (${c.status}${c.moves > 0 && side === 'fetch' ? `, ${moves}` : ''})`
  }
}

/** `main: v2 → v3 (updated)`, `tag release: (new) → v1 (created)`, `origin/main: …`; a short CID where the version is not known. */
export function formatRefChange (c: RefChange): string {
  const name = c.ref.replace(/^refs\/(heads|tags|remotes)\//, (_m, ns: string) => ns === 'tags' ? 'tag ' : ns === 'remotes' ? '' : '')
  const end = (cid: string, v: number | null | undefined): string => v === null || v === undefined ? shortCid(cid) : `v${v}`
  const from = c.old === null ? '(new)' : end(c.old, c.oldVersion)
  const to = c.new === null ? '(deleted)' : end(c.new, c.newVersion)
  return c.status === 'up-to-date' ? `${name}: up to date (${to})` : `${name}: ${from} → ${to} (${c.status})`
}

/** The ref changes a command prints: branches and tags (alias histories are printed as aliases). */
export function printedRefChanges (refs: readonly RefChange[], withUpToDate: boolean): RefChange[] {
  return refs.filter(c => !c.ref.startsWith('refs/alias-log/') && !c.ref.startsWith('refs/versions/') && (withUpToDate || c.status !== 'up-to-date'))
}

interface Args extends GlobalArgs { remote?: string, refs?: string[], force?: boolean, tags?: boolean, aliases?: boolean }

export function pushCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'push [remote] [refs..]',
    describe: 'Send a branch (default: the current one) with its versions, tags and aliases to a remote, then move the remote branch',
    builder: y => y
      .positional('remote', { type: 'string', describe: 'remote name (default origin), or a URL or path' })
      .positional('refs', { type: 'string', array: true, describe: 'branches, tags or aliases to push (default: the current branch)' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'overwrite a remote branch that is not an ancestor, tags or versions that differ, and alias histories that diverged from yours' })
      .option('tags', { type: 'boolean', default: false, describe: 'push every tag (tags on pushed versions are pushed anyway)' })
      .option('aliases', { type: 'boolean', default: false, describe: 'push every alias with its history (aliases on pushed versions, and aliases the remote has, are pushed anyway)' })
      .example('mvc push', 'send the current branch to origin, with the tags and aliases on it')
      .example('mvc push origin main --tags', 'a branch and every tag')
      .example('mvc push origin production', 'just the alias production and its history'),
    handler: async args => {
      await withRepo(args, async repo => {
        const p = transferProgress(io, 'pushing')
        let r
        try {
          r = await repo.push({ remote: args.remote, refs: args.refs, force: args.force, tags: args.tags, aliases: args.aliases, onProgress: p.onProgress })
        } finally { p.done() }
        const main = r.refs.find(c => c.ref.startsWith('refs/heads/')) ?? r.refs[0]
        if (args.json === true) {
          io.out(toJson({
            objectsSent: r.objectsSent,
            bytesSent: r.bytesSent,
            objectsSkipped: r.objectsSkipped,
            ref: main?.ref ?? null,
            old: main?.old ?? null,
            new: main?.new ?? null,
            url: r.url,
            refs: r.refs,
            versions: r.versions,
            signatures: r.signatures ?? 0,
            aliases: r.aliases
          }))
          return
        }
        for (const c of printedRefChanges(r.refs, true)) io.out(formatRefChange(c))
        for (const a of r.aliases) io.out(formatAliasChange(a, 'push'))
        io.err(`pushed to ${r.url}: ${r.objectsSent} objects, ${formatBytes(r.bytesSent)} sent (${r.objectsSkipped} already there)${r.versions.length > 0 ? `; versions ${formatVersions(r.versions)}` : ''}${(r.signatures ?? 0) > 0 ? `; ${r.signatures ?? 0} signature(s)` : ''}`)
      })
    }
  }
}

/** `v1–v3, v5` */
export function formatVersions (vs: readonly number[]): string {
  const out: string[] = []
  let i = 0
  while (i < vs.length) {
    let j = i
    while (j + 1 < vs.length && vs[j + 1] === vs[j]! + 1) j++
    out.push(j === i ? `v${vs[i]!}` : `v${vs[i]!}–v${vs[j]!}`)
    i = j + 1
  }
  return out.join(', ')
}
