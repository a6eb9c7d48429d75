/**
 * The benches' generated TF.js model (bench/model-bench.ts, bench/verify-memory.ts): an Embedding of
 * `modelMiB` MiB (vocabulary × 1024, sequences of 16) → average pooling → Dense 256 relu → Dense 10
 * softmax, weights from a seeded mulberry32 PRNG (uniform in [-0.05, 0.05)), saved through
 * `artifactsToFiles` and written the way the TF.js converter writes it: 4 MiB shards.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type * as TF from '@tensorflow/tfjs'
import { MiB, treeBytes } from './lib.js'
import { uniform01 } from '../src/core/verify/inputs.js'

export const SHARD = 4 * MiB
export const SEQ = 16
export const DIM = 1024

function uniform (n: number, seed: number, scale = 0.05): Float32Array {
  const next = uniform01(seed)
  const v = new Float32Array(n)
  for (let i = 0; i < n; i++) v[i] = (next() * 2 - 1) * scale
  return v
}

/** Writes the model into `dir`; returns the bytes written and the number of shards. */
export async function writeModel (dir: string, modelMiB: number): Promise<{ bytes: number, shards: number }> {
  const { loadRuntime } = await import('../src/formats/tfjs/runtime.js')
  const { artifactsToFiles, MODEL_JSON, WEIGHTS_BIN } = await import('../src/formats/tfjs/artifacts.js')
  const rt = await loadRuntime('cpu')
  const tf = rt.tf
  const inputDim = Math.round(modelMiB * MiB / (4 * DIM))
  const model = tf.sequential()
  model.add(tf.layers.embedding({ inputDim, outputDim: DIM, inputLength: SEQ, embeddingsInitializer: 'zeros' }))
  model.add(tf.layers.globalAveragePooling1d())
  model.add(tf.layers.dense({ units: 256, activation: 'relu', kernelInitializer: 'zeros' }))
  model.add(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: 'zeros' }))
  let seed = 0x6d766333
  for (const layer of model.layers) {
    const ws = layer.getWeights()
    if (ws.length === 0) continue
    const fresh = ws.map(w => tf.tensor(uniform(w.size, seed++), w.shape, 'float32'))
    layer.setWeights(fresh)
    for (const t of fresh) t.dispose()
  }
  let artifacts: TF.io.ModelArtifacts | undefined
  await model.save(tf.io.withSaveHandler(async a => {
    artifacts = a
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
  }))
  model.dispose()
  const files = artifactsToFiles(artifacts!)
  const weights = files.get(WEIGHTS_BIN)!
  const json = JSON.parse(new TextDecoder().decode(files.get(MODEL_JSON)!)) as { weightsManifest: Array<{ paths: string[] }> }
  const n = Math.ceil(weights.byteLength / SHARD)
  const paths: string[] = []
  await mkdir(dir, { recursive: true })
  for (let i = 0; i < n; i++) {
    const name = `group1-shard${i + 1}of${n}.bin`
    paths.push(name)
    await writeFile(join(dir, name), weights.subarray(i * SHARD, Math.min(weights.byteLength, (i + 1) * SHARD)))
  }
  json.weightsManifest[0]!.paths = paths
  await writeFile(join(dir, MODEL_JSON), JSON.stringify(json))
  return { bytes: await treeBytes(dir), shards: n }
}
