/**
 * Names for commits (docs/design.md, "Refs"):
 *
 *   HEAD                 "ref: refs/heads/<branch>" (symbolic; mvc keeps HEAD on a branch)
 *   refs/heads/<b>       branch tip
 *   refs/versions/<n>    version n (v1, v2, …), given in commit order and never reused
 *   refs/tags/<t>        immutable names
 *   refs/aliases/<a>     movable names, with history
 *
 * and revision syntax: `vN`, a tag, an alias, a branch, `HEAD`, a full or unambiguous CID prefix,
 * each optionally followed by `~n` / `^` (first parent, n times).
 *
 * Precedence, first match wins: HEAD, version (`vN`), tag, alias, branch, CID prefix (≥ 6 characters;
 * AMBIGUOUS_REVISION listing the candidates when several commits match). Tag, alias and branch names
 * can't be `vN` and a name lives in one namespace only (src/core/names.ts), so in practice only a
 * name that looks like a CID prefix depends on the order.
 */
import { CID } from 'multiformats/cid'
import { AmbiguousRevisionError, NoCommitsError, UnknownRevisionError } from '../errors.js'
import type { ObjectStore, Transaction } from '../store/interface.js'
import { readCommit } from './objects.js'
import type { CommitObject } from '../format/objects.js'

import { ALIASES, DEFAULT_BRANCH, HEAD, HEADS, IMPORTS, META, REMOTES, TAGS, VERSIONS, symbolicRef, symbolicTarget, utf8 } from '../format/keys.js'

export { ALIASES, DEFAULT_BRANCH, HEAD, HEADS, REMOTES, TAGS, VERSIONS }

export async function initRefs (store: ObjectStore): Promise<void> {
  const tx = await store.transaction()
  tx.setRef({ name: HEAD, value: symbolicRef(HEADS + DEFAULT_BRANCH), expect: null })
  await tx.commit()
}

/** The branch HEAD points at (full ref name). */
export async function headBranch (store: ObjectStore): Promise<string> {
  const v = await store.readRef(HEAD)
  return (v === undefined ? undefined : symbolicTarget(v)) ?? HEADS + DEFAULT_BRANCH
}

/** Points HEAD at a branch; with `expect` (HEAD's current value, null = absent) as a compare-and-swap. */
export function setHeadBranch (tx: Transaction, branchRef: string, expect?: string | null): void {
  tx.setRef({ name: HEAD, value: symbolicRef(branchRef), ...(expect !== undefined ? { expect } : {}) })
}

/** The commit at HEAD, or undefined on an unborn branch. */
export async function headCommit (store: ObjectStore): Promise<CID | undefined> {
  const v = await store.readRef(await headBranch(store))
  return v === undefined ? undefined : CID.parse(v)
}

export async function nextVersion (store: ObjectStore): Promise<number> {
  const v = await store.readMeta(META.nextVersion)
  return v === undefined ? 1 : Number(utf8.decode(v))
}

export function setNextVersion (tx: Transaction, n: number): void {
  tx.setMeta(META.nextVersion, utf8.encode(String(n)))
}

/** Every version, ascending. */
export async function listVersions (store: ObjectStore): Promise<Array<{ version: number, cid: CID }>> {
  const refs = await store.listRefs(VERSIONS)
  return refs.map(([name, v]) => ({ version: Number(name.slice(VERSIONS.length)), cid: CID.parse(v) }))
    .sort((a, b) => a.version - b.version)
}

const SUFFIX = /(~\d*|\^)+$/

/** Resolves a revision to a commit CID. */
export async function resolveRev (store: ObjectStore, rev: string): Promise<CID> {
  const m = SUFFIX.exec(rev)
  const base = m === null ? rev : rev.slice(0, m.index)
  let cid = await resolveBase(store, base, rev)
  if (m !== null) {
    for (const step of m[0].match(/~\d*|\^/g) ?? []) {
      const n = step === '^' || step === '~' ? 1 : Number(step.slice(1))
      for (let i = 0; i < n; i++) {
        const c: CommitObject = await readCommit(store, cid)
        const p = c.parents[0]
        if (p === undefined) throw new UnknownRevisionError(`${rev}: v${c.version} has no parent`, { rev })
        cid = p
      }
    }
  }
  return cid
}

async function resolveBase (store: ObjectStore, base: string, rev: string): Promise<CID> {
  if (base === HEAD || base === '') {
    const h = await headCommit(store)
    if (h === undefined) throw new NoCommitsError('the repository has no commits yet; run `mvc commit <path> -m <message>` first', { rev })
    return h
  }
  const version = /^v(\d+)$/.exec(base)
  if (version !== null) {
    const v = await store.readRef(VERSIONS + String(Number(version[1])))
    if (v !== undefined) return CID.parse(v)
    const count = (await nextVersion(store)) - 1
    throw new UnknownRevisionError(`unknown version ${base}: this repository has ${count === 0 ? 'no versions yet' : `v1 to v${count}`}`, { rev })
  }
  // Remote-tracking branches (`origin/main`) come last, after local names.
  for (const ns of [TAGS, ALIASES, HEADS, REMOTES]) {
    const v = await store.readRef(ns + base)
    if (v !== undefined) return CID.parse(v)
  }
  if (/^[a-z0-9]{6,}$/.test(base)) {
    // Commits imported from CAR files without a version number (refs/imports/<cid>) are found by CID too.
    const imported = await Promise.all((await store.listRefs(IMPORTS)).filter(([, v]) => v.startsWith(base)).map(async ([, v]) => ({ cid: CID.parse(v), version: (await readCommit(store, CID.parse(v))).version })))
    const matches = [...(await listVersions(store)).filter(x => x.cid.toString().startsWith(base)), ...imported]
    const unique = [...new Map(matches.map(x => [x.cid.toString(), x])).values()]
    if (unique.length === 1) return unique[0]!.cid
    if (unique.length > 1) {
      const list = unique.map(x => `v${x.version} ${x.cid.toString()}`).join(', ')
      throw new AmbiguousRevisionError(`${base} matches ${unique.length} commits (${list}); give more characters, or use the version number`, { rev, candidates: unique.map(x => x.cid.toString()), versions: unique.map(x => x.version) })
    }
  }
  throw new UnknownRevisionError(`unknown revision ${JSON.stringify(rev)}: not a version (v1, v2, …), tag, alias, branch or commit CID. See \`mvc log\`.`, { rev })
}
