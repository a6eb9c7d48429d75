/**
 * The HDF5 structure reader against h5py: files written by h5py at test time (every layout, dense and
 * compact groups and attributes, a user block, deep and wide groups — test/hdf5_cases.py) and the
 * real Keras fixtures (fixtures/tf/make_fixtures.py, among them files rewritten by another HDF5 and
 * with libver='latest'). Expected values are h5py's own: `dataset.id.get_offset()`, storage sizes,
 * dtypes, attribute values and a SHA-256 of each dataset's elements as h5py reads them.
 * Then hostile input: truncated and corrupted files give INVALID_MODEL, quickly, never another error.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { bytesSource, datasetRange, findSuperblock, readHdf5, tensorDType, type Hdf5File } from '../src/formats/hdf5/index.js'
import { isMvcError } from '../src/errors.js'
import { REPO_ROOT, mulberry32, tmpdir, removeDir } from './helpers.js'
import { kerasFixtures, pythonEnv, run } from './keras-fixtures.js'

interface Expected {
  readonly datasets: Record<string, { offset: number | null, storage_size: number, dtype: string, shape: number[], chunks: number[] | null, compression: string | null, sha256: string | null }>
  readonly attrs: Record<string, unknown>
  readonly h5py: string
  readonly hdf5: string
}

async function h5Files (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.h5')) out.push(join(e.parentPath, e.name))
  }
  return out.sort()
}

const NUMPY_TO_MVC: Record<string, string> = {
  '<f4': 'float32', '<f2': 'float16', '<f8': 'float64', '<i8': 'int64', '<i4': 'int32', '<i2': 'int16',
  '|u1': 'uint8', '|i1': 'int8', '|b1': 'bool', '<c8': 'complex64'
}

describe('HDF5 structure reader', () => {
  let expected: Record<string, Expected> = {}
  const files = new Map<string, Uint8Array>()
  const parsed = new Map<string, Hdf5File>()
  const cleanup: string[] = []

  before(async () => {
    const py = await pythonEnv()
    const fx = await kerasFixtures()
    const out = await tmpdir('mvc-hdf5-')
    cleanup.push(out)
    const { stdout } = await run(py, [join(REPO_ROOT, 'test', 'hdf5_cases.py'), out, ...await h5Files(fx)])
    expected = JSON.parse(stdout) as Record<string, Expected>
    for (const f of Object.keys(expected)) {
      const bytes = new Uint8Array(await readFile(f))
      files.set(f, bytes)
      parsed.set(f, await readHdf5(bytesSource(bytes, f)))
    }
  }, { timeout: 30 * 60_000 })

  test('reads h5py test files and every Keras fixture (at least 20 files, superblocks 0 and 3)', () => {
    assert.ok(files.size >= 20, `only ${files.size} files`)
    const superblocks = new Set([...parsed.values()].map(p => p.superblockVersion))
    assert.ok(superblocks.has(0) && superblocks.has(3), `superblock versions seen: ${[...superblocks].join(', ')}`)
  })

  test('datasets, offsets and sizes equal h5py\'s get_offset() and get_storage_size()', () => {
    let compared = 0
    for (const [file, exp] of Object.entries(expected)) {
      const h = parsed.get(file)!
      const mine = new Map(h.datasets.map(d => [d.path, d]))
      assert.deepEqual([...mine.keys()].sort(), Object.keys(exp.datasets).sort(), `${file}: dataset paths`)
      for (const [path, e] of Object.entries(exp.datasets)) {
        const d = mine.get(path)!
        const where = `${file}: ${path}`
        assert.deepEqual(d.shape, e.shape, `${where}: shape`)
        if (e.offset !== null) {
          assert.equal(d.storage.kind, 'contiguous', `${where}: h5py gives an offset, so storage is contiguous`)
          if (d.storage.kind === 'contiguous') {
            assert.equal(d.storage.offset, e.offset, `${where}: offset`)
            assert.equal(d.storage.size, e.storage_size, `${where}: size`)
          }
          compared++
        } else if (e.chunks !== null) {
          assert.equal(d.storage.kind, 'chunked', where)
          if (d.storage.kind === 'chunked') assert.deepEqual(d.storage.chunkShape, e.chunks, `${where}: chunk shape`)
          assert.equal(d.filters.some(f => f.name === 'deflate'), e.compression === 'gzip', `${where}: deflate filter`)
        }
        const t = tensorDType(d.dtype)
        const want = NUMPY_TO_MVC[e.dtype]
        if (want !== undefined) assert.deepEqual(t, { dtype: want }, `${where}: dtype ${e.dtype}`)
        else assert.ok('reason' in t, `${where}: ${e.dtype} is not a tensor dtype`)
      }
    }
    assert.ok(compared >= 300, `compared ${compared} offsets`)
  })

  test('the bytes at each dataset\'s range are the elements h5py reads', () => {
    let checked = 0
    for (const [file, exp] of Object.entries(expected)) {
      const bytes = files.get(file)!
      for (const d of parsed.get(file)!.datasets) {
        const e = exp.datasets[d.path]!
        const range = datasetRange(d)
        if (!('offset' in range) || e.sha256 === null || !('dtype' in tensorDType(d.dtype))) continue
        const got = createHash('sha256').update(bytes.subarray(range.offset, range.offset + range.size)).digest('hex')
        assert.equal(got, e.sha256, `${file}: ${d.path} (${d.storage.kind})`)
        checked++
      }
    }
    assert.ok(checked >= 300, `checked ${checked}`)
    // the compact dataset is one of them
    const layouts = [...parsed.entries()].find(([f]) => f.endsWith('layouts.h5'))![1]
    assert.equal(layouts.datasets.find(d => d.path === 'compact')!.storage.kind, 'compact')
  })

  test('layouts that are not one byte range say why', () => {
    const layouts = [...parsed.entries()].find(([f]) => f.endsWith('layouts.h5'))![1]
    const why = (p: string): string => {
      const r = datasetRange(layouts.datasets.find(d => d.path === p)!)
      return 'reason' in r ? r.reason : 'mapped'
    }
    assert.match(why('chunked'), /chunked/)
    assert.match(why('deflate'), /chunked and filtered \(shuffle, deflate\)/)
    assert.match(why('unwritten'), /never written/)
    assert.equal(why('empty'), 'mapped')
    assert.match(JSON.stringify(tensorDType(layouts.datasets.find(d => d.path === 'big_endian')!.dtype)), /big-endian/)
    assert.match(JSON.stringify(tensorDType(layouts.datasets.find(d => d.path === 'strings')!.dtype)), /string/)
    assert.deepEqual(layouts.skippedLinks, ['soft: soft link'])
  })

  test('attributes equal h5py\'s values (fixed and variable-length strings, numbers, bools, dense storage)', () => {
    let compared = 0
    for (const [file, exp] of Object.entries(expected)) {
      const h = parsed.get(file)!
      const mine: Record<string, unknown> = {}
      for (const [p, g] of h.groups) for (const [k, a] of g.attributes) mine[`${p}@${k}`] = a.value
      for (const d of h.datasets) for (const [k, a] of d.attributes) mine[`${d.path}@${k}`] = a.value
      for (const [key, value] of Object.entries(exp.attrs)) {
        assert.deepEqual(mine[key], value, `${file}: attribute ${key}`)
        compared++
      }
      assert.equal(Object.keys(mine).length, Object.keys(exp.attrs).length, `${file}: attribute count`)
    }
    assert.ok(compared >= 100, `compared ${compared}`)
    const dense = [...parsed.entries()].find(([f]) => f.endsWith('dense.h5'))![1]
    assert.equal(dense.groups.get('')!.attributes.get('big')!.value, 'x'.repeat(5000))
  })

  test('accept: a root the caller does not want stops the reading there', async () => {
    const [file, bytes] = [...files.entries()].find(([f]) => f.endsWith('wide.h5'))!
    let seen: string[] = []
    const h = await readHdf5(bytesSource(bytes, file), { accept: root => { seen = [...root.links]; return false } })
    assert.equal(h.rootOnly, true)
    assert.deepEqual(h.datasets, [])
    assert.deepEqual([...h.groups.keys()], [''])
    assert.deepEqual(seen, ['g0', 'wide'])
    assert.equal(parsed.get(file)!.rootOnly, false)
  })

  test('not HDF5: no signature', async () => {
    assert.equal(await findSuperblock(bytesSource(new TextEncoder().encode('{"not": "hdf5"}'), 'x.h5')), undefined)
    await assert.rejects(readHdf5(bytesSource(new Uint8Array(2000), 'zeros.h5')), (e: unknown) => isMvcError(e) && e.code === 'INVALID_MODEL')
  })

  test('truncated files give INVALID_MODEL naming the file', async () => {
    let n = 0
    for (const [file, bytes] of files) {
      if (!file.includes('hdf5-versions') && !file.endsWith('layouts.h5') && !file.endsWith('dense.h5')) continue
      for (const cut of [8, 100, 512, 2047, Math.floor(bytes.length / 2), bytes.length - 1]) {
        if (cut >= bytes.length) continue
        await assert.rejects(readHdf5(bytesSource(bytes.subarray(0, cut), `cut-${cut}.h5`)),
          (e: unknown) => isMvcError(e) && e.code === 'INVALID_MODEL' && e.message.startsWith(`cut-${cut}.h5: `), `${file} cut at ${cut}`)
        n++
      }
    }
    assert.ok(n >= 20)
  })

  test('corrupted metadata gives INVALID_MODEL or a structure, never a crash or a hang', async () => {
    const rng = mulberry32(20261130)
    const started = Date.now()
    let failures = 0
    let runs = 0
    for (const [file, bytes] of files) {
      if (!file.includes('hdf5-versions') && !file.endsWith('layouts.h5') && !file.endsWith('dense.h5') && !file.endsWith('wide.h5')) continue
      for (let i = 0; i < 150; i++) {
        const copy = bytes.slice()
        const flips = 1 + Math.floor(rng() * 4)
        for (let k = 0; k < flips; k++) {
          // mostly in metadata (the first 4 KiB and around object headers), sometimes anywhere
          const at = rng() < 0.7 ? Math.floor(rng() * Math.min(4096, copy.length)) : Math.floor(rng() * copy.length)
          copy[at] = rng() < 0.5 ? Math.floor(rng() * 256) : copy[at]! ^ (1 << Math.floor(rng() * 8))
        }
        runs++
        try {
          await readHdf5(bytesSource(copy, 'fuzz.h5'))
        } catch (e) {
          assert.ok(isMvcError(e) && e.code === 'INVALID_MODEL', `${file} mutation ${i}: ${String(e)}`)
          failures++
        }
      }
    }
    assert.ok(failures > runs / 10, `${failures} of ${runs} mutations were caught`)
    assert.ok(Date.now() - started < 120_000, 'fuzzing took too long')
  })

  test('cycles: a group B-tree node that points at itself', async () => {
    const bytes = [...files.entries()].find(([f]) => f.endsWith('wide.h5'))![1]
    const text = Buffer.from(bytes)
    // A v1 B-tree node ("TREE"): make its first child its own address (offsets are 8 bytes here).
    const tree = text.indexOf('TREE')
    assert.ok(tree > 0)
    const copy = Buffer.from(text)
    // TREE(4) type(1) level(1) used(2) left(8) right(8) key0(8) child0(8)
    copy.writeUInt8(1, tree + 5) // level 1: children are B-tree nodes
    copy.writeBigUInt64LE(BigInt(tree), tree + 8 + 16 + 8)
    await assert.rejects(readHdf5(bytesSource(new Uint8Array(copy), 'cycle.h5')), (e: unknown) => isMvcError(e) && e.code === 'INVALID_MODEL')
  })

  after(async () => { for (const d of cleanup) await removeDir(d) })
})
