/** Keras's attributes on HDF5 groups: strings and lists of strings, as Keras writes and reads them. */
import type { Hdf5Attribute, Hdf5Group } from '../hdf5/index.js'

/** A string attribute's text, or undefined. */
export function attrText (a: Hdf5Attribute | undefined): string | undefined {
  return typeof a?.value === 'string' ? a.value : undefined
}

/**
 * A list-of-strings attribute as Keras writes it, including Keras's chunked form for lists that do
 * not fit one object header (`name0`, `name1`, … concatenated; keras `load_attributes_from_hdf5_group`).
 */
export function attrList (g: Hdf5Group | undefined, name: string): string[] | undefined {
  if (g === undefined) return undefined
  const one = (a: Hdf5Attribute | undefined): string[] | undefined => {
    if (a === undefined) return undefined
    if (Array.isArray(a.value) && a.value.every(x => typeof x === 'string')) return a.value as string[]
    if (typeof a.value === 'string') return [a.value]
    if (a.shape !== null && a.shape.length === 1 && a.shape[0] === 0) return []
    return undefined
  }
  const direct = one(g.attributes.get(name))
  if (direct !== undefined) return direct
  const out: string[] = []
  for (let i = 0; g.attributes.has(`${name}${i}`); i++) out.push(...(one(g.attributes.get(`${name}${i}`)) ?? []))
  return g.attributes.has(`${name}0`) ? out : undefined
}
