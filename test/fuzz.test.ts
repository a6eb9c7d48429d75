/**
 * Hostile model files and objects, bounded for `npm test` (bench/fuzz-models.ts is the long run):
 * mutations of real model files committed through the library with verification on, and mutations of
 * real repository objects read the way clone, checkout and fsck read them — every case must end as a
 * result or a typed error, never a crash or a hang, and a damaged model.json is never committed
 * silently as a plain file. Then the specific attacks, against the real CLI: 100,000-deep JSON in a
 * model, metadata and params; 100,000-deep dag-cbor from a remote at clone; a layer naming a missing
 * input layer (hung commit, clone and verify before); a truncated model.json; the time limit itself.
 */
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { cp, mkdir, readFile, readdir, realpath, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as dagCbor from '@ipld/dag-cbor'
import { create as createDigest } from 'multiformats/hashes/digest'
import { Repository } from '../src/api/index.js'
import { DAG_CBOR, sha256 } from '../src/content/block.js'
import { openDiskStore } from '../src/store/open.js'
import { withTimeLimit } from '../src/formats/time-limit.js'
import { prepareSeeds, runFuzz, type Seed } from './fuzz-lib.js'
import { exists, jsonError, mvcOk, removeDir, runMvc, tmpdir, type RunResult } from './helpers.js'

const dirs: string[] = []
let seeds: Seed[] = []
let work = ''
before(async () => {
  work = await realpath(await tmpdir('mvc-fuzz-'))
  dirs.push(work)
  seeds = await prepareSeeds(join(work, 'seeds'))
})
after(async () => { for (const d of dirs) await removeDir(d) })

const NO_UNEXPECTED = (r: RunResult): void => { assert.doesNotMatch(r.stderr, /unexpected error|please report/, r.stderr) }
const FUZZ = { bigString: 4 * 1024 * 1024, deep: 100_000 }

function describeBad (bad: ReadonlyArray<{ kind: string, what: string, message?: string }>): string {
  return bad.slice(0, 10).map(b => `${b.kind} ${b.what}: ${b.message ?? ''}`).join('\n')
}

test('fuzzed model files through commit (300 cases, verification on): no crash, no hang, no damaged model.json stored as a plain file', async () => {
  process.env.MVC_VERIFY_TIMEOUT_MS = '20000' // inherited by the worker threads
  const root = join(work, 'repo')
  await Repository.init({ dir: root })
  const r = await runFuzz({ mode: 'models', seed: 11, cases: 300, caseTimeoutMs: 60_000, fuzz: FUZZ, seeds, repo: root })
  assert.equal(r.bad.length, 0, describeBad(r.bad))
  assert.ok(r.counts.typed > 30 && r.counts.ok > 30, JSON.stringify(r.counts)) // both kinds of answer are exercised
  const repo = await Repository.open({ dir: root })
  try { assert.equal((await repo.fsck()).ok, true) } finally { await repo.close() }
})

test('fuzzed repository objects through the decoders (3,000 cases): typed errors only', async () => {
  const root = join(work, 'objects')
  await Repository.init({ dir: root })
  const repo = await Repository.open({ dir: root })
  const objects: Array<{ cid: string, bytes: Uint8Array }> = []
  try {
    for (const s of seeds) {
      await cp(s.dir, join(root, s.name), { recursive: true })
      await repo.commit({ path: join(root, s.name), message: s.name, verify: false })
    }
    for await (const cid of repo.store.cids()) if (cid.code === DAG_CBOR) objects.push({ cid: cid.toString(), bytes: await repo.store.get(cid) })
  } finally { await repo.close() }
  const r = await runFuzz({ mode: 'objects', seed: 12, cases: 3000, caseTimeoutMs: 30_000, fuzz: FUZZ, objects })
  assert.equal(r.bad.length, 0, describeBad(r.bad))
  assert.ok((r.codes.INVALID_OBJECT ?? 0) > 500, JSON.stringify(r.codes))
})

async function repoWith (name: string): Promise<string> {
  const d = await realpath(await tmpdir('mvc-hostile-'))
  dirs.push(d)
  await mvcOk(['init'], { cwd: d })
  await cp(seeds.find(s => s.name === name)!.dir, join(d, 'm'), { recursive: true })
  return d
}

test('100,000-deep JSON: in model.json INVALID_MODEL (exit 8); in metadata.json a warning; in a --params file INVALID_ARGUMENT (exit 8); nothing stored', async () => {
  const deep = '['.repeat(100_000) + ']'.repeat(100_000)
  const d = await repoWith('dense')
  await writeFile(join(d, 'm', 'model.json'), deep)
  let r = await runMvc(['commit', 'm', '-m', 'x', '--json'], { cwd: d })
  NO_UNEXPECTED(r)
  assert.equal(r.code, 8)
  assert.equal(jsonError(r).code, 'INVALID_MODEL')
  assert.match(jsonError(r).message, /deeper than 200/)
  await cp(seeds.find(s => s.name === 'dense')!.dir, join(d, 'm'), { recursive: true })
  await writeFile(join(d, 'm', 'metadata.json'), `{"params": ${deep}}`)
  r = await runMvc(['commit', 'm', '-m', 'x', '--no-verify'], { cwd: d })
  NO_UNEXPECTED(r)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /metadata\.json is not valid JSON \(JSON nests deeper than 200 levels\)/)
  await writeFile(join(d, 'p.json'), `{"a": ${deep}}`)
  r = await runMvc(['commit', 'm', '-m', 'y', '--no-verify', '--allow-empty', '--params', join(d, 'p.json'), '--json'], { cwd: d })
  NO_UNEXPECTED(r)
  assert.equal(r.code, 8)
  assert.equal(jsonError(r).code, 'INVALID_ARGUMENT')
})

test('a truncated model.json is INVALID_MODEL naming the file; with --allow-invalid-models it is stored as a plain file with a warning', async () => {
  const d = await repoWith('dense')
  const text = await readFile(join(d, 'm', 'model.json'), 'utf8')
  await writeFile(join(d, 'm', 'model.json'), text.slice(0, Math.floor(text.length / 2)))
  const r = await runMvc(['commit', 'm', '-m', 'x', '--json'], { cwd: d })
  NO_UNEXPECTED(r)
  assert.equal(r.code, 8)
  assert.equal(jsonError(r).code, 'INVALID_MODEL')
  assert.match(jsonError(r).message, /model\.json.*truncated or damaged/)
  assert.match((await runMvc(['log'], { cwd: d })).stdout, /no versions yet/)
  const ok = await runMvc(['commit', 'm', '-m', 'x', '--allow-invalid-models', '--json'], { cwd: d })
  assert.equal(ok.code, 0, ok.stderr)
  const res = JSON.parse(ok.stdout) as { warnings: string[] }
  assert.ok(res.warnings.some(w => /model\.json/.test(w) && /plain file/.test(w)), JSON.stringify(res.warnings))
  const show = JSON.parse((await mvcOk(['show', 'v1', '--json'], { cwd: d })).stdout) as { manifest: { models: unknown[], entries: Array<{ path: string }> } }
  assert.deepEqual(show.manifest.models, [])
  assert.ok(show.manifest.entries.some(e => e.path === 'model.json'))
})

/** A functional model whose `trunk` layer takes its input from a layer that does not exist. */
async function missingInputModel (d: string): Promise<void> {
  const p = join(d, 'm', 'model.json')
  const j = JSON.parse(await readFile(p, 'utf8')) as { modelTopology: { model_config?: { config: { layers: Array<{ name: string, inbound_nodes: unknown[] }> } }, config?: { layers: Array<{ name: string, inbound_nodes: unknown[] }> } } }
  const cfg = (j.modelTopology.model_config ?? j.modelTopology).config!
  cfg.layers.find(l => l.name === 'trunk')!.inbound_nodes = [[['no_such_layer', 0, 0, {}]]]
  await writeFile(p, JSON.stringify(j))
}

test('a layer naming a missing input layer: commit records why verification was skipped, verify and clone --verify fail with the reason (these hung before)', async () => {
  const d = await repoWith('two-io')
  await missingInputModel(d)
  const c = await runMvc(['commit', 'm', '-m', 'x', '--backend', 'cpu'], { cwd: d })
  NO_UNEXPECTED(c)
  assert.equal(c.code, 0, c.stderr)
  assert.match(c.stderr, /no_such_layer/)
  const v = await runMvc(['verify', '--json'], { cwd: d })
  NO_UNEXPECTED(v)
  assert.equal(v.code, 9, v.stderr)
  assert.match(jsonError(v).message, /no_such_layer/)
  const req = await runMvc(['commit', 'm', '-m', 'y', '--allow-empty', '--require-verify', '--backend', 'cpu', '--json'], { cwd: d })
  assert.equal(req.code, 9, req.stderr)
  const cl = await runMvc(['clone', d, join(d, '..', `${d.split('/').pop()!}-clone`), '--backend', 'cpu'], { cwd: d })
  NO_UNEXPECTED(cl)
  dirs.push(join(d, '..', `${d.split('/').pop()!}-clone`))
})

function cborCid (bytes: Uint8Array): CID { return CID.createV1(DAG_CBOR, createDigest(0x12, sha256(bytes))) }

test('a remote serving a 100,000-deep object: clone fails with INVALID_OBJECT (exit 5) and leaves nothing; fsck reports it', async () => {
  const d = await realpath(await tmpdir('mvc-deep-remote-'))
  dirs.push(d)
  const remote = join(d, 'remote')
  await mkdir(remote)
  await mvcOk(['init'], { cwd: remote })
  await mkdir(join(remote, 'm'))
  await writeFile(join(remote, 'm', 'a.txt'), 'a')
  await mvcOk(['commit', 'm', '-m', 'one', '--no-verify', '--no-code'], { cwd: remote })
  // A commit whose model manifest is 100,000 nested arrays: valid hash, hostile content.
  const deep = new Uint8Array(100_001).fill(0x81)
  deep[100_000] = 0x01
  const deepCid = cborCid(deep)
  const store = await openDiskStore(join(remote, '.mvc'))
  try {
    const head = (await store.readRef('refs/heads/main'))!
    const commit = dagCbor.decode<Record<string, unknown>>(await store.get(CID.parse(head)))
    const hostile = dagCbor.encode({ ...commit, version: 2, model: deepCid, parents: [CID.parse(head)] })
    const tx = await store.transaction()
    await tx.putObject(deepCid, deep)
    await tx.putObject(cborCid(hostile), hostile)
    tx.setRef({ name: 'refs/heads/main', value: cborCid(hostile).toString() })
    tx.setRef({ name: 'refs/versions/2', value: cborCid(hostile).toString() })
    tx.setMeta('next-version', new TextEncoder().encode('3'))
    await tx.commit()
  } finally { await store.close() }
  const f = await runMvc(['fsck', '--json'], { cwd: remote })
  NO_UNEXPECTED(f)
  assert.equal(f.code, 5)
  const target = join(d, 'clone')
  const r = await runMvc(['clone', remote, target, '--json'], { cwd: d })
  NO_UNEXPECTED(r)
  assert.equal(r.code, 5, r.stderr)
  assert.equal(jsonError(r).code, 'INVALID_OBJECT')
  assert.equal(await exists(target), false)
  assert.deepEqual((await readdir(d)).sort(), ['remote'])
})

test('the time limit: work that yields is VERIFICATION_FAILED at the limit; work that never yields ends the process with the reason instead of hanging', async () => {
  await assert.rejects(withTimeLimit('a wait', async () => await new Promise(resolve => setTimeout(resolve, 5000)), 300),
    (e: Error & { code?: string }) => e.code === 'VERIFICATION_FAILED' && /a wait did not finish within 300 ms/.test(e.message))
  assert.equal(await withTimeLimit('a quick one', async () => 42, 300), 42)
  // A synchronous endless loop, in a process of its own.
  const module = new URL('../src/formats/time-limit.js', import.meta.url).href
  const code = `const { withTimeLimit } = await import(${JSON.stringify(module)}); await withTimeLimit('an endless loop', async () => { await null; for (;;) {} }, 300)`
  const t0 = performance.now()
  const r = await new Promise<{ signal: string | null, stderr: string }>((resolve) => {
    const c = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    c.stderr.on('data', (b: Buffer) => { err += b.toString() })
    c.on('close', (_code, signal) => resolve({ signal, stderr: err }))
  })
  assert.equal(r.signal, 'SIGKILL')
  assert.match(r.stderr, /\[VERIFICATION_FAILED\]: an endless loop did not finish within 300 ms/)
  assert.ok(performance.now() - t0 < 20_000)
})
