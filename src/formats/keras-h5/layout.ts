/**
 * From HDF5 datasets to mvc tensors, and the `mvc/model` object both Keras adapters write and read.
 *
 * A dataset whose elements are one little-endian byte range of the file (contiguous or compact, not
 * filtered) becomes a tensor whose one span is that range; anything else stays in the bytes between
 * tensors (stored exactly all the same) and is named in the layout's warnings.
 */
import { createHash } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { InvalidModelError } from '../../errors.js'
import { fail, isCount, parseModel } from '../../format/objects.js'
import { datasetRange, tensorDType, type Hdf5Dataset } from '../hdf5/index.js'
import type { ModelContract, ModelLayout, StoredModel, TensorLayout, TopologyValue } from '../interface.js'

/** Which part of a model a tensor belongs to; `groups` of the model object, in this order. */
export const ROLES = ['weights', 'optimizer'] as const
export type Role = typeof ROLES[number]

export interface PlannedTensor {
  readonly role: Role
  /** The dataset's path inside the HDF5 file. */
  readonly dataset: string
  readonly layout: TensorLayout
}

/**
 * The tensor for dataset `d`, whose HDF5 file starts at byte `base` of snapshot file `file` (0, or a
 * zip member's data offset), or the warning saying why it stays plain bytes.
 */
export function datasetTensor (file: string, base: number, d: Hdf5Dataset, name: string): { tensor: TensorLayout } | { warning: string } {
  const range = datasetRange(d)
  const dtype = tensorDType(d.dtype)
  if ('reason' in range) return { warning: `dataset /${d.path} is stored as plain bytes because ${range.reason}` }
  if ('reason' in dtype) return { warning: `dataset /${d.path} is stored as plain bytes because ${dtype.reason}` }
  const shape = d.shape ?? []
  const rows = shape.length >= 1 ? shape[0]! : 0
  return {
    tensor: {
      name,
      dtype: dtype.dtype,
      shape: [...shape],
      spans: range.size === 0 ? [] : [{ file, offset: base + range.offset, length: range.size }],
      byteLength: range.size,
      rowBytes: rows > 0 ? range.size / rows : range.size
    }
  }
}

/** Throws InvalidModelError when two tensors claim the same bytes (a crafted file). */
export function checkOverlaps (file: string, tensors: readonly PlannedTensor[]): void {
  const spans = tensors.flatMap(t => t.layout.spans.map(s => ({ ...s, name: t.layout.name }))).sort((a, b) => a.offset - b.offset)
  for (let i = 1; i < spans.length; i++) {
    const a = spans[i - 1]!
    const b = spans[i]!
    if (b.offset < a.offset + a.length) {
      throw new InvalidModelError(`${file}: datasets ${JSON.stringify(a.name)} and ${JSON.stringify(b.name)} claim the same bytes (at offset ${b.offset}); the file is malformed`, { file, tensors: [a.name, b.name], offset: b.offset })
    }
  }
}

/** A JSON value made safe for dag-cbor (no undefined). */
export function jsonValue (v: unknown): unknown {
  return JSON.parse(JSON.stringify(v ?? null)) as unknown
}

export interface KerasLayoutSpec {
  readonly format: string
  readonly path: string
  readonly tensors: readonly PlannedTensor[]
  readonly topology: TopologyValue | null
  readonly contract: ModelContract | null
  readonly customObjects: readonly string[]
  readonly warnings: readonly string[]
  readonly notRunnableReason?: string
}

/** The ModelLayout of a Keras model (one file: the .h5 or the .keras). */
export function kerasLayout (spec: KerasLayoutSpec): ModelLayout {
  const runnable = spec.notRunnableReason === undefined
  const contract = spec.contract === null ? null : jsonValue(spec.contract) as ModelContract
  const summary = JSON.stringify([spec.format, spec.tensors.map(t => [t.role, t.dataset, t.layout]), spec.topology, contract, spec.customObjects, spec.warnings])
  return {
    format: spec.format,
    path: spec.path,
    files: [spec.path],
    tensors: spec.tensors.map(t => t.layout),
    topology: spec.topology,
    fingerprint: createHash('sha256').update(summary).digest('hex'),
    runnable,
    ...(runnable ? {} : { notRunnableReason: spec.notRunnableReason }),
    contract,
    customObjects: [...spec.customObjects],
    warnings: [...spec.warnings],
    modelObject: ({ tensors, topology }: { tensors: readonly CID[], topology: CID | null }) => ({
      type: 'mvc/model',
      format: spec.format,
      path: spec.path,
      topology,
      groups: [...ROLES],
      tensors: spec.tensors.map((t, i) => ({ group: ROLES.indexOf(t.role), tensor: tensors[i]!, dataset: t.dataset })),
      runnable,
      contract,
      customObjects: [...spec.customObjects]
    })
  }
}

function isContract (v: unknown): v is ModelContract {
  const list = (x: unknown): boolean => Array.isArray(x) && x.every(t => typeof t === 'object' && t !== null &&
    typeof (t as Record<string, unknown>).name === 'string' && typeof (t as Record<string, unknown>).dtype === 'string' &&
    Array.isArray((t as Record<string, unknown>).shape) && ((t as Record<string, unknown>).shape as unknown[]).every(d => d === null || isCount(d)))
  return typeof v === 'object' && v !== null && list((v as Record<string, unknown>).inputs) && list((v as Record<string, unknown>).outputs)
}

/** Reads back a model object written by kerasLayout (InvalidObjectError when malformed). */
export function readKerasModel (value: unknown, formats: readonly string[]): StoredModel {
  const m = parseModel(value)
  if (!formats.includes(m.format)) fail('model', `format ${JSON.stringify(m.format)} is not one of ${formats.join(', ')}`)
  const { groups, runnable, contract, customObjects } = m.fields
  if (!Array.isArray(groups) || !groups.every(g => typeof g === 'string')) fail('model', 'groups must be a list of role names')
  if (typeof runnable !== 'boolean') fail('model', 'runnable must be a boolean')
  if (contract !== null && !isContract(contract)) fail('model', 'contract must be null or { inputs, outputs }')
  if (!Array.isArray(customObjects) || !customObjects.every(c => typeof c === 'string')) fail('model', 'customObjects must be a list of names')
  const roles = groups as string[]
  for (const t of m.tensors) if (t.group >= roles.length) fail('model', `tensor group ${t.group} is not one of its ${roles.length} groups`)
  return {
    format: m.format,
    path: m.path,
    topology: m.topology,
    tensors: m.tensors.map(t => ({ tensor: t.tensor, role: roles[t.group]! })),
    files: [m.path],
    runnable,
    contract: contract as ModelContract | null,
    customObjects: customObjects as string[]
  }
}
