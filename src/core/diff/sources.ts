/**
 * Where a side's tensor bytes come from: the store (by chunk CID), or the working folder's files.
 */
import { open, type FileHandle } from 'node:fs/promises'
import type { CID } from 'multiformats/cid'
import { decodeObject, rawCid } from '../../content/block.js'
import { InvalidArgumentError } from '../../errors.js'
import { parseTensor, type TensorObject } from '../../format/objects.js'
import type { ModelLayout, TensorLayout } from '../../formats/interface.js'
import type { ObjectStore } from '../../store/interface.js'
import type { WalkedFile } from '../walk.js'

// ---------------------------------------------------------------------------------------------------
// tensor sources

/** One tensor of one side: its object and a way to read its chunks. */
export interface TensorHandle {
  readonly tensor: TensorObject
  /** Verified bytes of chunk `index` (length `tensor.chunks[index][1]`). */
  readChunk (index: number): Promise<Uint8Array>
}

/** Yields the tensors of a side's models: from the store, or from the working folder's shard files. */
export interface TensorSource {
  /** The `index`-th tensor (manifest order) of the model whose JSON is at `modelPath`. */
  open (modelPath: string, index: number, cid: CID): Promise<TensorHandle>
  close (): Promise<void>
}

/** Decoded objects of one side. */
export interface ObjectReader {
  get (cid: CID): Promise<unknown>
}

export function storeReader (store: ObjectStore): ObjectReader {
  return { get: async cid => decodeObject(cid, await store.get(cid), `object ${cid.toString()}`) }
}

/** Chunks from the store, by CID (the store re-hashes every chunk it returns). */
export function storeTensorSource (store: ObjectStore, objects: ObjectReader = storeReader(store)): TensorSource {
  return {
    open: async (_model, _index, cid) => {
      const tensor = parseTensor(await objects.get(cid))
      return {
        tensor,
        readChunk: async i => {
          const [c, len] = tensor.chunks[i]!
          const bytes = await store.get(c)
          return bytes.subarray(0, len)
        }
      }
    },
    close: async () => {}
  }
}

/**
 * Chunks from the working folder: each chunk's byte range of the tensor is read from the files through
 * the tensor's spans (the layout its format adapter computed), then re-hashed against the chunk CID the
 * snapshot computed, so a file changed between the snapshot and the read is caught rather than compared.
 */
export class WorktreeTensorSource implements TensorSource {
  private readonly handles = new Map<string, FileHandle>()
  constructor (
    private readonly files: ReadonlyMap<string, WalkedFile>,
    private readonly layouts: ReadonlyMap<string, ModelLayout>,
    private readonly objects: ObjectReader
  ) {}

  private async handle (path: string): Promise<FileHandle> {
    let h = this.handles.get(path)
    if (h === undefined) {
      const f = this.files.get(path)
      if (f === undefined) throw changed(path)
      h = await open(f.abs, 'r')
      this.handles.set(path, h)
    }
    return h
  }

  private async readRange (t: TensorLayout, offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length)
    let filled = 0
    let spanStart = 0
    for (const span of t.spans) {
      if (filled === length) break
      const spanEnd = spanStart + span.length
      const at = offset + filled
      if (at < spanEnd) {
        const within = at - spanStart
        const take = Math.min(span.length - within, length - filled)
        const fh = await this.handle(span.file)
        let done = 0
        while (done < take) {
          const { bytesRead } = await fh.read(out, filled + done, take - done, span.offset + within + done)
          if (bytesRead === 0) throw changed(span.file)
          done += bytesRead
        }
        filled += take
      }
      spanStart = spanEnd
    }
    if (filled !== length) throw changed(t.name)
    return out
  }

  async open (modelPath: string, index: number, cid: CID): Promise<TensorHandle> {
    const tensor = parseTensor(await this.objects.get(cid))
    const t = this.layouts.get(modelPath)?.tensors[index]
    if (t === undefined || t.name !== tensor.name || t.byteLength !== tensor.size) throw changed(modelPath)
    const offsets: number[] = []
    let at = 0
    for (const [, len] of tensor.chunks) { offsets.push(at); at += len }
    return {
      tensor,
      readChunk: async i => {
        const [c, len] = tensor.chunks[i]!
        const bytes = await this.readRange(t, offsets[i]!, len)
        if (!rawCid(bytes).equals(c)) throw changed(`${modelPath} (tensor ${tensor.name})`)
        return bytes
      }
    }
  }

  async close (): Promise<void> {
    for (const h of this.handles.values()) await h.close()
    this.handles.clear()
  }
}

export function changed (what: string): InvalidArgumentError {
  return new InvalidArgumentError(`${what} changed while mvc diff was reading it; run the diff again once nothing is writing to the folder`, { path: what })
}
