/**
 * The one converter between TF.js ModelArtifacts and files, used by the IOHandlers
 * (`repo.saveHandler`, `repo.loadHandler`) and by the runtime that loads models for verification: `artifactsToFiles` writes the layout
 * tfjs-node's file:// saver writes (model.json + weights.bin), `filesToArtifacts` is the inverse
 * (what tf.io.getModelArtifactsForJSON does). Neither imports TF.js: only types are used.
 */
import type * as TF from '@tensorflow/tfjs'
import { posix } from 'node:path'
import { InvalidModelError } from '../../errors.js'
import { unsafePathReason } from '../../format/paths.js'
import { parseJson } from '../../content/bounded.js'

export const MODEL_JSON = 'model.json'
export const WEIGHTS_BIN = 'weights.bin'

/** ModelArtifacts fields copied verbatim into model.json (dateSaved is volatile and never written). */
const PASS_THROUGH = ['trainingConfig', 'signature', 'userDefinedMetadata', 'modelInitializer', 'initializerSignature'] as const

function concatWeightData (data: TF.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0)
  const parts = Array.isArray(data) ? data : [data]
  const total = parts.reduce((n, b) => n + b.byteLength, 0)
  const out = new Uint8Array(total)
  let at = 0
  for (const b of parts) { out.set(new Uint8Array(b), at); at += b.byteLength }
  return out
}

/** model.json and weights.bin bytes for a model's artifacts, in tfjs-node's file layout. */
export function artifactsToFiles (artifacts: TF.io.ModelArtifacts): Map<string, Uint8Array> {
  if (artifacts.modelTopology instanceof ArrayBuffer) {
    throw new InvalidModelError('binary (protobuf) model topologies cannot be saved to an mvc repository; save a JSON topology', {})
  }
  const json: Record<string, unknown> = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy ?? null,
    convertedBy: artifacts.convertedBy ?? null
  }
  const weights = concatWeightData(artifacts.weightData)
  if (artifacts.weightSpecs !== undefined) json.weightsManifest = [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs }]
  for (const k of PASS_THROUGH) if (artifacts[k] !== undefined) json[k] = artifacts[k]
  const files = new Map<string, Uint8Array>([[MODEL_JSON, new TextEncoder().encode(JSON.stringify(json))]])
  if (artifacts.weightSpecs !== undefined) files.set(WEIGHTS_BIN, weights)
  return files
}

/**
 * ModelArtifacts from a model.json and a reader of its shards (`readShard` gets each `paths` entry as
 * written, relative to the model.json's folder). What tf.io.getModelArtifactsForJSON builds: the
 * shards joined into one fresh ArrayBuffer in manifest order — not handed to TF.js as a list, because
 * tfjs 4.22's CompositeArrayBuffer assumes every shard but the last has the first shard's size, so a
 * larger last shard (hand-split files) would silently decode as zeros.
 */
export async function filesToArtifacts (jsonBytes: Uint8Array, jsonPath: string, readShard: (path: string) => Promise<Uint8Array>): Promise<TF.io.ModelArtifacts> {
  const json = parseJsonObject(jsonBytes, jsonPath)
  const artifacts: TF.io.ModelArtifacts = {
    modelTopology: json.modelTopology as TF.io.ModelArtifacts['modelTopology'],
    format: json.format as string | undefined,
    generatedBy: json.generatedBy as string | undefined,
    convertedBy: json.convertedBy as string | null | undefined
  }
  if (json.weightsManifest != null) {
    if (!Array.isArray(json.weightsManifest)) throw new InvalidModelError(`${jsonPath}: weightsManifest is not an array`, { path: jsonPath })
    const weightSpecs: TF.io.WeightsManifestEntry[] = []
    const buffers: Uint8Array[] = []
    for (const group of json.weightsManifest as unknown[]) {
      if (!isRecord(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
        throw new InvalidModelError(`${jsonPath}: weightsManifest entry lacks paths/weights arrays`, { path: jsonPath })
      }
      weightSpecs.push(...group.weights as TF.io.WeightsManifestEntry[])
      for (const p of group.paths as unknown[]) {
        if (typeof p !== 'string' || p.length === 0) throw new InvalidModelError(`${jsonPath}: weightsManifest has a path that is not a non-empty string`, { path: jsonPath })
        buffers.push(await readShard(p))
      }
    }
    artifacts.weightSpecs = weightSpecs
    artifacts.weightData = concatBytes(buffers).buffer as ArrayBuffer
  }
  for (const k of PASS_THROUGH) if (json[k] != null) (artifacts as Record<string, unknown>)[k] = json[k]
  return artifacts
}

/**
 * The artifacts of the model whose model.json is at `jsonPath` (relative to a snapshot root), reading
 * every file through `readFile` by root-relative path. Shard paths that are URLs or leave the snapshot
 * are refused (INVALID_MODEL): tfjs's own loaders would fetch them.
 */
export async function loadArtifacts (jsonPath: string, readFile: (path: string) => Promise<Uint8Array>, jsonBytes?: Uint8Array): Promise<TF.io.ModelArtifacts> {
  const bytes = jsonBytes ?? await readFile(jsonPath)
  const json = parseJsonObject(bytes, jsonPath)
  if (!isRecord(json.modelTopology)) {
    throw new InvalidModelError(`${jsonPath} is not a TensorFlow.js model.json (no modelTopology object)`, { path: jsonPath })
  }
  return await filesToArtifacts(bytes, jsonPath, async p => await readFile(resolveShardPath(jsonPath, p)))
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function parseJsonObject (bytes: Uint8Array, jsonPath: string): Record<string, unknown> {
  let json: unknown
  try {
    json = parseJson(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (e) {
    throw new InvalidModelError(`${jsonPath} is not valid UTF-8 JSON: ${e instanceof Error ? e.message : String(e)}`, { path: jsonPath }, { cause: e })
  }
  if (!isRecord(json)) throw new InvalidModelError(`${jsonPath} is not a JSON object`, { path: jsonPath })
  return json
}

/** Resolves a weightsManifest path against the model.json folder, refusing URLs and anything that escapes. */
export function resolveShardPath (jsonPath: string, shard: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(shard)) {
    throw new InvalidModelError(`${jsonPath}: weight path ${JSON.stringify(shard)} is a URL; mvc only reads weights stored beside model.json`, { path: jsonPath, shard })
  }
  const resolved = posix.normalize(posix.join(posix.dirname(jsonPath), shard))
  const why = unsafePathReason(resolved)
  if (why !== undefined) {
    throw new InvalidModelError(`${jsonPath}: weight path ${JSON.stringify(shard)} resolves to ${JSON.stringify(resolved)}, refused because ${why}`, { path: jsonPath, shard, reason: why })
  }
  return resolved
}

function concatBytes (parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, b) => n + b.byteLength, 0)
  const out = new Uint8Array(total)
  let at = 0
  for (const b of parts) { out.set(b, at); at += b.byteLength }
  return out
}

/** The SaveResult TF.js expects from an IOHandler. */
export function saveResult (artifacts: TF.io.ModelArtifacts, files: Map<string, Uint8Array>): TF.io.SaveResult {
  return {
    modelArtifactsInfo: {
      dateSaved: new Date(),
      modelTopologyType: 'JSON',
      modelTopologyBytes: files.get(MODEL_JSON)?.byteLength ?? 0,
      weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
      weightDataBytes: files.get(WEIGHTS_BIN)?.byteLength ?? 0
    }
  }
}
