/**
 * Real faults against the real CLI: kill -9 at every durable step (and at timed moments) of init,
 * commit, push and clone, then the repository must pass `mvc fsck` and the command must run again;
 * 8 concurrent committers lose nothing; a full disk (a real tmpfs), a read-only mount, a repository
 * this user may not write, an unreadable model file and a damaged LevelDB each get their documented
 * code — never "unexpected error" — and leave everything as it was; leftovers of dead processes are
 * removed by the next command. Mounts need root: without it those tests are skipped, saying so.
 *
 * The kill points come from the store's fault hook (src/store/faults.ts): `MVC_FAULT_TRACE=1` lists the
 * points an operation passes, `MVC_FAULT_KILL_AT=<n>` makes the process SIGKILL itself at the n-th.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { chmod, cp, mkdir, readdir, readFile, realpath, rm, writeFile, chown } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { buildFixtures } from '../fixtures/build.js'
import { MVC_BIN, TEST_ENV, exists, jsonError, mvcJson, mvcOk, removeDir, runMvc, spawnMvc, tmpdir, type RunResult } from './helpers.js'
import { openDiskStore } from '../src/store/open.js'
import { fsck } from '../src/core/fsck.js'
import { hostTag } from '../src/store/leftovers.js'

const dirs: string[] = []
const mounts: string[] = []
after(async () => {
  for (const m of mounts.reverse()) { try { execFileSync('umount', ['-l', m]) } catch { /* already gone */ } }
  for (const d of dirs) await removeDir(d)
})

async function base (): Promise<string> {
  const d = await realpath(await tmpdir('mvc-faults-'))
  dirs.push(d)
  return d
}

let fixtures: Awaited<ReturnType<typeof buildFixtures>> | undefined
async function fixture (name: string): Promise<string> {
  if (fixtures === undefined) {
    const d = await base()
    fixtures = await buildFixtures(join(d, 'fx'))
  }
  return fixtures.find(f => f.name === name)!.dir
}

const NO_UNEXPECTED = (r: RunResult): void => {
  assert.doesNotMatch(r.stderr, /unexpected error|please report/, `stderr: ${r.stderr}`)
}

/** The points an operation passes (MVC_FAULT_TRACE). */
function points (r: RunResult): string[] {
  return r.stderr.split('\n').filter(l => l.startsWith('mvc-fault ')).map(l => l.split(' ')[2]!)
}

async function storeFsckOk (storeDir: string): Promise<void> {
  const store = await openDiskStore(storeDir)
  try {
    const r = await fsck(store)
    assert.equal(r.ok, true, `fsck of ${storeDir}: ${JSON.stringify({ missing: r.missing, corrupt: r.corrupt, badRefs: r.badRefs })}`)
  } finally { await store.close() }
}

/** The version numbers of a store, from its version refs (read in process: no CLI start-up). */
async function versions (storeDir: string): Promise<number[]> {
  const store = await openDiskStore(storeDir)
  try { return (await store.listRefs('refs/versions/')).map(([n]) => Number(n.slice('refs/versions/'.length))).sort((a, b) => b - a) } finally { await store.close() }
}

async function repoFsckOk (root: string): Promise<void> {
  const r = await runMvc(['fsck', '--json'], { cwd: root })
  assert.equal(r.code, 0, `fsck in ${root}: ${r.stdout}${r.stderr}`)
}

/**
 * Runs `op` once with tracing to learn its points, then once per point with a kill there, plus timed
 * kills, each time from a fresh copy of the prepared state; `check` must find a sound repository.
 */
async function crashMatrix (name: string, options: {
  prepare: (dir: string) => Promise<void>
  op: (dir: string) => { args: string[], cwd: string }
  check: (dir: string, killed: boolean) => Promise<void>
  minPoints?: number
}): Promise<{ points: number, timed: number }> {
  const template = join(await base(), `${name}-template`)
  await mkdir(template, { recursive: true })
  await options.prepare(template)
  const fresh = async (k: string): Promise<string> => {
    const d = join(await base(), `${name}-${k}`)
    await cp(template, d, { recursive: true })
    return d
  }
  const traced = await fresh('trace')
  const t = options.op(traced)
  const t0 = performance.now()
  const r = await runMvc(t.args, { cwd: t.cwd, env: { MVC_FAULT_TRACE: '1' } })
  const duration = performance.now() - t0
  assert.equal(r.code, 0, `${name} (traced): ${r.stderr}`)
  const pts = points(r)
  assert.ok(pts.length > 0, `${name}: no fault points traced`)
  // At most 20 points, spread evenly over all of them (every point when there are fewer).
  const ks = pts.length <= 20 ? pts.map((_, i) => i + 1) : Array.from({ length: 20 }, (_, i) => 1 + Math.round(i * (pts.length - 1) / 19))
  for (const k of ks) {
    const d = await fresh(`k${k}`)
    const o = options.op(d)
    const killed = await runMvc(o.args, { cwd: o.cwd, env: { MVC_FAULT_KILL_AT: String(k) } })
    assert.equal(killed.signal, 'SIGKILL', `${name}: kill at point ${k} (${pts[k - 1]!}) did not happen: exit ${String(killed.code)} ${killed.stderr}`)
    await options.check(d, true)
  }
  // Timed kills fill in moments between durable steps (process start, walking, hashing, checkout).
  const want = Math.max(0, (options.minPoints ?? 20) - ks.length)
  for (let j = 0; j < want; j++) {
    const d = await fresh(`t${j}`)
    const o = options.op(d)
    const { child, done } = spawnMvc(o.args, { cwd: o.cwd })
    const delay = (duration * (j + 1)) / (want + 1)
    const timer = setTimeout(() => child.kill('SIGKILL'), delay)
    const res = await done
    clearTimeout(timer)
    NO_UNEXPECTED(res)
    await options.check(d, res.signal === 'SIGKILL')
  }
  diagnostics.push(`${name}: killed at ${ks.length} of its ${pts.length} fault points (${[...new Set(pts)].join(', ')}) + ${want} timed kills, 0 broken repositories`)
  return { points: ks.length, timed: want }
}
const diagnostics: string[] = []
after(() => { for (const d of diagnostics) console.log(`# ${d}`) })

test('kill -9 at every durable step of init, then at timed moments: never a half-created repository', async () => {
  const r = await crashMatrix('init', {
    prepare: async () => {},
    op: d => ({ args: ['init'], cwd: d }),
    check: async d => {
      // Whatever the kill left, init finishes the job and the repository is sound and empty.
      const again = await runMvc(['init'], { cwd: d })
      assert.equal(again.code, 0, again.stderr)
      NO_UNEXPECTED(again)
      await storeFsckOk(join(d, '.mvc'))
      assert.deepEqual(await versions(join(d, '.mvc')), [])
      // No staging folder is left once a command ran.
      assert.deepEqual((await readdir(join(d, '.mvc'))).sort(), ['db', 'packs'])
    }
  })
  assert.ok(r.points + r.timed >= 20)
})

test('kill -9 at every durable step of commit, then at timed moments: the repository is as before or has the commit; commit runs again', async () => {
  const model = await fixture('sharded')
  const r = await crashMatrix('commit', {
    prepare: async d => {
      await mvcOk(['init'], { cwd: d })
      await cp(model, join(d, 'm'), { recursive: true })
      await mvcOk(['commit', 'm', '-m', 'one', '--no-verify', '--no-code'], { cwd: d })
      await writeFile(join(d, 'm', 'extra.bin'), Buffer.alloc(300_000, 7))
      await writeFile(join(d, 'm', 'notes.txt'), 'two')
    },
    op: d => ({ args: ['commit', 'm', '-m', 'two', '--no-verify', '--no-code'], cwd: d }),
    check: async d => {
      await storeFsckOk(join(d, '.mvc'))
      const again = await runMvc(['commit', 'm', '-m', 'two', '--no-verify', '--no-code', '--json'], { cwd: d })
      assert.equal(again.code, 0, again.stderr)
      assert.deepEqual(await versions(join(d, '.mvc')), [2, 1])
      await storeFsckOk(join(d, '.mvc'))
      // Temporary packs of the killed process are gone.
      assert.deepEqual((await readdir(join(d, '.mvc', 'packs'))).filter(n => n.startsWith('tmp-')), [])
    }
  })
  assert.ok(r.points + r.timed >= 20)
})

test('kill -9 at the durable steps of a first push to a new folder remote: the remote passes fsck; push runs again and completes it', async () => {
  const model = await fixture('dense')
  const r = await crashMatrix('push', {
    prepare: async d => {
      await mkdir(join(d, 'local'))
      await mvcOk(['init'], { cwd: join(d, 'local') })
      await cp(model, join(d, 'local', 'm'), { recursive: true })
      await mvcOk(['commit', 'm', '-m', 'one', '--no-verify', '--no-code'], { cwd: join(d, 'local') })
      await writeFile(join(d, 'local', 'm', 'big.bin'), Buffer.alloc(200_000, 3))
      await mvcOk(['commit', 'm', '-m', 'two', '--no-verify', '--no-code'], { cwd: join(d, 'local') })
    },
    op: d => ({ args: ['push', join(d, 'remote')], cwd: join(d, 'local') }),
    check: async d => {
      const remote = join(d, 'remote')
      if (await exists(join(remote, 'db'))) await storeFsckOk(remote)
      const again = await runMvc(['push', remote], { cwd: join(d, 'local') })
      assert.equal(again.code, 0, again.stderr)
      await storeFsckOk(remote)
      const store = await openDiskStore(remote)
      try { assert.ok((await store.readRef('refs/versions/2')) !== undefined && (await store.readRef('refs/heads/main')) !== undefined) } finally { await store.close() }
    }
  })
  assert.ok(r.points + r.timed >= 20)
})

test('kill -9 at the durable steps of clone: no half-made repository; clone runs again', async () => {
  const model = await fixture('dense')
  const r = await crashMatrix('clone', {
    prepare: async d => {
      await mkdir(join(d, 'src'))
      await mvcOk(['init'], { cwd: join(d, 'src') })
      await cp(model, join(d, 'src', 'm'), { recursive: true })
      await mvcOk(['commit', 'm', '-m', 'one', '--no-verify', '--no-code'], { cwd: join(d, 'src') })
      await writeFile(join(d, 'src', 'm', 'big.bin'), Buffer.alloc(150_000, 5))
      await mvcOk(['commit', 'm', '-m', 'two', '--no-verify', '--no-code'], { cwd: join(d, 'src') })
    },
    op: d => ({ args: ['clone', join(d, 'src'), join(d, 'dst'), '--no-verify'], cwd: d }),
    check: async d => {
      const dst = join(d, 'dst')
      if (await exists(join(dst, '.mvc'))) {
        // Killed after the repository was in place (during checkout): it is whole; checkout finishes.
        await storeFsckOk(join(dst, '.mvc'))
        const co = await runMvc(['checkout', 'main', '--force', '--no-verify'], { cwd: dst })
        assert.equal(co.code, 0, co.stderr)
      } else {
        const again = await runMvc(['clone', join(d, 'src'), dst, '--no-verify'], { cwd: d })
        assert.equal(again.code, 0, again.stderr)
      }
      await storeFsckOk(join(dst, '.mvc'))
      assert.deepEqual(await versions(join(dst, '.mvc')), [2, 1])
      assert.equal((await readFile(join(dst, 'm', 'big.bin'))).length, 150_000)
    }
  })
  assert.ok(r.points + r.timed >= 20)
})

test('8 concurrent committers: every one commits (each waits for the lock) or is told REPOSITORY_LOCKED; nothing is lost', async () => {
  const d = await base()
  await mvcOk(['init'], { cwd: d })
  for (let i = 0; i < 8; i++) {
    await mkdir(join(d, `m${i}`))
    await writeFile(join(d, `m${i}`, 'w.bin'), Buffer.alloc(50_000 + i, i))
  }
  const runs = Array.from({ length: 8 }, (_, i) => spawnMvc(['commit', `m${i}`, '-m', `c${i}`, '--no-verify', '--no-code', '--json'], { cwd: d, env: { MVC_LOCK_TIMEOUT_MS: '120000' } }).done)
  const results = await Promise.all(runs)
  const committed: string[] = []
  for (const [i, r] of results.entries()) {
    NO_UNEXPECTED(r)
    if (r.code === 0) committed.push((JSON.parse(r.stdout) as { cid: string }).cid)
    else assert.equal(jsonError(r).code, 'REPOSITORY_LOCKED', `committer ${i}: ${r.stderr}`)
  }
  const log = await mvcJson<Array<{ cid: string, version: number }>>(['log'], { cwd: d })
  for (const c of committed) assert.ok(log.some(e => e.cid === c), `commit ${c} is lost`)
  assert.deepEqual(log.map(e => e.version).sort((a, b) => a - b), Array.from({ length: committed.length }, (_, i) => i + 1))
  assert.equal(committed.length, 8, 'with a 120 s wait every committer gets its turn')
  await repoFsckOk(d)
})

test('leftovers of dead processes on this host are removed by the next command; those of live processes and other hosts are reported by fsck', async () => {
  const d = await base()
  await mvcOk(['init'], { cwd: d })
  await mkdir(join(d, 'm'))
  await writeFile(join(d, 'm', 'a.txt'), 'a')
  await mvcOk(['commit', 'm', '-m', 'one', '--no-verify', '--no-code'], { cwd: d })
  // A pid that is surely dead: a child that has exited.
  const dead = await new Promise<number>(resolve => { const c = spawn('true'); c.on('exit', () => resolve(c.pid!)) })
  const mine = hostTag()
  const other = mine === 'ffff' ? 'fffe' : 'ffff'
  const packs = join(d, '.mvc', 'packs')
  await writeFile(join(packs, `tmp-${dead}-${mine}00000000.pack`), 'MVCPACK\u0001')
  await writeFile(join(packs, `tmp-${dead}-${other}00000000.pack`), 'MVCPACK\u0001')
  await writeFile(join(packs, `tmp-${process.pid}-${mine}00000001.pack`), 'MVCPACK\u0001')
  await mkdir(join(d, '.mvc', `.mvc-init-${dead}-${mine}00000000`))
  await mkdir(join(d, `.m.mvc-new-${dead}-${mine}0000`))
  await mkdir(join(d, `.m.mvc-old-${dead}-${mine}0001`))
  await mkdir(join(d, `.m.mvc-new-${dead}-${other}0002`))
  const st = await runMvc(['status'], { cwd: d })
  assert.equal(st.code, 0, st.stderr)
  assert.deepEqual((await readdir(packs)).filter(n => n.startsWith('tmp-')).sort(), [`tmp-${dead}-${other}00000000.pack`, `tmp-${process.pid}-${mine}00000001.pack`].sort())
  assert.deepEqual((await readdir(d)).filter(n => n.includes('.mvc-')).sort(), [`.m.mvc-new-${dead}-${other}0002`])
  assert.deepEqual((await readdir(join(d, '.mvc'))).sort(), ['db', 'packs'])
  const r = await mvcJson<{ ok: boolean, tempPacks: string[], staging: string[] }>(['fsck'], { cwd: d })
  assert.equal(r.ok, true)
  assert.equal(r.tempPacks.length, 2)
  assert.deepEqual(r.staging, [join(d, `.m.mvc-new-${dead}-${other}0002`)])
})

test('a checkout killed between its two renames: the next command puts the previous files back', async () => {
  const d = await base()
  await mvcOk(['init'], { cwd: d })
  await mkdir(join(d, 'm'))
  await writeFile(join(d, 'm', 'a.txt'), 'one')
  await mvcOk(['commit', 'm', '-m', 'one', '--no-verify', '--no-code'], { cwd: d })
  const dead = await new Promise<number>(resolve => { const c = spawn('true'); c.on('exit', () => resolve(c.pid!)) })
  // What the crash leaves: the target moved aside, the staging folder not yet renamed.
  const { rename } = await import('node:fs/promises')
  await rename(join(d, 'm'), join(d, `.m.mvc-old-${dead}-${hostTag()}abcd`))
  await mkdir(join(d, `.m.mvc-new-${dead}-${hostTag()}abcd`))
  const st = await runMvc(['status', '--json'], { cwd: d })
  assert.equal(st.code, 0, st.stderr)
  assert.equal(await readFile(join(d, 'm', 'a.txt'), 'utf8'), 'one')
  assert.deepEqual((await readdir(d)).filter(n => n.includes('.mvc-')), [])
})

// ---------------------------------------------------------------------------------------------------
// The environment: real full disks, read-only mounts, refused permissions, damaged LevelDB.

function canMount (): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (mount)'
  return undefined
}

async function tmpfs (size: string): Promise<string> {
  const d = join(await base(), 'fs')
  await mkdir(d)
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', d])
  mounts.push(d)
  return d
}

/** Fills the file system of `dir` until about `leave` bytes are free (a file `dir/filler`). */
async function fillUntil (dir: string, leave: number): Promise<string> {
  const { statfs } = await import('node:fs/promises')
  const s = await statfs(dir)
  const free = s.bavail * s.bsize
  const filler = join(dir, 'filler')
  await writeFile(filler, Buffer.alloc(Math.max(0, free - leave)))
  return filler
}

async function treeOf (dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const p = rel === '' ? e.name : `${rel}/${e.name}`
      if (e.isDirectory()) await walk(p)
      else out.push(`${p}:${(await readFile(join(dir, p))).toString('base64').slice(0, 40)}`)
    }
  }
  await walk('')
  return out.sort()
}

test('disk full during commit (a real tmpfs, filled): DISK_FULL, exit 13, nothing stored, no pack left, and commit works once there is room', { skip: canMount() }, async () => {
  const d = await tmpfs('4m')
  await mvcOk(['init'], { cwd: d })
  await mkdir(join(d, 'm'))
  await writeFile(join(d, 'm', 'a.bin'), Buffer.alloc(100_000, 1))
  await mvcOk(['commit', 'm', '-m', 'one', '--no-verify', '--no-code'], { cwd: d })
  const big = Buffer.alloc(450_000)
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24 // incompressible enough for chunking
  await writeFile(join(d, 'm', 'b.bin'), big)
  const filler = await fillUntil(d, 200_000)
  const packsBefore = await readdir(join(d, '.mvc', 'packs'))
  const r = await runMvc(['commit', 'm', '-m', 'two', '--no-verify', '--no-code', '--json'], { cwd: d })
  NO_UNEXPECTED(r)
  assert.equal(r.code, 13, r.stderr)
  assert.equal(jsonError(r).code, 'DISK_FULL')
  assert.deepEqual(await readdir(join(d, '.mvc', 'packs')), packsBefore)
  const log = await mvcJson<Array<{ version: number }>>(['log'], { cwd: d })
  assert.deepEqual(log.map(e => e.version), [1])
  await repoFsckOk(d)
  await rm(filler)
  const ok = await runMvc(['commit', 'm', '-m', 'two', '--no-verify', '--no-code'], { cwd: d })
  assert.equal(ok.code, 0, ok.stderr)
})

test('disk full during checkout: DISK_FULL, exit 13, the files in place are untouched', { skip: canMount() }, async () => {
  const d = await tmpfs('4m')
  await mvcOk(['init'], { cwd: d })
  await mkdir(join(d, 'm'))
  const big = Buffer.alloc(300_000)
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24
  await writeFile(join(d, 'm', 'a.bin'), big)
  await mvcOk(['commit', 'm', '-m', 'one', '--no-verify', '--no-code'], { cwd: d })
  await writeFile(join(d, 'm', 'a.bin'), 'small now')
  await mvcOk(['commit', 'm', '-m', 'two', '--no-verify', '--no-code'], { cwd: d })
  await fillUntil(d, 150_000)
  const before = await treeOf(join(d, 'm'))
  const r = await runMvc(['checkout', 'v1', '--no-verify', '--json'], { cwd: d })
  NO_UNEXPECTED(r)
  assert.equal(r.code, 13, r.stderr)
  assert.equal(jsonError(r).code, 'DISK_FULL')
  assert.deepEqual(await treeOf(join(d, 'm')), before)
  assert.deepEqual((await readdir(d)).filter(n => n.includes('.mvc-')), [])
})

test('a read-only mount: log, show, status, diff, fsck and verify work; writes are READ_ONLY (exit 13) and change nothing', { skip: canMount() }, async () => {
  const d = await base()
  const rw = join(d, 'rw')
  await mkdir(rw)
  await mvcOk(['init'], { cwd: rw })
  await cp(await fixture('dense'), join(rw, 'm'), { recursive: true })
  await mvcOk(['commit', 'm', '-m', 'one', '--backend', 'cpu', '--no-code'], { cwd: rw })
  const ro = join(d, 'ro')
  await mkdir(ro)
  execFileSync('mount', ['--bind', rw, ro])
  mounts.push(ro)
  execFileSync('mount', ['-o', 'remount,bind,ro', ro])
  for (const args of [['log'], ['show', 'v1'], ['status'], ['diff', 'v1'], ['fsck'], ['verify', 'v1', '--backend', 'cpu']]) {
    const r = await runMvc(args, { cwd: ro })
    NO_UNEXPECTED(r)
    assert.equal(r.code, 0, `mvc ${args.join(' ')}: ${r.stderr}`)
  }
  for (const args of [['tag', 'x'], ['commit', 'm', '-m', 'two', '--allow-empty', '--no-verify', '--no-code'], ['branch', 'b']]) {
    const r = await runMvc([...args, '--json'], { cwd: ro })
    assert.equal(r.code, 13, `mvc ${args.join(' ')}: ${r.stderr}`)
    assert.equal(jsonError(r).code, 'READ_ONLY')
  }
  const out = await mkdir(join(d, 'out'), { recursive: true }).then(() => join(d, 'out', 'v1'))
  const co = await runMvc(['checkout', 'v1', '--to', out, '--no-verify'], { cwd: ro })
  assert.equal(co.code, 0, co.stderr)
  assert.deepEqual(await treeOf(out), await treeOf(join(rw, 'm')))
})

/** Runs mvc as the unprivileged user `nobody` (permissions apply to it; root bypasses them). */
async function runAsNobody (args: string[], cwd: string): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: '/tmp', ...TEST_ENV }
  const child = spawn(process.execPath, [MVC_BIN, ...args], { cwd, env, uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout.on('data', (b: Buffer) => out.push(b))
  child.stderr.on('data', (b: Buffer) => err.push(b))
  return await new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }))
  })
}

/** Why mvc cannot be run as the user nobody here (root is needed; the checkout must be readable by others), or undefined. */
function canRunAsNobody (): string | undefined {
  const root = canMount()
  if (root !== undefined) return root
  const r = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(MVC_BIN)}, require('fs').constants.R_OK)`], { uid: 65534, gid: 65534 })
  return r.status === 0 ? undefined : `the user nobody cannot read ${MVC_BIN} (a checkout in a private folder)`
}

test('permissions (as the user nobody): a repository it may not write is read-only for it; an unreadable model file is PERMISSION_DENIED; nothing changes', { skip: canRunAsNobody() }, async () => {
  const d = await base()
  await chmod(d, 0o755)
  await mvcOk(['init'], { cwd: d })
  await mkdir(join(d, 'm'))
  await writeFile(join(d, 'm', 'a.txt'), 'one')
  await mvcOk(['commit', 'm', '-m', 'one', '--no-verify', '--no-code'], { cwd: d })
  execFileSync('chmod', ['-R', 'a+rX,go-w', d])
  // Owned by root, not writable by nobody: reading works, writing is refused.
  for (const args of [['log'], ['fsck'], ['status']]) {
    const r = await runAsNobody(args, d)
    NO_UNEXPECTED(r)
    assert.equal(r.code, 0, `mvc ${args.join(' ')}: ${r.stderr}`)
  }
  const w = await runAsNobody(['tag', 'x', '--json'], d)
  assert.equal(w.code, 13, w.stderr)
  assert.equal(jsonError(w).code, 'READ_ONLY')
  // A repository nobody owns, with one model file it cannot read.
  const mine = join(d, 'nobody')
  await mkdir(mine)
  await mvcOk(['init'], { cwd: mine })
  await mkdir(join(mine, 'm'))
  await writeFile(join(mine, 'm', 'ok.txt'), 'ok')
  await writeFile(join(mine, 'm', 'secret.bin'), 'secret')
  execFileSync('chown', ['-R', '65534:65534', mine])
  await chmod(join(mine, 'm', 'secret.bin'), 0o000)
  const r = await runAsNobody(['commit', 'm', '-m', 'x', '--no-verify', '--no-code', '--json'], mine)
  NO_UNEXPECTED(r)
  assert.equal(r.code, 13, r.stderr)
  assert.equal(jsonError(r).code, 'PERMISSION_DENIED')
  assert.match(jsonError(r).message, /secret\.bin/)
  const log = await runAsNobody(['log'], mine)
  assert.match(log.stdout, /no versions yet/)
  await chown(mine, 0, 0)
})

test('a damaged LevelDB (CURRENT, MANIFEST, a table): INDEX_DAMAGED, exit 5, naming `mvc repair`; repair brings every version back', async () => {
  const model = await fixture('dense')
  const make = async (): Promise<string> => {
    const d = await base()
    await mvcOk(['init'], { cwd: d })
    await cp(model, join(d, 'm'), { recursive: true })
    await mvcOk(['commit', 'm', '-m', 'one', '--no-verify', '--no-code'], { cwd: d })
    await writeFile(join(d, 'm', 'x.bin'), Buffer.alloc(70_000, 9))
    await mvcOk(['commit', 'm', '-m', 'two', '--no-verify', '--no-code'], { cwd: d })
    await mvcOk(['tag', 'keep', 'v1'], { cwd: d })
    return d
  }
  const damages: Array<[string, (db: string) => Promise<void>]> = [
    ['CURRENT names a missing MANIFEST', async db => { await writeFile(join(db, 'CURRENT'), 'MANIFEST-999999\n') }],
    ['CURRENT is garbage', async db => { await writeFile(join(db, 'CURRENT'), '\u0000\u0001garbage') }],
    ['the MANIFEST is deleted', async db => { for (const n of await readdir(db)) if (n.startsWith('MANIFEST-')) await rm(join(db, n)) }],
    ['a table is deleted', async db => { for (const n of await readdir(db)) if (n.endsWith('.ldb')) await rm(join(db, n)) }]
  ]
  for (const [what, damage] of damages) {
    const d = await make()
    // Compact the log into tables first, so that there is a table to damage.
    await mvcOk(['log'], { cwd: d })
    await damage(join(d, '.mvc', 'db'))
    const r = await runMvc(['log', '--json'], { cwd: d })
    NO_UNEXPECTED(r)
    assert.equal(r.code, 5, `${what}: ${r.stderr}`)
    assert.equal(jsonError(r).code, 'INDEX_DAMAGED', what)
    assert.match(jsonError(r).message, /mvc repair/)
    const rep = await runMvc(['repair', '--json'], { cwd: d })
    NO_UNEXPECTED(rep)
    const report = JSON.parse(rep.stdout) as { ok: boolean, index: { how: string } }
    if (report.ok) {
      const log = await mvcJson<Array<{ version: number }>>(['log'], { cwd: d })
      assert.deepEqual(log.map(e => e.version), [2, 1], what)
    } else {
      assert.equal(rep.code, 5, `${what}: ${rep.stderr}`)
    }
    await repoFsckOk(d)
  }
})

test('every error code and exit status is documented in docs/cli.md', async () => {
  const { ERROR_EXIT, ExitCode } = await import('../src/errors.js')
  const { REPO_ROOT } = await import('./helpers.js')
  const doc = await readFile(join(REPO_ROOT, 'docs', 'cli.md'), 'utf8')
  const table = doc.slice(doc.indexOf('## Exit codes'), doc.indexOf('## Environment'))
  for (const [code, exit] of ERROR_EXIT) {
    const row = table.split('\n').find(l => l.startsWith(`| ${ExitCode[exit]} |`))
    assert.ok(row !== undefined, `exit ${ExitCode[exit]} has no row`)
    assert.ok(row.includes(`\`${code}\``), `${code} is not listed in the row of exit ${ExitCode[exit]}`)
  }
})
