/**
 * The benchmarks' synthetic TF.js model folder, in one place: weights laid out the way the TF.js
 * converter does it (each group's tensors concatenated in manifest order and cut into 4 MiB shard
 * files, so tensors straddle shards). group1 cycles through transformer-like float32 shapes and ends
 * with one tensor taking the remainder; group2 holds one [rows, 1024] float32 tensor per file. The
 * bytes are an AES-CTR keystream (incompressible, reproducible); the topology is empty, so the model
 * stores like a real one but cannot be run (bench/model-bench.ts has a runnable one).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MiB, writeKeystream } from './lib.js'

export const SHARD = 4 * MiB

export interface DataFile { readonly rel: string, readonly size: number, readonly label: string }
export interface Tensor { readonly name: string, readonly shape: number[], readonly bytes: number }

export function layout (total: number): DataFile[] {
  const bigA = Math.max(MiB, Math.floor(total / 4 / MiB) * MiB)
  const bigB = Math.max(MiB, Math.floor(total / 16 / MiB) * MiB)
  const rest = Math.max(SHARD, total - bigA - bigB)
  const n = Math.ceil(rest / SHARD)
  const files: DataFile[] = []
  for (let i = 1; i <= n; i++) {
    const size = i < n ? SHARD : rest - (n - 1) * SHARD
    files.push({ rel: `group1-shard${i}of${n}.bin`, size, label: `v1:group1:${i}` })
  }
  files.push({ rel: 'group2-shard1of2.bin', size: bigA, label: 'v1:group2:1' })
  files.push({ rel: 'group2-shard2of2.bin', size: bigB, label: 'v1:group2:2' })
  return files
}

export function group1Tensors (files: readonly DataFile[]): Tensor[] {
  const total1 = files.filter(f => f.rel.startsWith('group1-')).reduce((s, f) => s + f.size, 0)
  const shapes = [[768, 3072], [3072], [3072, 768], [768], [768, 768], [768, 768], [768, 768], [768, 768], [768], [768]]
  const out: Tensor[] = []
  let left = total1
  for (let i = 0; ; i++) {
    const shape = shapes[i % shapes.length]!
    const bytes = shape.reduce((a, b) => a * b, 4)
    if (bytes >= left) {
      out.push({ name: `layer_${Math.floor(i / shapes.length)}/rest`, shape: [left / 4], bytes: left })
      break
    }
    out.push({ name: `layer_${Math.floor(i / shapes.length)}/w${i % shapes.length}`, shape, bytes })
    left -= bytes
  }
  return out
}

export function modelJson (files: readonly DataFile[]): string {
  const g1 = group1Tensors(files).map(t => ({ name: t.name, shape: t.shape, dtype: 'float32' }))
  const g2 = files.filter(f => f.rel.startsWith('group2-')).map((f, i) => ({ name: `embedding_${i}`, shape: [f.size / 4096, 1024], dtype: 'float32' }))
  return JSON.stringify({
    format: 'layers-model',
    generatedBy: 'mvc-bench',
    convertedBy: null,
    modelTopology: { class_name: 'Sequential', config: { name: 'bench', layers: [] } },
    weightsManifest: [
      { paths: files.filter(f => f.rel.startsWith('group1-')).map(f => f.rel), weights: g1 },
      { paths: files.filter(f => f.rel.startsWith('group2-')).map(f => f.rel), weights: g2 }
    ]
  }, null, 1) + '\n'
}

/** Writes the shards and (unless `plain`) model.json; returns the shards and the JSON written. */
export async function writeModelFolder (dir: string, total: number, plain = false): Promise<{ files: DataFile[], json: string | null }> {
  await mkdir(dir, { recursive: true })
  const files = layout(total)
  for (const f of files) await writeKeystream(join(dir, f.rel), f.label, 0, f.size, true)
  if (plain) return { files, json: null }
  const json = modelJson(files)
  await writeFile(join(dir, 'model.json'), json)
  return { files, json }
}

/** The byte ranges of group1 (in shard order) that hold the tensors of two layer blocks in the middle. */
export function fineTuneRanges (files: readonly DataFile[]): { ranges: Array<{ rel: string, offset: number, length: number }>, bytes: number, tensors: number } {
  const shards = files.filter(f => f.rel.startsWith('group1-'))
  const tensors = group1Tensors(files)
  const layers = [...new Set(tensors.map(t => t.name.split('/')[0]!))].filter(l => !tensors.some(t => t.name === `${l}/rest`))
  const pick = new Set(layers.length >= 2 ? [layers[Math.floor(layers.length / 2) - 1]!, layers[Math.floor(layers.length / 2)]!] : layers)
  const ranges: Array<{ rel: string, offset: number, length: number }> = []
  let at = 0
  let bytes = 0
  let count = 0
  for (const t of tensors) {
    if (pick.has(t.name.split('/')[0]!)) {
      count++
      bytes += t.bytes
      // Map [at, at + t.bytes) of the group1 stream onto the shards.
      let left = t.bytes
      let pos = at
      let base = 0
      for (const s of shards) {
        if (left === 0) break
        if (pos < base + s.size) {
          const off = pos - base
          const n = Math.min(left, s.size - off)
          ranges.push({ rel: s.rel, offset: off, length: n })
          left -= n
          pos += n
        }
        base += s.size
      }
    }
    at += t.bytes
  }
  return { ranges, bytes, tensors: count }
}
