/**
 * Names for commits besides versions (docs/design.md, "Names"):
 *
 *   tags      refs/tags/<t>      immutable: moving or deleting one needs `force`
 *   aliases   refs/aliases/<a>   movable; every move is an `mvc/alias-move` object, the newest named by
 *                                refs/alias-log/<a> (src/core/alias-log.ts)
 *   branches  refs/heads/<b>     where commits go; HEAD is `ref: refs/heads/<b>`
 *
 * A name lives in one namespace only (a tag and a branch can't share a name), so resolving a name
 * never depends on precedence between namespaces. Every change is one transaction whose ref updates
 * are compare-and-swap against the values read before it (REF_CONFLICT if another writer won).
 */
import { CID } from 'multiformats/cid'
import { InvalidArgumentError, NoCommitsError, RefExistsError, UnknownRevisionError } from '../errors.js'
import type { Author } from '../format/objects.js'
import type { ObjectStore, Transaction } from '../store/interface.js'
import { readCommit } from './objects.js'
import { ALIASES, HEAD, HEADS, TAGS, headBranch, resolveRev, setHeadBranch } from './refs.js'
import { ALIAS_LOG, aliasLogKey } from '../format/keys.js'
import { encodeObject } from '../content/block.js'
import { aliasMoveValue } from '../format/objects.js'
import { aliasHeads, legacyNames, pendingConversion, readChain, stageConversion, versionOf } from './alias-log.js'

export type NameKind = 'tag' | 'alias' | 'branch'

const NAMESPACE: Readonly<Record<NameKind, string>> = { tag: TAGS, alias: ALIASES, branch: HEADS }
export const MAX_NAME_LENGTH = 200

/**
 * Checks a tag, alias or branch name (rules after git's check-ref-format). Throws INVALID_ARGUMENT
 * naming the rule broken.
 */
export function validateName (kind: NameKind, name: string): void {
  const bad = (rule: string): never => {
    throw new InvalidArgumentError(`invalid ${kind} name ${JSON.stringify(name)}: ${rule}`, { kind, name, rule })
  }
  if (name.length === 0) bad('a name cannot be empty')
  if (name.length > MAX_NAME_LENGTH) bad(`a name has at most ${MAX_NAME_LENGTH} characters`)
  if (/[\x00-\x1f\x7f]/.test(name)) bad('control characters are not allowed') // eslint-disable-line no-control-regex
  if (/\s/u.test(name)) bad('whitespace is not allowed')
  if (name.startsWith('-')) bad('a name cannot start with "-" (it would read as an option)')
  if (/^v\d+$/.test(name)) bad('names of the form v<digits> are reserved for versions')
  if (name === HEAD || name === '@') bad(`"${name}" is reserved`)
  if (name.includes('..')) bad('".." is not allowed')
  if (/[~^:?*[\\]/.test(name)) bad('the characters ~ ^ : ? * [ \\ are not allowed (~ and ^ select parents in revisions)')
  if (name.includes('@{')) bad('"@{" is not allowed')
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) bad('"/" separates non-empty parts: no leading, trailing or double "/"')
  if (name.endsWith('.')) bad('a name cannot end with "."')
  for (const part of name.split('/')) {
    if (part.startsWith('.')) bad('a part cannot start with "."')
    if (part.endsWith('.lock')) bad('a part cannot end with ".lock"')
  }
}

/** Refuses a name already used by another kind of name (so `mvc checkout <name>` is never ambiguous). */
async function assertNotOtherKind (store: ObjectStore, kind: NameKind, name: string): Promise<void> {
  for (const other of ['tag', 'alias', 'branch'] as const) {
    if (other === kind) continue
    if (await store.readRef(NAMESPACE[other] + name) !== undefined) {
      throw new RefExistsError(`${name} is already a ${other}; a name can be a tag, an alias or a branch, not two of them`, { name, kind: other })
    }
  }
}

async function commitTx (store: ObjectStore, stage: (tx: Transaction) => void): Promise<void> {
  const tx = await store.transaction()
  try {
    stage(tx)
    await tx.commit()
  } catch (err) {
    await tx.abort()
    throw err
  }
}

/** A ref's commit with its version. */
export interface NamedCommit {
  readonly name: string
  readonly cid: CID
  readonly version: number
}

async function named (store: ObjectStore, prefix: string): Promise<NamedCommit[]> {
  const out: NamedCommit[] = []
  for (const [ref, value] of await store.listRefs(prefix)) {
    const cid = CID.parse(value)
    out.push({ name: ref.slice(prefix.length), cid, version: (await readCommit(store, cid)).version })
  }
  return out.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))
}

async function requireKnown (store: ObjectStore, kind: NameKind, name: string): Promise<string> {
  const v = await store.readRef(NAMESPACE[kind] + name)
  if (v === undefined) throw new UnknownRevisionError(`no ${kind} named ${JSON.stringify(name)}; \`mvc ${kind}\` lists them`, { kind, name })
  return v
}

// ---------------------------------------------------------------- tags

export async function listTags (store: ObjectStore): Promise<NamedCommit[]> {
  return await named(store, TAGS)
}

export interface TagResult extends NamedCommit {
  /** The commit the tag named before (`force` moved it); null when it is new. */
  readonly previous: CID | null
  /** False when the tag already named this commit (nothing was written). */
  readonly changed: boolean
}

/** Names a commit (default HEAD) with an immutable tag. Moving an existing tag needs `force`. */
export async function createTag (store: ObjectStore, args: { name: string, rev?: string, force?: boolean }): Promise<TagResult> {
  validateName('tag', args.name)
  const ref = TAGS + args.name
  const cid = await resolveRev(store, args.rev ?? HEAD)
  const version = (await readCommit(store, cid)).version
  const current = await store.readRef(ref)
  if (current === cid.toString()) return { name: args.name, cid, version, previous: cid, changed: false }
  if (current !== undefined && args.force !== true) {
    const was = (await readCommit(store, CID.parse(current))).version
    throw new RefExistsError(`tag ${args.name} already names v${was} (${current}); tags don't move — use --force to move it, or pick another name`, { name: args.name, kind: 'tag', cid: current })
  }
  await assertNotOtherKind(store, 'tag', args.name)
  await commitTx(store, tx => tx.setRef({ name: ref, value: cid.toString(), expect: current ?? null }))
  return { name: args.name, cid, version, previous: current === undefined ? null : CID.parse(current), changed: true }
}

/** Deletes a tag; refused without `force` (tags are meant to be permanent). */
export async function deleteTag (store: ObjectStore, args: { name: string, force?: boolean }): Promise<NamedCommit> {
  const current = await requireKnown(store, 'tag', args.name)
  const cid = CID.parse(current)
  const version = (await readCommit(store, cid)).version
  if (args.force !== true) {
    throw new RefExistsError(`tag ${args.name} (v${version}) is immutable; use --force to delete it`, { name: args.name, kind: 'tag', cid: current })
  }
  await commitTx(store, tx => tx.setRef({ name: TAGS + args.name, value: null, expect: current }))
  return { name: args.name, cid, version }
}

// ---------------------------------------------------------------- aliases

/** One move of an alias, as `aliasHistory` reports it. */
export interface AliasLogEntry {
  readonly name: string
  /** Position in the alias's history: 1 for its first move. */
  readonly seq: number
  /** The move's object (`mvc/alias-move`). */
  readonly cid: string
  /** Commit CID before the move; null when the alias was created. */
  readonly from: string | null
  /** Commit CID after the move; null when the alias was deleted. */
  readonly to: string | null
  /** ms since the epoch. */
  readonly at: number
  readonly by: Author
  readonly message?: string
  readonly fromVersion: number | null
  readonly toVersion: number | null
}

export interface AliasMoveArgs {
  readonly name: string
  readonly author: Author
  readonly timestamp: number
  readonly message?: string
}

export { aliasLogKey }

/**
 * Stages one move: the `mvc/alias-move` object (on top of the alias's history, legacy records converted
 * first), `refs/alias-log/<name>` and `refs/aliases/<name>`, each by compare-and-swap against what was
 * read — a concurrent mover fails with REF_CONFLICT.
 */
async function stageAliasMove (store: ObjectStore, tx: Transaction, args: AliasMoveArgs, from: string | null, to: string | null): Promise<void> {
  const logHead = (await store.readRef(ALIAS_LOG + args.name)) ?? null
  const pending = await pendingConversion(store, args.name, logHead === null ? null : CID.parse(logHead))
  if (pending !== undefined) await stageConversion(tx, args.name, pending)
  const block = encodeObject(aliasMoveValue({
    name: args.name,
    from: from === null ? null : CID.parse(from),
    to: to === null ? null : CID.parse(to),
    at: args.timestamp,
    by: args.author,
    message: args.message ?? null,
    prev: pending?.head ?? (logHead === null ? null : CID.parse(logHead))
  }))
  await tx.putObject(block.cid, block.bytes)
  tx.setRef({ name: ALIAS_LOG + args.name, value: block.cid.toString(), expect: logHead })
  tx.setRef({ name: ALIASES + args.name, value: to, expect: from })
}

export async function listAliases (store: ObjectStore): Promise<NamedCommit[]> {
  return await named(store, ALIASES)
}

export interface AliasResult extends NamedCommit {
  readonly previous: CID | null
  /** False when the alias already named this commit (nothing was written or logged). */
  readonly changed: boolean
}

/** Points an alias at a commit (default HEAD), creating it if needed, and logs the move. */
export async function setAlias (store: ObjectStore, args: AliasMoveArgs & { rev?: string }): Promise<AliasResult> {
  validateName('alias', args.name)
  const cid = await resolveRev(store, args.rev ?? HEAD)
  const version = (await readCommit(store, cid)).version
  const current = (await store.readRef(ALIASES + args.name)) ?? null
  const previous = current === null ? null : CID.parse(current)
  if (current === cid.toString()) return { name: args.name, cid, version, previous, changed: false }
  if (current === null) await assertNotOtherKind(store, 'alias', args.name)
  const tx = await store.transaction()
  try {
    await stageAliasMove(store, tx, args, current, cid.toString())
    await tx.commit()
  } catch (err) { await tx.abort(); throw err }
  return { name: args.name, cid, version, previous, changed: true }
}

/** Deletes an alias; the deletion is logged (its history stays). */
export async function deleteAlias (store: ObjectStore, args: AliasMoveArgs): Promise<NamedCommit> {
  const current = await requireKnown(store, 'alias', args.name)
  const cid = CID.parse(current)
  const version = (await readCommit(store, cid)).version
  const tx = await store.transaction()
  try {
    await stageAliasMove(store, tx, args, current, null)
    await tx.commit()
  } catch (err) { await tx.abort(); throw err }
  return { name: args.name, cid, version }
}

/**
 * Every move of an alias, newest first — made here or fetched from a remote. Legacy records not
 * converted yet are shown as they will be converted. UNKNOWN_REVISION when the name has neither an
 * alias nor a history.
 */
/** Every alias that has a history here (moved at least once, deleted ones included), sorted by name. */
export async function aliasesWithHistory (store: ObjectStore): Promise<string[]> {
  const names = new Set([...(await aliasHeads(store)).keys(), ...await legacyNames(store), ...(await listAliases(store)).map(a => a.name)])
  return [...names].sort()
}

export async function aliasHistory (store: ObjectStore, name: string): Promise<AliasLogEntry[]> {
  const logHead = (await store.readRef(ALIAS_LOG + name)) ?? null
  const pending = await pendingConversion(store, name, logHead === null ? null : CID.parse(logHead))
  const head = pending?.head ?? (logHead === null ? null : CID.parse(logHead))
  if (head === null) {
    await requireKnown(store, 'alias', name)
    return []
  }
  const extra = new Map((pending?.blocks ?? []).map(b => [b.cid.toString(), b.value]))
  const chain = await readChain(store, head, name, { extra })
  const versions = new Map<string, number | null>()
  const out: AliasLogEntry[] = []
  for (const [i, { cid, move }] of chain.entries()) {
    out.push({
      name,
      seq: chain.length - i,
      cid: cid.toString(),
      from: move.from?.toString() ?? null,
      to: move.to?.toString() ?? null,
      at: move.at,
      by: move.by,
      ...(move.message !== null ? { message: move.message } : {}),
      fromVersion: await versionOf(store, move.from, versions),
      toVersion: await versionOf(store, move.to, versions)
    })
  }
  return out
}

// ---------------------------------------------------------------- branches

export interface BranchInfo {
  readonly name: string
  readonly current: boolean
  /** Tip commit; null for the current branch before its first commit. */
  readonly cid: CID | null
  readonly version: number | null
}

/** Every branch, the current one marked (listed even before its first commit). */
export async function listBranches (store: ObjectStore): Promise<BranchInfo[]> {
  const head = (await headBranch(store)).slice(HEADS.length)
  const out: BranchInfo[] = (await named(store, HEADS)).map(b => ({ ...b, current: b.name === head }))
  if (!out.some(b => b.current)) out.push({ name: head, current: true, cid: null, version: null })
  return out.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))
}

function stageBranch (tx: Transaction, name: string, cid: CID): void {
  tx.setRef({ name: HEADS + name, value: cid.toString(), expect: null })
}

/** Creates a branch at a commit (default HEAD). REF_EXISTS when it exists. */
export async function createBranch (store: ObjectStore, args: { name: string, rev?: string }): Promise<NamedCommit> {
  validateName('branch', args.name)
  if (await store.readRef(HEADS + args.name) !== undefined) {
    throw new RefExistsError(`branch ${args.name} already exists; \`mvc switch ${args.name}\` to use it`, { name: args.name, kind: 'branch' })
  }
  await assertNotOtherKind(store, 'branch', args.name)
  const cid = await resolveRev(store, args.rev ?? HEAD)
  const version = (await readCommit(store, cid)).version
  await commitTx(store, tx => stageBranch(tx, args.name, cid))
  return { name: args.name, cid, version }
}

/** Deletes a branch (its commits stay reachable as versions). The current branch can't be deleted. */
export async function deleteBranch (store: ObjectStore, args: { name: string }): Promise<NamedCommit> {
  if ((await headBranch(store)) === HEADS + args.name) {
    throw new InvalidArgumentError(`cannot delete branch ${args.name}: it is the current branch; \`mvc switch <other>\` first`, { name: args.name })
  }
  const current = await requireKnown(store, 'branch', args.name)
  const cid = CID.parse(current)
  const version = (await readCommit(store, cid)).version
  await commitTx(store, tx => tx.setRef({ name: HEADS + args.name, value: null, expect: current }))
  return { name: args.name, cid, version }
}

export interface SwitchResult {
  readonly branch: string
  readonly previous: string
  readonly created: boolean
  /** The branch tip; null for a branch with no commits yet. */
  readonly cid: CID | null
  readonly version: number | null
}

/**
 * Moves HEAD to a branch (`ref: refs/heads/<name>`); with `create`, first creates it at `rev`
 * (default HEAD; on a repository with no commits, the new branch is unborn). Files are not touched.
 */
export async function switchBranch (store: ObjectStore, args: { name: string, create?: boolean, rev?: string }): Promise<SwitchResult> {
  const headValue = (await store.readRef(HEAD)) ?? null
  const previous = (await headBranch(store)).slice(HEADS.length)
  const ref = HEADS + args.name
  if (args.create === true) {
    validateName('branch', args.name)
    if (await store.readRef(ref) !== undefined) {
      throw new RefExistsError(`branch ${args.name} already exists; \`mvc switch ${args.name}\` to use it`, { name: args.name, kind: 'branch' })
    }
    if (args.name === previous) throw new RefExistsError(`${args.name} is already the current branch`, { name: args.name, kind: 'branch' })
    await assertNotOtherKind(store, 'branch', args.name)
    let cid: CID | null
    try {
      cid = await resolveRev(store, args.rev ?? HEAD)
    } catch (err) {
      if (!(err instanceof NoCommitsError) || args.rev !== undefined) throw err
      cid = null // nothing committed yet: the new branch starts unborn
    }
    const version = cid === null ? null : (await readCommit(store, cid)).version
    await commitTx(store, tx => {
      if (cid !== null) stageBranch(tx, args.name, cid)
      setHeadBranch(tx, ref, headValue)
    })
    return { branch: args.name, previous, created: true, cid, version }
  }
  if (args.rev !== undefined) throw new InvalidArgumentError(`a start revision is only taken with -c: \`mvc switch -c ${args.name} ${args.rev}\``, { name: args.name, rev: args.rev })
  const value = await store.readRef(ref)
  if (value === undefined && args.name !== previous) {
    let hint = '`mvc branch` lists branches'
    for (const kind of ['tag', 'alias'] as const) {
      if (await store.readRef(NAMESPACE[kind] + args.name) !== undefined) hint = `${args.name} is a ${kind}; \`mvc switch -c <new-branch> ${args.name}\` starts a branch there`
    }
    if (/^v\d+$/.test(args.name)) hint = `${args.name} is a version; \`mvc switch -c <new-branch> ${args.name}\` starts a branch there`
    throw new UnknownRevisionError(`no branch named ${JSON.stringify(args.name)}: ${hint}`, { kind: 'branch', name: args.name })
  }
  const cid = value === undefined ? null : CID.parse(value)
  const version = cid === null ? null : (await readCommit(store, cid)).version
  if (args.name !== previous) await commitTx(store, tx => setHeadBranch(tx, ref, headValue))
  return { branch: args.name, previous, created: false, cid, version }
}
