/**
 * Reading history: log (walk parents from a start commit, newest version first) and the names that
 * point at each commit.
 */
import type { CID } from 'multiformats/cid'
import type { CommitObject } from '../model/objects.js'
import type { ObjectStore } from '../store/interface.js'
import { readCommit } from './objects.js'
import { ALIASES, HEADS, TAGS, headBranch, headCommit, resolveRev } from './refs.js'

export interface LogEntry {
  readonly cid: CID
  readonly commit: CommitObject
  /** Names pointing at this commit: `main`, `tag: 1.0.0`, `alias: production`. */
  readonly names: string[]
}

/** Map from commit CID string to the names pointing at it. */
export async function namesByCommit (store: ObjectStore): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>()
  const add = (cid: string, name: string): void => { out.set(cid, [...(out.get(cid) ?? []), name]) }
  const head = await headBranch(store)
  for (const [name, v] of await store.listRefs(HEADS)) add(v, name === head ? `HEAD -> ${name.slice(HEADS.length)}` : name.slice(HEADS.length))
  for (const [name, v] of await store.listRefs(TAGS)) add(v, `tag: ${name.slice(TAGS.length)}`)
  for (const [name, v] of await store.listRefs(ALIASES)) add(v, `alias: ${name.slice(ALIASES.length)}`)
  return out
}

export async function log (store: ObjectStore, options: { rev?: string, limit?: number } = {}): Promise<LogEntry[]> {
  const start = options.rev !== undefined ? await resolveRev(store, options.rev) : await headCommit(store)
  if (start === undefined) return []
  const names = await namesByCommit(store)
  const limit = options.limit ?? Infinity
  const seen = new Set<string>()
  const frontier: Array<{ cid: CID, commit: CommitObject }> = []
  const push = async (cid: CID): Promise<void> => {
    if (seen.has(cid.toString())) return
    seen.add(cid.toString())
    frontier.push({ cid, commit: await readCommit(store, cid) })
  }
  await push(start)
  const out: LogEntry[] = []
  while (frontier.length > 0 && out.length < limit) {
    // Newest version first across all branches of the walk.
    frontier.sort((a, b) => b.commit.version - a.commit.version)
    const next = frontier.shift()!
    out.push({ ...next, names: names.get(next.cid.toString()) ?? [] })
    for (const p of next.commit.parents) await push(p)
  }
  return out
}
