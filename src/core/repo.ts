/**
 * A repository on disk: the working root (the folder holding `.mvc/`) and its open store. Finding the
 * root walks up from a starting folder, as git does.
 */
import { lstat, rename } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { NotARepositoryError } from '../errors.js'
import { createDiskStore, openDiskStore, storeState, type OpenOptions } from '../store/open.js'
import type { ObjectStore } from '../store/interface.js'
import { listMatching, ownerIsDeadHere, sweep } from '../store/leftovers.js'
import { MVC_DIR } from '../format/paths.js'
import { META } from '../format/keys.js'
import { initRefs } from './refs.js'
import { DEFAULT_FORMATS } from '../formats/index.js'
import type { ModelFormat } from '../formats/interface.js'

export interface Repo {
  /** Absolute path of the folder that contains `.mvc`. */
  readonly root: string
  readonly store: ObjectStore
  /** Model format adapters, in detection order. */
  readonly formats: readonly ModelFormat[]
}

export interface OpenRepoOptions extends OpenOptions {
  /** Model format adapters (default: every format mvc knows). */
  readonly formats?: readonly ModelFormat[]
}

/** True when `dir` holds a repository; a `.mvc` whose creation was interrupted (by an older mvc) is said so. */
async function isRepoRoot (dir: string): Promise<boolean> {
  const state = await storeState(join(dir, MVC_DIR))
  if (state === 'half-created') {
    throw new NotARepositoryError(`${join(dir, MVC_DIR)} holds a repository whose creation was interrupted (no database in it); run \`mvc init\` in ${dir} to create it again`, { path: dir, state })
  }
  return state === 'present'
}

/** The nearest folder at or above `start` that holds a repository. */
export async function findRoot (start: string): Promise<string> {
  let dir = resolve(start)
  for (;;) {
    if (await isRepoRoot(dir)) return dir
    const up = dirname(dir)
    if (up === dir) {
      throw new NotARepositoryError(`not an mvc repository (or any parent up to /): ${resolve(start)}. Run \`mvc init\` to create one.`, { path: resolve(start) })
    }
    dir = up
  }
}

export async function openRepo (start: string, options: OpenRepoOptions = {}): Promise<Repo> {
  const root = await findRoot(start)
  const store = await openDiskStore(join(root, MVC_DIR), options)
  if (store.readOnly === undefined) store.leftoversRemoved.push(...await cleanCheckoutLeftovers(root, store))
  return { root, store, formats: options.formats ?? DEFAULT_FORMATS }
}

/** Creates `.mvc/` in `dir`, atomically (store/open.ts, createDiskStore). Returns false (and changes nothing) when one is already there. */
export async function initRepo (dir: string, _options: OpenOptions = {}): Promise<{ root: string, created: boolean }> {
  const root = resolve(dir)
  const state = await storeState(join(root, MVC_DIR))
  if (state === 'present') return { root, created: false }
  const created = await createDiskStore(join(root, MVC_DIR), { initialize: initRefs })
  return { root, created }
}

/** Checkout staging folders beside a target: `.<name>.mvc-new-<pid>-<8 hex>`, `.<name>.mvc-old-…` (core/materialize.ts). */
function stagingPattern (name: string): RegExp {
  return new RegExp(`^\\.${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.mvc-(new|old)-(\\d+)-([0-9a-f]{8})$`)
}

/** The folders beside which checkouts stage: the parents of every path committed or checked out. */
async function worktreeTargets (root: string, store: ObjectStore): Promise<string[]> {
  const rels = new Set<string>()
  for (const [key] of await store.listMeta(META.worktree)) rels.add(key.slice(META.worktree.length))
  return [...rels].filter(r => r !== '' && !r.split('/').includes('..')).map(r => join(root, r))
}

/**
 * Leftovers of checkouts whose process died (kill -9, power loss) on this host: a staging folder
 * (`-new-`) is removed; a folder moved aside (`-old-`) is moved back when the target is missing (the
 * crash came between the two renames of the swap), else removed. Another host's or a live process's
 * leftovers are left alone (`fsck` lists them). Best effort: never fails the command.
 */
export async function cleanCheckoutLeftovers (root: string, store: ObjectStore): Promise<string[]> {
  const removed: string[] = []
  try {
    for (const target of await worktreeTargets(root, store)) {
      const re = stagingPattern(basename(target))
      for (const path of await listMatching(dirname(target), re)) {
        const m = re.exec(basename(path))!
        if (!ownerIsDeadHere(m[2]!, m[3]!)) continue
        if (m[1] === 'old' && await lstat(target).catch(() => undefined) === undefined) {
          await rename(path, target).catch(() => {})
        }
      }
      removed.push(...(await sweep(dirname(target), re, 2, 3)).removed)
    }
  } catch { /* leftovers stay; fsck reports them */ }
  return removed
}

/** Checkout staging folders still beside committed paths (for fsck). */
export async function checkoutLeftovers (root: string, store: ObjectStore): Promise<string[]> {
  const out: string[] = []
  for (const target of await worktreeTargets(root, store)) out.push(...await listMatching(dirname(target), stagingPattern(basename(target))))
  return out
}
