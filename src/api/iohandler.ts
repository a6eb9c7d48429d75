/**
 * TF.js IOHandlers backed by a repository, so training code saves and loads versions directly:
 *
 *   await model.save(repo.saveHandler({ message: 'epoch 10', metrics: { acc: 0.91 } }))
 *   const m = await tf.loadLayersModel(repo.loadHandler('v3'))
 *
 * Conversion between ModelArtifacts and files lives here, once: `artifactsToFiles` writes the layout
 * tfjs-node's file:// saver writes (model.json + weights.bin), `filesToArtifacts` is the inverse
 * (what tf.io.getModelArtifactsForJSON does). Neither imports TF.js: only types are used.
 */
import type * as TF from '@tensorflow/tfjs'
import { InvalidModelError } from '../errors.js'

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

/** ModelArtifacts from a model.json and a reader of its shards (paths resolved by the caller). */
export async function filesToArtifacts (jsonBytes: Uint8Array, jsonPath: string, readShard: (path: string) => Promise<Uint8Array>): Promise<TF.io.ModelArtifacts> {
  let json: Record<string, unknown>
  try {
    json = JSON.parse(new TextDecoder().decode(jsonBytes)) as Record<string, unknown>
  } catch (e) {
    throw new InvalidModelError(`${jsonPath} is not valid JSON: ${(e as Error).message}`, { path: jsonPath })
  }
  const manifest = (json.weightsManifest ?? []) as TF.io.WeightsManifestConfig
  const weightSpecs: TF.io.WeightsManifestEntry[] = []
  const buffers: Uint8Array[] = []
  for (const group of manifest) {
    weightSpecs.push(...group.weights)
    for (const p of group.paths) buffers.push(await readShard(p))
  }
  const artifacts: TF.io.ModelArtifacts = {
    modelTopology: json.modelTopology as TF.io.ModelArtifacts['modelTopology'],
    format: json.format as string | undefined,
    generatedBy: json.generatedBy as string | undefined,
    convertedBy: json.convertedBy as string | null | undefined,
    weightSpecs,
    weightData: concatWeightData(buffers.map(b => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer)).buffer as ArrayBuffer
  }
  for (const k of PASS_THROUGH) if (json[k] !== undefined) (artifacts as Record<string, unknown>)[k] = json[k]
  return artifacts
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

/** Writes files into a fresh folder beside `target` and swaps it into place (previous content is removed only after). */
export async function writeFolder (target: string, files: Map<string, Uint8Array>): Promise<void> {
  const { mkdir, writeFile, rename, rm, lstat } = await import('node:fs/promises')
  const { dirname, basename, join } = await import('node:path')
  const { randomBytes } = await import('node:crypto')
  const tag = randomBytes(4).toString('hex')
  const staging = join(dirname(target), `.${basename(target)}.mvc-new-${tag}`)
  const old = join(dirname(target), `.${basename(target)}.mvc-old-${tag}`)
  await mkdir(staging, { recursive: true })
  try {
    for (const [name, bytes] of files) await writeFile(join(staging, name), bytes, { mode: 0o644 })
  } catch (e) {
    await rm(staging, { recursive: true, force: true })
    throw e
  }
  const existed = await lstat(target).then(() => true, () => false)
  if (existed) await rename(target, old)
  await rename(staging, target)
  if (existed) await rm(old, { recursive: true, force: true })
}
