/**
 * Recorded inputs and outputs as `mvc/tensor` objects: stored in ≤ 1 MiB raw chunks, read back verified.
 */
import type { CID } from 'multiformats/cid'
import { decodeObject, rawCid } from '../../content/block.js'
import { parseTensor, type TensorObject } from '../../format/objects.js'
import type { TensorData } from '../../formats/tensor-data.js'
import type { ObjectStore } from '../../store/interface.js'
import { writeObject } from '../objects.js'
import type { ObjectWriter } from '../../store/interface.js'

const TENSOR_CHUNK = 1 << 20

/** Stores a tensor's bytes as ≤ 1 MiB raw chunks plus an `mvc/tensor` object. */
export async function storeTensorData (sink: ObjectWriter, t: TensorData): Promise<CID> {
  const chunks: Array<[CID, number]> = []
  for (let off = 0; off < t.data.length || chunks.length === 0; off += TENSOR_CHUNK) {
    const piece = t.data.subarray(off, Math.min(t.data.length, off + TENSOR_CHUNK))
    const cid = rawCid(piece)
    await sink.putRaw(cid, piece)
    chunks.push([cid, piece.length])
    if (piece.length === 0) break
  }
  const block = await writeObject<TensorObject>(sink, { type: 'mvc/tensor', name: t.name, dtype: t.dtype, shape: [...t.shape], quantization: null, size: t.data.length, chunks })
  return block.cid
}

/** Reads a tensor object and its bytes (verified). */
export async function readTensor (store: ObjectStore, cid: CID): Promise<{ tensor: TensorObject, data: Uint8Array }> {
  const tensor = parseTensor(decodeObject(cid, await store.get(cid), `tensor ${cid.toString()}`))
  const data = new Uint8Array(tensor.size)
  let off = 0
  for (const [c, len] of tensor.chunks) {
    const b = await store.get(c)
    data.set(b.subarray(0, len), off)
    off += len
  }
  return { tensor, data }
}

/** A stored tensor as TensorData. */
export async function readTensorData (store: ObjectStore, cid: CID): Promise<TensorData> {
  const t = await readTensor(store, cid)
  return { name: t.tensor.name, dtype: t.tensor.dtype as TensorData['dtype'], shape: t.tensor.shape, data: t.data }
}
