/**
 * Ranged reads of a version's files for runtimes that load weights piece by piece (formats/tfjs
 * model.ts): from the store (only the chunks a range covers are read, each re-hashed) or from a folder
 * on disk (a positioned read). Nothing here holds a whole file.
 */
import { open, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { InvalidArgumentError } from '../../errors.js'
import type { FileObject } from '../../format/objects.js'
import type { SnapshotRanges } from '../../formats/interface.js'
import type { ObjectReader } from '../../store/interface.js'
import { readFileObject } from '../objects.js'

/** Ranged reads of the files of a manifest, from the store. */
export function storeRanges (store: ObjectReader, files: ReadonlyMap<string, CID>, what: string): SnapshotRanges {
  const objects = new Map<string, Promise<FileObject>>()
  let last: { key: string, bytes: Uint8Array } | undefined
  const fileOf = async (path: string): Promise<FileObject> => {
    const cid = files.get(path)
    if (cid === undefined) throw new InvalidArgumentError(`${what} has no file ${path}`, { path })
    let p = objects.get(path)
    if (p === undefined) { p = readFileObject(store, cid); objects.set(path, p) }
    return await p
  }
  return {
    size: async path => (await fileOf(path)).size,
    readRange: async (path, offset, length) => {
      const file = await fileOf(path)
      if (offset < 0 || offset + length > file.size) throw new InvalidArgumentError(`${path}: range ${offset}+${length} is outside its ${file.size} bytes`, { path })
      const out = new Uint8Array(length)
      let at = 0
      for (const [chunk, len, inChunk = 0] of file.extents) {
        const end = at + len
        if (end > offset && at < offset + length) {
          const key = chunk.toString()
          // Consecutive ranges often share a chunk: keep the last one read.
          if (last?.key !== key) last = { key, bytes: await store.get(chunk) }
          const from = Math.max(offset, at)
          const to = Math.min(offset + length, end)
          out.set(last.bytes.subarray(inChunk + (from - at), inChunk + (to - at)), from - offset)
        }
        if (end >= offset + length) break
        at = end
      }
      return out
    }
  }
}

/** Ranged reads of files in a folder. */
export function diskRanges (base: string): SnapshotRanges {
  return {
    size: async path => (await stat(join(base, path))).size,
    readRange: async (path, offset, length) => {
      const fh = await open(join(base, path), 'r')
      try {
        const out = new Uint8Array(length)
        let got = 0
        while (got < length) {
          const { bytesRead } = await fh.read(out, got, length - got, offset + got)
          if (bytesRead === 0) throw new InvalidArgumentError(`${path} is shorter than ${offset + length} bytes (it changed while being read?)`, { path })
          got += bytesRead
        }
        return out
      } finally { await fh.close() }
    }
  }
}
