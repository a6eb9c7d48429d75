/**
 * The SSTable and tensor-bundle reader (src/formats/tf-checkpoint/sstable.ts, bundle.ts) against
 * real `.index` files written by TensorFlow, with TensorFlow's own reading of them as the expected
 * values; CRC-32C against published test vectors; damaged indexes (truncated at every length,
 * flipped bytes, a compression flag, a wrong magic, random mutations) are typed errors, never crashes.
 */
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, readdir, stat } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { InvalidModelError } from '../src/errors.js'
import type { FileAccess, SnapshotFile } from '../src/formats/interface.js'
import {
  OBJECT_GRAPH_KEY, SSTableError, TABLE_MAGIC, blockEntries, crc32c, decodeStringTensor, maskCrc, readBlock, readCheckpoint, readFooter, readTable
} from '../src/formats/tf-checkpoint/index.js'
import { tfFixtures, type TfReference } from './tf-reference.js'

let root = ''
let reference: TfReference

before(async () => {
  ({ root, reference } = await tfFixtures())
})

/** A FileAccess over a folder, with some files' bytes replaced. */
async function folderAccess (dir: string, replace: ReadonlyMap<string, Uint8Array> = new Map()): Promise<FileAccess> {
  const files = new Map<string, SnapshotFile>()
  const bytes = new Map<string, Uint8Array>()
  async function visit (d: string): Promise<void> {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) { await visit(p); continue }
      const rel = relative(dir, p)
      const b = replace.get(rel) ?? new Uint8Array(await readFile(p))
      bytes.set(rel, b)
      files.set(rel, { path: rel, size: b.length })
    }
  }
  await visit(dir)
  return {
    files,
    async read (path, offset, length) {
      const b = bytes.get(path)
      if (b === undefined || offset + length > b.length) throw new InvalidModelError(`${path}: short read`, { path })
      return b.slice(offset, offset + length)
    },
    async readAll (path) { return bytes.get(path)!.slice() }
  }
}

const text = (b: Uint8Array): string => new TextDecoder().decode(b)

test('crc32c: the published CRC-32C check values (RFC 3720 B.4 and "123456789")', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283)
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa)
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43)
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e)
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c)
  // Extending equals hashing the concatenation.
  const all = new TextEncoder().encode('hello, tensor bundle')
  assert.equal(crc32c(all.subarray(7), crc32c(all.subarray(0, 7))), crc32c(all))
  // LevelDB's mask (crc32c.h): rotate right by 15, add 0xa282ead8.
  assert.equal(maskCrc(0), 0xa282ead8)
  assert.equal(maskCrc(0xe3069283), ((((0xe3069283 >>> 15) | (0xe3069283 << 17)) >>> 0) + 0xa282ead8) >>> 0)
})

test('readTable: a real index lists exactly the keys TensorFlow lists, in byte order, after the header', async () => {
  for (const prefix of ['mlp-tf-checkpoint/ckpt-1', 'mlp-tf-checkpoint-optimizer/ckpt-1', 'mlp-savedmodel/variables/variables']) {
    const file = new Uint8Array(await readFile(join(root, `${prefix}.index`)))
    const entries = readTable(file)
    assert.equal(entries[0]!.key.length, 0, 'the header has the empty key')
    const keys = entries.slice(1).map(e => text(e.key))
    assert.deepEqual(keys, Object.keys(reference.checkpoints[prefix]!).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))))
    const footer = readFooter(file)
    assert.ok(footer.index.offset + footer.index.size + 5 <= file.length - 48)
  }
})

test('readCheckpoint: dtypes, shapes and byte ranges are what TensorFlow reads', async () => {
  for (const prefix of ['mlp-tf-checkpoint/ckpt-1', 'mlp-tf-checkpoint-optimizer/ckpt-1', 'mlp-keras3-tf-checkpoint/ckpt-1', 'mlp-tf-checkpoint-sharded/weights']) {
    const dir = join(root, prefix, '..')
    const base = prefix.split('/').pop()!
    const access = await folderAccess(dir)
    const ckpt = await readCheckpoint(access, `${base}.index`)
    const expected = reference.checkpoints[prefix]!
    let compared = 0
    for (const e of ckpt.entries) {
      if (e.sliceKey) continue
      const tf = expected[e.key]
      assert.ok(tf !== undefined, `${prefix}: ${e.key} is not a TensorFlow variable`)
      assert.deepEqual(e.shape, tf.shape, `${prefix}: ${e.key} shape`)
      if (tf.hex === undefined || e.slices.length > 0) continue
      const bytes = await access.read(ckpt.shards[e.shardId]!, e.offset, e.size)
      assert.equal(Buffer.from(bytes).toString('hex'), tf.hex, `${prefix}: ${e.key} bytes`)
      // The stored CRC is the masked CRC-32C of exactly these bytes.
      assert.equal(e.crc32c, maskCrc(crc32c(bytes)), `${prefix}: ${e.key} crc`)
      compared++
    }
    assert.ok(compared >= 6, `${prefix}: compared ${compared} tensors`)
    assert.equal(ckpt.entries.filter(e => !e.sliceKey).length, Object.keys(expected).length)
  }
})

test('readCheckpoint: the sharded checkpoint names all 12 data shards; partitioned variables carry their slices', async () => {
  const access = await folderAccess(join(root, 'mlp-tf-checkpoint-sharded'))
  const ckpt = await readCheckpoint(access, 'weights.index')
  assert.equal(ckpt.numShards, 12)
  assert.deepEqual(ckpt.shards, Array.from({ length: 12 }, (_, i) => `weights.data-${String(i).padStart(5, '0')}-of-00012`))
  const kernel = ckpt.entries.find(e => e.key === 'model/layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE')!
  assert.equal(kernel.slices.length, 6)
  assert.equal(ckpt.entries.filter(e => e.sliceKey).length, 16, 'one entry per slice')
})

test('decodeStringTensor: the object graph decodes, and names variables as TensorFlow does', async () => {
  const access = await folderAccess(join(root, 'mlp-tf-checkpoint-optimizer'))
  const ckpt = await readCheckpoint(access, 'ckpt-1.index')
  assert.ok(ckpt.objectGraph !== null)
  const names = new Map<string, string>()
  for (const n of ckpt.objectGraph.nodes) for (const a of n.attributes) if (a.full_name !== '') names.set(a.checkpoint_key, a.full_name)
  assert.deepEqual(Object.fromEntries(names), reference.names['mlp-tf-checkpoint-optimizer/ckpt-1'])
  const e = ckpt.entries.find(x => x.key === OBJECT_GRAPH_KEY)!
  const bytes = await access.read(ckpt.shards[e.shardId]!, e.offset, e.size)
  assert.throws(() => decodeStringTensor(bytes.subarray(0, bytes.length - 1), 1, 'graph'), SSTableError)
  assert.throws(() => decodeStringTensor(bytes, 2, 'graph'), SSTableError)
})

test('a truncated index is INVALID_MODEL at every length, naming the file', async () => {
  const dir = join(root, 'mlp-tf-checkpoint')
  const full = new Uint8Array(await readFile(join(dir, 'ckpt-1.index')))
  for (let n = 0; n < full.length; n++) {
    const access = await folderAccess(dir, new Map([['ckpt-1.index', full.subarray(0, n)]]))
    await assert.rejects(readCheckpoint(access, 'ckpt-1.index'), (e: unknown) => {
      assert.ok(e instanceof InvalidModelError, `length ${n}: ${String(e)}`)
      assert.equal(e.code, 'INVALID_MODEL')
      assert.match(e.message, /^ckpt-1\.index: /)
      return true
    })
  }
})

test('damage: a flipped byte fails the block checksum; a compression flag and a wrong magic are named', async () => {
  const file = new Uint8Array(await readFile(join(root, 'mlp-tf-checkpoint', 'ckpt-1.index')))
  const footer = readFooter(file)
  const flipped = file.slice()
  flipped[10]! ^= 0x40
  assert.throws(() => readTable(flipped), /fails its checksum/)
  // Set the index block's compression type to snappy (1) and fix its CRC, so the flag is what is refused.
  const snappy = file.slice()
  const end = footer.index.offset + footer.index.size
  snappy[end] = 1
  new DataView(snappy.buffer).setUint32(end + 1, maskCrc(crc32c(snappy.subarray(footer.index.offset, end + 1))), true)
  assert.throws(() => readTable(snappy), /snappy-compressed; mvc reads uncompressed/)
  snappy[end] = 7
  new DataView(snappy.buffer).setUint32(end + 1, maskCrc(crc32c(snappy.subarray(footer.index.offset, end + 1))), true)
  assert.throws(() => readTable(snappy), /unknown type 7/)
  const magic = file.slice()
  magic[magic.length - 1]! ^= 1
  assert.throws(() => readFooter(magic), /table magic/)
  assert.equal(new DataView(file.buffer, file.length - 8).getBigUint64(0, true), TABLE_MAGIC)
})

test('random mutations inside a block (with its CRC recomputed) never crash the reader', async () => {
  const dir = join(root, 'mlp-tf-checkpoint-optimizer')
  const file = new Uint8Array(await readFile(join(dir, 'ckpt-1.index')))
  const footer = readFooter(file)
  const index = blockEntries(readBlock(file, footer.index, 'index'), 'index')
  assert.ok(index.length >= 1)
  // The first data block starts at 0; its handle's size is in the index entry's value (varint offset 0, varint size).
  const first = readTable(file) // sanity: the original reads
  assert.ok(first.length > 10)
  const v = index[0]!.value
  let size = 0
  let shift = 0
  for (let i = 1; i < v.length; i++) { size |= (v[i]! & 0x7f) << shift; shift += 7; if ((v[i]! & 0x80) === 0) break }
  let seed = 20261130
  const rand = (): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32 }
  let invalid = 0
  for (let round = 0; round < 400; round++) {
    const m = file.slice()
    const flips = 1 + Math.floor(rand() * 3)
    for (let k = 0; k < flips; k++) m[Math.floor(rand() * size)] = Math.floor(rand() * 256)
    new DataView(m.buffer).setUint32(size + 1, maskCrc(crc32c(m.subarray(0, size + 1))), true)
    const access = await folderAccess(dir, new Map([['ckpt-1.index', m]]))
    try {
      await readCheckpoint(access, 'ckpt-1.index')
    } catch (e) {
      assert.ok(e instanceof InvalidModelError, `round ${round}: ${String(e)}`)
      invalid++
    }
  }
  assert.ok(invalid > 100, `${invalid} of 400 mutations were refused`)
})

test('a missing data shard is INVALID_MODEL naming the shard', async () => {
  const dir = join(root, 'mlp-tf-checkpoint-sharded')
  const access = await folderAccess(dir)
  ;(access.files as Map<string, SnapshotFile>).delete('weights.data-00007-of-00012')
  await assert.rejects(readCheckpoint(access, 'weights.index'), (e: unknown) => e instanceof InvalidModelError && /weights\.data-00007-of-00012/.test(e.message))
  assert.ok((await stat(join(dir, 'weights.data-00007-of-00012'))).size > 0)
})
