/**
 * Names travel (issue 13, point 4): tags and aliases — with the history of every alias, as
 * `mvc/alias-move` objects — are pushed, fetched and cloned through every kind of remote, with
 * compare-and-swap and conflict reports like branches; `mvc ls-remote`.
 *
 * Each "machine" is a repository in a temporary folder with its own author (MVC_AUTHOR_*) and clock
 * (MVC_DATE), driven through the real CLI in child processes; remotes are real: `mvc serve` in a child
 * process on 127.0.0.1 (write, append-only and read tokens), a folder, and S3 (radosgw, as in
 * test/remote-s3.test.ts). Expected move CIDs are computed here from the documented object shape
 * (docs/design.md, "`mvc/alias-move`") with @ipld/dag-cbor and sha-256, never taken from mvc's output.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, realpath, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { encodeObject } from '../src/content/block.js'
import { aliasMoveValue } from '../src/format/objects.js'
import { openDiskStore } from '../src/store/open.js'
import type { Transaction } from '../src/store/interface.js'
import { jsonError, put, removeDir, runMvc, stackLines, tmpdir, REPO_ROOT, type RunResult } from './helpers.js'
import { serveCli } from './remote-faults.js'

const TIMEOUT = { timeout: 300_000 }
const WRITE = 'names-write-token-0123456789'
const APPEND = 'names-append-token-0123456789'
const READ = 'names-read-token-0123456789'

let base: string
let counter = 0
before(async () => { base = await realpath(await tmpdir('mvc-names-remote-')) })
after(async () => { await removeDir(base) })

// ------------------------------------------------------------------------------------------ helpers

interface Machine { readonly root: string, readonly env: Record<string, string> }

const ADA = { name: 'Ada', email: 'ada@example.com' }
const BO = { name: 'Bo', email: 'bo@example.com' }
const HOUR = 3_600_000
const T0 = Date.parse('2026-03-01T00:00:00Z')

function envOf (who: { name: string, email: string }, extra: Record<string, string> = {}): Record<string, string> {
  return { MVC_AUTHOR_NAME: who.name, MVC_AUTHOR_EMAIL: who.email, ...extra }
}

/** Runs mvc on a machine at time `at` (ms): the clock of the moves it records. */
async function on (m: Machine, at: number, args: string[]): Promise<RunResult> {
  return await runMvc(args, { cwd: m.root, env: { ...m.env, MVC_DATE: String(at) } })
}
async function ok (m: Machine, at: number, args: string[]): Promise<RunResult> {
  const r = await on(m, at, args)
  assert.equal(r.code, 0, `mvc ${args.join(' ')} exited ${String(r.code)}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  return r
}
async function json<T = any> (m: Machine, at: number, args: string[]): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return JSON.parse((await ok(m, at, [...args, '--json'])).stdout) as T
}
function fails (r: RunResult, exit: number, code: string): ReturnType<typeof jsonError> {
  assert.equal(r.code, exit, `expected exit ${exit}, got ${String(r.code)}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  assert.deepEqual(stackLines(r.stderr), [])
  const e = jsonError(r)
  assert.equal(e.code, code, r.stderr)
  return e
}

/** A new machine with a repository holding versions v1..vn of `model/a.txt`; returns it and the commit CIDs (index 0 = v1). */
async function machineWith (who: { name: string, email: string }, n: number, env: Record<string, string> = {}): Promise<{ m: Machine, cids: string[] }> {
  const root = join(base, `m${++counter}`)
  await mkdir(root)
  const m = { root, env: envOf(who, env) }
  await ok(m, T0, ['init'])
  const cids: string[] = []
  for (let i = 1; i <= n; i++) {
    await put(join(root, 'model', 'a.txt'), `content ${i}\n`)
    const r = await json(m, T0 + i, ['commit', 'model', '-m', `v${i}`, '--no-verify'])
    cids.push(r.cid as string)
  }
  return { m, cids }
}

/** A machine that clones `url`. */
async function cloneOf (who: { name: string, email: string }, url: string, env: Record<string, string> = {}): Promise<Machine> {
  const root = join(base, `clone${++counter}`)
  const m = { root, env: envOf(who, env) }
  const r = await runMvc(['clone', url, root, '--no-verify', '--json'], { cwd: base, env: m.env })
  assert.equal(r.code, 0, r.stderr)
  return m
}

/** The CID of an `mvc/alias-move`, built from the documented shape — independent of mvc's code. */
function moveCid (m: { name: string, from: string | null, to: string | null, at: number, by: { name: string, email: string }, message: string | null, prev: string | null }): string {
  const link = (s: string | null): CID | null => s === null ? null : CID.parse(s)
  const bytes = dagCbor.encode({ type: 'mvc/alias-move', name: m.name, from: link(m.from), to: link(m.to), at: m.at, by: m.by, message: m.message, prev: link(m.prev) })
  return CID.createV1(0x71, Digest.create(0x12, createHash('sha256').update(bytes).digest())).toString()
}

interface HistoryEntry { seq: number, cid: string, from: string | null, to: string | null, at: number, by: { name: string, email: string }, message?: string, fromVersion: number | null, toVersion: number | null }

async function history (m: Machine, name: string): Promise<HistoryEntry[]> {
  return await json<HistoryEntry[]>(m, T0, ['alias', '--history', name])
}

async function aliasTarget (m: Machine, name: string): Promise<string | undefined> {
  const list = await json<Array<{ name: string, cid: string }>>(m, T0, ['alias'])
  return list.find(a => a.name === name)?.cid
}

// ------------------------------------------------------------------------------------------ tags, on any remote

const lines = (out: string): string[] => out.trimEnd().split('\n').filter(l => l !== '')

/**
 * Tags on any remote, as a user meets them: pushed with the commits they name (and every one with
 * --tags), cloned and pulled; a tag that differs between the two sides is refused both ways —
 * REF_CONFLICT (exit 7) naming both values and versions, nothing moved — until --force. `env` is both
 * machines' (a token for `mvc serve`).
 */
async function tagsTravel (url: string, env: Record<string, string> = {}): Promise<void> {
  const { m: a, cids } = await machineWith(ADA, 3, env)
  await ok(a, T0, ['tag', 'release', 'v1'])
  await ok(a, T0, ['tag', 'beta', 'v2'])
  // A tag on a commit no pushed branch reaches stays home until --tags.
  await ok(a, T0, ['switch', '-c', 'exp', 'v1'])
  await put(join(a.root, 'model', 'a.txt'), 'experiment\n')
  const exp = (await json(a, T0, ['commit', 'model', '-m', 'exp', '--no-verify'])).cid as string
  await ok(a, T0, ['tag', 'trial', exp])
  await ok(a, T0, ['switch', 'main'])
  await ok(a, T0, ['remote', 'add', 'origin', url])
  const pushed = await ok(a, T0, ['push'])
  assert.deepEqual(lines(pushed.stdout), ['main: (new) → v3 (created)', 'tag beta: (new) → v2 (created)', 'tag release: (new) → v1 (created)'])
  assert.deepEqual(lines((await ok(a, T0, ['ls-remote', '--tags'])).stdout), [`${cids[1]!}\trefs/tags/beta`, `${cids[0]!}\trefs/tags/release`])
  const all = await json(a, T0, ['push', '--tags'])
  assert.deepEqual(all.refs.filter((r: { status: string }) => r.status !== 'up-to-date'),
    [{ ref: 'refs/tags/trial', old: null, new: exp, status: 'created', oldVersion: null, newVersion: 4 }])
  assert.deepEqual(all.versions, [4], 'the tagged commit went with its version')

  // B clones: every tag, printed and listed.
  const b = await cloneOf(BO, url, env)
  assert.deepEqual((await json(b, T0, ['tag'])).map((t: { name: string, cid: string }) => [t.name, t.cid]), [['beta', cids[1]], ['release', cids[0]], ['trial', exp]])
  const c = join(base, `clone${++counter}`)
  const cloned = await runMvc(['clone', url, c, '--no-verify'], { cwd: base, env: envOf(BO, env) })
  assert.equal(cloned.code, 0, cloned.stderr)
  assert.deepEqual(lines(cloned.stdout).filter(l => l.startsWith('tag ')), ['tag beta: (new) → v2 (created)', 'tag release: (new) → v1 (created)', 'tag trial: (new) → v4 (created)'])

  // B moves release and pushes: refused before anything moves, naming both sides; --force moves it.
  await ok(b, T0, ['tag', '-f', 'release', 'v3'])
  const refused = fails(await on(b, T0, ['push', '--json']), 7, 'REF_CONFLICT')
  assert.deepEqual(refused.data.tags, [{ name: 'release', remote: cids[0], local: cids[2], remoteVersion: 1, localVersion: 3 }])
  assert.ok(refused.message.includes(`tag release is v1 (${cids[0]!}) on ${url} but v3 (${cids[2]!}) here`), refused.message)
  const text = await on(b, T0, ['push'])
  assert.equal(text.code, 7)
  assert.match(text.stderr, /^mvc: error \[REF_CONFLICT\]: tag release is v1 .*`mvc push --force` to move the remote's$/m)
  assert.deepEqual(lines((await ok(a, T0, ['ls-remote', 'origin', 'release'])).stdout), [`${cids[0]!}\trefs/tags/release`], 'a refused push moved nothing')
  const forced = await json(b, T0, ['push', '--force'])
  assert.deepEqual(forced.refs.filter((r: { ref: string }) => r.ref.startsWith('refs/tags/')),
    [{ ref: 'refs/tags/beta', old: cids[1], new: cids[1], status: 'up-to-date', oldVersion: 2, newVersion: 2 },
      { ref: 'refs/tags/release', old: cids[0], new: cids[2], status: 'forced', oldVersion: 1, newVersion: 3 }])

  // A, still holding the old value, fetches: refused (nothing fetched), then taken with --force.
  await ok(b, T0, ['tag', 'rc', 'v2'])
  await ok(b, T0, ['push', 'origin', 'rc'])
  const stale = fails(await on(a, T0, ['fetch', '--json']), 7, 'REF_CONFLICT')
  assert.deepEqual(stale.data.tags, [{ name: 'release', remote: cids[2], local: cids[0], remoteVersion: 3, localVersion: 1 }])
  assert.match(stale.message, /nothing was fetched/)
  assert.match(stale.message, /`mvc fetch --force` to take the remote's/)
  assert.deepEqual((await json(a, T0, ['tag'])).map((t: { name: string }) => t.name), ['beta', 'release', 'trial'], 'rc did not come either')
  const taken = await ok(a, T0, ['fetch', '--force'])
  assert.deepEqual(lines(taken.stdout).filter(l => l.startsWith('tag ')), ['tag rc: (new) → v2 (created)', 'tag release: v1 → v3 (forced)'])
  assert.equal((await json(a, T0, ['tag'])).find((t: { name: string }) => t.name === 'release').cid, cids[2])

  // pull reports a tag it brings, like clone.
  await ok(b, T0, ['tag', 'ga', 'v3'])
  await ok(b, T0, ['push', 'origin', 'ga'])
  const pulled = await ok(a, T0, ['pull', '--no-verify'])
  assert.match(pulled.stdout, /^main is up to date /)
  assert.deepEqual(lines(pulled.stdout).slice(1), ['tag ga: (new) → v3 (created)'])
}

// ------------------------------------------------------------------------------------------ mvc serve

const serve = serveCli

/** A fresh bare store served by `mvc serve` (tokens WRITE, APPEND, READ) for the duration of `fn`. */
async function withServer (fn: (url: string) => Promise<void>): Promise<void> {
  const dir = join(base, `server-${++counter}`)
  await mkdir(dir)
  const tokens = join(dir, 'tokens')
  await writeFile(tokens, `${WRITE} write\n${APPEND} append\n${READ} read\n`, { mode: 0o600 })
  const served = await serve(['--store', join(dir, 'store'), '--init', '--tokens', tokens], dir)
  try {
    await fn(served.url)
  } finally {
    served.child.kill('SIGTERM')
    const r = await served.done
    assert.equal(r.code, 0, r.stderr)
  }
}

describe('through mvc serve (HTTP)', () => {
  test('an alias moved on machine A is pushed with its history; machine B clones it, fetches later moves, and `alias --history` shows who moved it when; ls-remote lists what was made', TIMEOUT, async () => await withServer(async url => {
    const { m: a, cids } = await machineWith(ADA, 3, { MVC_TOKEN: WRITE })
    await ok(a, T0 + HOUR, ['alias', 'production', 'v1', '-m', 'first rollout'])
    await ok(a, T0 + 2 * HOUR, ['alias', 'production', 'v2'])
    await ok(a, T0 + 2 * HOUR, ['tag', '1.0.0', 'v1'])
    // An alias on no pushed version stays home (nothing names it on the remote).
    await ok(a, T0 + 2 * HOUR, ['switch', '-c', 'exp', 'v1'])
    await put(join(a.root, 'model', 'a.txt'), 'experiment\n')
    const exp = (await json(a, T0 + 3 * HOUR, ['commit', 'model', '-m', 'exp', '--no-verify'])).cid as string
    await ok(a, T0 + 3 * HOUR, ['alias', 'canary', exp])
    await ok(a, T0 + 3 * HOUR, ['switch', 'main'])
    await ok(a, T0, ['remote', 'add', 'origin', url])

    const pushed = await json(a, T0, ['push'])
    const m1 = moveCid({ name: 'production', from: null, to: cids[0]!, at: T0 + HOUR, by: ADA, message: 'first rollout', prev: null })
    const m2 = moveCid({ name: 'production', from: cids[0]!, to: cids[1]!, at: T0 + 2 * HOUR, by: ADA, message: null, prev: m1 })
    assert.deepEqual(pushed.aliases.map((c: { name: string, status: string, new: string, newMove: string }) => [c.name, c.status, c.new, c.newMove]), [['production', 'created', cids[1], m2]])
    assert.ok(pushed.refs.some((r: { ref: string, new: string }) => r.ref === 'refs/tags/1.0.0' && r.new === cids[0]), 'the tag on a pushed version went too')

    // ls-remote: exactly the refs this test made, as `<cid>\t<ref>`, HEAD first, versions by number.
    const expected = [
      `${cids[2]!}\tHEAD`,
      `${m2}\trefs/alias-log/production`,
      `${cids[1]!}\trefs/aliases/production`,
      `${cids[2]!}\trefs/heads/main`,
      `${cids[0]!}\trefs/tags/1.0.0`,
      `${cids[0]!}\trefs/versions/1`,
      `${cids[1]!}\trefs/versions/2`,
      `${cids[2]!}\trefs/versions/3`
    ]
    assert.deepEqual((await ok(a, T0, ['ls-remote'])).stdout.trimEnd().split('\n'), expected)
    assert.deepEqual((await ok(a, T0, ['ls-remote', 'origin', '--aliases'])).stdout.trimEnd().split('\n'), [expected[1], expected[2]])
    assert.deepEqual((await ok(a, T0, ['ls-remote', 'origin', 'production', '1.*'])).stdout.trimEnd().split('\n'), [expected[1], expected[2], expected[4]])
    const listed = await json(a, T0, ['ls-remote', '--tags', '--versions'])
    assert.equal(listed.url, url)
    assert.equal(listed.remote, 'origin')
    assert.deepEqual(listed.refs, [
      { name: 'refs/tags/1.0.0', value: cids[0], kind: 'tag' },
      ...[1, 2, 3].map(n => ({ name: `refs/versions/${n}`, value: cids[n - 1], kind: 'version', version: n }))
    ])
    // Outside any repository, a URL is enough (a read token suffices).
    const outside = await runMvc(['ls-remote', url, '--json'], { cwd: base, env: { MVC_TOKEN: READ } })
    assert.equal(outside.code, 0, outside.stderr)
    assert.deepEqual(JSON.parse(outside.stdout).refs.map((r: { value: string, name: string }) => `${r.value}\t${r.name}`), expected)

    // Machine B clones: branch, tag, alias and the alias's whole history, moves by Ada at Ada's times.
    const b = await cloneOf(BO, url, { MVC_TOKEN: WRITE })
    assert.equal(await aliasTarget(b, 'production'), cids[1])
    assert.equal(await aliasTarget(b, 'canary'), undefined)
    assert.deepEqual((await json(b, T0, ['tag'])).map((t: { name: string, cid: string }) => [t.name, t.cid]), [['1.0.0', cids[0]]])
    assert.deepEqual(await history(b, 'production'), [
      { name: 'production', seq: 2, cid: m2, from: cids[0], to: cids[1], at: T0 + 2 * HOUR, by: ADA, fromVersion: 1, toVersion: 2 },
      { name: 'production', seq: 1, cid: m1, from: null, to: cids[0], at: T0 + HOUR, by: ADA, message: 'first rollout', fromVersion: null, toVersion: 1 }
    ])
    assert.match((await ok(b, T0, ['log'])).stdout, /alias: production/)

    // A moves it on and pushes; B fetches the move.
    await ok(a, T0 + 4 * HOUR, ['alias', 'production', 'v3', '-m', 'ship v3'])
    await ok(a, T0, ['push'])
    const fetched = await ok(b, T0, ['fetch'])
    assert.match(fetched.stdout, /^alias production: v2 → v3 \(updated, 1 move\)$/m)
    const h = await history(b, 'production')
    const m3 = moveCid({ name: 'production', from: cids[1]!, to: cids[2]!, at: T0 + 4 * HOUR, by: ADA, message: 'ship v3', prev: m2 })
    assert.deepEqual(h.map(e => [e.seq, e.cid, e.by.name, e.at, e.message ?? null]), [[3, m3, 'Ada', T0 + 4 * HOUR, 'ship v3'], [2, m2, 'Ada', T0 + 2 * HOUR, null], [1, m1, 'Ada', T0 + HOUR, 'first rollout']])
    const human = (await ok(b, T0, ['alias', '--history', 'production'])).stdout.split('\n')[0]!
    assert.match(human, /^#3 .*moved .*v2 .*-> v3 .*by Ada <ada@example\.com>\s+ship v3$/)
    assert.equal(await aliasTarget(b, 'production'), cids[2])

    // A deletion is a move too: it travels, and the history stays.
    await ok(a, T0 + 5 * HOUR, ['alias', '-d', 'production', '-m', 'retired'])
    await ok(a, T0, ['push'])
    const del = await json(b, T0, ['fetch'])
    assert.deepEqual(del.aliases.map((c: { name: string, status: string, new: string | null }) => [c.name, c.status, c.new]), [['production', 'updated', null]])
    assert.equal(await aliasTarget(b, 'production'), undefined)
    assert.deepEqual((await history(b, 'production')).map(e => [e.seq, e.to, e.message ?? null]).slice(0, 1), [[4, null, 'retired']])
    const after = (await ok(a, T0, ['ls-remote', '--aliases'])).stdout.trimEnd().split('\n')
    assert.deepEqual(after, [`${moveCid({ name: 'production', from: cids[2]!, to: null, at: T0 + 5 * HOUR, by: ADA, message: 'retired', prev: m3 })}\trefs/alias-log/production`])

    // Errors: an unknown remote and an unreachable URL are REMOTE_ERROR (exit 10).
    fails(await on(a, T0, ['ls-remote', 'nosuch', '--json']), 10, 'REMOTE_ERROR')
    fails(await runMvc(['ls-remote', 'http://127.0.0.1:1/', '--json'], { cwd: base }), 10, 'REMOTE_ERROR')
    fails(await runMvc(['ls-remote', 'origin', '--json'], { cwd: base }), 10, 'REMOTE_ERROR') // no repository here, and not a URL
    fails(await runMvc(['ls-remote', join(base, 'no-such-folder'), '--json'], { cwd: base }), 10, 'REMOTE_ERROR')
  }))

  test('concurrent moves: the second push is REF_CONFLICT (exit 7) naming who moved it; fetch keeps ours and warns (text and --json); --force resolves either way', TIMEOUT, async () => await withServer(async url => {
    const { m: a, cids } = await machineWith(ADA, 3, { MVC_TOKEN: WRITE })
    await ok(a, T0 + HOUR, ['alias', 'staging', 'v3'])
    await ok(a, T0, ['remote', 'add', 'origin', url])
    await ok(a, T0, ['push'])
    const b = await cloneOf(BO, url, { MVC_TOKEN: WRITE })
    assert.equal(await aliasTarget(b, 'staging'), cids[2])
    const base1 = moveCid({ name: 'staging', from: null, to: cids[2]!, at: T0 + HOUR, by: ADA, message: null, prev: null })

    // Both move staging; A pushes first.
    await ok(a, T0 + 2 * HOUR, ['alias', 'staging', 'v1', '-m', 'roll back'])
    await ok(b, T0 + 3 * HOUR, ['alias', 'staging', 'v2', '-m', 'try v2'])
    await ok(a, T0, ['push', 'origin', 'staging'])
    const ada = moveCid({ name: 'staging', from: cids[2]!, to: cids[0]!, at: T0 + 2 * HOUR, by: ADA, message: 'roll back', prev: base1 })
    const bo = moveCid({ name: 'staging', from: cids[2]!, to: cids[1]!, at: T0 + 3 * HOUR, by: BO, message: 'try v2', prev: base1 })
    const refused = fails(await on(b, T0, ['push', 'origin', 'staging', '--json']), 7, 'REF_CONFLICT')
    assert.deepEqual(refused.data.aliases, [{ name: 'staging', remote: ada, local: bo }])
    assert.match(refused.message, /staging .*moved to v1 by Ada <ada@example\.com>/)
    const text = await on(b, T0, ['push', 'origin', 'staging'])
    assert.equal(text.code, 7)
    assert.match(text.stderr, /mvc fetch --force/)
    assert.match(text.stderr, /mvc push --force/)
    assert.deepEqual((await ok(a, T0, ['ls-remote', 'origin', '--aliases', 'staging'])).stdout.trimEnd().split('\n'), [`${ada}\trefs/alias-log/staging`, `${cids[0]!}\trefs/aliases/staging`], 'the remote is as A left it')

    // B fetches: diverged, kept, reported on stderr and in --json.
    const fetched = await on(b, T0, ['fetch'])
    assert.equal(fetched.code, 0, fetched.stderr)
    assert.match(fetched.stderr, /warning: alias staging has diverged: on the remote it was moved to v1 by Ada/)
    assert.match(fetched.stdout, /alias staging: diverged from the remote's; kept yours \(v2\)/)
    const fj = await json(b, T0, ['fetch'])
    const change = fj.aliases.find((c: { name: string }) => c.name === 'staging')
    assert.equal(change.status, 'diverged')
    assert.equal(change.new, cids[1])
    assert.equal(change.theirs.move, ada)
    assert.deepEqual(change.theirs.by, ADA)
    assert.ok(fj.warnings.some((w: string) => w.includes('alias staging has diverged')), 'the warning is in --json too')
    assert.equal(await aliasTarget(b, 'staging'), cids[1])

    // fetch --force takes the remote's history; moving it again then pushes as a fast-forward.
    const forced = await json(b, T0, ['fetch', '--force'])
    assert.equal(forced.aliases.find((c: { name: string }) => c.name === 'staging').status, 'forced')
    assert.equal(await aliasTarget(b, 'staging'), cids[0])
    assert.deepEqual((await history(b, 'staging')).map(e => e.cid), [ada, base1])
    await ok(b, T0 + 4 * HOUR, ['alias', 'staging', 'v2', '-m', 'try v2 again'])
    const again = await json(b, T0, ['push', 'origin', 'staging'])
    assert.deepEqual(again.aliases.map((c: { status: string }) => c.status), ['updated'])
    const boAgain = moveCid({ name: 'staging', from: cids[0]!, to: cids[1]!, at: T0 + 4 * HOUR, by: BO, message: 'try v2 again', prev: ada })

    // The other way: A (not fetched) moves it and is refused; push --force replaces the remote's history.
    await ok(a, T0 + 5 * HOUR, ['alias', 'staging', 'v3'])
    fails(await on(a, T0, ['push', 'origin', 'staging', '--json']), 7, 'REF_CONFLICT')
    const replaced = await json(a, T0, ['push', 'origin', 'staging', '--force'])
    assert.deepEqual(replaced.aliases.map((c: { status: string }) => c.status), ['forced'])
    const adaForced = moveCid({ name: 'staging', from: cids[0]!, to: cids[2]!, at: T0 + 5 * HOUR, by: ADA, message: null, prev: ada })
    // B's pushed move is gone from the remote's history: B's next fetch says so, and keeps its own.
    const warned = await json(b, T0, ['fetch'])
    assert.equal(warned.aliases.find((c: { name: string }) => c.name === 'staging').status, 'diverged')
    assert.ok(warned.warnings.some((w: string) => w.includes(`no longer contains the move it had when last seen (${boAgain})`)), warned.warnings.join('\n'))
    assert.equal((await history(a, 'staging'))[0]!.cid, adaForced)

    // An alias B did not move since is never rewound by a forced push of something else.
    await ok(a, T0 + 6 * HOUR, ['alias', 'staging', 'v2', '-m', 'settle'])
    await ok(a, T0, ['push', 'origin', 'staging'])
    await ok(b, T0, ['fetch', '--force'])
    await ok(a, T0 + 7 * HOUR, ['alias', 'staging', 'v1', '-m', 'newer'])
    await ok(a, T0, ['push', 'origin', 'staging'])
    const behind = await json(b, T0, ['push', '--force'])
    assert.deepEqual(behind.aliases.map((c: { name: string, status: string }) => [c.name, c.status]), [['staging', 'behind']])
    assert.equal((await history(a, 'staging'))[0]!.message, 'newer')
    assert.match((await ok(a, T0, ['ls-remote', 'origin', '--aliases', 'staging'])).stdout, new RegExp(`^${cids[0]!}\trefs/aliases/staging$`, 'm'))
    assert.match((await ok(b, T0, ['push'])).stdout, /^alias staging: not pushed: the remote's history has moves yours lacks \(it was moved to v1 by Ada\); `mvc fetch` gets them$/m)
    // Named, an alias that is behind is refused like a branch that is behind (exit 7), and --force rewinds the remote's.
    const named = fails(await on(b, T0, ['push', 'origin', 'staging', '--json']), 7, 'REF_CONFLICT')
    assert.match(named.message, /alias staging on .* has moves yours lacks: it was moved to v1 by Ada <ada@example\.com> .*\("newer"\)\. Run `mvc fetch` to get the remote's moves of staging/)
    assert.deepEqual(named.data.aliases, [{ name: 'staging', remote: (await history(a, 'staging'))[0]!.cid, local: (await history(b, 'staging'))[0]!.cid }])
    const rewound = await json(b, T0, ['push', 'origin', 'staging', '--force'])
    assert.deepEqual(rewound.aliases.map((c: { name: string, status: string, new: string }) => [c.name, c.status, c.new]), [['staging', 'forced', cids[1]]])
    assert.match((await ok(a, T0, ['ls-remote', 'origin', '--aliases', 'staging'])).stdout, new RegExp(`^${cids[1]!}\trefs/aliases/staging$`, 'm'))
  }))

  test('tags: pushed with their commits (every one with --tags), cloned, pulled; a differing tag is REF_CONFLICT (exit 7) both ways until --force', TIMEOUT, async () => await withServer(async url => {
    await tagsTravel(url, { MVC_TOKEN: WRITE })
  }))

  test('append-only tokens add moves to alias histories but never rewrite or delete them; the server checks the namespace', TIMEOUT, async () => await withServer(async url => {
    const { m: a, cids } = await machineWith(ADA, 3, { MVC_TOKEN: APPEND })
    await ok(a, T0, ['remote', 'add', 'origin', url])
    await ok(a, T0 + HOUR, ['alias', 'nightly', 'v1'])
    await ok(a, T0, ['push'])
    await ok(a, T0 + 2 * HOUR, ['alias', 'nightly', 'v2'])
    assert.deepEqual((await json(a, T0, ['push', 'origin', 'nightly'])).aliases.map((c: { status: string }) => c.status), ['updated'], 'adding a move is an append')
    await ok(a, T0 + 3 * HOUR, ['alias', '-d', 'nightly'])
    await ok(a, T0, ['push', 'origin', 'nightly']) // deleting is a move too: the history only grows
    await ok(a, T0 + 4 * HOUR, ['alias', 'nightly', 'v3'])
    await ok(a, T0, ['push', 'origin', 'nightly'])
    const head = (await json(a, T0, ['ls-remote', 'origin', '--aliases', 'nightly'])).refs.find((r: { name: string }) => r.name === 'refs/alias-log/nightly').value as string
    // Tags: created by an append-only token, never moved by one, even with --force.
    await ok(a, T0, ['tag', 'fixed', 'v1'])
    await ok(a, T0, ['push', 'origin', 'fixed'])
    await ok(a, T0, ['tag', '-f', 'fixed', 'v2'])
    fails(await on(a, T0, ['push', 'origin', 'fixed', '--json']), 7, 'REF_CONFLICT')
    assert.match(fails(await on(a, T0, ['push', 'origin', 'fixed', '--force', '--json']), 11, 'AUTH_FAILED').message, /append-only/)
    assert.deepEqual(lines((await ok(a, T0, ['ls-remote', 'origin', '--tags'])).stdout), [`${cids[0]!}\trefs/tags/fixed`])

    // A writer moves it; the append-only client's diverged history is refused even with --force.
    const b = await cloneOf(BO, url, { MVC_TOKEN: WRITE })
    await ok(b, T0 + 5 * HOUR, ['alias', 'nightly', 'v1', '-m', 'by a writer'])
    await ok(b, T0, ['push', 'origin', 'nightly'])
    const writers = (await json(b, T0, ['alias', '--history', 'nightly']))[0].cid as string
    await ok(a, T0 + 6 * HOUR, ['alias', 'nightly', 'v2', '-m', 'rewrite'])
    const refused = fails(await on(a, T0, ['push', 'origin', 'nightly', '--force', '--json']), 11, 'AUTH_FAILED')
    assert.match(refused.message, /append-only/)
    assert.deepEqual((await ok(a, T0, ['ls-remote', 'origin', '--aliases', 'nightly'])).stdout.trimEnd().split('\n'), [`${writers}\trefs/alias-log/nightly`, `${cids[0]!}\trefs/aliases/nightly`])
    assert.notEqual(writers, head)

    // The protocol itself: an append token may not point the alias ref anywhere its history does not,
    // nor rewind the history; no token may put something other than a move of that alias in refs/alias-log/.
    const post = async (ref: string, token: string, body: unknown): Promise<{ status: number, code: string }> => {
      const res = await fetch(`${url}v1/refs/${ref}`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      const j = await res.json() as { error?: { code: string } }
      return { status: res.status, code: j.error?.code ?? 'ok' }
    }
    assert.deepEqual(await post('refs/aliases/nightly', APPEND, { expect: cids[0], value: cids[2] }), { status: 403, code: 'APPEND_ONLY' })
    assert.deepEqual(await post('refs/aliases/nightly', APPEND, { expect: cids[0], value: null }), { status: 403, code: 'APPEND_ONLY' })
    assert.deepEqual(await post('refs/alias-log/nightly', APPEND, { expect: writers, value: head }), { status: 403, code: 'APPEND_ONLY' })
    assert.deepEqual(await post('refs/alias-log/nightly', APPEND, { expect: writers, value: null }), { status: 403, code: 'APPEND_ONLY' })
    assert.deepEqual(await post('refs/alias-log/other', WRITE, { expect: null, value: cids[0] }), { status: 400, code: 'INVALID_ARGUMENT' }, 'a commit is not a move')
    assert.deepEqual(await post('refs/alias-log/other', WRITE, { expect: null, value: writers }), { status: 400, code: 'INVALID_ARGUMENT' }, 'a move of nightly is not one of other')
    // A writer may rewind (that is what --force is for); the alias ref then follows.
    assert.deepEqual(await post('refs/alias-log/nightly', WRITE, { expect: writers, value: head }), { status: 200, code: 'ok' })
  }))
})

// ------------------------------------------------------------------------------------------ folder and S3

const S3_SKIP = process.env.MVC_SKIP_S3 === '1'
const S3_ENABLED = process.env.MVC_S3_TEST === '1' && !S3_SKIP

async function withBucket (fn: (url: string) => Promise<void>): Promise<void> {
  const s3 = new S3Client({ forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1', requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
  const bucket = `mvc-names-${process.pid}-${randomBytes(3).toString('hex')}`
  await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  try {
    await fn(`s3://${bucket}/team/models`)
  } finally {
    for (;;) {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }))
      const keys = (page.Contents ?? []).map(o => o.Key!)
      if (keys.length === 0) break
      await Promise.all(keys.map(async Key => { await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key })) }))
    }
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }))
    s3.destroy()
  }
}

/** The same story on any remote: push with history, clone, a move made on the clone comes back, a concurrent move conflicts. */
async function aliasesTravel (url: string): Promise<void> {
  const { m: a, cids } = await machineWith(ADA, 2)
  await ok(a, T0 + HOUR, ['alias', 'production', 'v1', '-m', 'first'])
  await ok(a, T0 + HOUR, ['tag', 'baseline', 'v1'])
  await ok(a, T0, ['remote', 'add', 'origin', url])
  await ok(a, T0, ['push'])
  const b = await cloneOf(BO, url)
  assert.equal(await aliasTarget(b, 'production'), cids[0])
  assert.deepEqual((await json(b, T0, ['tag'])).map((t: { name: string }) => t.name), ['baseline'])
  const m1 = moveCid({ name: 'production', from: null, to: cids[0]!, at: T0 + HOUR, by: ADA, message: 'first', prev: null })
  assert.deepEqual((await history(b, 'production')).map(e => e.cid), [m1])

  // B moves it (and makes a new alias on a version the remote has: pushed with --aliases).
  await ok(b, T0 + 2 * HOUR, ['alias', 'production', 'v2', '-m', 'promote'])
  await ok(b, T0 + 2 * HOUR, ['alias', 'shadow', 'v1'])
  const pushed = await json(b, T0, ['push', '--aliases'])
  assert.deepEqual(pushed.aliases.map((c: { name: string, status: string }) => [c.name, c.status]), [['production', 'updated'], ['shadow', 'created']])
  const fetched = await json(a, T0, ['fetch'])
  assert.deepEqual(fetched.aliases.map((c: { name: string, status: string, moves: number }) => [c.name, c.status, c.moves]), [['production', 'updated', 1], ['shadow', 'created', 1]])
  const m2 = moveCid({ name: 'production', from: cids[0]!, to: cids[1]!, at: T0 + 2 * HOUR, by: BO, message: 'promote', prev: m1 })
  assert.deepEqual((await history(a, 'production')).map(e => [e.cid, e.by.name]), [[m2, 'Bo'], [m1, 'Ada']])
  assert.equal(await aliasTarget(a, 'production'), cids[1])
  // With no name, --history shows every alias's moves, alias by alias.
  const every = await json<Array<{ name: string, seq: number, cid: string }>>(a, T0, ['alias', '--history'])
  assert.deepEqual(every.map(e => [e.name, e.seq, e.cid]), [['production', 2, m2], ['production', 1, m1],
    ['shadow', 1, moveCid({ name: 'shadow', from: null, to: cids[0]!, at: T0 + 2 * HOUR, by: BO, message: null, prev: null })]])
  const everyText = lines((await ok(a, T0, ['alias', '--history'])).stdout)
  assert.deepEqual(everyText.map(l => l.startsWith('  #') ? l.slice(0, 5) : l), ['alias production', '  #2 ', '  #1 ', 'alias shadow', '  #1 '])

  // Concurrent moves: the second push is refused, the first one's history stays on the remote.
  await ok(a, T0 + 3 * HOUR, ['alias', 'production', 'v1', '-m', 'a'])
  await ok(b, T0 + 4 * HOUR, ['alias', 'production', 'baseline', '-m', 'b'])
  await ok(a, T0, ['push'])
  fails(await on(b, T0, ['push', '--json']), 7, 'REF_CONFLICT')
  const listed = await json(b, T0, ['ls-remote', 'origin', '--aliases', 'production'])
  assert.equal(listed.refs.find((r: { name: string }) => r.name === 'refs/alias-log/production').value,
    moveCid({ name: 'production', from: cids[1]!, to: cids[0]!, at: T0 + 3 * HOUR, by: ADA, message: 'a', prev: m2 }))
}

describe('folder and S3 remotes carry aliases and their histories, and tags', () => {
  test('folder remote', TIMEOUT, async () => {
    await aliasesTravel(join(base, `folder-remote-${++counter}`))
  })
  test('folder remote: tags', TIMEOUT, async () => {
    await tagsTravel(join(base, `folder-remote-${++counter}`))
  })
  if (!S3_ENABLED && !S3_SKIP) {
    test('S3 remote', () => {
      assert.fail('MVC_S3_TEST is not set, so there is no S3 server to test against: run `bash scripts/radosgw.sh start` and `eval "$(bash scripts/radosgw.sh env)"`, or set MVC_SKIP_S3=1 to skip on purpose')
    })
  } else {
    test('S3 remote', S3_SKIP ? { skip: 'MVC_SKIP_S3 set' } : TIMEOUT, async () => {
      await withBucket(aliasesTravel)
    })
    test('S3 remote: tags', S3_SKIP ? { skip: 'MVC_SKIP_S3 set' } : TIMEOUT, async () => {
      await withBucket(async url => { await tagsTravel(url) })
    })
  }
})

// ------------------------------------------------------------------------------------------ legacy repositories

describe('repositories written before alias moves were objects', () => {
  test('m/alias-log records read as history, are converted by the first push (and again after an older mvc adds one), and travel', TIMEOUT, async () => {
    const { m: a, cids } = await machineWith(ADA, 3)
    // The old layout, as docs/design.md described it: m/alias-log/<name>/<seq, 8 digits> → JSON, and the alias ref.
    const record = (from: string | null, to: string | null, at: number, message?: string): Uint8Array =>
      new TextEncoder().encode(JSON.stringify({ from, to, at, by: ADA, ...(message !== undefined ? { message } : {}) }))
    const write = async (fn: (tx: Transaction) => void): Promise<void> => {
      const store = await openDiskStore(join(a.root, '.mvc'))
      try {
        const tx = await store.transaction()
        fn(tx)
        await tx.commit()
      } finally { await store.close() }
    }
    await write(tx => {
      tx.setMeta('alias-log/production/00000001', record(null, cids[0]!, T0 + HOUR, 'first'))
      tx.setMeta('alias-log/production/00000002', record(cids[0]!, cids[1]!, T0 + 2 * HOUR))
      tx.setRef({ name: 'refs/aliases/production', value: cids[1]!, expect: null })
    })
    const m1 = moveCid({ name: 'production', from: null, to: cids[0]!, at: T0 + HOUR, by: ADA, message: 'first', prev: null })
    const m2 = moveCid({ name: 'production', from: cids[0]!, to: cids[1]!, at: T0 + 2 * HOUR, by: ADA, message: null, prev: m1 })
    assert.deepEqual((await history(a, 'production')).map(e => [e.seq, e.cid, e.from, e.to, e.message ?? null]), [[2, m2, cids[0], cids[1], null], [1, m1, null, cids[0], 'first']])
    const peek = async (): Promise<{ head?: string, converted?: string, records: number }> => {
      const store = await openDiskStore(join(a.root, '.mvc'))
      try {
        const converted = await store.readMeta('alias-log-converted/production')
        return { head: await store.readRef('refs/alias-log/production'), converted: converted === undefined ? undefined : new TextDecoder().decode(converted), records: (await store.listMeta('alias-log/production/')).length }
      } finally { await store.close() }
    }
    assert.deepEqual(await peek(), { head: undefined, converted: undefined, records: 2 }, 'reading converts nothing')

    const remote = join(base, `legacy-remote-${++counter}`)
    await ok(a, T0, ['remote', 'add', 'origin', remote])
    await ok(a, T0, ['push'])
    assert.deepEqual(await peek(), { head: m2, converted: '2', records: 2 }, 'the push converted the records (kept, marked converted)')
    const b = await cloneOf(BO, remote)
    assert.deepEqual((await history(b, 'production')).map(e => e.cid), [m2, m1])

    // An older mvc moves it afterwards (a record and the ref, as it did): the record joins the history.
    await write(tx => {
      tx.setMeta('alias-log/production/00000003', record(cids[1]!, cids[2]!, T0 + 3 * HOUR, 'old mvc'))
      tx.setRef({ name: 'refs/aliases/production', value: cids[2]!, expect: cids[1]! })
    })
    const m3 = moveCid({ name: 'production', from: cids[1]!, to: cids[2]!, at: T0 + 3 * HOUR, by: ADA, message: 'old mvc', prev: m2 })
    assert.deepEqual((await history(a, 'production')).map(e => e.cid), [m3, m2, m1])
    await ok(a, T0 + 4 * HOUR, ['alias', 'production', 'v1'])
    const m4 = moveCid({ name: 'production', from: cids[2]!, to: cids[0]!, at: T0 + 4 * HOUR, by: ADA, message: null, prev: m3 })
    assert.deepEqual((await history(a, 'production')).map(e => e.cid), [m4, m3, m2, m1])
    assert.deepEqual(await peek(), { head: m4, converted: '3', records: 3 })
    await ok(a, T0, ['push'])
    await ok(b, T0, ['fetch'])
    assert.deepEqual((await history(b, 'production')).map(e => [e.cid, e.message ?? null]), [[m4, null], [m3, 'old mvc'], [m2, null], [m1, 'first']])
    assert.equal(await aliasTarget(b, 'production'), cids[0])
  })
})

// ------------------------------------------------------------------------------------------ format

test('the move mvc builds is the golden vector (test/golden/objects.json, "alias move: …")', async () => {
  const golden = JSON.parse(await readFile(join(REPO_ROOT, 'test', 'golden', 'objects.json'), 'utf8')) as { vectors: Array<{ name: string, value: Record<string, unknown>, cid: string }> }
  const moves = golden.vectors.filter(v => v.name.startsWith('alias move: '))
  assert.equal(moves.length, 3)
  const link = (v: unknown): CID | null => v === null ? null : CID.parse((v as { '/': string })['/'])
  for (const v of moves) {
    const x = v.value as { name: string, from: unknown, to: unknown, at: number, by: { name: string, email: string }, message: string | null, prev: unknown }
    const block = encodeObject(aliasMoveValue({ name: x.name, from: link(x.from), to: link(x.to), at: x.at, by: x.by, message: x.message, prev: link(x.prev) }))
    assert.equal(block.cid.toString(), v.cid, v.name)
    assert.equal(moveCid({ name: x.name, from: link(x.from)?.toString() ?? null, to: link(x.to)?.toString() ?? null, at: x.at, by: x.by, message: x.message, prev: link(x.prev)?.toString() ?? null }), v.cid, 'the helper of this file agrees')
  }
})
