/**
 * Behavioural diff (`mvc diff a b --outputs`): run both versions' models on the same inputs — a's
 * recorded reference inputs, or the user's — with one runtime and backend, and report how each output
 * moved: max and mean |b − a|, the share of elements that changed, and whether the change stays within
 * the tolerance a's record gives that output on other runtimes (reference.ts), i.e. whether it is
 * larger than what a different machine could explain.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { InvalidArgumentError, VerificationUnavailableError, isMvcError } from '../../errors.js'
import { decodeObject } from '../../content/block.js'
import type { Manifest } from '../../format/objects.js'
import type { OutputCheck, RuntimeRecord, VerificationRecord } from '../../format/verification.js'
import { adapterFor } from '../../formats/index.js'
import type { ModelFormat, SnapshotRanges } from '../../formats/interface.js'
import { decodeTensorData, type TensorData } from '../../formats/tensor-data.js'
import { materialize } from '../materialize.js'
import { readFileBytes } from '../objects.js'
import type { Repo } from '../repo.js'
import { recordedInputs } from '../verify/check.js'
import { diskRanges, storeRanges } from '../verify/files.js'
import { conformInputs, parseInputs, referenceInputs } from '../verify/inputs.js'
import { concreteShape } from '../verify/inputs.js'
import type { VerifyProgress } from '../verify/record.js'
import { elementDiff, scaleOf, setDiff, sha256Hex } from '../verify/reference.js'
import { Runtimes } from '../verify/runtimes.js'
import { diffSides, fullName, type Side } from './sides.js'

export interface OutputsDiffOptions {
  readonly repo: Repo
  readonly a: string
  /** Another version; absent: the working folder at a's path. */
  readonly b?: string
  /** Inputs file bytes (JSON, .npy, .npz) instead of a's recorded reference inputs. */
  readonly inputs?: Uint8Array
  readonly backend?: string
  readonly runtime?: string
  readonly python?: string
  readonly customObjects?: readonly string[]
  readonly onProgress?: (p: VerifyProgress) => void
  /** Narrow to these tracked paths (`mvc diff v1 v2 --outputs -- model`). */
  readonly paths?: readonly string[]
}

export interface OutputChange {
  readonly name: string
  /** 'same': identical bytes; 'within': changed within a's recorded tolerance for other runtimes; 'changed': beyond it; 'shape' / 'dtype' / 'missing'. */
  readonly status: 'same' | 'within' | 'changed' | 'shape' | 'dtype' | 'added' | 'removed'
  readonly shape: { readonly a: readonly number[] | null, readonly b: readonly number[] | null }
  readonly maxAbsDiff: number | null
  /** maxAbsDiff / max |a|. */
  readonly relDiff: number | null
  readonly meanAbsDiff: number | null
  /** Elements that differ, of `elements`. */
  readonly changedElements: number | null
  readonly elements: number | null
  /** The rule and tolerance a's record gives this output on other runtimes (null when a recorded none). */
  readonly rule: string | null
  readonly atol: number | null
  readonly rtol: number | null
  readonly note: string | null
  /** An intermediate tensor (the values a discrete op chooses from), compared beside the outputs. */
  readonly probe?: boolean
}

export interface ModelOutputsDiff {
  readonly path: string
  readonly status: 'compared' | 'skipped'
  readonly reason: string | null
  /** Where the inputs came from: a's record, the user's file, or generated now (a recorded none). */
  readonly inputs: 'recorded' | 'given' | 'generated'
  readonly runtime: RuntimeRecord | null
  readonly outputs: readonly OutputChange[]
}

export interface OutputsDiff {
  readonly models: readonly ModelOutputsDiff[]
  /** True when some output of some model is not bit-identical. */
  readonly changed: boolean
}

interface Source {
  readonly side: Side
  readonly models: Map<string, { format: string, adapter: ModelFormat }>
  readFile (rel: string): Promise<Uint8Array>
  dir (): Promise<string | undefined>
  readonly files: SnapshotRanges
  close (): Promise<void>
}

async function modelsOfSide (side: Side, formats: readonly ModelFormat[]): Promise<Map<string, { format: string, adapter: ModelFormat }>> {
  const out = new Map<string, { format: string, adapter: ModelFormat }>()
  for (const m of side.manifest.models) {
    const value = await side.objects.get(m.model) as { format?: unknown }
    const format = typeof value?.format === 'string' ? value.format : ''
    const adapter = adapterFor(formats, format)
    if (adapter !== undefined) out.set(m.path, { format, adapter })
  }
  return out
}

async function sourceOf (repo: Repo, side: Side, prefixed: boolean): Promise<Source> {
  const models = await modelsOfSide(side, repo.formats)
  const manifest: Manifest = side.manifest
  if (side.endpoint.worktree) {
    // Combined under the paths: names are relative to the repository's root.
    const abs = prefixed ? repo.root : join(repo.root, side.endpoint.path)
    const base = !prefixed && manifest.kind === 'file' ? dirname(abs) : abs
    return { side, models, readFile: async rel => await readFile(join(base, rel)), dir: async () => base, files: diskRanges(base), close: async () => {} }
  }
  const files = new Map(manifest.entries.map(e => [e.path, e.file]))
  let temp: string | undefined
  return {
    side,
    models,
    readFile: async rel => {
      const f = files.get(rel)
      if (f === undefined) throw new InvalidArgumentError(`v${String(side.endpoint.version)} has no file ${rel}`, { path: rel })
      return await readFileBytes(repo.store, f)
    },
    files: storeRanges(repo.store, files, `v${String(side.endpoint.version)}`),
    dir: async () => {
      if (temp === undefined) {
        temp = await mkdtemp(join(tmpdir(), 'mvc-diff-'))
        await materialize({ store: repo.store, manifest, target: manifest.kind === 'file' ? join(temp, manifest.entries[0]!.path) : join(temp, 'v') })
      }
      return manifest.kind === 'file' ? temp : join(temp, 'v')
    },
    close: async () => { if (temp !== undefined) await rm(temp, { recursive: true, force: true }) }
  }
}

function reasonOf (e: unknown): string {
  return isMvcError(e) || e instanceof Error ? e.message : String(e)
}

/** Runs a's and b's models on the same inputs and reports per-output differences. */
export async function diffOutputs (options: OutputsDiffOptions): Promise<OutputsDiff> {
  const { repo } = options
  // The same sides as the diff itself, narrowed the same way (`-- <path>`), so models pair up by name.
  const { a: sideA, b: sideB, prefixed } = await diffSides(repo, options.a, options.b, options.paths)
  // a's record names models under their paths when a tracks several, relative to its path when one.
  const commitA = sideA.commit!
  const recordNameOf = (name: string): string => {
    const full = fullName(name, prefixed, { path: sideA.endpoint.path, kind: sideA.manifest.kind === 'file' ? 'file' : 'dir' })
    if (commitA.paths.length > 1) return full
    const x = commitA.paths[0]!.path
    return full === x ? basename(x) : full.startsWith(`${x}/`) ? full.slice(x.length + 1) : full
  }
  const a = await sourceOf(repo, sideA, prefixed)
  const b = await sourceOf(repo, sideB, prefixed)
  const record: VerificationRecord | null = sideA.commit?.verification ?? null
  const given = options.inputs === undefined ? undefined : parseInputs(options.inputs)
  const runtimes = new Runtimes({ backend: options.backend, python: options.python, customObjects: options.customObjects })
  const paths = [...new Set([...a.models.keys(), ...b.models.keys()])].sort()
  const models: ModelOutputsDiff[] = []
  const start = Date.now()
  try {
    for (const [i, path] of paths.entries()) {
      const progress = (phase: VerifyProgress['phase']): void => options.onProgress?.({ phase, model: path, index: i + 1, total: paths.length, elapsedMs: Date.now() - start })
      const ma = a.models.get(path)
      const mb = b.models.get(path)
      if (ma === undefined || mb === undefined) {
        models.push({ path, status: 'skipped', reason: ma === undefined ? 'only in b' : 'only in a', inputs: 'generated', runtime: null, outputs: [] })
        continue
      }
      const rec = record?.models.find(m => m.path === recordNameOf(path))
      const recorded = rec?.status === 'recorded' ? rec : undefined
      try {
        progress('load')
        const prefer = options.runtime ?? recorded?.runtime?.id
        const la = await runtimes.load(ma.adapter, { format: ma.format, path }, a.readFile, a.dir, prefer, a.files)
        try {
          const lb = await runtimes.load(mb.adapter, { format: mb.format, path }, b.readFile, b.dir, la.runtime.id, b.files)
          try {
            let inputs: TensorData[]
            let source: ModelOutputsDiff['inputs']
            if (given !== undefined) { inputs = conformInputs(la.model.inputs, given); source = 'given' } else if (recorded !== undefined) { inputs = await recordedInputs(repo.store, recorded); source = 'recorded' } else {
              inputs = referenceInputs(undefined, la.model.inputs.map(s => ({ ...s, shape: concreteShape(s.shape) })))
              source = 'generated'
            }
            progress('run')
            // The intermediate tensors a's record probed (or the model's), when both runtimes can fetch them.
            const recordedProbes = (recorded?.reference?.outputs ?? []).filter(o => o.probe === true).map(o => o.name)
            let probes = la.model.probes !== undefined && lb.model.probes !== undefined ? (recordedProbes.length > 0 ? recordedProbes : [...la.model.probes]) : []
            let oa: TensorData[]; let ob: TensorData[]
            try {
              oa = await la.model.run(inputs, probes.length > 0 ? probes : undefined)
              ob = await lb.model.run(inputs, probes.length > 0 ? probes : undefined)
            } catch (e) {
              if (probes.length === 0) throw e
              probes = []
              oa = await la.model.run(inputs)
              ob = await lb.model.run(inputs)
            }
            const checks = new Map((recorded?.reference?.outputs ?? []).map(o => [o.name, o.check]))
            const legacy = recorded !== undefined && recorded.reference === undefined && record !== null ? record.tolerance : undefined
            const runtime = { id: la.runtime.id, version: la.open.version, backend: la.open.backend }
            const probeSet = new Set(probes)
            const outputs = compareAll(oa, ob, checks, legacy).map(o => probeSet.has(o.name) ? { ...o, probe: true } : o)
            models.push({ path, status: 'compared', reason: null, inputs: source, runtime, outputs })
          } finally { lb.model.dispose() }
        } finally { la.model.dispose() }
        progress('done')
      } catch (e) {
        if (!(e instanceof VerificationUnavailableError) && !(isMvcError(e) && (e.code === 'INVALID_MODEL' || e.code === 'INVALID_ARGUMENT'))) throw e
        models.push({ path, status: 'skipped', reason: reasonOf(e), inputs: given !== undefined ? 'given' : recorded !== undefined ? 'recorded' : 'generated', runtime: null, outputs: [] })
      }
    }
  } finally {
    await runtimes.close()
    await a.close()
    await b.close()
    await sideA.tensors.close()
    await sideB.tensors.close()
  }
  return { models, changed: models.some(m => m.outputs.some(o => o.status !== 'same')) }
}

function compareAll (oa: readonly TensorData[], ob: readonly TensorData[], checks: ReadonlyMap<string, OutputCheck>, legacy: { atol: number, rtol: number } | undefined): OutputChange[] {
  const out: OutputChange[] = []
  for (const x of oa) {
    const y = ob.find(t => t.name === x.name)
    const check = checks.get(x.name)
    out.push(y === undefined ? one(x.name, 'removed', x.shape, null, check) : compareOne(x, y, check, legacy))
  }
  for (const y of ob) if (!oa.some(t => t.name === y.name)) out.push(one(y.name, 'added', null, y.shape, undefined))
  return out
}

function one (name: string, status: OutputChange['status'], a: readonly number[] | null, b: readonly number[] | null, check: OutputCheck | undefined, note: string | null = null): OutputChange {
  return { name, status, shape: { a, b }, maxAbsDiff: null, relDiff: null, meanAbsDiff: null, changedElements: null, elements: null, rule: check?.rule ?? null, atol: check?.atol ?? null, rtol: check?.rtol ?? null, note }
}

function compareOne (x: TensorData, y: TensorData, check: OutputCheck | undefined, legacy: { atol: number, rtol: number } | undefined): OutputChange {
  const sameShape = x.shape.length === y.shape.length && x.shape.every((d, i) => d === y.shape[i])
  if (!sameShape) return one(x.name, 'shape', x.shape, y.shape, check)
  if (x.dtype !== y.dtype) return one(x.name, 'dtype', x.shape, y.shape, check, `${x.dtype} → ${y.dtype}`)
  const identical = sha256Hex(x.data) === sha256Hex(y.data)
  const d = elementDiff(x, y, { atol: 0, rtol: 0 })
  let changed = 0; let sum = 0; let counted = 0
  if (x.dtype !== 'string') {
    const xs = decodeTensorData(x).values as ArrayLike<number>
    const ys = decodeTensorData(y).values as ArrayLike<number>
    for (let i = 0; i < xs.length; i++) {
      const p = xs[i]!; const q = ys[i]!
      if (!(p === q || (Number.isNaN(p) && Number.isNaN(q)))) changed++
      if (Number.isFinite(p) && Number.isFinite(q)) { sum += Math.abs(q - p); counted++ }
    }
  } else changed = identical ? 0 : 1
  const scale = scaleOf(x)
  const rule = check?.rule ?? (legacy !== undefined ? (x.dtype === 'float32' ? 'allclose' : 'exact') : null)
  const atol = check?.atol ?? (legacy !== undefined && x.dtype === 'float32' ? legacy.atol : legacy !== undefined ? 0 : null)
  const rtol = check?.rtol ?? (legacy !== undefined && x.dtype === 'float32' ? legacy.rtol : legacy !== undefined ? 0 : null)
  let within = false
  let note: string | null = null
  if (!identical && rule !== null && atol !== null && rtol !== null) {
    if (rule === 'allclose') within = elementDiff(x, y, { atol, rtol }).maxExcess <= 0
    else if (rule === 'set' && x.dtype !== 'string') {
      within = setDiff(x, y, { atol, rtol }).unmatched === 0
      if (within) note = 'same rows in another order'
    } else if (rule === 'none') note = 'a\'s record does not compare this output across runtimes'
  }
  return {
    name: x.name,
    status: identical ? 'same' : within ? 'within' : 'changed',
    shape: { a: x.shape, b: y.shape },
    maxAbsDiff: d.maxAbsDiff,
    relDiff: d.maxAbsDiff === 0 ? 0 : scale === 0 ? null : d.maxAbsDiff / scale,
    meanAbsDiff: counted === 0 ? 0 : sum / counted,
    changedElements: changed,
    elements: d.elements,
    rule,
    atol,
    rtol,
    note
  }
}
