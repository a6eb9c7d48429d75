/**
 * Typed reads and writes of repository objects through a store: decode + verify + parse in one step.
 */
import type { CID } from 'multiformats/cid'
import { decodeObject, encodeObject, type Block } from '../content/block.js'
import { parseCommit, parseFile, parseManifest, type CommitObject, type FileObject, type Manifest } from '../format/objects.js'
import type { ObjectReader, ObjectWriter } from '../store/interface.js'


/** A writer that stores nothing: used to compute what a snapshot's CIDs would be. */
export const DRY_RUN: ObjectWriter = {
  putRaw: async () => true,
  putObject: async () => true
}

async function readValue (store: ObjectReader, cid: CID): Promise<unknown> {
  return decodeObject(cid, await store.get(cid), `object ${cid.toString()}`)
}

export async function readCommit (store: ObjectReader, cid: CID): Promise<CommitObject> {
  return parseCommit(await readValue(store, cid))
}

export async function readManifest (store: ObjectReader, cid: CID): Promise<Manifest> {
  return parseManifest(await readValue(store, cid))
}

export async function readFileObject (store: ObjectReader, cid: CID): Promise<FileObject> {
  return parseFile(await readValue(store, cid))
}

export async function writeObject<T> (sink: ObjectWriter, value: T): Promise<Block<T>> {
  const block = encodeObject(value)
  await sink.putObject(block.cid, block.bytes)
  return block
}

/** A whole file's bytes, from its file object (verified chunk by chunk). For model files that TF.js needs in memory. */
export async function readFileBytes (store: ObjectReader, cid: CID): Promise<Uint8Array> {
  const file = await readFileObject(store, cid)
  const out = new Uint8Array(file.size)
  let at = 0
  let lastCid: string | undefined
  let last: Uint8Array | undefined
  for (const [chunk, length, offset = 0] of file.extents) {
    const key = chunk.toString()
    if (key !== lastCid) { last = await store.get(chunk); lastCid = key }
    out.set(last!.subarray(offset, offset + length), at)
    at += length
  }
  return out
}
