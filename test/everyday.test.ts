/**
 * Everyday use, through the CLI: mvc in a git work tree (.gitignore, clean code lineage, author from
 * git), and `mvc config` at both levels.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { jsonError, mvcJson, mvcOk, runMvc, tmpdir } from './helpers.js'

const cleanup: string[] = []
after(async () => { for (const d of cleanup) await rm(d, { recursive: true, force: true }) })

function git (cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@x', HOME: cwd } })
}

/** A git project with training code committed, and a model folder mvc will version. */
async function project (): Promise<{ dir: string, env: Record<string, string> }> {
  const dir = await tmpdir('mvc-everyday-')
  cleanup.push(dir)
  git(dir, 'init', '-q', '-b', 'main')
  await writeFile(join(dir, 'train.py'), 'print("train")\n')
  git(dir, 'add', '.')
  git(dir, 'commit', '-q', '-m', 'code')
  await mkdir(join(dir, 'model'))
  await writeFile(join(dir, 'model', 'w.bin'), 'weights')
  // No MVC_AUTHOR_*: the author comes from git here. HOME points at the project, so the user's git
  // and mvc settings are the test's own.
  return { dir, env: { HOME: dir, MVC_AUTHOR_NAME: '', MVC_AUTHOR_EMAIL: '', MVC_CONFIG_GLOBAL: join(dir, 'user-config.json') } }
}

describe('in a git work tree', () => {
  test('init and commit keep the store and the model out of git, and the code lineage is clean', async () => {
    const { dir, env } = await project()
    const init = await runMvc(['init'], { cwd: dir, env })
    assert.equal(init.code, 0, init.stderr)
    assert.match(init.stderr, /added \/\.mvc\/ to .*\.gitignore/)
    const c = await runMvc(['commit', 'model', '-m', 'v1', '--no-verify'], { cwd: dir, env })
    assert.equal(c.code, 0, c.stderr)
    assert.match(c.stderr, /added \/model\/ to .*\.gitignore/)
    const ignore = await readFile(join(dir, '.gitignore'), 'utf8')
    assert.match(ignore, /^\/\.mvc\/$/m)
    assert.match(ignore, /^\/model\/$/m)
    // git sees only the .gitignore itself: neither the store nor the weights.
    assert.equal(git(dir, 'status', '--porcelain'), '?? .gitignore\n')
    const show = await mvcJson<{ commit: { code: { kind: string, dirty: boolean, dirtyPaths: string[] } } }>(['show'], { cwd: dir, env })
    assert.equal(show.commit.code.kind, 'git')
    assert.equal(show.commit.code.dirty, false, JSON.stringify(show.commit.code.dirtyPaths))
    // A real code change still counts.
    await writeFile(join(dir, 'train.py'), 'print("changed")\n')
    await writeFile(join(dir, 'model', 'w.bin'), 'weights 2')
    await mvcOk(['commit', '-m', 'v2', '--no-verify'], { cwd: dir, env })
    const v2 = await mvcJson<{ commit: { code: { dirty: boolean, dirtyPaths: string[] } } }>(['show'], { cwd: dir, env })
    assert.deepEqual(v2.commit.code.dirtyPaths, ['train.py'])
    // A path already ignored by the user's own rules is left alone.
    assert.equal((await readFile(join(dir, '.gitignore'), 'utf8')).match(/^\/model\/$/mg)?.length, 1)
  })

  test('the author comes from mvc config, else from git config, else the login name', async () => {
    const { dir, env } = await project()
    await mvcOk(['init'], { cwd: dir, env })
    git(dir, 'config', 'user.name', 'Grace Hopper')
    git(dir, 'config', 'user.email', 'grace@example.com')
    await mvcOk(['commit', 'model', '-m', 'v1', '--no-verify'], { cwd: dir, env })
    let s = await mvcJson<{ commit: { author: { name: string, email: string } } }>(['show'], { cwd: dir, env })
    assert.deepEqual(s.commit.author, { name: 'Grace Hopper', email: 'grace@example.com' })
    await mvcOk(['config', 'user.name', 'Ada Lovelace'], { cwd: dir, env })
    await writeFile(join(dir, 'model', 'w.bin'), 'weights 2')
    await mvcOk(['commit', '-m', 'v2', '--no-verify'], { cwd: dir, env })
    s = await mvcJson(['show'], { cwd: dir, env })
    assert.deepEqual(s.commit.author, { name: 'Ada Lovelace', email: 'grace@example.com' })
  })
})

describe('mvc config', () => {
  test('repository settings override user settings; unknown keys and bad values are refused', async () => {
    const { dir, env } = await project()
    await mvcOk(['init'], { cwd: dir, env })
    await mvcOk(['config', '--global', 'verify.backend', 'wasm'], { cwd: dir, env })
    await mvcOk(['config', 'verify.backend', 'cpu'], { cwd: dir, env })
    assert.equal((await mvcOk(['config', 'verify.backend'], { cwd: dir, env })).stdout.trim(), 'cpu')
    const list = await mvcJson<Array<{ key: string, value: unknown, level: string }>>(['config', '--list'], { cwd: dir, env })
    assert.deepEqual(list, [{ key: 'verify.backend', value: 'cpu', level: 'repository' }])
    await mvcOk(['config', '--unset', 'verify.backend'], { cwd: dir, env })
    assert.equal((await mvcOk(['config', 'verify.backend'], { cwd: dir, env })).stdout.trim(), 'wasm')
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'user-config.json'), 'utf8')), { 'verify.backend': 'wasm' })

    const unknown = await runMvc(['config', 'verify.bakend', 'cpu', '--json'], { cwd: dir, env })
    assert.equal(unknown.code, 8)
    assert.equal(jsonError(unknown).code, 'INVALID_ARGUMENT')
    assert.match(jsonError(unknown).message, /unknown setting "verify.bakend"/)
    const bad = await runMvc(['config', 'verify.backend', 'gpu', '--json'], { cwd: dir, env })
    assert.equal(bad.code, 8)
    assert.match(jsonError(bad).message, /one of tensorflow, wasm, cpu/)

    // core.gitignore false: commit leaves .gitignore alone.
    await mvcOk(['config', 'core.gitignore', 'false'], { cwd: dir, env })
    await mkdir(join(dir, 'other'))
    await writeFile(join(dir, 'other', 'x.bin'), 'x')
    const before = await readFile(join(dir, '.gitignore'), 'utf8')
    await mvcOk(['commit', 'other', '-m', 'other', '--no-verify'], { cwd: dir, env })
    assert.equal(await readFile(join(dir, '.gitignore'), 'utf8'), before)
  })
})
