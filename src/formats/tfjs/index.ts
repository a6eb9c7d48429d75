/**
 * The TensorFlow.js format adapter: LayersModels and GraphModels (`model.json` + weight shards) and
 * weights-only manifests (`*weights_manifest.json`), recognised whatever the JSON file is called.
 *
 * Glossary:
 * - model JSON: the file naming the model (`format`, `modelTopology`, `weightsManifest`).
 * - weights manifest: groups of `{ paths, weights }`; each group's weights are laid end to end over
 *   the concatenation of its shard files (manifest.ts, `planTensors`).
 * - shard: a `.bin` file holding weight bytes. Shards are covered completely by tensors, so they are
 *   rebuilt from tensor chunks alone; the model JSON itself is stored as an ordinary file.
 * - runtime: TF.js in this process (runtime.ts: backend selection; model.ts: loading and inference).
 */
import { createHash } from 'node:crypto'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { CID } from 'multiformats/cid'
import { fail, isCount, parseModel } from '../../format/objects.js'
import type { FileAccess, LoadedModel, ModelFormat, ModelLayout, ModelRuntime, OpenRuntime, StoredModel } from '../interface.js'
import { parseModelJson, planNeedsBytes, planTensors, type ModelDescriptor, type ModelFormat as TfjsModelKind } from './manifest.js'
import { BACKENDS, loadRuntime, runtimeFingerprint, type BackendName, type LoadedRuntime } from './runtime.js'
import { inputSignature, loadModel, runModel } from './model.js'
import { InvalidArgumentError, InvalidModelError } from '../../errors.js'
import { withTimeLimit } from '../time-limit.js'

export { MODEL_JSON, WEIGHTS_BIN, artifactsToFiles, filesToArtifacts, loadArtifacts, saveResult } from './artifacts.js'
export { BACKENDS, loadRuntime, runtimeFingerprint, type BackendName, type LoadedRuntime } from './runtime.js'

const FORMATS: readonly TfjsModelKind[] = ['layers-model', 'graph-model', 'weights-manifest']
/** JSON files larger than this are not examined as models. */
export const MAX_MODEL_JSON = 64 << 20

/** A JSON value made safe for dag-cbor (no undefined; integers stay integers). */
function jsonValue (v: unknown): unknown {
  return JSON.parse(JSON.stringify(v ?? null)) as unknown
}

/**
 * Reads the bytes planTensors needs synchronously (string tensors, whose lengths are in the shards):
 * the shards of the groups that hold string weights, read whole. Everything else is never read here.
 */
async function stringShardReader (desc: ModelDescriptor, access: FileAccess): Promise<((shard: string, offset: number, length: number) => Uint8Array) | undefined> {
  if (!planNeedsBytes(desc)) return undefined
  const bytes = new Map<string, Uint8Array>()
  let at = 0
  for (const g of desc.weightsManifest) {
    const shards = desc.shards.slice(at, at + g.paths.length)
    at += g.paths.length
    if (!g.weights.some(w => w.dtype === 'string' && w.quantization === undefined)) continue
    for (const s of shards) if (access.files.has(s) && !bytes.has(s)) bytes.set(s, await access.readAll(s))
  }
  return (shard, offset, length) => (bytes.get(shard) ?? new Uint8Array(0)).subarray(offset, offset + length)
}

function layoutOf (desc: ModelDescriptor, jsonBytes: Uint8Array, plans: ReturnType<typeof planTensors>): ModelLayout {
  const files: string[] = []
  for (const s of desc.shards) if (!files.includes(s)) files.push(s)
  return {
    format: desc.format,
    path: desc.jsonPath,
    files,
    tensors: plans.map(p => ({
      name: p.spec.name,
      dtype: p.spec.dtype,
      shape: [...p.spec.shape],
      quantization: p.spec.quantization,
      spans: p.spans.map(s => ({ file: s.shard, offset: s.offset, length: s.length })),
      byteLength: p.byteLength,
      rowBytes: p.rowBytes
    })),
    topology: desc.topology === null ? null : { format: desc.format, topology: jsonValue(desc.topology), meta: jsonValue(desc.meta) as Record<string, unknown> },
    fingerprint: createHash('sha256').update(jsonBytes).digest('hex'),
    runnable: desc.format !== 'weights-manifest',
    ...(desc.format === 'weights-manifest' ? { notRunnableReason: 'a weights-only manifest has no topology: it cannot be loaded or run alone' } : {}),
    contract: null,
    customObjects: [],
    warnings: [],
    modelObject: ({ tensors, topology }: { tensors: readonly CID[], topology: CID | null }) => ({
      type: 'mvc/model',
      format: desc.format,
      path: desc.jsonPath,
      topology,
      groups: desc.weightsManifest.map(g => [...g.paths]),
      shards: [...desc.shards],
      tensors: plans.map((p, i) => ({ group: p.spec.group, tensor: tensors[i]! }))
    })
  }
}

async function detect (access: FileAccess, claimed: ReadonlySet<string>): Promise<ModelLayout[]> {
  const out: ModelLayout[] = []
  for (const f of access.files.values()) {
    if (!f.path.toLowerCase().endsWith('.json') || f.size > MAX_MODEL_JSON || claimed.has(f.path)) continue
    const bytes = await access.readAll(f.path)
    const desc = parseModelJson(f.path, bytes)
    if (desc === null) continue
    const sizes = new Map<string, number>()
    for (const s of desc.shards) {
      const sf = access.files.get(s)
      if (sf === undefined) {
        throw new InvalidModelError(`${desc.jsonPath}: weight shard ${s} is listed in weightsManifest but is not in the folder; copy the shard next to the model or fix the paths`, { file: desc.jsonPath, shard: s })
      }
      sizes.set(s, sf.size)
    }
    const plans = planTensors(desc, sizes, await stringShardReader(desc, access))
    out.push(layoutOf(desc, bytes, plans))
  }
  return out
}

function readModel (value: unknown): StoredModel {
  const m = parseModel(value)
  if (!(FORMATS as readonly string[]).includes(m.format)) fail('model', `format ${JSON.stringify(m.format)} is not a TF.js format`)
  const { groups, shards } = m.fields
  if (!Array.isArray(groups) || !Array.isArray(shards)) fail('model', 'needs path, groups, shards and tensors')
  if (!groups.every(g => Array.isArray(g) && g.every(p => typeof p === 'string'))) fail('model', 'group paths are strings')
  if (!shards.every(s => typeof s === 'string')) fail('model', 'shard is not a string')
  if (!m.tensors.every(t => isCount(t.group))) fail('model', 'tensor entry needs group and tensor')
  return {
    format: m.format,
    path: m.path,
    topology: m.topology,
    tensors: m.tensors.map(t => ({ tensor: t.tensor, role: 'weights' })),
    files: [...new Set(shards as string[])],
    runnable: m.format !== 'weights-manifest',
    contract: null,
    customObjects: []
  }
}

/**
 * Custom classes for TF.js: JavaScript modules that call `tf.serialization.registerClass` when
 * imported (Python files are for the Python runtime and are skipped here).
 */
export async function importCustomObjects (files: readonly string[]): Promise<void> {
  for (const f of files) {
    if (!/\.(m|c)?js$/i.test(f)) continue
    try {
      await import(pathToFileURL(resolve(f)).href)
    } catch (e) {
      throw new InvalidArgumentError(`cannot import the custom-objects module ${f}: ${e instanceof Error ? e.message : String(e)}`, { path: f }, { cause: e })
    }
  }
}

/**
 * TF.js loaded on the backend the options name (checked: INVALID_ARGUMENT for an unknown one), with the
 * JS modules that register custom layers imported: what every TF.js-based runtime opens with.
 */
export async function openTfjs (options: { readonly backend?: string, readonly customObjects?: readonly string[] }): Promise<LoadedRuntime> {
  const backend = options.backend
  if (backend !== undefined && !(BACKENDS as readonly string[]).includes(backend)) {
    throw new InvalidArgumentError(`unknown TensorFlow.js backend ${JSON.stringify(backend)}; expected one of ${BACKENDS.join(', ')}`, { backend })
  }
  const rt = await loadRuntime(backend as BackendName | undefined)
  await importCustomObjects(options.customObjects ?? [])
  return rt
}

/** TF.js in this process: wasm by default, tfjs-node when installed, cpu always (runtime.ts). */
export const tfjsRuntime: ModelRuntime = {
  id: 'tfjs',
  crossCheckBackends: ['wasm', 'cpu'],
  async open (options): Promise<OpenRuntime> {
    const rt = await openTfjs(options)
    return {
      backend: rt.backend,
      version: rt.tfjsVersion,
      fingerprint: runtimeFingerprint(rt),
      async load (model, read, where): Promise<LoadedModel> {
        // In-process TF.js can loop forever on a hostile model: both steps are time-limited (time-limit.ts).
        const loaded = await withTimeLimit(`loading ${model.path} with TensorFlow.js`, async () => await loadModel(rt, model.path, read, where?.files))
        return {
          get inputs () { return inputSignature(loaded) },
          ...(loaded.kind === 'graph' && loaded.discrete !== undefined ? { discreteOutputs: loaded.discrete } : {}),
          probes: loaded.kind === 'graph' ? loaded.probes ?? [] : [],
          run: async (inputs, probes) => await withTimeLimit(`running ${model.path} with TensorFlow.js`, async () => await runModel(rt, loaded, inputs, probes)),
          dispose: () => { loaded.model.dispose() }
        }
      }
    }
  }
}

export const tfjsFormat: ModelFormat = {
  id: 'tfjs',
  formats: FORMATS,
  detect,
  readModel,
  runtimes: [tfjsRuntime]
}
