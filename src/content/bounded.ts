/**
 * Nesting limits for untrusted JSON and dag-cbor, checked without recursion before anything recursive
 * (JSON.stringify, dag-cbor's decoder and encoder, link walkers) sees the value: a 100,000-deep array
 * must be refused, not overflow the stack. Real values are shallow: a TF.js or Keras topology nests
 * about 10–20 levels, mvc's objects fewer than 10 plus the topology they carry.
 */

/** Deepest JSON nesting (arrays and objects) accepted in model files, metadata and params files. */
export const MAX_JSON_DEPTH = 200
/** Deepest dag-cbor nesting (arrays, maps, tags) accepted in a structured object (a topology adds a few levels to its JSON). */
export const MAX_CBOR_DEPTH = 256

/** The nesting depth of JSON text, or the first depth past `limit` (it stops there). Strings are skipped. */
export function jsonDepth (text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
      continue
    }
    if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) { if (++depth > max) { max = depth; if (max > limit) return max } } else if (c === 0x5d || c === 0x7d) depth--
  }
  return max
}

/**
 * The nesting depth of a CBOR item, or the first depth past `limit`. Reads heads only (iteratively);
 * malformed input stops the walk and is left to the decoder to refuse.
 */
export function cborDepth (bytes: Uint8Array, limit = MAX_CBOR_DEPTH): number {
  const remaining: number[] = [1]
  let pos = 0
  let max = 0
  while (remaining.length > 0 && pos < bytes.length) {
    const ib = bytes[pos++]!
    const major = ib >> 5
    const ai = ib & 31
    let arg: number
    if (ai < 24) arg = ai
    else if (ai === 24) { arg = bytes[pos] ?? 0; pos += 1 } else if (ai === 25) { arg = ((bytes[pos] ?? 0) << 8) | (bytes[pos + 1] ?? 0); pos += 2 } else if (ai === 26) {
      arg = (((bytes[pos] ?? 0) << 24) >>> 0) + ((bytes[pos + 1] ?? 0) << 16) + ((bytes[pos + 2] ?? 0) << 8) + (bytes[pos + 3] ?? 0); pos += 4
    } else if (ai === 27) {
      arg = 0
      for (let k = 0; k < 8; k++) arg = arg * 256 + (bytes[pos + k] ?? 0)
      pos += 8
    } else return max // indefinite lengths and reserved values: not dag-cbor, the decoder refuses them
    if (major === 2 || major === 3) pos += arg
    else if ((major === 4 || major === 5) && arg > 0) {
      remaining.push(major === 5 ? arg * 2 : arg)
      if (remaining.length - 1 > max) { max = remaining.length - 1; if (max > limit) return max }
      continue
    } else if (major === 6) {
      remaining.push(1)
      if (remaining.length - 1 > max) { max = remaining.length - 1; if (max > limit) return max }
      continue
    }
    // one item done: close every container it completes
    while (remaining.length > 0) {
      remaining[remaining.length - 1]!--
      if (remaining[remaining.length - 1]! > 0) break
      remaining.pop()
    }
  }
  return max
}

/** JSON.parse for untrusted text, refusing (with a SyntaxError, like JSON.parse's own) nesting past MAX_JSON_DEPTH. */
export function parseJson (text: string): unknown {
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw new SyntaxError(`JSON nests deeper than ${MAX_JSON_DEPTH} levels`)
  return JSON.parse(text) as unknown
}
