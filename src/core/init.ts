/**
 * `mvc init`: creates the store (src/core/repo.ts) and, in a git work tree, adds `.mvc/` to its
 * `.gitignore` (src/core/gitignore.ts) unless `core.gitignore` is false.
 */
import { resolve } from 'node:path'
import { Config } from './config.js'
import { ignoreInGit } from './gitignore.js'
import { initRepo } from './repo.js'

export interface InitResult {
  readonly root: string
  readonly created: boolean
  /** Lines added to the git work tree's .gitignore, and which file. */
  readonly gitignore?: { readonly file: string, readonly added: readonly string[] }
}

export async function init (dir: string): Promise<InitResult> {
  const r = await initRepo(resolve(dir))
  if ((await Config.load(r.root)).boolean('core.gitignore') === false) return r
  const g = await ignoreInGit(r.root, [], { store: true })
  return g === undefined || g.added.length === 0 ? r : { ...r, gitignore: g }
}
