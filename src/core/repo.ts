/**
 * A repository on disk: the working root (the folder holding `.mvc/`) and its open store. Finding the
 * root walks up from a starting folder, as git does.
 */
import { stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { NotARepositoryError } from '../errors.js'
import { openDiskStore, type OpenOptions } from '../store/open.js'
import type { ObjectStore } from '../store/interface.js'
import { MVC_DIR } from '../format/paths.js'
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

async function isRepoRoot (dir: string): Promise<boolean> {
  const s = await stat(join(dir, MVC_DIR, 'db')).catch(() => undefined)
  return s?.isDirectory() === true
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
  return { root, store, formats: options.formats ?? DEFAULT_FORMATS }
}

/** Creates `.mvc/` in `dir`. Returns false (and changes nothing) when one is already there. */
export async function initRepo (dir: string, options: OpenOptions = {}): Promise<{ root: string, created: boolean }> {
  const root = resolve(dir)
  if (await isRepoRoot(root)) return { root, created: false }
  const store = await openDiskStore(join(root, MVC_DIR), { ...options, create: true })
  try {
    await initRefs(store)
  } finally {
    await store.close()
  }
  return { root, created: true }
}
