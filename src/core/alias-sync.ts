/**
 * Aliases and their histories across a remote (docs/remotes.md, "Aliases"; docs/design.md, "Push and
 * fetch"): what push sends and fetch takes, decided by comparing chains of `mvc/alias-move` objects
 * (alias-log.ts). sync.ts calls these at the same points as for tags and branches: plans before any
 * object moves, ref updates last.
 *
 * The compare-and-swap is on `refs/alias-log/<name>` (the history); `refs/aliases/<name>` follows it.
 * Like a branch, an alias's history may only grow: a push whose history does not contain the remote's
 * newest move is refused (REF_CONFLICT) unless forced, and a fetch takes the remote's history only when
 * it contains this repository's — when they diverged it keeps the local one and warns, unless forced.
 */
import { CID } from 'multiformats/cid'
import { decodeObject } from '../content/block.js'
import { RefConflictError, RefExistsError, RemoteError, isMvcError } from '../errors.js'
import { ALIASES, ALIAS_LOG, HEADS, TAGS } from '../format/keys.js'
import { parseCommit, type AliasMove, type Author } from '../format/objects.js'
import type { Remote } from '../remote/interface.js'
import type { ObjectStore } from '../store/interface.js'
import { aliasHeads, movePhrase, readChain, versionOf, type ChainEntry } from './alias-log.js'
import { readCommit } from './objects.js'

/**
 * What happened to an alias:
 * - `created`, `updated` (its history grew), `forced` (histories diverged; the other side's replaced);
 * - `up-to-date`: the same history on both sides;
 * - `behind` (push): the remote's history has moves this repository lacks; nothing sent for it;
 * - `ahead` (fetch): this repository's history has moves the remote lacks; kept;
 * - `diverged` (fetch): each side has moves the other lacks; the local one kept (a warning says so).
 */
export type AliasSyncStatus = 'created' | 'updated' | 'forced' | 'up-to-date' | 'behind' | 'ahead' | 'diverged'

/** A move as reported: the object, and who moved the alias where and when. */
export interface MoveInfo {
  readonly move: string
  readonly from: string | null
  readonly to: string | null
  readonly toVersion: number | null
  readonly at: number
  readonly by: Author
  readonly message: string | null
}

export interface AliasChange {
  readonly name: string
  readonly status: AliasSyncStatus
  /** The commit the alias named on the receiving side (the remote for push, here for fetch) before and after; null: absent or deleted. */
  readonly old: string | null
  readonly new: string | null
  readonly oldVersion: number | null
  readonly newVersion: number | null
  /** The receiving side's newest move (`refs/alias-log/<name>`) before and after. */
  readonly oldMove: string | null
  readonly newMove: string | null
  /** Moves the receiving side got. */
  readonly moves: number
  /** The other side's newest move, when it was not taken (`behind`, `ahead`, `diverged`). */
  readonly theirs?: MoveInfo
}

function info (e: ChainEntry, toVersion: number | null): MoveInfo {
  const m = e.move
  return { move: e.cid.toString(), from: m.from?.toString() ?? null, to: m.to?.toString() ?? null, toVersion, at: m.at, by: m.by, message: m.message }
}

/** Every commit a chain names (its moves' `from` and `to`). */
function chainCommits (chain: readonly ChainEntry[]): string[] {
  const out = new Set<string>()
  for (const { move } of chain) {
    if (move.from !== null) out.add(move.from.toString())
    if (move.to !== null) out.add(move.to.toString())
  }
  return [...out]
}

/** A commit's version, from here or else from the remote (for messages about moves made elsewhere). */
async function versionHereOrThere (store: ObjectStore, remote: Remote, cid: CID | null): Promise<number | null> {
  if (cid === null) return null
  const here = await versionOf(store, cid)
  if (here !== null) return here
  try { return parseCommit(decodeObject(cid, await remote.get(cid), `the remote ${remote.url}`)).version } catch (err) {
    if (isMvcError(err)) return null
    throw err
  }
}

// ------------------------------------------------------------------------------------------ push

export interface AliasPushUpdate {
  readonly name: string
  /** The remote's `refs/alias-log/<name>` as listed (null: absent). */
  readonly expect: string | null
  readonly value: string
  /** What `refs/aliases/<name>` becomes (the new head's `to`), and its listed value. */
  readonly target: string | null
  readonly targetExpect: string | null
}

export interface AliasPushPlan {
  readonly updates: readonly AliasPushUpdate[]
  readonly changes: readonly AliasChange[]
  /** Commits the histories being pushed name: they (and their versions) go too. */
  readonly commits: readonly string[]
}

export interface AliasPushArgs {
  /** Push every alias. */
  readonly all: boolean
  /** Aliases named on the command line: pushed whatever they name; `force` may rewind these. */
  readonly named: ReadonlySet<string>
  /** Commits being pushed: aliases naming one of them go along (as tags on pushed commits do). */
  readonly pushedCommits: { has: (cid: string) => boolean }
  readonly force: boolean
}

/**
 * Which aliases a push sends, checked against the remote's refs (read once) before any object moves.
 * Sent: every alias with `all`; those named; those naming a pushed commit; and those the remote already
 * has (so moves and deletions of shared aliases travel). An alias whose remote history has moves this
 * repository lacks is `behind` and not sent (never rewound, even with `force`) — unless it was named:
 * then, like a branch that is behind, it is REF_CONFLICT, and `force` rewinds the remote's. One whose
 * histories diverged is REF_CONFLICT unless `force`.
 */
export async function planAliasPush (store: ObjectStore, remote: Remote, remoteRefs: ReadonlyMap<string, string>, args: AliasPushArgs): Promise<AliasPushPlan> {
  const updates: AliasPushUpdate[] = []
  const changes: AliasChange[] = []
  const commits = new Set<string>()
  const conflicts: Array<{ message: string, name: string, remote: string, local: string, behind?: boolean }> = []
  const versions = new Map<string, number | null>()
  for (const [name, head] of await aliasHeads(store)) {
    const target = (await store.readRef(ALIASES + name)) ?? null
    const remoteHead = remoteRefs.get(ALIAS_LOG + name) ?? null
    const wanted = args.all || args.named.has(name) || (target !== null && args.pushedCommits.has(target)) || remoteHead !== null
    if (!wanted) continue
    const chain = await readChain(store, CID.parse(head), name)
    const ours = new Set(chain.map(e => e.cid.toString()))
    const remoteTarget = remoteRefs.get(ALIASES + name) ?? null
    const base = {
      name,
      old: remoteTarget,
      oldVersion: await versionOf(store, remoteTarget, versions),
      oldMove: remoteHead
    }
    const sending = (status: AliasSyncStatus, moves: number): void => {
      updates.push({ name, expect: remoteHead, value: head, target, targetExpect: remoteTarget })
      for (const c of chainCommits(chain)) commits.add(c)
      changes.push({ ...base, status, new: target, newVersion: null, newMove: head, moves })
    }
    if (remoteHead === head) {
      if (remoteTarget !== target) sending('updated', 0) // the remote's alias ref lags its history (an interrupted push): set it
      else changes.push({ ...base, status: 'up-to-date', new: target, newVersion: base.oldVersion, newMove: head, moves: 0 })
      continue
    }
    if (remoteHead === null) { sending('created', chain.length); continue }
    const at = chain.findIndex(e => e.cid.toString() === remoteHead)
    if (at >= 0) { sending('updated', at); continue }
    // The remote has moves we lack: walk its history back to one we have.
    const theirs = await readChain({ get: async cid => await remote.get(cid) }, CID.parse(remoteHead), name, { stop: k => k === head || ours.has(k), source: remote.url })
    const newest = theirs[0]!
    const theirInfo = info(newest, await versionHereOrThere(store, remote, newest.move.to))
    if (theirs.at(-1)!.cid.toString() === head) {
      // Behind: we did not move it since the remote's moves; sending ours would rewind the remote. An alias
      // pushed along (on a pushed commit, or one the remote has) is reported and left; one named on the
      // command line is refused like a branch that is behind, unless forced.
      if (args.named.has(name)) {
        if (args.force) { sending('forced', chain.length); continue }
        conflicts.push({
          name,
          remote: remoteHead,
          local: head,
          behind: true,
          message: `the remote's alias ${name} on ${remote.url} has moves yours lacks: it was ${movePhrase(newest.move, theirInfo.toVersion)}`
        })
        continue
      }
      changes.push({ ...base, status: 'behind', new: remoteTarget, newVersion: base.oldVersion, newMove: remoteHead, moves: 0, theirs: theirInfo })
      continue
    }
    if (args.force) { sending('forced', chain.length); continue }
    conflicts.push({
      name,
      remote: remoteHead,
      local: head,
      message: `the remote's alias ${name} on ${remote.url} was ${movePhrase(newest.move, theirInfo.toVersion)}, a move this repository doesn't have ` +
        `(here it was ${movePhrase(chain[0]!.move, await versionOf(store, chain[0]!.move.to, versions))})`
    })
  }
  if (conflicts.length > 0) {
    const names = conflicts.map(c => c.name)
    const advice = conflicts.every(c => c.behind === true)
      ? `Run \`mvc fetch\` to get the remote's moves of ${names.join(', ')}, then move ${names.length === 1 ? 'it' : 'them'} if you still mean to (\`mvc alias ${names[0]!} <rev>\`) and push; ` +
        `or \`mvc push --force\` to rewind the remote's history to yours`
      : `Run \`mvc fetch --force\` to take the remote's history of ${names.join(', ')}, then move ${names.length === 1 ? 'it' : 'them'} again if you still mean to (\`mvc alias ${names[0]!} <rev>\`) and push; ` +
        `or \`mvc push --force\` to replace the remote's history with yours`
    throw new RefConflictError(`${conflicts.map(c => c.message).join('; ')}. ${advice}`,
    { ref: ALIAS_LOG + names[0]!, aliases: conflicts.map(c => ({ name: c.name, remote: c.remote, local: c.local })), remote: conflicts[0]!.remote, local: conflicts[0]!.local })
  }
  // Versions of the new targets, for reporting.
  const reported = await Promise.all(changes.map(async c => c.newVersion === null && c.new !== null ? { ...c, newVersion: await versionOf(store, c.new, versions) } : c))
  return { updates, changes: reported, commits: [...commits] }
}

/** Moves the remote's alias refs, history first: after versions, tags and branches, so everything they name is there. */
export async function applyAliasPush (remote: Remote, updates: readonly AliasPushUpdate[]): Promise<void> {
  for (const u of updates) {
    if (u.expect !== u.value) {
      try { await remote.casRef(ALIAS_LOG + u.name, u.expect, u.value) } catch (err) {
        if (!(isMvcError(err) && err.code === 'REF_CONFLICT')) throw err
        throw new RefConflictError(`the alias ${u.name} was moved on ${remote.url} while pushing (someone else pushed it); run \`mvc fetch\`, check \`mvc alias --history ${u.name}\`, then push again`,
          { ref: ALIAS_LOG + u.name, expected: u.expect })
      }
    }
    if (u.targetExpect === u.target) continue
    // The alias ref follows its history. A writer that lost a race there (or a push interrupted between the
    // two refs) left another value: the history just set decides, so set it from what is there now.
    let expect = u.targetExpect
    for (let attempt = 0; ; attempt++) {
      try {
        await remote.casRef(ALIASES + u.name, expect, u.target)
        break
      } catch (err) {
        if (!(isMvcError(err) && err.code === 'REF_CONFLICT') || attempt >= 2) throw err
        const ref = ALIASES + u.name
        expect = (await remote.listRefs(ref)).find(r => r.name === ref)?.value ?? null
        if (expect === u.target) break
      }
    }
  }
}

// ----------------------------------------------------------------------------------------- fetch

export interface AliasFetchUpdate {
  readonly name: string
  readonly logExpect: string | null
  readonly logValue: string
  readonly aliasExpect: string | null
  readonly aliasValue: string | null
}

export interface AliasFetchPlan {
  readonly updates: readonly AliasFetchUpdate[]
  readonly changes: readonly AliasChange[]
  readonly warnings: readonly string[]
}

/**
 * What a fetch does with the remote's alias histories (`remoteHeads`: name → newest move), once their
 * objects are here: each chain is checked (moves of that alias, linking commits); a history that
 * contains the local one is taken; a local one that contains the remote's is kept; diverged ones keep
 * the local history and warn, unless `force`. `seen`: what the remote's `refs/alias-log/…` named when
 * last fetched or pushed — a remote history that no longer contains it is reported (rewound or replaced).
 */
export async function planAliasFetch (store: ObjectStore, url: string, remoteHeads: ReadonlyMap<string, string>,
  seen: ReadonlyMap<string, string>, force: boolean): Promise<AliasFetchPlan> {
  const updates: AliasFetchUpdate[] = []
  const changes: AliasChange[] = []
  const warnings: string[] = []
  const localHeads = await aliasHeads(store)
  const versions = new Map<string, number | null>()
  for (const [name, remoteHead] of remoteHeads) {
    const theirs = await readChain(store, CID.parse(remoteHead), name, { source: url })
    for (const c of chainCommits(theirs)) {
      try { await readCommit(store, CID.parse(c)) } catch (err) {
        throw new RemoteError(`the remote ${url} has a history of alias ${name} naming ${c}, which is not a commit (${(err as Error).message})`, { url, alias: name, cid: c }, { cause: err })
      }
    }
    const newest = theirs[0]!
    const theirTarget = newest.move.to?.toString() ?? null
    const theirInfo = info(newest, await versionOf(store, newest.move.to, versions))
    const remoteCids = new Set(theirs.map(e => e.cid.toString()))
    const was = seen.get(ALIAS_LOG + name)
    if (was !== undefined && was !== remoteHead && !remoteCids.has(was)) {
      warnings.push(`the history of alias ${name} on the remote no longer contains the move it had when last seen (${was}): it was rewound or replaced (a restored backup or a forced push)`)
    }
    const localHead = localHeads.get(name) ?? null
    const current = (await store.readRef(ALIASES + name)) ?? null
    const base = { name, old: current, oldVersion: await versionOf(store, current, versions), oldMove: localHead }
    const take = (status: AliasSyncStatus, moves: number): void => {
      updates.push({ name, logExpect: localHead, logValue: remoteHead, aliasExpect: current, aliasValue: theirTarget })
      changes.push({ ...base, status, new: theirTarget, newVersion: theirInfo.toVersion, newMove: remoteHead, moves })
    }
    const keep = (status: AliasSyncStatus): void => {
      changes.push({ ...base, status, new: current, newVersion: base.oldVersion, newMove: localHead, moves: 0, ...(status === 'up-to-date' ? {} : { theirs: theirInfo }) })
    }
    if (localHead === remoteHead) {
      if (current !== theirTarget) take('updated', 0) // the alias ref lags its history: set it
      else keep('up-to-date')
      continue
    }
    if (localHead === null) {
      if (current === null && theirTarget !== null) {
        for (const [ns, kind] of [[TAGS, 'tag'], [HEADS, 'branch']] as const) {
          if (await store.readRef(ns + name) !== undefined) {
            throw new RefExistsError(`the remote ${url} has an alias ${name}, but ${name} is a ${kind} here; a name can only be one of them. Rename yours, then fetch again`, { name, kind })
          }
        }
      }
      // An alias here without a history (none was ever recorded) counts as diverged unless it names the same commit.
      if (current === null || current === theirTarget || force) take(current === null || current === theirTarget ? 'created' : 'forced', theirs.length)
      else {
        keep('diverged')
        warnings.push(`alias ${name} has no recorded history here and names ${current}; on the remote it was ${movePhrase(newest.move, theirInfo.toVersion)}. Kept yours: \`mvc fetch --force\` takes the remote's`)
      }
      continue
    }
    const at = theirs.findIndex(e => e.cid.toString() === localHead)
    if (at >= 0) { take('updated', at); continue }
    const ours = await readChain(store, CID.parse(localHead), name, { stop: k => k === remoteHead })
    if (ours.at(-1)!.cid.toString() === remoteHead) { keep('ahead'); continue }
    if (force) { take('forced', theirs.length); continue }
    keep('diverged')
    warnings.push(`alias ${name} has diverged: on the remote it was ${movePhrase(newest.move, theirInfo.toVersion)}; here it was ${movePhrase(ours[0]!.move, await versionOf(store, ours[0]!.move.to, versions))}. ` +
      `Kept yours: \`mvc fetch --force\` takes the remote's history (then \`mvc alias ${name} <rev>\` moves it on from there), or \`mvc push --force\` replaces the remote's with yours`)
  }
  return { updates, changes, warnings }
}

export type { AliasMove }
