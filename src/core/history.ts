/**
 * Reading history: log (walk parents from a start commit, newest version first; filters on lineage
 * and metrics), the names that point at each commit, and the lane layout of `log --graph`.
 */
import { CID } from 'multiformats/cid'
import { InvalidArgumentError } from '../errors.js'
import type { CommitObject } from '../format/objects.js'
import { parseCodeLineage, parseDataLineage } from '../format/lineage.js'
import type { ObjectStore } from '../store/interface.js'
import { META, logIndexKey, utf8 } from '../format/keys.js'
import { readCommit } from './objects.js'
import { tombstones } from './lifecycle.js'
import { ALIASES, HEADS, TAGS, VERSIONS, headBranch, headCommit, resolveRev } from './refs.js'

export interface LogEntry {
  readonly cid: CID
  readonly commit: CommitObject
  /** Names pointing at this commit: `main`, `tag: 1.0.0`, `alias: production`; `deleted <date>[, content removed]` for a deleted version. */
  readonly names: string[]
  /**
   * Parents as the graph should draw them: with filters, the nearest ancestors that are shown
   * (git's parent rewriting); a parent beyond the walk (`limit`) is kept as is. Without filters,
   * the commit's parents.
   */
  readonly graphParents: CID[]
}

export interface LogOptions {
  /** Start here instead of HEAD. */
  readonly rev?: string
  /** Start from every ref instead (branches, tags, aliases and versions: every commit). */
  readonly all?: boolean
  /** At most this many entries (after filtering). */
  readonly limit?: number
  /** Only commits whose data lineage is a snapshot whose manifest CID starts with this, or an external ref starting with it. */
  readonly data?: string
  /** Only commits whose code lineage is a git commit whose oid starts with this (hex, ≥ 4). */
  readonly code?: string
  /** Only commits meeting every condition (`acc>0.9`, `params.lr<=0.01`; see parseCondition). */
  readonly where?: readonly string[]
  /** Only versions that changed this tracked path (`mvc log -- model`): added it, or changed its files. */
  readonly path?: string
}

/** Map from commit CID string to the names pointing at it. */
export async function namesByCommit (store: ObjectStore): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>()
  const add = (cid: string, name: string): void => { out.set(cid, [...(out.get(cid) ?? []), name]) }
  const head = await headBranch(store)
  for (const [name, v] of await store.listRefs(HEADS)) add(v, name === head ? `HEAD -> ${name.slice(HEADS.length)}` : name.slice(HEADS.length))
  for (const [name, v] of await store.listRefs(TAGS)) add(v, `tag: ${name.slice(TAGS.length)}`)
  for (const [name, v] of await store.listRefs(ALIASES)) add(v, `alias: ${name.slice(ALIASES.length)}`)
  // Deleted versions (`mvc rm`) stay in the history, marked.
  for (const [cid, t] of await tombstones(store)) add(cid, t.purged === null ? `deleted ${dateOf(t.at)}` : `deleted ${dateOf(t.at)}, content removed`)
  return out
}

function dateOf (ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}

// ---------------------------------------------------------------- filters

export type CompareOp = '>' | '>=' | '<' | '<=' | '==' | '!='

/** One `--where` condition: a metric (bare name or `metrics.<name>`) or a param (`params.<name>`) compared with a number. */
export interface Condition {
  readonly field: 'metrics' | 'params'
  readonly name: string
  readonly op: CompareOp
  readonly value: number
  /** The expression as given. */
  readonly text: string
}

export const WHERE_SYNTAX = "<metric><op><number> or params.<name><op><number>, op one of > >= < <= == != (e.g. 'acc>0.9', 'params.lr<=0.01')"
const CONDITION = /^\s*([A-Za-z_][\w.\-/]*?)\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$/
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

export function parseCondition (text: string): Condition {
  const bad = (why: string): never => {
    throw new InvalidArgumentError(`invalid condition ${JSON.stringify(text)}: ${why}; expected ${WHERE_SYNTAX}`, { where: text, syntax: WHERE_SYNTAX })
  }
  const m = CONDITION.exec(text)
  if (m === null) return bad('not of the form name, operator, number')
  const [, rawName, op, rawValue] = m as unknown as [string, string, CompareOp, string]
  if (!NUMBER.test(rawValue)) return bad(`${JSON.stringify(rawValue)} is not a number`)
  let field: Condition['field'] = 'metrics'
  let name = rawName
  for (const f of ['params', 'metrics'] as const) {
    if (rawName.startsWith(f + '.')) { field = f; name = rawName.slice(f.length + 1) }
  }
  if (name === '') return bad('the name is empty')
  return { field, name, op, value: Number(rawValue), text }
}

function compare (a: number, op: CompareOp, b: number): boolean {
  switch (op) {
    case '>': return a > b
    case '>=': return a >= b
    case '<': return a < b
    case '<=': return a <= b
    case '==': return a === b
    case '!=': return a !== b
  }
}

/** A commit meets a condition only when it records that metric or param as a number. */
export function meets (commit: CommitObject, c: Condition): boolean {
  const v = (commit[c.field] as Readonly<Record<string, unknown>>)[c.name]
  return typeof v === 'number' && compare(v, c.op, c.value)
}

type Filter = (commit: CommitObject) => boolean

function buildFilter (options: LogOptions): Filter | undefined {
  const tests: Filter[] = []
  if (options.data !== undefined) {
    const want = options.data
    if (want === '') throw new InvalidArgumentError('--data needs a data manifest CID (or prefix) or a data ref', { data: want })
    tests.push(c => {
      const d = parseDataLineage(c.data)
      if (d === null) return false
      return d.kind === 'snapshot' ? d.manifest.toString().startsWith(want) : d.ref.startsWith(want)
    })
  }
  if (options.code !== undefined) {
    const want = options.code.toLowerCase()
    if (!/^[0-9a-f]{4,64}$/.test(want)) {
      throw new InvalidArgumentError(`--code ${JSON.stringify(options.code)}: expected a git commit id or a prefix of at least 4 hex digits`, { code: options.code })
    }
    tests.push(c => {
      const k = parseCodeLineage(c.code)
      return k !== null && k.kind === 'git' && k.oid.toLowerCase().startsWith(want)
    })
  }
  for (const w of options.where ?? []) {
    const cond = parseCondition(w)
    tests.push(c => meets(c, cond))
  }
  return tests.length === 0 ? undefined : c => tests.every(t => t(c))
}

// ---------------------------------------------------------------- log

async function startPoints (store: ObjectStore, options: LogOptions): Promise<CID[]> {
  if (options.all === true) {
    const out: CID[] = []
    for (const prefix of [HEADS, TAGS, ALIASES, VERSIONS]) for (const [, v] of await store.listRefs(prefix)) out.push(CID.parse(v))
    return out
  }
  const start = options.rev !== undefined ? await resolveRev(store, options.rev) : await headCommit(store)
  return start === undefined ? [] : [start]
}

/** Commits imported without their parents (`m/shallow/<cid>`), read in one scan. */
async function shallowCommits (store: ObjectStore): Promise<Set<string>> {
  return new Set((await store.listMeta(META.shallow)).map(([k]) => k.slice(META.shallow.length)))
}

export async function log (store: ObjectStore, options: LogOptions = {}): Promise<LogEntry[]> {
  const limit = options.limit ?? Infinity
  if (limit !== Infinity && (!Number.isInteger(limit) || limit < 0)) throw new InvalidArgumentError(`-n must be a whole number ≥ 0, got ${String(limit)}`, { limit })
  const filter = buildFilter(options)
  const starts = await startPoints(store, options)
  const names = await namesByCommit(store)
  const shallowSet = await shallowCommits(store)
  const seen = new Set<string>()
  const frontier: Array<{ cid: CID, commit: CommitObject }> = []
  const read = new Map<string, CommitObject>()
  const commitOf = async (cid: CID): Promise<CommitObject> => {
    let c = read.get(cid.toString())
    if (c === undefined) { c = await readCommit(store, cid); read.set(cid.toString(), c) }
    return c
  }
  const push = async (cid: CID): Promise<void> => {
    if (seen.has(cid.toString())) return
    seen.add(cid.toString())
    frontier.push({ cid, commit: await commitOf(cid) })
  }
  const path = options.path?.replace(/\/+$/, '')
  /** True when a version changed `path`: it tracks it and its first parent did not, or with other files. */
  const touches = async (c: CommitObject): Promise<boolean> => {
    if (path === undefined) return true
    const mine = c.paths.find(p => p.path === path)
    if (mine === undefined) return false
    const parent = c.parents[0]
    if (parent === undefined || !(await store.has(parent))) return true
    const theirs = (await commitOf(parent)).paths.find(p => p.path === path)
    return theirs === undefined || !theirs.manifest.equals(mine.manifest)
  }
  for (const s of starts) await push(s)
  const shown: Array<{ cid: CID, commit: CommitObject }> = []
  /** Walked but filtered out: CID → parents. */
  const hidden = new Map<string, readonly CID[]>()
  while (frontier.length > 0 && shown.length < limit) {
    // Newest version first across all branches of the walk (a parent is always older than its child).
    frontier.sort((a, b) => b.commit.version - a.commit.version)
    const next = frontier.shift()!
    if ((filter === undefined || filter(next.commit)) && await touches(next.commit)) shown.push(next)
    else hidden.set(next.cid.toString(), next.commit.parents)
    // A commit imported without its parents (m/shallow/<cid>) ends its history here.
    const shallow = shallowSet.has(next.cid.toString())
    for (const p of next.commit.parents) if (!shallow || await store.has(p)) await push(p)
  }
  const rewrite = (parents: readonly CID[]): CID[] => {
    const out = new Map<string, CID>()
    const stack = [...parents].reverse()
    const visited = new Set<string>()
    while (stack.length > 0) {
      const p = stack.pop()!
      const k = p.toString()
      if (visited.has(k)) continue
      visited.add(k)
      const h = hidden.get(k)
      if (h === undefined) out.set(k, p)
      else stack.push(...[...h].reverse())
    }
    return [...out.values()]
  }
  return shown.map(e => ({ ...e, names: names.get(e.cid.toString()) ?? [], graphParents: filter === undefined && path === undefined ? [...e.commit.parents] : rewrite(e.commit.parents) }))
}

// ---------------------------------------------------------------- log from the index

/** What `mvc log` prints of a commit: the log index's value (`m/log/<cid>`). */
export interface CommitSummary {
  readonly version: number
  readonly parents: readonly string[]
  readonly timestamp: number
  readonly author: string
  /** The version's tracked paths, sorted. */
  readonly paths: readonly string[]
  readonly message: string
  readonly metrics: Readonly<Record<string, unknown>>
}

/** A log entry from the index: the summary instead of the whole commit object. */
export interface LogLine {
  /** The commit CID, as text (parsing thousands of CIDs would cost more than the rest of the log). */
  readonly cid: string
  readonly summary: CommitSummary
  readonly names: string[]
  readonly graphParents: string[]
}

export function summarize (commit: CommitObject): CommitSummary {
  return { version: commit.version, parents: commit.parents.map(p => p.toString()), timestamp: commit.timestamp, author: commit.author.name, paths: commit.paths.map(p => p.path), message: commit.message, metrics: commit.metrics }
}

function isSummary (v: unknown): v is CommitSummary {
  if (v === null || typeof v !== 'object') return false
  const o = v as Record<string, unknown>
  return Number.isSafeInteger(o.version) && Array.isArray(o.parents) && o.parents.every(p => typeof p === 'string') && typeof o.timestamp === 'number' &&
    typeof o.author === 'string' && Array.isArray(o.paths) && o.paths.every(p => typeof p === 'string') && typeof o.message === 'string' && o.metrics !== null && typeof o.metrics === 'object'
}

/**
 * `log` from the log index: one scan of `m/log/` instead of one object read per commit, which is
 * what made `mvc log` over thousands of versions slow. Commits missing from the index (fetched,
 * cloned or imported, or committed since the last log) are read from their objects and added to it, so
 * the index rebuilds itself and never needs to be written by the operations that bring commits.
 * Undefined when a filter needs more than a summary holds (`--data`, `--code`, params conditions, a path):
 * then `log` reads whole commits.
 */
export async function logLines (store: ObjectStore, options: LogOptions = {}): Promise<LogLine[] | undefined> {
  if (options.data !== undefined || options.code !== undefined || options.path !== undefined) return undefined
  const conditions = (options.where ?? []).map(parseCondition)
  if (conditions.some(c => c.field !== 'metrics')) return undefined
  const limit = options.limit ?? Infinity
  if (limit !== Infinity && (!Number.isInteger(limit) || limit < 0)) throw new InvalidArgumentError(`-n must be a whole number ≥ 0, got ${String(limit)}`, { limit })
  const filtered = conditions.length > 0
  const keep = (s: CommitSummary): boolean => conditions.every(c => {
    const v = s.metrics[c.name]
    return typeof v === 'number' && compare(v, c.op, c.value)
  })
  const starts = await startPoints(store, options)
  const names = await namesByCommit(store)
  const shallowSet = await shallowCommits(store)
  const index = new Map<string, CommitSummary>()
  for (const [k, v] of await store.listMeta(META.logIndex)) {
    try {
      const s: unknown = JSON.parse(utf8.decode(v))
      if (isSummary(s)) index.set(k.slice(META.logIndex.length), s)
    } catch { /* a damaged entry is read again from the commit */ }
  }
  const added = new Map<string, CommitSummary>()
  const summaryOf = async (key: string): Promise<CommitSummary> => {
    let s = index.get(key)
    if (s === undefined) {
      s = summarize(await readCommit(store, CID.parse(key)))
      index.set(key, s)
      added.set(key, s)
    }
    return s
  }
  const seen = new Set<string>()
  const frontier: Array<{ cid: string, summary: CommitSummary }> = []
  const push = async (cid: string): Promise<void> => {
    if (seen.has(cid)) return
    seen.add(cid)
    frontier.push({ cid, summary: await summaryOf(cid) })
  }
  for (const s of starts) await push(s.toString())
  const shown: Array<{ cid: string, summary: CommitSummary }> = []
  const hidden = new Map<string, readonly string[]>()
  while (frontier.length > 0 && shown.length < limit) {
    // Newest version first (a parent is always older than its child); the frontier is small.
    let best = 0
    for (let i = 1; i < frontier.length; i++) if (frontier[i]!.summary.version > frontier[best]!.summary.version) best = i
    const next = frontier.splice(best, 1)[0]!
    const parents = next.summary.parents
    if (!filtered || keep(next.summary)) shown.push(next)
    else hidden.set(next.cid, parents)
    const shallow = shallowSet.has(next.cid)
    for (const p of parents) if (!shallow || await store.has(CID.parse(p))) await push(p)
  }
  if (added.size > 0) {
    // Best effort: a read-only or busy repository still gets its log.
    try {
      const tx = await store.transaction()
      try {
        for (const [k, s] of added) tx.setMeta(logIndexKey(k), utf8.encode(JSON.stringify(s)))
        await tx.commit()
      } catch (err) { await tx.abort(); throw err }
    } catch { /* the index is a cache */ }
  }
  const rewrite = (parents: readonly string[]): string[] => {
    const out = new Set<string>()
    const stack = [...parents].reverse()
    const visited = new Set<string>()
    while (stack.length > 0) {
      const k = stack.pop()!
      if (visited.has(k)) continue
      visited.add(k)
      const h = hidden.get(k)
      if (h === undefined) out.add(k)
      else stack.push(...[...h].reverse())
    }
    return [...out]
  }
  return shown.map(e => ({ ...e, names: names.get(e.cid) ?? [], graphParents: filtered ? rewrite(e.summary.parents) : [...e.summary.parents] }))
}

// ---------------------------------------------------------------- graph

export interface GraphNode {
  readonly id: string
  readonly parents: readonly string[]
}

/** One line of the graph: a commit's line (`node` is its index) or a connecting line (`node` null). */
export interface GraphRow {
  readonly node: number | null
  /** Lane characters (`*`, `|`, `/`, `\`), two columns per lane, trailing spaces removed. */
  readonly text: string
}

/**
 * Lays out a DAG as text lanes, like `git log --graph`. `nodes` must list every child before its
 * parents (log order does: versions only grow). Each commit takes the lane that was waiting for it (or a
 * new lane at the right); its first parent continues that lane, further parents of a merge open lanes
 * beside it, and a parent some other lane already waits for is joined with `/` or `\`. Lanes that
 * shift by more than one column do so over several connecting lines.
 */
export function graphRows (nodes: readonly GraphNode[]): GraphRow[] {
  const rows: GraphRow[] = []
  let lanes: string[] = []
  const line = (cells: Map<number, string>): string => {
    const width = Math.max(-1, ...cells.keys()) + 1
    let s = ''
    for (let i = 0; i < width; i++) s += cells.get(i) ?? ' '
    return s.trimEnd()
  }
  nodes.forEach((node, index) => {
    let col = lanes.indexOf(node.id)
    if (col === -1) { lanes.push(node.id); col = lanes.length - 1 }
    const cells = new Map<number, string>()
    lanes.forEach((_, i) => cells.set(2 * i, i === col ? '*' : '|'))
    rows.push({ node: index, text: line(cells) })

    // Next lanes: the left part stays; this commit's lane becomes a block of its parents that no lane
    // to the left already waits for (taking them out of lanes further right); the right part follows.
    const parents = [...new Set(node.parents)]
    const left = lanes.slice(0, col)
    const block = parents.filter(p => !left.includes(p))
    const right = lanes.slice(col + 1).filter(id => !block.includes(id))
    const next = [...left, ...block, ...right]
    // Wires: every old lane but this commit's goes to where its id went; this commit's to each parent.
    const wires: Array<{ pos: number, to: number }> = []
    lanes.forEach((id, i) => { if (i !== col) wires.push({ pos: i, to: next.indexOf(id) }) })
    for (const p of parents) wires.push({ pos: col, to: next.indexOf(p) })
    lanes = next
    while (wires.some(w => w.pos !== w.to)) {
      const c = new Map<number, string>()
      for (const w of wires) {
        if (w.pos === w.to) { if (!c.has(2 * w.pos)) c.set(2 * w.pos, '|') } else if (w.pos > w.to) { c.set(2 * w.pos - 1, '/'); w.pos-- } else { c.set(2 * w.pos + 1, '\\'); w.pos++ }
      }
      rows.push({ node: null, text: line(c) })
    }
  })
  return rows
}
