/**
 * Several models in one repository, git-style (issue 13): a version is a snapshot of every tracked
 * path; `mvc commit <path>` starts tracking one; `mvc commit` commits what changed among them; status,
 * log, diff and checkout cover them all or narrow to one with `-- <path>`; clone checks them all out.
 */
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { mvcJson, mvcOk, newRepo, runMvc } from './helpers.js'
import { openDiskStore } from '../src/store/open.js'

const cleanup: string[] = []
after(async () => { for (const d of cleanup) await rm(d, { recursive: true, force: true }) })

async function put (path: string, text: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true })
  await writeFile(path, text)
}

describe('tracked paths', () => {
  test('commit, status, log, diff, checkout and clone across two tracked paths', { timeout: 120_000 }, async () => {
    const { base, root } = await newRepo(cleanup)
    await put(join(root, 'encoder', 'w.bin'), 'encoder 1')
    await put(join(root, 'classifier', 'w.bin'), 'classifier 1')
    const v1 = await mvcJson<{ version: number, paths: Array<{ path: string }> }>(['commit', 'encoder', '-m', 'encoder', '--no-verify'], { cwd: root })
    assert.deepEqual(v1.paths.map(p => p.path), ['encoder'])
    // A single-path version keeps format 1's shape.
    const s1 = await mvcJson<{ commit: { model?: string, path?: string, paths: unknown[] } }>(['show', 'v1'], { cwd: root })
    assert.equal(s1.commit.path, 'encoder')
    assert.ok(s1.commit.model !== undefined)

    // Committing a second path starts tracking it: v2 holds both.
    const v2 = await mvcJson<{ version: number, paths: Array<{ path: string }> }>(['commit', 'classifier', '-m', 'classifier', '--no-verify'], { cwd: root })
    assert.deepEqual(v2.paths.map(p => p.path), ['classifier', 'encoder'])
    const s2 = await mvcJson<{ commit: { model?: string, paths: Array<{ path: string }> }, manifest: { entries: Array<{ path: string }> } }>(['show', 'v2'], { cwd: root })
    assert.equal(s2.commit.model, undefined)
    assert.deepEqual(s2.manifest.entries.map(e => e.path), ['classifier/w.bin', 'encoder/w.bin'])

    // Nothing changed: nothing to commit. One change: `mvc commit` (no path) commits every tracked path.
    const none = await mvcJson<{ committed: boolean }>(['commit', '-m', 'again', '--no-verify'], { cwd: root })
    assert.equal(none.committed, false)
    await put(join(root, 'encoder', 'w.bin'), 'encoder 2')
    const st = await mvcJson<{ clean: boolean, modified: string[], paths: Array<{ path: string, clean: boolean }> }>(['status'], { cwd: root })
    assert.equal(st.clean, false)
    assert.deepEqual(st.modified, ['encoder/w.bin'])
    assert.deepEqual(st.paths.map(p => [p.path, p.clean]), [['classifier', true], ['encoder', false]])
    await mvcOk(['commit', '-m', 'retrain encoder', '--no-verify'], { cwd: root })

    // log -- <path>: the versions that changed it.
    const json = async <T>(args: string[]): Promise<T> => JSON.parse((await mvcOk(args, { cwd: root })).stdout) as T
    const log = await json<Array<{ version: number }>>(['log', '--json', '--', 'classifier'])
    assert.deepEqual(log.map(e => e.version), [2])
    const logE = await json<Array<{ version: number }>>(['log', '--json', '--', 'encoder'])
    assert.deepEqual(logE.map(e => e.version), [3, 1])

    // diff v2 v3: the encoder's file changed; narrowed to the classifier, nothing.
    const d = await mvcJson<{ files: { modified: Array<{ path: string }> }, identical: boolean }>(['diff', 'v2', 'v3'], { cwd: root })
    assert.deepEqual(d.files.modified.map(m => m.path), ['encoder/w.bin'])
    const dc = await json<{ identical: boolean }>(['diff', 'v2', 'v3', '--json', '--', 'classifier'])
    assert.equal(dc.identical, true)
    // A version of one path against a version of several, narrowed to the path they share: the files
    // are compared as the same files (encoder/w.bin changed), not as one side removed and one added.
    const d13 = await json<{ files: { added: string[], removed: string[], modified: Array<{ path: string }> } }>(['diff', 'v1', 'v3', '--json', '--', 'encoder'])
    assert.deepEqual([d13.files.added, d13.files.removed, d13.files.modified.map(m => m.path)], [[], [], ['w.bin']])

    // checkout v1 rebuilds the encoder only (v1 tracked nothing else); the classifier is left alone.
    await mvcOk(['checkout', 'v1', '--no-verify'], { cwd: root })
    assert.equal(await readFile(join(root, 'encoder', 'w.bin'), 'utf8'), 'encoder 1')
    assert.equal(await readFile(join(root, 'classifier', 'w.bin'), 'utf8'), 'classifier 1')
    // checkout v3 -- encoder, and a whole version elsewhere.
    await mvcOk(['checkout', 'v3', '--no-verify', '--', 'encoder'], { cwd: root })
    assert.equal(await readFile(join(root, 'encoder', 'w.bin'), 'utf8'), 'encoder 2')
    await mvcOk(['checkout', 'v3', '--no-verify', '--to', join(base, 'v3')], { cwd: root })
    assert.equal(await readFile(join(base, 'v3', 'encoder', 'w.bin'), 'utf8'), 'encoder 2')
    assert.equal(await readFile(join(base, 'v3', 'classifier', 'w.bin'), 'utf8'), 'classifier 1')

    // A path inside a tracked one is refused.
    await put(join(root, 'encoder', 'sub', 'x.bin'), 'x')
    const inside = await runMvc(['commit', 'encoder/sub', '-m', 'nested', '--no-verify'], { cwd: root })
    assert.equal(inside.code, 8, inside.stderr)

    // The store is format 2 now; a clone checks out every tracked path.
    assert.equal((await mvcJson<Array<{ key: string }>>(['config', '--list'], { cwd: root })).length, 0)
    const clone = join(base, 'clone')
    await mvcOk(['clone', root, clone, '--no-verify'], { cwd: base })
    assert.equal(await readFile(join(clone, 'encoder', 'w.bin'), 'utf8'), 'encoder 2')
    assert.equal(await readFile(join(clone, 'classifier', 'w.bin'), 'utf8'), 'classifier 1')

    // Every store that receives a version of several paths declares format 2: the clone (fetch), and a
    // folder remote pushed to.
    const formatOf = async (mvcDir: string): Promise<string | undefined> => {
      const st = await openDiskStore(mvcDir, { reader: true })
      try { const v = await st.readMeta('format'); return v === undefined ? undefined : new TextDecoder().decode(v) } finally { await st.close() }
    }
    assert.equal(await formatOf(join(root, '.mvc')), '2')
    assert.equal(await formatOf(join(clone, '.mvc')), '2')
    const shared = join(base, 'shared')
    await mvcOk(['remote', 'add', 'shared', shared], { cwd: root })
    await mvcOk(['push', 'shared'], { cwd: root })
    assert.equal(await formatOf(shared), '2', 'a folder remote is created at format 1 and raised by what it receives')
  })
})
