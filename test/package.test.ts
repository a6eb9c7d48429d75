/**
 * The package as users get it: `npm pack` of this checkout, installed with npm into a fresh prefix
 * (dependencies from the registry or npm's cache, install scripts skipped as npm 11 does), then the
 * installed `mvc` binary — not this checkout's — commits a TF.js model, verifies it on the wasm backend
 * and rolls it back. Proves the package name, its `bin`, its `files` list and that mvc needs nothing
 * but `npm install` to run.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { cp, readFile, realpath, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { buildFixtures } from '../fixtures/build.js'
import { REPO_ROOT, TEST_ENV, removeDir, sha256File, tmpdir } from './helpers.js'

const run = promisify(execFile)
const cleanup: string[] = []
after(async () => { for (const d of cleanup) await removeDir(d) })

test('npm pack, npm install into a fresh prefix: the installed mvc commits, verifies and checks out a TF.js model', { timeout: 600_000 }, async () => {
  const base = await realpath(await tmpdir())
  cleanup.push(base)
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string, version: string, bin: Record<string, string> }
  assert.equal(pkg.name, 'mvc-models', 'the npm name `mvc` belongs to another package')
  assert.deepEqual(Object.keys(pkg.bin), ['mvc'])
  // dist/ is built by `npm test` before the tests run: pack it as it is.
  const { stdout: packed } = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', base, '--json'], { cwd: REPO_ROOT, maxBuffer: 64 << 20 })
  const tarball = join(base, (JSON.parse(packed) as Array<{ filename: string }>)[0]!.filename)
  const prefix = join(base, 'prefix')
  await run('npm', ['install', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: base, maxBuffer: 64 << 20 })
  const mvc = join(prefix, 'node_modules', '.bin', 'mvc')
  const env = { ...process.env, ...TEST_ENV }
  for (const k of Object.keys(env)) if (k.startsWith('MVC_') && !(k in TEST_ENV)) delete env[k]
  const cli = async (cwd: string, ...args: string[]): Promise<string> => (await run(mvc, args, { cwd, env, maxBuffer: 64 << 20 })).stdout

  assert.equal((await cli(base, '--version')).trim(), pkg.version)
  const project = join(base, 'project')
  const fixtures = await buildFixtures(join(base, 'fixtures'))
  await cp(fixtures.find(f => f.name === 'dense')!.dir, join(project, 'model'), { recursive: true })
  await cli(project, 'init')
  const before = await sha256File(join(project, 'model', 'weights.bin'))
  const v1 = JSON.parse(await cli(project, 'commit', 'model', '-m', 'first', '--json')) as { version: number, verification: { models: Array<{ status: string }> } | null }
  assert.equal(v1.version, 1)
  assert.equal(v1.verification?.models[0]?.status, 'recorded', 'the installed package runs TF.js (wasm) at commit')
  // Change the weights, commit, roll back with verification.
  const w = await readFile(join(project, 'model', 'weights.bin'))
  w[0] = w[0]! ^ 0x40
  await writeFile(join(project, 'model', 'weights.bin'), w)
  await cli(project, 'commit', '-m', 'second')
  const out = await cli(project, 'checkout', 'v1')
  assert.match(out, /PASS/)
  assert.equal(await sha256File(join(project, 'model', 'weights.bin')), before, 'v1 rebuilt byte for byte')
})
