/**
 * The repository format pinned by checked-in vectors (test/golden/README.md). Every expected value is a
 * literal in test/golden/*.json, computed once and cross-checked with test/golden/crosscheck.py; this
 * file only compares, and never writes those files. A failure here is a format change.
 *
 * - chunker.json: FastCDC chunk lengths of documented streams (the chunker, and a commit via the CLI);
 * - objects.json: dag-cbor bytes and CIDs of literal values (and, for fixture objects, the bytes the
 *   repository holds after the golden commit);
 * - model-commit.json: every CID of committing test/golden/model through the CLI.
 *
 * Reads go through the public API (`Repository` from src/index.ts) and the CLI; the chunker is the one
 * internal module imported, because small chunking params are not reachable from outside.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { chmod, cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import * as dagCbor from '@ipld/dag-cbor'
import { Repository } from '../src/index.js'
import { Chunker } from '../src/content/chunker.js'
import { mvcJson, newRepo, removeDir, REPO_ROOT } from './helpers.js'

const GOLDEN = join(REPO_ROOT, 'test', 'golden')
const DAG_CBOR = 0x71
const SHA2_256 = 0x12

async function golden<T> (name: string): Promise<T> {
  return JSON.parse(await readFile(join(GOLDEN, name), 'utf8')) as T
}

/** mulberry32 as chunker.json defines it; output k gives stream bytes 4k … 4k+3, least significant first. */
function stream (seed: number, length: number): Uint8Array {
  let a = seed >>> 0
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i += 4) {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    const x = (t ^ (t >>> 14)) >>> 0
    for (let k = 0; k < 4 && i + k < length; k++) out[i + k] = (x >>> (8 * k)) & 0xff
  }
  return out
}

const sha256hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

function dagCid (bytes: Uint8Array): CID {
  return CID.createV1(DAG_CBOR, Digest.create(SHA2_256, createHash('sha256').update(bytes).digest()))
}

/** DAG-JSON convention → data model value: `{ "/": "<cid>" }` is a link. */
function fromDagJson (v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromDagJson)
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>
    const keys = Object.keys(o)
    if (keys.length === 1 && keys[0] === '/' && typeof o['/'] === 'string') return CID.parse(o['/'])
    return Object.fromEntries(keys.map(k => [k, fromDagJson(o[k])]))
  }
  return v
}

/** Data model value → DAG-JSON convention (for comparing decoded objects with the vectors). */
function toDagJson (v: unknown): unknown {
  const c = CID.asCID(v)
  if (c !== null) return { '/': c.toString() }
  if (Array.isArray(v)) return v.map(toDagJson)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toDagJson(x)]))
  return v
}

// ------------------------------------------------------------------------------------------ chunker

interface ChunkerVector {
  readonly name: string
  readonly input: { readonly seed?: string, readonly fill?: number, readonly length: number, readonly sha256: string }
  readonly params: { readonly min: number, readonly avg: number, readonly max: number }
  readonly lengths: readonly number[]
}
interface ChunkerGolden { readonly vectors: readonly ChunkerVector[] }

function vectorStream (v: ChunkerVector): Uint8Array {
  return v.input.fill !== undefined ? new Uint8Array(v.input.length).fill(v.input.fill) : stream(Number(v.input.seed), v.input.length)
}

describe('golden: FastCDC (test/golden/chunker.json)', () => {
  test('every vector: the stream is the one documented, and the chunker cuts it where the file says, however it is fed', async () => {
    const g = await golden<ChunkerGolden>('chunker.json')
    assert.ok(g.vectors.length >= 5)
    for (const v of g.vectors) {
      const data = vectorStream(v)
      assert.equal(sha256hex(data), v.input.sha256, `${v.name}: the stream generator in this test matches the documented one`)
      for (const piece of [data.length, 65536, 4093]) {
        const c = new Chunker(v.params)
        const lengths: number[] = []
        for (let at = 0; at < data.length; at += piece) for (const ch of c.feed(data.subarray(at, at + piece))) lengths.push(ch.length)
        const tail = c.finish()
        if (tail !== undefined) lengths.push(tail.length)
        assert.deepEqual(lengths, v.lengths, `${v.name} fed in pieces of ${piece}`)
      }
    }
  })
})

// ------------------------------------------------------------------------------------------ objects

interface ObjectVector { readonly name: string, readonly value: unknown, readonly hex: string, readonly cid: string, readonly fixture?: boolean }
interface ObjectsGolden { readonly vectors: readonly ObjectVector[] }

describe('golden: dag-cbor objects (test/golden/objects.json)', () => {
  test('every literal value encodes to the recorded bytes and CID, and the bytes decode back to it', async () => {
    const g = await golden<ObjectsGolden>('objects.json')
    assert.ok(g.vectors.length >= 15)
    for (const v of g.vectors) {
      const bytes = dagCbor.encode(fromDagJson(v.value))
      assert.equal(hex(bytes), v.hex, `${v.name}: dag-cbor bytes`)
      assert.equal(dagCid(bytes).toString(), v.cid, `${v.name}: CID`)
      assert.deepEqual(toDagJson(dagCbor.decode(Buffer.from(v.hex, 'hex'))), toDagJson(fromDagJson(v.value)), `${v.name}: decodes back`)
    }
  })

  test('values dag-cbor cannot hold are refused, not encoded somehow', () => {
    for (const bad of [{ x: NaN }, { x: Infinity }, { x: -Infinity }, { x: undefined }]) {
      assert.throws(() => dagCbor.encode(bad), /not supported/, JSON.stringify(bad))
    }
  })
})

// ------------------------------------------------------------------------------------------ the model commit

interface ModelCommitGolden {
  readonly commit: string
  readonly environment: Record<string, unknown>
  readonly manifest: string
  readonly files: Readonly<Record<string, string>>
  readonly models: Readonly<Record<string, { model: string, topology: string | null, tensors: ReadonlyArray<{ name: string, tensor: string, chunks: number[] }> }>>
}

describe('golden: a TF.js model committed through the CLI (test/golden/model-commit.json)', () => {
  const cleanup: string[] = []
  after(async () => { await Promise.all(cleanup.map(removeDir)) })
  let root = ''
  let head = ''
  let repo: Repository | undefined
  let expected: ModelCommitGolden

  before(async () => {
    expected = await golden<ModelCommitGolden>('model-commit.json')
    ;({ root } = await newRepo(cleanup))
    const model = join(root, 'model')
    await cp(join(GOLDEN, 'model'), model, { recursive: true })
    await mkdir(join(model, 'assets'))
    const big = stream(0x6d766333, 2_400_000)
    await writeFile(join(model, 'big', 'big-1.bin'), big.subarray(0, 1_000_000))
    await writeFile(join(model, 'big', 'big-2.bin'), big.subarray(1_000_000))
    await writeFile(join(model, 'data.bin'), stream(0x6d766331, 12 * 1048576 + 12345))
    const chmodAll = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        if (e.isDirectory()) await chmodAll(join(dir, e.name))
        else await chmod(join(dir, e.name), 0o644)
      }
    }
    await chmodAll(model)
    // TEST_ENV (helpers.ts) fixes MVC_AUTHOR_NAME=Test, MVC_AUTHOR_EMAIL=test@example.com, MVC_DATE=2026-01-01T00:00:00Z.
    const r = await mvcJson<{ cid: string, version: number }>(['commit', 'model', '-m', 'golden model', '--no-verify', '--no-code'], { cwd: root })
    assert.equal(r.version, 1)
    head = r.cid
    repo = await Repository.open({ dir: root })
  })
  after(async () => { await repo?.close() })

  const get = async (cid: string): Promise<Uint8Array> => await repo!.store.get(CID.parse(cid))
  const value = async (cid: string): Promise<Record<string, unknown>> => dagCbor.decode(await get(cid))

  test('manifest and file object CIDs', { timeout: 120_000 }, async () => {
    const commit = await value(head)
    assert.equal(String(commit.model), expected.manifest, 'manifest CID')
    const manifest = await value(expected.manifest) as { entries: Array<{ path: string, file: CID }>, dirs: string[] }
    assert.deepEqual(Object.fromEntries(manifest.entries.map(e => [e.path, e.file.toString()])), expected.files)
    assert.deepEqual(manifest.dirs, ['assets'])
  })

  test('model, topology and tensor CIDs, and the chunk lengths of every tensor', { timeout: 120_000 }, async () => {
    const manifest = await value(expected.manifest) as { models: Array<{ path: string, model: CID }> }
    assert.deepEqual(manifest.models.map(m => [m.path, m.model.toString()]), Object.entries(expected.models).map(([p, m]) => [p, m.model]))
    for (const [path, m] of Object.entries(expected.models)) {
      const model = await value(m.model) as { topology: CID | null, tensors: Array<{ tensor: CID }> }
      assert.equal(model.topology?.toString() ?? null, m.topology, `${path}: topology`)
      assert.deepEqual(model.tensors.map(t => t.tensor.toString()), m.tensors.map(t => t.tensor), `${path}: tensors`)
      for (const t of m.tensors) {
        const tensor = await value(t.tensor) as { name: string, chunks: Array<[CID, number]> }
        assert.equal(tensor.name, t.name)
        assert.deepEqual(tensor.chunks.map(c => c[1]), t.chunks, `${path}: chunks of ${t.name}`)
      }
    }
  })

  test('data.bin is cut where chunker.json says (FastCDC through the commit path)', { timeout: 120_000 }, async () => {
    const chunker = await golden<ChunkerGolden>('chunker.json')
    const v = chunker.vectors.find(x => x.name === 'default')!
    const file = await value(expected.files['data.bin']!) as { size: number, extents: Array<[CID, number]> }
    assert.equal(file.size, v.input.length)
    assert.deepEqual(file.extents.map(e => e[1]), v.lengths)
  })

  test('the repository holds exactly the bytes of every fixture vector of objects.json', { timeout: 120_000 }, async () => {
    const g = await golden<ObjectsGolden>('objects.json')
    const fixtures = g.vectors.filter(v => v.fixture === true && v.cid !== expected.commit)
    assert.ok(fixtures.length >= 12)
    for (const v of fixtures) assert.equal(hex(await get(v.cid)), v.hex, v.name)
  })

  test('the commit CID: exact with the recorded environment; elsewhere equal to it but for `environment`', { timeout: 120_000 }, async () => {
    const stored = await value(head)
    const env = stored.environment as Record<string, unknown>
    assert.deepEqual(Object.keys(env).sort(), ['arch', 'backend', 'mvc', 'node', 'platform', 'tfjs'])
    assert.equal(env.node, process.version)
    assert.equal(env.platform, process.platform)
    assert.equal(env.tfjs, null, '--no-verify: TF.js never ran')
    const g = await golden<ObjectsGolden>('objects.json')
    const vector = g.vectors.find(v => v.cid === expected.commit)
    assert.ok(vector !== undefined, 'objects.json holds the golden commit')
    assert.deepEqual(toDagJson({ ...stored, environment: expected.environment }), vector.value, 'every field but environment is as recorded')
    const pinned = dagCbor.encode({ ...stored, environment: expected.environment })
    assert.equal(hex(pinned), vector.hex)
    assert.equal(dagCid(pinned).toString(), expected.commit)
    const sameEnvironment = JSON.stringify(toDagJson(dagCbor.decode(dagCbor.encode(env)))) === JSON.stringify(toDagJson(dagCbor.decode(dagCbor.encode(expected.environment))))
    if (sameEnvironment) assert.equal(head, expected.commit, 'on a machine with the recorded environment the commit CID is the golden one')
  })
})
