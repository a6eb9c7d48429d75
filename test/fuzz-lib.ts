/**
 * Fuzzing model files and repository objects (shared by test/fuzz.test.ts, bounded, and
 * bench/fuzz-models.ts, long). Cases are mutations of real files: the TF.js fixtures of
 * fixtures/build.ts and the checked-in TensorFlow files of fixtures/tf/checked-in/ (a SavedModel, TF
 * checkpoints, a TF.js conversion); objects are the dag-cbor objects a real commit of them stored.
 *
 * Each case runs in a worker thread (fuzz-worker.ts): a model case commits the mutated folder through
 * the library (`Repository.commit`, verification on for TF.js models), an object case decodes and
 * parses a mutated object the way clone, checkout and fsck read one. The outcome is `ok`, `typed` (an
 * MvcError: the documented answer to bad input), `crash` (anything else: what the CLI would print as
 * "unexpected error") or `hang` (no answer within the case time limit: the worker is terminated —
 * which stops even a synchronous endless loop — and a new one continues with the next case). A
 * `model.json` that a mutation made unparsable must be refused (`silent-plain` otherwise).
 */
import { Worker } from 'node:worker_threads'
import { cp, mkdir, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { REPO_ROOT } from './helpers.js'

export type Rng = () => number

/** Seeded PRNG (mulberry32) in [0, 1). */
export function rngFor (seed: number): Rng {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
export const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1))
export const choose = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!

export interface FuzzOptions {
  /** Largest string a mutation may insert, in bytes (the bench uses 40 MB, the test less). */
  readonly bigString: number
  /** Deepest nesting a mutation may build (100,000 in both). */
  readonly deep: number
}

// ---------------------------------------------------------------------------------------------------
// JSON mutations

type J = unknown

/** Every container of a JSON value with the key or index of each child, iteratively (values are shallow). */
function slots (root: J): Array<{ parent: Record<string, J> | J[], key: string | number }> {
  const out: Array<{ parent: Record<string, J> | J[], key: string | number }> = []
  const stack: J[] = [root]
  while (stack.length > 0 && out.length < 20000) {
    const v = stack.pop()
    if (Array.isArray(v)) v.forEach((x, i) => { out.push({ parent: v, key: i }); stack.push(x) })
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) { out.push({ parent: v as Record<string, J>, key: k }); stack.push(x) }
  }
  return out
}

function deepArray (depth: number, inner: J = 0): string {
  return '['.repeat(depth) + JSON.stringify(inner) + ']'.repeat(depth)
}

/** A hostile JSON value (as text, so that nesting beyond what JSON.stringify can make is possible). */
function hostileValue (rng: Rng, o: FuzzOptions): string {
  switch (int(rng, 0, 15)) {
    case 0: return 'null'
    case 1: return '-1'
    case 2: return '1e308'
    case 3: return String(2 ** 53 + int(rng, 0, 9))
    case 4: return '"' + 'x'.repeat(int(rng, 0, 64)) + '"'
    case 5: return '[]'
    case 6: return '{}'
    case 7: return deepArray(int(rng, 10, o.deep))
    case 8: return '"' + 'A'.repeat(int(rng, 1024, o.bigString)) + '"'
    case 9: return JSON.stringify([int(rng, -5, 5), int(rng, 0, 1 << 30), int(rng, 0, 1 << 30)])
    case 10: return JSON.stringify(choose(rng, ['float32', 'int32', 'string', 'bool', 'complex64', 'float16', 'uint8', 'nonsense', '']))
    case 11: return JSON.stringify(choose(rng, ['../escape.bin', '/etc/passwd', 'missing.bin', '', 'a/../../b', 'x\u0000y', 'C:\\\\win']))
    case 12: return '0.5'
    case 13: return 'true'
    case 14: return '"' + '\\u0000\\ud800'.repeat(int(rng, 1, 16)) + '"'
    default: return JSON.stringify({ class_name: 'Dense', config: { name: 'x' }, inbound_nodes: [[['nope', 0, 0, {}]]] })
  }
}

const PLACEHOLDER = '"\u0001mvc-fuzz\u0001"'

/** Serialises `root` with one slot's value replaced by raw JSON text. */
function withRaw (root: J, slot: { parent: Record<string, J> | J[], key: string | number }, raw: string): string {
  const saved = (slot.parent as Record<string, J>)[slot.key as string]
  ;(slot.parent as Record<string, J>)[slot.key as string] = '\u0001mvc-fuzz\u0001'
  const text = JSON.stringify(root)
  ;(slot.parent as Record<string, J>)[slot.key as string] = saved
  return text.replace(PLACEHOLDER, () => raw)
}

/** Layers of a TF.js layers-model topology (functional or sequential), when there are any. */
function topologyLayers (root: J): Array<Record<string, J>> {
  const t = (root as { modelTopology?: { model_config?: J, config?: J } } | null)?.modelTopology
  const m = (t as { model_config?: J } | undefined)?.model_config ?? t
  const layers = (m as { config?: { layers?: J } } | undefined)?.config?.layers
  return Array.isArray(layers) ? layers.filter((l): l is Record<string, J> => l !== null && typeof l === 'object') : []
}

export interface Mutation { readonly kind: string, readonly bytes: Uint8Array }

const enc = new TextEncoder()

/** One mutation of a JSON file's text (model.json, a weights manifest). */
export function mutateJson (rng: Rng, text: string, o: FuzzOptions): Mutation {
  const root = JSON.parse(text) as J
  const all = slots(root)
  const kinds = ['truncate', 'flip', 'delete', 'replace', 'replace', 'replace', 'missing-input', 'cycle', 'node-index', 'shape', 'dtype', 'path', 'deep-wrap', 'big-string', 'duplicate-layer', 'insert-bytes'] as const
  const kind = choose(rng, kinds)
  switch (kind) {
    case 'truncate': return { kind, bytes: enc.encode(text.slice(0, int(rng, 0, Math.max(0, text.length - 1)))) }
    case 'flip': {
      const b = enc.encode(text)
      for (let n = int(rng, 1, 8); n > 0; n--) b[int(rng, 0, b.length - 1)]! ^= 1 << int(rng, 0, 7)
      return { kind, bytes: b }
    }
    case 'insert-bytes': {
      const at = int(rng, 0, text.length)
      return { kind, bytes: enc.encode(text.slice(0, at) + choose(rng, ['{', '[', '"', ',', ']', '}', '\\', '\u0000', 'NaN', '1e999']) + text.slice(at)) }
    }
    case 'delete': {
      if (all.length === 0) break
      const s = choose(rng, all)
      if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1)
      else delete s.parent[s.key as string]
      return { kind, bytes: enc.encode(JSON.stringify(root)) }
    }
    case 'missing-input': case 'cycle': case 'node-index': case 'duplicate-layer': {
      const layers = topologyLayers(root)
      const withInbound = layers.filter(l => Array.isArray(l.inbound_nodes) && (l.inbound_nodes as J[]).length > 0)
      if (withInbound.length === 0) break
      const l = choose(rng, withInbound)
      const node = (l.inbound_nodes as J[][])[0]!
      const input = node[0] as J[]
      if (kind === 'missing-input') input[0] = 'no_such_layer_' + String(int(rng, 0, 99))
      else if (kind === 'node-index') input[1] = int(rng, 1, 5)
      else if (kind === 'cycle') {
        const name = (l.name ?? (l.config as Record<string, J> | undefined)?.name) as string
        const target = choose(rng, withInbound)
        ;((target.inbound_nodes as J[][])[0]![0] as J[])[0] = name // name feeds target, target (maybe) feeds name
        ;(input as J[])[0] = (target.name ?? (target.config as Record<string, J> | undefined)?.name) as string
      } else {
        const other = choose(rng, layers)
        other.name = l.name
        if (other.config !== null && typeof other.config === 'object') (other.config as Record<string, J>).name = l.name
      }
      return { kind, bytes: enc.encode(JSON.stringify(root)) }
    }
    case 'shape': case 'dtype': case 'path': {
      const field = kind === 'path' ? 'paths' : kind
      const targets = all.filter(s => s.key === field)
      if (targets.length === 0) break
      const s = choose(rng, targets)
      const raw = kind === 'shape'
        ? JSON.stringify(Array.from({ length: int(rng, 0, 4) }, () => choose(rng, [0, 1, -1, 3, 2 ** 31, 2 ** 53, 1.5])))
        : kind === 'dtype'
          ? JSON.stringify(choose(rng, ['float64', 'string', 'int64', 'uint8', '', 'bool', 'complex64']))
          : JSON.stringify([choose(rng, ['../x.bin', '/etc/passwd', 'nope.bin', '', 'a/b/../../../c'])])
      return { kind, bytes: enc.encode(withRaw(root, s, raw)) }
    }
    case 'deep-wrap': return { kind, bytes: enc.encode(deepArray(int(rng, 100, o.deep), '§').replace('"§"', text)) }
    case 'big-string': {
      if (all.length === 0) break
      return { kind, bytes: enc.encode(withRaw(root, choose(rng, all), '"' + 'B'.repeat(int(rng, 1 << 16, o.bigString)) + '"')) }
    }
    case 'replace': break
  }
  if (all.length === 0) return { kind: 'replace-root', bytes: enc.encode(hostileValue(rng, o)) }
  return { kind: 'replace', bytes: enc.encode(withRaw(root, choose(rng, all), hostileValue(rng, o))) }
}

/** One mutation of a binary file (a weight shard, a checkpoint, a SavedModel protobuf). */
export function mutateBinary (rng: Rng, bytes: Uint8Array): Mutation {
  const kind = choose(rng, ['truncate', 'flip', 'extend', 'zero-run', 'empty'] as const)
  const b = Uint8Array.from(bytes)
  switch (kind) {
    case 'truncate': return { kind, bytes: b.subarray(0, int(rng, 0, Math.max(0, b.length - 1))) }
    case 'flip': for (let n = int(rng, 1, 16); n > 0 && b.length > 0; n--) b[int(rng, 0, b.length - 1)]! ^= 1 << int(rng, 0, 7); return { kind, bytes: b }
    case 'extend': { const out = new Uint8Array(b.length + int(rng, 1, 4096)); out.set(b); for (let i = b.length; i < out.length; i++) out[i] = int(rng, 0, 255); return { kind, bytes: out } }
    case 'zero-run': { if (b.length === 0) return { kind, bytes: b }; const at = int(rng, 0, b.length - 1); b.fill(0, at, Math.min(b.length, at + int(rng, 1, 256))); return { kind, bytes: b } }
    case 'empty': return { kind, bytes: new Uint8Array(0) }
  }
}

// ---------------------------------------------------------------------------------------------------
// Seeds

export interface Seed {
  readonly name: string
  /** Absolute folder holding the model's files. */
  readonly dir: string
  /** Files relative to `dir`. */
  readonly files: readonly string[]
  /** Verify at commit (TF.js models, in-process; the Python runtime is too slow for thousands of cases). */
  readonly verify: boolean
}

async function listFiles (dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix === '' ? e.name : `${prefix}/${e.name}`
    if (e.isDirectory()) out.push(...await listFiles(dir, rel))
    else if (e.isFile()) out.push(rel)
  }
  return out.sort()
}

/** Checked-in real TensorFlow files used as seeds (small, and of every format this mvc reads). */
const CHECKED_IN = ['mlp-tfjs', 'mlp-savedmodel', 'mlp-tf-checkpoint-sharded', 'mlp-tf-checkpoint-optimizer', 'mlp-keras3-tf-checkpoint']

/** Builds the TF.js fixtures into `dir` and lists them with the checked-in TensorFlow seeds. */
export async function prepareSeeds (dir: string): Promise<Seed[]> {
  const { buildFixtures } = await import('../fixtures/build.js')
  const built = await buildFixtures(join(dir, 'tfjs'))
  const seeds: Seed[] = built.map(f => ({ name: f.name, dir: f.dir, files: f.files.map(x => x.path), verify: f.format !== 'weights-manifest' }))
  for (const name of CHECKED_IN) {
    const src = join(REPO_ROOT, 'fixtures', 'tf', 'checked-in', name)
    if ((await stat(src).catch(() => undefined)) === undefined) continue
    const dst = join(dir, 'tf', name)
    await mkdir(dst, { recursive: true })
    await cp(src, dst, { recursive: true })
    seeds.push({ name, dir: dst, files: await listFiles(dst), verify: name === 'mlp-tfjs' })
  }
  return seeds
}

// ---------------------------------------------------------------------------------------------------
// Running

export type OutcomeKind = 'ok' | 'typed' | 'crash' | 'hang' | 'silent-plain'
export interface Outcome {
  readonly i: number
  readonly kind: OutcomeKind
  /** seed/file/mutation. */
  readonly what: string
  readonly code?: string
  readonly message?: string
  readonly ms: number
}

export interface RunSummary {
  readonly cases: number
  readonly counts: Record<OutcomeKind, number>
  readonly codes: Record<string, number>
  readonly bad: Outcome[]
  readonly seconds: number
  /** Slowest case, ms. */
  readonly slowestMs: number
}

export interface RunOptions {
  readonly mode: 'models' | 'objects'
  readonly seed: number
  readonly cases: number
  /** A case without an answer after this long is a hang. */
  readonly caseTimeoutMs: number
  readonly fuzz: FuzzOptions
  /** models: the seeds and a repository root to commit in; objects: the objects to mutate. */
  readonly seeds?: readonly Seed[]
  readonly repo?: string
  readonly objects?: ReadonlyArray<{ readonly cid: string, readonly bytes: Uint8Array }>
  readonly onOutcome?: (o: Outcome) => void
}

const WORKER = fileURLToPath(new URL('./fuzz-worker.js', import.meta.url))

/** Runs cases [0, cases) in worker threads, one at a time, replacing a worker that hangs. */
export async function runFuzz (options: RunOptions): Promise<RunSummary> {
  const started = performance.now()
  const counts: Record<OutcomeKind, number> = { ok: 0, typed: 0, crash: 0, hang: 0, 'silent-plain': 0 }
  const codes: Record<string, number> = {}
  const bad: Outcome[] = []
  let slowestMs = 0
  let next = 0
  const record = (o: Outcome): void => {
    counts[o.kind]++
    if (o.code !== undefined) codes[o.code] = (codes[o.code] ?? 0) + 1
    if (o.kind === 'crash' || o.kind === 'hang' || o.kind === 'silent-plain') bad.push(o)
    slowestMs = Math.max(slowestMs, o.ms)
    options.onOutcome?.(o)
  }
  while (next < options.cases) {
    await new Promise<void>((resolve, reject) => {
      const worker = new Worker(WORKER, {
        workerData: { mode: options.mode, seed: options.seed, start: next, end: options.cases, fuzz: options.fuzz, seeds: options.seeds, repo: options.repo, objects: options.objects },
        resourceLimits: { maxOldGenerationSizeMb: 2048 }
      })
      let current: { i: number, what: string, at: number } | undefined
      let finished = false
      const finish = (): void => { if (!finished) { finished = true; clearInterval(timer); resolve() } }
      const timer = setInterval(() => {
        if (current === undefined || performance.now() - current.at < options.caseTimeoutMs) return
        record({ i: current.i, kind: 'hang', what: current.what, message: `no answer after ${options.caseTimeoutMs} ms`, ms: performance.now() - current.at })
        next = current.i + 1
        current = undefined
        void worker.terminate().then(finish, finish)
      }, 100)
      worker.on('message', (m: { type: 'start', i: number, what: string } | { type: 'result', outcome: Outcome }) => {
        if (m.type === 'start') current = { i: m.i, what: m.what, at: performance.now() }
        else { record(m.outcome); next = m.outcome.i + 1; current = undefined }
      })
      worker.on('error', err => {
        // The worker itself died (out of memory, an uncaught error outside a case): that case crashed.
        if (current !== undefined) {
          record({ i: current.i, kind: 'crash', what: current.what, message: `worker died: ${err.message}`, ms: performance.now() - current.at })
          next = current.i + 1
          current = undefined
          finish()
        } else { clearInterval(timer); reject(err) }
      })
      worker.on('exit', () => finish())
    })
  }
  return { cases: options.cases, counts, codes, bad, seconds: (performance.now() - started) / 1000, slowestMs }
}
