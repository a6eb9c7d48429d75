/**
 * What the gc tests share: models whose per-version bytes are known, committing versions, measuring
 * packs on disk, and the checks every gc test makes (byte-for-byte checkouts, a clean fsck).
 */
import assert from 'node:assert/strict'
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { MiB, jsonError, keystream, mvcJson, mvcOk, runMvc, sha256File, type RunResult } from './helpers.js'
import { openDiskStore } from '../src/store/open.js'

/** Now, for commands whose time gc compares with the real clock (tombstones). */
export const NOW = (): Record<string, string> => ({ MVC_DATE: new Date().toISOString() })

/**
 * Writes a TF.js weights-only model into `dir`: tensor `shared` (the same bytes in every version,
 * `sharedBytes`) and tensor `own` (bytes of `seed`, `ownBytes`), both in one shard `w.bin`.
 */
export async function writeModel (dir: string, seed: string, ownBytes = 2 * MiB, sharedBytes = 1 * MiB): Promise<void> {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'w.bin'), Buffer.concat([keystream('shared', sharedBytes), keystream(seed, ownBytes)]))
  await writeFile(join(dir, 'model.json'), JSON.stringify({
    format: 'layers-model',
    weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'shared', shape: [sharedBytes / 4], dtype: 'float32' }, { name: 'own', shape: [ownBytes / 4], dtype: 'float32' }] }]
  }))
}

/** Commits versions 1..n (seeds v1..vn); returns the sha256 of each version's w.bin. */
export async function commitVersions (root: string, n: number, ownBytes?: number): Promise<Map<number, string>> {
  const sums = new Map<number, string>()
  for (let v = 1; v <= n; v++) {
    await writeModel(join(root, 'model'), `v${v}`, ownBytes)
    const r = await mvcJson(['commit', 'model', '-m', `version ${v}`, '--no-verify'], { cwd: root })
    assert.equal(r.version, v)
    sums.set(v, await sha256File(join(root, 'model', 'w.bin')))
  }
  return sums
}

export async function packBytes (root: string): Promise<{ total: number, count: number }> {
  const dir = join(root, '.mvc', 'packs')
  let total = 0
  let count = 0
  for (const n of await readdir(dir)) {
    if (!/^[0-9a-f]{64}\.pack$/.test(n)) continue
    total += (await stat(join(dir, n))).size
    count++
  }
  return { total, count }
}

export function fails (r: RunResult, exit: number, code: string): void {
  assert.equal(r.code, exit, `exit ${String(r.code)}: ${r.stderr}`)
  assert.equal(jsonError(r).code, code)
}

export async function checksOut (root: string, rev: string, sha: string): Promise<void> {
  const to = join(root, '..', `out-${rev}-${Math.random().toString(16).slice(2)}`)
  await mvcOk(['checkout', rev, '--to', to, '--no-verify'], { cwd: root })
  assert.equal(await sha256File(join(to, 'w.bin')), sha, `${rev} rebuilt byte for byte`)
  await rm(to, { recursive: true, force: true })
}

export async function fsckOk (root: string): Promise<Record<string, unknown>> {
  const r = await runMvc(['fsck', '--json'], { cwd: root })
  assert.equal(r.code, 0, `fsck: ${r.stdout} ${r.stderr}`)
  return JSON.parse(r.stdout) as Record<string, unknown>
}


/**
 * After gc, no cache entry names an object that is not stored: model cache values, pieces cache keys,
 * stat cache files (but data scopes, whose files are never stored), sha256 cache keys (read in process).
 */
export async function cachesNameStoredObjects (root: string): Promise<void> {
  const store = await openDiskStore(join(root, '.mvc'))
  try {
    const named: string[] = []
    for (const [k, v] of await store.listMeta('model-cache/')) named.push(k.startsWith('model-cache/file/') ? k.slice('model-cache/file/'.length) : new TextDecoder().decode(v))
    for (const [k, v] of await store.listMeta('stat/')) {
      if (!k.slice('stat/'.length).startsWith('data:')) named.push((JSON.parse(new TextDecoder().decode(v)) as { file: string }).file)
    }
    for (const [k] of await store.listMeta('sha256/')) named.push(k.slice('sha256/'.length))
    assert.ok(named.length > 0, 'there are cache entries to check')
    const present = await store.hasMany(named.map(c => CID.parse(c)))
    assert.deepEqual(named.filter((_, i) => !present[i]), [], 'cache entries naming removed objects')
  } finally { await store.close() }
}

/** The store's `m/format`, as text. */
export async function storeFormat (root: string): Promise<string | undefined> {
  const store = await openDiskStore(join(root, '.mvc'))
  try {
    const v = await store.readMeta('format')
    return v === undefined ? undefined : new TextDecoder().decode(v)
  } finally { await store.close() }
}
