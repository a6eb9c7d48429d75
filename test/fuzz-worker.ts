/**
 * Worker thread of the fuzzer (fuzz-lib.ts): runs cases [start, end) one at a time, posting `start`
 * before and `result` after each, so that the parent can tell which case hung or killed the worker.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads'
import { readFile, rm, cp, writeFile, mkdir } from 'node:fs/promises'
import { join, dirname } from 'node:path'
import { CID } from 'multiformats/cid'
import * as dagCbor from '@ipld/dag-cbor'
import { Repository, isMvcError } from '../src/api/index.js'
import { DAG_CBOR, decodeObject, sha256 } from '../src/content/block.js'
import { create as createDigest } from 'multiformats/hashes/digest'
import { parseCommit, parseFile, parseManifest, parseModel, parseTensor, parseTopology } from '../src/format/objects.js'
import { objectLinks } from '../src/format/links.js'
import { readManifest } from '../src/core/objects.js'
import { checkManifestPaths } from '../src/core/materialize.js'
import { adapterFor, DEFAULT_FORMATS } from '../src/formats/index.js'
import { choose, int, mutateBinary, mutateJson, rngFor, type FuzzOptions, type Mutation, type Outcome, type Seed } from './fuzz-lib.js'

interface Data {
  mode: 'models' | 'objects'
  seed: number
  start: number
  end: number
  fuzz: FuzzOptions
  seeds?: Seed[]
  repo?: string
  objects?: Array<{ cid: string, bytes: Uint8Array }>
}
const data = workerData as Data
const post = (m: unknown): void => parentPort!.postMessage(m)

function classify (err: unknown): { kind: 'typed' | 'crash', code?: string, message: string } {
  if (isMvcError(err)) return { kind: 'typed', code: err.code, message: err.message.slice(0, 300) }
  const e = err as Error
  return { kind: 'crash', message: `${e?.name ?? 'thrown'}: ${String(e?.message ?? err).slice(0, 300)}\n${(e?.stack ?? '').split('\n').slice(1, 6).join('\n')}` }
}

async function modelCase (repo: Repository, i: number): Promise<Outcome> {
  const rng = rngFor((data.seed * 1_000_003 + i) >>> 0)
  const seed = choose(rng, data.seeds!)
  const jsons = seed.files.filter(f => f.endsWith('.json'))
  const file = jsons.length > 0 && rng() < 0.75 ? choose(rng, jsons) : choose(rng, seed.files)
  const original = await readFile(join(seed.dir, file))
  let m: Mutation
  if (file.endsWith('.json')) {
    try { m = mutateJson(rng, original.toString('utf8'), data.fuzz) } catch { m = mutateBinary(rng, original) }
  } else m = mutateBinary(rng, original)
  const what = `${seed.name}/${file}/${m.kind}`
  post({ type: 'start', i, what })
  const target = join(repo.root, 'm')
  await rm(target, { recursive: true, force: true })
  await cp(seed.dir, target, { recursive: true })
  await mkdir(dirname(join(target, file)), { recursive: true })
  await writeFile(join(target, file), m.bytes)
  const t0 = performance.now()
  try {
    const r = await repo.commit({ path: target, message: `fuzz ${i}`, allowEmpty: true, verify: seed.verify ? { backend: 'cpu' } : false })
    const ms = performance.now() - t0
    // A model.json a mutation made unparsable must never be stored silently as a plain file.
    if (file.endsWith('model.json') && !(await readManifest(repo.store, r.manifest)).models.some(x => x.path === file)) {
      let parses = true
      try { JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(m.bytes)) } catch { parses = false }
      if (!parses) return { i, kind: 'silent-plain', what, message: 'an unparsable model.json was committed as a plain file', ms }
    }
    return { i, kind: 'ok', what, ms }
  } catch (err) {
    return { i, what, ms: performance.now() - t0, ...classify(err) }
  }
}

/** A dag-cbor CID for bytes (so that hash checks pass and the decoders see the bytes). */
function cborCid (bytes: Uint8Array): CID {
  return CID.createV1(DAG_CBOR, createDigest(0x12, sha256(bytes)))
}

function mutateObject (rng: () => number, bytes: Uint8Array): Mutation {
  const kind = choose(rng, ['value', 'value', 'value', 'flip', 'truncate', 'deep', 'deep-map', 'huge-length', 'link'] as const)
  if (kind === 'flip' || kind === 'truncate') return mutateBinary(rng, bytes).kind === 'flip' ? mutateBinary(rng, bytes) : { kind, bytes: bytes.subarray(0, int(rng, 0, bytes.length)) }
  if (kind === 'deep' || kind === 'deep-map') {
    const depth = int(rng, 100, data.fuzz.deep)
    const head = kind === 'deep' ? 0x81 : 0xa1 // array(1), map(1)
    const out: number[] = []
    for (let d = 0; d < depth; d++) { out.push(head); if (kind === 'deep-map') out.push(0x61, 0x61) } // map key "a"
    return { kind, bytes: Uint8Array.from([...out, ...bytes]) }
  }
  if (kind === 'huge-length') return { kind, bytes: Uint8Array.from([0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...bytes.subarray(0, 16)]) }
  // Structural: change one value of the decoded object and encode it again.
  const value = dagCbor.decode<unknown>(bytes)
  const slotsOf = (root: unknown): Array<{ parent: Record<string, unknown> | unknown[], key: string | number }> => {
    const out: Array<{ parent: Record<string, unknown> | unknown[], key: string | number }> = []
    const stack = [root]
    while (stack.length > 0 && out.length < 5000) {
      const v = stack.pop()
      if (v instanceof Uint8Array || CID.asCID(v) !== null) continue
      if (Array.isArray(v)) v.forEach((x, k) => { out.push({ parent: v, key: k }); stack.push(x) })
      else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) { out.push({ parent: v as Record<string, unknown>, key: k }); stack.push(x) }
    }
    return out
  }
  const all = slotsOf(value)
  if (all.length === 0) return { kind: 'value-root', bytes: dagCbor.encode(choose(rng, [null, 1, 'x', [], {}])) }
  const s = choose(rng, all)
  const candidates: unknown[] = [null, -1, 0, 2 ** 53 - 1, 1e300, 'x', '../../etc/passwd', '', [], {}, true, 0o4777, 'mvc/commit', 'mvc/manifest',
    CID.parse('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'), CID.parse('bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'.replace('bafyrei', 'bafyrei')),
    new Uint8Array(3), 'A'.repeat(int(rng, 1, 1 << 16)), Array.from({ length: int(rng, 0, 5) }, () => int(rng, -3, 1 << 30))]
  ;(s.parent as Record<string, unknown>)[s.key as string] = kind === 'link' ? CID.parse('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku') : choose(rng, candidates)
  try { return { kind: `value:${String(s.key)}`, bytes: dagCbor.encode(value) } } catch { return { kind: 'value-unencodable', bytes } }
}

/** Reads an object the way mvc does: decode (bounded), parse by type, list links, read models through their adapter, check manifest paths. */
function readObject (cid: CID, bytes: Uint8Array): void {
  const v = decodeObject(cid, bytes, 'fuzz')
  const type = (v as { type?: unknown } | null)?.type
  objectLinks(v)
  switch (type) {
    case 'mvc/commit': parseCommit(v); break
    case 'mvc/manifest': checkManifestPaths(parseManifest(v)); break
    case 'mvc/file': parseFile(v); break
    case 'mvc/tensor': parseTensor(v); break
    case 'mvc/topology': parseTopology(v); break
    case 'mvc/model': {
      const m = parseModel(v)
      adapterFor(DEFAULT_FORMATS, m.format)?.readModel(v)
      break
    }
    default: break
  }
}

async function objectCase (i: number): Promise<Outcome> {
  const rng = rngFor((data.seed * 7_000_003 + i) >>> 0)
  const o = choose(rng, data.objects!)
  let m: Mutation
  try { m = mutateObject(rng, o.bytes) } catch { m = mutateBinary(rng, o.bytes) }
  const what = `${o.cid.slice(0, 16)}/${m.kind}`
  post({ type: 'start', i, what })
  const t0 = performance.now()
  try {
    readObject(cborCid(m.bytes), m.bytes)
    return { i, kind: 'ok', what, ms: performance.now() - t0 }
  } catch (err) {
    return { i, what, ms: performance.now() - t0, ...classify(err) }
  }
}

// `node --test dist/test/` loads every file of the folder: outside a worker this module does nothing.
if (!isMainThread && workerData !== null && workerData !== undefined) {
  const repo = data.mode === 'models' ? await Repository.open({ dir: data.repo! }) : undefined
  try {
    for (let i = data.start; i < data.end; i++) {
      const outcome = data.mode === 'models' ? await modelCase(repo!, i) : await objectCase(i)
      post({ type: 'result', outcome })
    }
  } finally {
    await repo?.close()
  }
}
