/**
 * An HDF5 structure reader: which groups, attributes and datasets a file holds and where each
 * dataset's bytes are, read through random access without reading any dataset data — so a 10 GiB
 * Keras file costs a few hundred small metadata reads, not 10 GiB of memory. Used by the Keras
 * adapters (../keras-h5, ../keras-v3); not an adapter itself.
 *
 * Why not a library: jsfive (pure JS) parses an ArrayBuffer holding the whole file, and h5wasm reads
 * through Emscripten's virtual file system, which also wants the whole file; neither reads through a
 * random-access callback. This reader covers what h5py and Keras write (superblock 0–3, object
 * headers 1–2, symbol-table, compact and dense groups and attributes, the global heap) and bounds
 * everything else (see source.ts LIMITS).
 *
 * Glossary:
 * - source (`ByteSource`): random access to one HDF5 file — a file of the snapshot, or a member
 *   stored uncompressed inside a zip, read in place.
 * - storage (`Hdf5Storage`): where a dataset's elements are: `contiguous` (one byte range: a tensor
 *   mvc can store as it is), `compact` (inside the object header, also one byte range), `chunked`
 *   (indexed chunks, maybe compressed), `unallocated` (never written: reads as the fill value).
 * - attribute: a small named value on a group or dataset (Keras keeps `model_config`,
 *   `layer_names`, `weight_names` in them).
 */
import type { FileAccess } from '../interface.js'
import { InvalidModelError } from '../../errors.js'
import type { ByteSource } from './source.js'
import { findSuperblock, readHdf5, type Hdf5Dataset, type Hdf5File, type ReadOptions } from './structure.js'
import { describeDType, type Hdf5DType } from './messages.js'

export { readHdf5, findSuperblock, type ReadOptions, type Hdf5File, type Hdf5Dataset, type Hdf5Group, type Hdf5Attribute, type Hdf5Value, type Hdf5Scalar } from './structure.js'
export { describeDType, type Hdf5DType, type Hdf5Storage, type Hdf5Filter } from './messages.js'
export { LIMITS, type ByteSource } from './source.js'

/** A ByteSource over `size` bytes of `path` starting at `offset` (a whole file by default). */
export function fileSource (access: FileAccess, path: string, offset = 0, size?: number, name = path): ByteSource {
  const total = size ?? (access.files.get(path)?.size ?? 0) - offset
  return {
    name,
    size: total,
    read: async (o, n) => await access.read(path, offset + o, n)
  }
}

/** A ByteSource over bytes in memory. */
export function bytesSource (bytes: Uint8Array, name: string): ByteSource {
  return {
    name,
    size: bytes.length,
    read: async (o, n) => {
      if (o < 0 || n < 0 || o + n > bytes.length) throw new InvalidModelError(`${name}: read of ${n} bytes at ${o} is outside its ${bytes.length} bytes`, { file: name })
      return bytes.subarray(o, o + n)
    }
  }
}

/**
 * The numpy-style name of a dtype mvc can store as a tensor ('float32', 'int64', 'bool', …), or
 * undefined with the reason (big-endian data, strings, compounds, …).
 */
export function tensorDType (t: Hdf5DType): { dtype: string } | { reason: string } {
  switch (t.class) {
    case 'float':
      if (!t.littleEndian) return { reason: `its type is ${describeDType(t)}` }
      return { dtype: t.bfloat16 === true ? 'bfloat16' : `float${t.size * 8}` }
    case 'int':
      if (!t.littleEndian && t.size > 1) return { reason: `its type is ${describeDType(t)}` }
      return { dtype: `${t.signed ? 'int' : 'uint'}${t.size * 8}` }
    case 'bool':
      return { dtype: 'bool' }
    case 'complex':
      if (!t.littleEndian) return { reason: `its type is ${describeDType(t)}` }
      return { dtype: `complex${t.size * 8}` }
    default:
      return { reason: `its type is ${describeDType(t)}, not a number type` }
  }
}

/** The byte range of a dataset's elements in its file, or why there is none. */
export function datasetRange (d: Hdf5Dataset): { offset: number, size: number } | { reason: string } {
  const s = d.storage
  const count = d.shape === null ? 0 : d.shape.reduce((a, b) => a * b, 1)
  const want = count * d.dtype.size
  switch (s.kind) {
    case 'contiguous':
    case 'compact':
      if (s.size !== want) return { reason: `its storage holds ${s.size} bytes but ${want} are expected for its shape` }
      if (d.filters.length > 0) return { reason: `it is filtered (${d.filters.map(f => f.name).join(', ')})` }
      return { offset: s.offset, size: s.size }
    case 'unallocated':
      return want === 0 ? { offset: 0, size: 0 } : { reason: 'it was never written (its storage is not allocated; it reads as its fill value)' }
    case 'chunked':
      return { reason: `it is chunked${d.filters.length > 0 ? ` and filtered (${d.filters.map(f => f.name).join(', ')})` : ''}` }
    case 'virtual':
      return { reason: 'it is a virtual dataset (its data is in other datasets)' }
    case 'unsupported':
      return { reason: s.reason }
  }
}

const parsed = new WeakMap<FileAccess, Map<string, Promise<Hdf5File | null>>>()

/**
 * The structure of the snapshot file `path` when it is an HDF5 file, null when it is not (no HDF5
 * signature); InvalidModelError when it is HDF5 but malformed. Parsed once per FileAccess, so the
 * adapters that look at the same .h5 share one parse: they must pass the same `accept` (see ReadOptions).
 */
export async function hdf5Of (access: FileAccess, path: string, options: ReadOptions = {}): Promise<Hdf5File | null> {
  let m = parsed.get(access)
  if (m === undefined) { m = new Map(); parsed.set(access, m) }
  let p = m.get(path)
  if (p === undefined) {
    const source = fileSource(access, path)
    p = (async () => await findSuperblock(source) === undefined ? null : await readHdf5(source, options))()
    m.set(path, p)
  }
  return await p
}
