/**
 * Living in a git work tree, as DVC does: what mvc versions (the `.mvc/` store, each committed model
 * path) is added to the work tree's `.gitignore`, so `git status` stays quiet, `git add -A` cannot put
 * a store or weights into git, and the code lineage mvc records is not "dirty" because of them (the
 * dirty check also ignores these lines, src/core/lineage/code.ts). Paths git already tracks are left
 * alone; `mvc config core.gitignore false` turns it off.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join, relative, resolve, sep } from 'node:path'
import { MVC_DIR } from '../format/paths.js'
import { MVC_IGNORE_COMMENT, findGitRoot, gitIgnores, gitTracks } from './lineage/code.js'

/**
 * Adds `/.mvc/` (when `store`) and `/<path>/` for each absolute folder (or `/<path>` for a file) to the
 * `.gitignore` at the root of the git work tree enclosing `repoRoot`. Returns the lines added (none when
 * there is no git work tree, or everything was ignored already).
 */
export async function ignoreInGit (repoRoot: string, paths: ReadonlyArray<{ readonly abs: string, readonly dir: boolean }>, options: { store?: boolean } = {}): Promise<{ file: string, added: string[] } | undefined> {
  const root = await findGitRoot(repoRoot)
  if (root === undefined) return undefined
  const file = join(root, '.gitignore')
  const text = await readFile(file, 'utf8').catch(() => '')
  const lines = new Set(text.split(/\r?\n/).map(l => l.trim()))
  const wanted: string[] = []
  const rel = (abs: string): string => relative(root, resolve(abs)).split(sep).join('/')
  if (options.store === true) {
    const r = rel(join(repoRoot, MVC_DIR))
    if (!r.startsWith('..') && !(await gitIgnores(root, r + '/'))) wanted.push(`/${r}/`)
  }
  for (const p of paths) {
    const r = rel(p.abs)
    if (r === '' || r.startsWith('..')) continue
    if (await gitTracks(root, r)) continue // the user versions these with git too: leave them
    if (await gitIgnores(root, p.dir ? r + '/' : r)) continue
    wanted.push(p.dir ? `/${r}/` : `/${r}`)
  }
  const added = wanted.filter(l => !lines.has(l) && !lines.has(l.replace(/\/$/, '')))
  if (added.length === 0) return { file, added: [] }
  const header = lines.has(MVC_IGNORE_COMMENT) ? [] : [MVC_IGNORE_COMMENT]
  const sepLine = text === '' || text.endsWith('\n') ? '' : '\n'
  await writeFile(file, text + sepLine + [...header, ...added].join('\n') + '\n')
  return { file, added }
}
