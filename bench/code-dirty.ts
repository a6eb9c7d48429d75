/**
 * The code-lineage dirty check (src/core/code.ts) against isomorphic-git's statusMatrix and the git
 * CLI, on a 2,000-file repository (40 folders × 50 files) made with the git CLI.
 *
 * Method: files are written with mtimes one day in the past, added and committed; after a 1.1 s pause
 * `git update-index --refresh` rewrites the index as `git status` would, so no entry is racy. Each
 * measurement is the median of 7 runs (after one unmeasured warm-up), in this process unless noted:
 *   - git status: `git status --porcelain` as a child process (wall time, including process start);
 *   - statusMatrix: isomorphic-git's `statusMatrix` on a copy of the repository (it rewrites the index,
 *     dropping the cached-tree extension, so it runs on its own copy);
 *   - dirtyCheck: mvc's check (index + lstat + ignore rules), and codeLineage (adds HEAD, branch, remote);
 *   - the same after editing 10 files and adding 5 untracked ones (results compared with git status);
 *   - on an index without the TREE extension (as isomorphic-git writes it): HEAD's trees are read;
 *   - cold: a fresh `node` process importing mvc's module and running codeLineage once, next to an
 *     empty `node -e ""` (process start-up) and the import of isomorphic-git alone.
 * Wall-clock on a possibly shared machine: run it a few times; the load average is printed.
 * Usage: node dist/bench/code-dirty.js
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { cp, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises'
import fs from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import git from 'isomorphic-git'
import { codeLineage, dirtyCheck } from '../src/core/lineage/code.js'

const GIT_ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' }
const gitc = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@e', ...args], { cwd, env: GIT_ENV, encoding: 'utf8' })

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

async function timeIt (runs: number, f: () => Promise<unknown> | unknown): Promise<{ median: number, all: number[] }> {
  await f() // warm-up
  const all: number[] = []
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    await f()
    all.push(performance.now() - t)
  }
  return { median: median(all), all }
}

function porcelainPaths (cwd: string): string[] {
  return gitc(cwd, 'status', '--porcelain=v1', '-z').split('\0').filter(Boolean).map(l => l.slice(3)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
}

const row = (name: string, ms: number, note = ''): void => console.log(`${name.padEnd(44)} ${ms.toFixed(1).padStart(8)} ms  ${note}`)

async function main (): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'mvc-bench-git-'))
  try {
    const dir = join(base, 'repo')
    await mkdir(dir)
    gitc(dir, 'init', '-q', '-b', 'main')
    const past = new Date(Date.now() - 86_400_000)
    for (let d = 0; d < 40; d++) {
      await mkdir(join(dir, `pkg${d}`))
      for (let f = 0; f < 50; f++) {
        const p = join(dir, `pkg${d}`, `mod${f}.ts`)
        await writeFile(p, `export const v${d}_${f} = ${d * 50 + f}\n// ${'x'.repeat((d * 50 + f) % 400)}\n`)
        await utimes(p, past, past)
      }
    }
    await writeFile(join(dir, '.gitignore'), 'node_modules/\n*.log\n')
    await utimes(join(dir, '.gitignore'), past, past)
    gitc(dir, 'add', '-A')
    gitc(dir, 'commit', '-q', '-m', 'init')
    await new Promise(resolve => setTimeout(resolve, 1100))
    gitc(dir, 'update-index', '--refresh', '-q')
    const head = gitc(dir, 'rev-parse', 'HEAD').trim()
    const tracked = gitc(dir, 'ls-files').trim().split('\n').length

    const copy = join(base, 'copy')
    await cp(dir, copy, { recursive: true })

    console.log(`repository: ${tracked} tracked files; node ${process.version}; load average ${loadavg().map(l => l.toFixed(2)).join(' ')}`)
    console.log('clean tree')
    const gs = await timeIt(7, () => spawnSync('git', ['status', '--porcelain'], { cwd: dir, env: GIT_ENV }))
    row('  git status --porcelain (child process)', gs.median)
    const sm = await timeIt(7, async () => await git.statusMatrix({ fs, dir: copy }))
    row('  isomorphic-git statusMatrix', sm.median)
    let last = await dirtyCheck({ root: dir, headOid: head })
    const dc = await timeIt(7, async () => { last = await dirtyCheck({ root: dir, headOid: head }) })
    row('  mvc dirtyCheck', dc.median, `dirty=${String(last.dirty)} hashed=${last.stats.hashed} treesRead=${last.stats.treesRead}`)
    const cl = await timeIt(7, async () => await codeLineage({ dir }))
    row('  mvc codeLineage (HEAD, branch, remote, dirty)', cl.median)

    console.log('dirty tree: 10 files edited, 5 untracked')
    for (let i = 0; i < 10; i++) await writeFile(join(dir, `pkg${i * 4}`, 'mod7.ts'), `export const edited = ${i}\n`)
    for (let i = 0; i < 5; i++) await writeFile(join(dir, `pkg${i}`, `new${i}.ts`), 'new\n')
    await writeFile(join(dir, 'pkg0', 'debug.log'), 'ignored\n')
    const want = porcelainPaths(dir)
    const gs2 = await timeIt(7, () => spawnSync('git', ['status', '--porcelain'], { cwd: dir, env: GIT_ENV }))
    row('  git status --porcelain (child process)', gs2.median)
    const dc2 = await timeIt(7, async () => { last = await dirtyCheck({ root: dir, headOid: head }) })
    const same = JSON.stringify(last.paths) === JSON.stringify(want)
    row('  mvc dirtyCheck', dc2.median, `${last.total} dirty paths, hashed=${last.stats.hashed}, ignoreChecks=${last.stats.ignoreChecks}; same paths as git status: ${String(same)}`)
    if (!same) throw new Error(`paths differ from git status:\n mvc ${JSON.stringify(last.paths)}\n git ${JSON.stringify(want)}`)

    console.log('index without the TREE extension (written by isomorphic-git statusMatrix)')
    const dc3 = await timeIt(7, async () => { last = await dirtyCheck({ root: copy, headOid: head }) })
    row('  mvc dirtyCheck', dc3.median, `dirty=${String(last.dirty)} hashed=${last.stats.hashed} treesRead=${last.stats.treesRead}`)

    console.log('cold process (median of 5 wall times)')
    const codeJs = fileURLToPath(new URL('../src/core/lineage/code.js', import.meta.url))
    const cold = (script: string): number => {
      const t = performance.now()
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: GIT_ENV, encoding: 'utf8' })
      if (r.status !== 0) throw new Error(r.stderr)
      return performance.now() - t
    }
    const coldRuns = (script: string): number => median([0, 1, 2, 3, 4].map(() => cold(script)))
    row('  node -e "" (start-up only)', coldRuns(''))
    row('  node: import isomorphic-git', coldRuns("await import('isomorphic-git')"))
    row('  node: import mvc code.js + codeLineage', coldRuns(`const m = await import(${JSON.stringify(codeJs)}); await m.codeLineage({ dir: ${JSON.stringify(copy)} })`))
    row('  git status --porcelain', median([0, 1, 2, 3, 4].map(() => { const t = performance.now(); spawnSync('git', ['status', '--porcelain'], { cwd: copy, env: GIT_ENV }); return performance.now() - t })))
  } finally {
    await rm(base, { recursive: true, force: true })
  }
}

await main()
