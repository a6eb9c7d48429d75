/**
 * Commands that don't need TF.js (or the AWS SDK, or isomorphic-git) must not load it: `mvc --help`
 * and `mvc log` stay fast. A module-resolution hook registered in the child process reports every
 * heavy package it resolves; `mvc verify` is the positive control showing the hook sees TF.js.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile, cp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { MVC_BIN, TEST_ENV } from './helpers.js'
import { buildFixtures } from '../fixtures/build.js'

const HEAVY = /@tensorflow|@aws-sdk|isomorphic-git/
const dirs: string[] = []
after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

async function setup (): Promise<{ dir: string, register: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mvc-startup-'))
  dirs.push(dir)
  const hook = join(dir, 'hook.mjs')
  await writeFile(hook, `export async function resolve (specifier, context, next) {
  if (${HEAVY.toString()}.test(specifier)) process.stderr.write('LOADED ' + specifier + '\\n')
  return next(specifier, context)
}
`)
  const register = join(dir, 'register.mjs')
  await writeFile(register, `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(hook).href)})\n`)
  return { dir, register }
}

function run (register: string, cwd: string, args: string[]): { code: number | null, loaded: string[] } {
  const r = spawnSync(process.execPath, ['--import', register, MVC_BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...TEST_ENV } })
  const loaded = r.stderr.split('\n').filter(l => l.startsWith('LOADED ')).map(l => l.slice(7))
  return { code: r.status, loaded }
}

test('--help, log, show and status load neither TF.js nor the AWS SDK nor isomorphic-git; verify loads TF.js', async () => {
  const { dir, register } = await setup()
  const fx = await buildFixtures(join(dir, 'fx'))
  await cp(fx.find(f => f.name === 'dense')!.dir, join(dir, 'model'), { recursive: true })
  assert.equal(run(register, dir, ['init']).code, 0)
  assert.equal(run(register, dir, ['commit', 'model', '-m', 'x', '--no-code', '--backend', 'cpu']).code, 0)
  for (const args of [['--help'], ['log'], ['show', 'v1'], ['status']]) {
    const r = run(register, dir, args)
    assert.equal(r.code, 0, args.join(' '))
    assert.deepEqual(r.loaded, [], `mvc ${args.join(' ')} loaded ${r.loaded.join(', ')}`)
  }
  const v = run(register, dir, ['verify', 'v1', '--backend', 'cpu'])
  assert.equal(v.code, 0)
  assert.ok(v.loaded.some(s => s.startsWith('@tensorflow')), 'the hook sees TF.js when it is loaded')
})
