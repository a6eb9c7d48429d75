/**
 * Alias history as content-addressed objects (docs/design.md, "`mvc/alias-move`" and "Refs and names").
 *
 * Glossary:
 * - move: an `mvc/alias-move` object — one creation, re-pointing or deletion of an alias, linking the
 *   commits it moved between and the alias's previous move (`prev`);
 * - chain: the moves of one alias, newest first, followed through `prev` from its head;
 * - head: `refs/alias-log/<name>`, the newest move. `refs/aliases/<name>` names the head's `to` and moves
 *   with it in one transaction;
 * - legacy records: `m/alias-log/<name>/<seq>` JSON records that mvc wrote before moves were objects.
 *   They are converted into moves on top of the chain by the first command that writes the alias's
 *   history (a move, push or fetch) and read as if converted before that; `m/alias-log-converted/<name>`
 *   says up to which seq they were, so records an older mvc adds later are picked up too. Records are
 *   never rewritten or deleted.
 *
 * A chain A extends chain B when B's head is one of A's moves: the history only grew. That is the
 * fast-forward of aliases; push and fetch (alias-sync.ts) compare chains this way.
 */
import { CID } from 'multiformats/cid'
import { decodeObject, encodeObject, type Block } from '../content/block.js'
import { InvalidObjectError } from '../errors.js'
import { ALIAS_LOG, META, aliasLogConvertedKey, aliasLogPrefix, utf8 } from '../format/keys.js'
import { aliasMoveValue, parseAliasMove, type AliasMove, type Author } from '../format/objects.js'
import type { ObjectReader, ObjectStore, Transaction } from '../store/interface.js'
import { readCommit } from './objects.js'

export interface ChainEntry {
  readonly cid: CID
  readonly move: AliasMove
}

/** Reads one move (re-hashed, decoded, checked). */
export async function readMove (store: Pick<ObjectReader, 'get'>, cid: CID, source = `alias move ${cid.toString()}`): Promise<AliasMove> {
  return parseAliasMove(decodeObject(cid, await store.get(cid), source))
}

/**
 * The chain from `head`, newest first: every move through `prev`, each checked to be a move of `name`.
 * `stop(cid)` ends the walk after the move it returns true for. Objects come from `store` (and
 * `extra`, moves not stored yet, by CID).
 */
export async function readChain (store: Pick<ObjectReader, 'get'>, head: CID, name: string,
  options: { stop?: (cid: string) => boolean, extra?: ReadonlyMap<string, AliasMove>, source?: string } = {}): Promise<ChainEntry[]> {
  const out: ChainEntry[] = []
  const seen = new Set<string>()
  let at: CID | null = head
  while (at !== null) {
    const key: string = at.toString()
    if (seen.has(key)) throw new InvalidObjectError(`the history of alias ${name} loops at ${key}`, { name, cid: key })
    seen.add(key)
    const move: AliasMove = options.extra?.get(key) ?? await readMove(store, at, options.source === undefined ? undefined : `alias move ${key} from ${options.source}`)
    if (move.name !== name) {
      throw new InvalidObjectError(`alias move ${key} in the history of alias ${name} is a move of alias ${JSON.stringify(move.name)}`, { name, cid: key, other: move.name })
    }
    out.push({ cid: at, move })
    if (options.stop?.(key) === true) break
    at = move.prev
  }
  return out
}

/** The version of a commit, or null when it is absent (or not a commit). */
export async function versionOf (store: ObjectReader, cid: CID | string | null, cache?: Map<string, number | null>): Promise<number | null> {
  if (cid === null) return null
  const key = cid.toString()
  if (cache?.has(key) === true) return cache.get(key)!
  const v = await readCommit(store, typeof cid === 'string' ? CID.parse(cid) : cid).then(c => c.version, () => null)
  cache?.set(key, v)
  return v
}

/** What a move did, for messages: `moved to v7 by Ada <ada@example.com> at 2026-11-23 23:11:28Z ("rollout")`. */
export function movePhrase (move: AliasMove, toVersion: number | null, fromVersion: number | null = null): string {
  const date = new Date(move.at).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')
  const end = (c: CID | null, v: number | null): string => c === null ? '(none)' : v === null ? c.toString() : `v${v}`
  const what = move.to === null
    ? `deleted (it named ${end(move.from, fromVersion)})`
    : move.from === null ? `created at ${end(move.to, toVersion)}` : `moved to ${end(move.to, toVersion)}`
  return `${what} by ${move.by.name} <${move.by.email}> at ${date}${move.message !== null ? ` (${JSON.stringify(move.message)})` : ''}`
}

// ---------------------------------------------------------------- legacy records

/** One `m/alias-log/<name>/<seq>` record, as mvc wrote it before moves were objects. */
interface LegacyRecord {
  readonly from: string | null
  readonly to: string | null
  readonly at: number
  readonly by: Author
  readonly message?: string
}

async function legacyRecords (store: ObjectStore, name: string, after: number): Promise<Array<{ seq: number, record: LegacyRecord }>> {
  const prefix = aliasLogPrefix(name)
  const out: Array<{ seq: number, record: LegacyRecord }> = []
  for (const [key, value] of await store.listMeta(prefix)) {
    const rest = key.slice(key.indexOf(prefix) + prefix.length)
    if (!/^\d+$/.test(rest)) continue // the log of a longer name (`prod/eu` under `prod/`)
    const seq = Number(rest)
    if (seq > after) out.push({ seq, record: JSON.parse(utf8.decode(value)) as LegacyRecord })
  }
  return out.sort((a, b) => a.seq - b.seq)
}

async function convertedUpTo (store: ObjectStore, name: string): Promise<number> {
  const v = await store.readMeta(aliasLogConvertedKey(name))
  return v === undefined ? 0 : Number(utf8.decode(v))
}

/** Legacy records not converted yet, as moves on top of `head`: blocks oldest first. */
export interface PendingConversion {
  readonly blocks: ReadonlyArray<Block<AliasMove>>
  /** The newest converted move. */
  readonly head: CID
  /** The seq of the last record converted. */
  readonly seq: number
}

/** Converts (in memory) the legacy records of `name` that its chain does not hold yet; undefined when there are none. */
export async function pendingConversion (store: ObjectStore, name: string, head: CID | null): Promise<PendingConversion | undefined> {
  const records = await legacyRecords(store, name, await convertedUpTo(store, name))
  if (records.length === 0) return undefined
  const blocks: Array<Block<AliasMove>> = []
  let prev = head
  for (const { record } of records) {
    const block = encodeObject(aliasMoveValue({
      name,
      from: record.from === null ? null : CID.parse(record.from),
      to: record.to === null ? null : CID.parse(record.to),
      at: record.at,
      by: record.by,
      message: record.message ?? null,
      prev
    }))
    blocks.push(block)
    prev = block.cid
  }
  return { blocks, head: prev!, seq: records.at(-1)!.seq }
}

/** Stages a conversion's moves and its `m/alias-log-converted` mark (not the ref: the caller moves it). */
export async function stageConversion (tx: Transaction, name: string, pending: PendingConversion): Promise<void> {
  for (const b of pending.blocks) await tx.putObject(b.cid, b.bytes)
  tx.setMeta(aliasLogConvertedKey(name), utf8.encode(String(pending.seq)))
}

/** Names that have legacy records. */
export async function legacyNames (store: ObjectStore): Promise<Set<string>> {
  const names = new Set<string>()
  for (const [key] of await store.listMeta(META.aliasLog)) {
    const m = /alias-log\/(.+)\/\d+$/.exec(key)
    if (m !== null) names.add(m[1]!)
  }
  return names
}

/**
 * Converts every alias's legacy records that its chain does not hold yet, in one transaction (push and
 * fetch run it first, so the chains they compare and send are complete). Returns the names converted.
 */
export async function upgradeAliasLogs (store: ObjectStore): Promise<string[]> {
  const names = [...await legacyNames(store)].sort()
  const work: Array<{ name: string, head: string | null, pending: PendingConversion }> = []
  for (const name of names) {
    const head = (await store.readRef(ALIAS_LOG + name)) ?? null
    const pending = await pendingConversion(store, name, head === null ? null : CID.parse(head))
    if (pending !== undefined) work.push({ name, head, pending })
  }
  if (work.length === 0) return []
  const tx = await store.transaction()
  try {
    for (const w of work) {
      await stageConversion(tx, w.name, w.pending)
      tx.setRef({ name: ALIAS_LOG + w.name, value: w.pending.head.toString(), expect: w.head })
    }
    await tx.commit()
  } catch (err) { await tx.abort(); throw err }
  return work.map(w => w.name)
}

/** Every alias that has a history here (`refs/alias-log/<name>`), by name → head. */
export async function aliasHeads (store: ObjectStore): Promise<Map<string, string>> {
  return new Map((await store.listRefs(ALIAS_LOG)).map(([ref, v]) => [ref.slice(ALIAS_LOG.length), v]))
}
