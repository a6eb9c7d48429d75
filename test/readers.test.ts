/**
 * Readers never wait on writers (issue 13, point 6): while another process holds the repository
 * (`mvc serve`, a long commit), `log`, `show`, `status`, `diff`, `fsck` and listing tags read a
 * consistent snapshot of the index at once; what they see is a state the repository was in, never half
 * a batch, even while the writer's LevelDB switches logs, flushes and compacts underneath.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, readdir, realpath, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { openDiskStore } from '../src/store/index.js'
import { REPO_ROOT, keystream, mvcJson, mvcOk, put, removeDir, runMvc, spawnMvc, tmpdir } from './helpers.js'

const cleanup: string[] = []
after(async () => { await Promise.all(cleanup.map(removeDir)) })

// Long enough that a reader waiting for the lock would outlive the test's own timeout: only a reader
// that does not wait passes.
const NO_GIVING_UP = { MVC_LOCK_TIMEOUT_MS: '600000' }

test('while mvc serve holds the repository, log, show, status, diff, fsck and tag listing answer from a snapshot; writes say it is locked', { timeout: 180_000 }, async () => {
  const base = await realpath(await tmpdir())
  cleanup.push(base)
  const root = join(base, 'repo')
  await mkdir(root)
  await mvcOk(['init'], { cwd: root })
  await put(join(root, 'model', 'weights.bin'), keystream('readers-1', 3000))
  await mvcOk(['commit', 'model', '-m', 'first'], { cwd: root })
  await put(join(root, 'model', 'weights.bin'), keystream('readers-2', 3000))
  await mvcOk(['commit', 'model', '-m', 'second'], { cwd: root })
  await mvcOk(['tag', 'baseline', 'v1'], { cwd: root })
  await mvcOk(['alias', 'production', 'v2', '-m', 'ship it'], { cwd: root })
  const tokens = join(base, 'tokens')
  await writeFile(tokens, 'tok-0123456789abcdef write\n', { mode: 0o600 })
  const { child, done } = spawnMvc(['serve', '--port', '0', '--tokens', tokens], { cwd: root })
  try {
    await new Promise<void>((resolve, reject) => {
      let out = ''
      child.stdout!.on('data', (b: Buffer) => { out += b.toString(); if (/listening on/.test(out)) resolve() })
      void done.then(r => reject(new Error(`serve exited ${String(r.code)}: ${r.stderr}`)))
    })
    const opts = { cwd: root, env: NO_GIVING_UP }
    const log = await mvcJson<Array<{ version: number, message: string }>>(['log', '--json'], opts)
    assert.deepEqual(log.map(e => [e.version, e.message]), [[2, 'second'], [1, 'first']])
    const show = await mvcJson<{ commit: { version: number, message: string } }>(['show', 'v1', '--json'], opts)
    assert.deepEqual([show.commit.version, show.commit.message], [1, 'first'])
    const status = await mvcJson<{ clean: boolean }>(['status', '--json'], opts)
    assert.equal(status.clean, true)
    const diff = await mvcJson<{ identical: boolean }>(['diff', 'v1', 'v2', '--json'], opts)
    assert.equal(diff.identical, false)
    await mvcOk(['fsck'], opts)
    assert.match((await mvcOk(['tag'], opts)).stdout, /^baseline\s+v1\s/m)
    assert.match((await mvcOk(['alias'], opts)).stdout, /^production\s+v2\s/m)
    const history = await mvcJson<Array<{ name: string, message?: string }>>(['alias', '--history', 'production', '--json'], opts)
    assert.deepEqual(history.map(e => [e.name, e.message]), [['production', 'ship it']])
    // A write does not read a snapshot: it waits for the lock, then says who holds it.
    const w = await runMvc(['tag', 'later', 'v2'], { cwd: root, env: { MVC_LOCK_TIMEOUT_MS: '300' } })
    assert.equal(w.code, 6, w.stderr)
    assert.match(w.stderr, /REPOSITORY_LOCKED/)
  } finally {
    child.kill('SIGTERM')
    await done
  }
  // Snapshots are removed when the reader closes.
  const tmp = await readdir(join(root, '.mvc', 'tmp')).catch(() => [])
  assert.deepEqual(tmp.filter(n => n.startsWith('read-')), [])
  // And with the server gone, the write goes through.
  await mvcOk(['tag', 'later', 'v2'], { cwd: root })
})

/** Value of batch i: 64 KiB derived from i, so a reader can check it without having seen the writer. */
function valueOf (i: number): Uint8Array {
  return keystream(`batch-${i}`, 64 * 1024)
}

test('a snapshot is always a state the index was in: a writer committing 64 KiB batches (log switches, flushes, compactions) and readers checking every batch count', { timeout: 300_000 }, async () => {
  const base = await realpath(await tmpdir())
  cleanup.push(base)
  const root = join(base, 'repo')
  await mkdir(root)
  await mvcOk(['init'], { cwd: root })
  const mvcDir = join(root, '.mvc')
  const N = 700 // ≈ 45 MiB through a 4 MiB write buffer: about 11 memtable flushes, and compactions
  const storeUrl = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'store', 'index.js')).href
  const helpersUrl = pathToFileURL(join(REPO_ROOT, 'dist', 'test', 'helpers.js')).href
  const script = `
    const { openDiskStore } = await import(${JSON.stringify(storeUrl)})
    const { keystream } = await import(${JSON.stringify(helpersUrl)})
    const store = await openDiskStore(${JSON.stringify(mvcDir)})
    process.stdout.write('open\\n')
    for (let i = 1; i <= ${N}; i++) {
      const tx = await store.transaction()
      tx.setMeta('t/' + String(i).padStart(6, '0'), keystream('batch-' + i, 64 * 1024))
      tx.setMeta('t-count', new TextEncoder().encode(String(i)))
      await tx.commit()
    }
    await store.close()
  `
  const writer = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  writer.stderr!.on('data', (b: Buffer) => { stderr += b.toString() })
  const exited = new Promise<number | null>(resolve => writer.on('close', resolve))
  let running = true
  void exited.then(() => { running = false })
  await new Promise<void>((resolve, reject) => {
    writer.stdout!.on('data', () => resolve())
    void exited.then(code => reject(new Error(`the writer exited ${String(code)} before opening the store: ${stderr}`)))
  })
  const seen: number[] = []
  let snapshots = 0
  while (running) {
    const store = await openDiskStore(mvcDir, { reader: true, lockTimeoutMs: 600_000 })
    try {
      if (store.readOnly?.lockedBy !== undefined) snapshots++
      const countBytes = await store.readMeta('t-count')
      const n = countBytes === undefined ? 0 : Number(new TextDecoder().decode(countBytes))
      const keys = await store.listMeta('t/')
      // Exactly the batches up to the count: never a value without its count, nor a count without its value.
      assert.equal(keys.length, n, `snapshot with t-count ${n} holds ${keys.length} values`)
      for (const i of n === 0 ? [] : [1, Math.ceil(n / 2), n]) {
        assert.deepEqual(keys[i - 1]![1], valueOf(i), `value ${i} in a snapshot at count ${n}`)
      }
      seen.push(n)
      // A snapshot refuses writes as locked, but keeps caches.
      if (store.readOnly?.lockedBy !== undefined) {
        const tx = await store.transaction()
        try {
          await assert.rejects(async () => {
            tx.setMeta('t-count', new TextEncoder().encode('0'))
            await tx.commit()
          }, (e: unknown) => (e as { code?: string }).code === 'REPOSITORY_LOCKED')
        } finally { await tx.abort() }
      }
    } finally {
      await store.close()
    }
  }
  assert.equal(await exited, 0, stderr)
  assert.ok(snapshots >= 3, `readers ran on snapshots while the writer ran (${snapshots})`)
  assert.ok(seen.some(n => n > 0 && n < N), `a reader saw the writer mid-way: ${seen.join(',')}`)
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, `snapshots never go back: ${seen.join(',')}`)
  // After the writer: the real index, complete.
  const store = await openDiskStore(mvcDir, { reader: true })
  try {
    assert.equal(store.readOnly, undefined)
    assert.equal((await store.listMeta('t/')).length, N)
  } finally { await store.close() }
  assert.deepEqual((await readdir(join(mvcDir, 'tmp')).catch(() => [])).filter(n => n.startsWith('read-')), [])
})
