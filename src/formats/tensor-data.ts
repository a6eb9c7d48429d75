/**
 * Tensors as bytes: the form in which reference inputs and outputs travel between mvc and a runtime,
 * and in which they are stored (`mvc/tensor`). Numbers are little-endian (float32/int32 4 bytes, bool
 * 1 byte), strings a little-endian uint32 byte length followed by the bytes, per element — the tf.io
 * weight encoding. Pure: no runtime is imported here.
 */
import { InvalidArgumentError } from '../errors.js'

export type TensorDType = 'float32' | 'int32' | 'bool' | 'string'

export interface TensorData {
  readonly name: string
  readonly dtype: TensorDType
  readonly shape: readonly number[]
  /** Little-endian raw bytes as in the tf.io weight encoding; strings: uint32-LE length + UTF-8 bytes each. */
  readonly data: Uint8Array
}

/** One input of a model, as its runtime declares it. */
export interface InputSpec {
  readonly name: string
  /** null (or -1 in graph models, normalised to null) for an unknown dimension. */
  readonly shape: readonly (number | null)[]
  readonly dtype: string
  /**
   * Set when the input feeds an Embedding layer directly: its values are used as indices, so reference
   * inputs are integers in [0, min(10, indexBound)) even when the input is declared float32 (Keras
   * declares Input layers float32 by default and Embedding casts).
   */
  readonly indexBound?: number
}

export function numElements (shape: readonly number[]): number {
  let n = 1
  for (const d of shape) n *= d
  return n
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** Copy of a typed array's bytes in little-endian order (a plain copy on little-endian hosts). */
export function numericBytes (v: Float32Array | Int32Array): Uint8Array {
  const out = new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice()
  if (!LITTLE_ENDIAN) {
    for (let i = 0; i < out.length; i += 4) {
      const a = out[i] ?? 0; const b = out[i + 1] ?? 0
      out[i] = out[i + 3] ?? 0; out[i + 1] = out[i + 2] ?? 0; out[i + 2] = b; out[i + 3] = a
    }
  }
  return out
}

/** Strings in the tf.io encoding: per element a uint32-LE byte length, then the bytes. */
export function encodeStrings (items: readonly Uint8Array[]): Uint8Array {
  let total = 0
  for (const s of items) total += 4 + s.byteLength
  const out = new Uint8Array(total)
  const dv = new DataView(out.buffer)
  let off = 0
  for (const s of items) {
    dv.setUint32(off, s.byteLength, true)
    out.set(s, off + 4)
    off += 4 + s.byteLength
  }
  return out
}

export type DecodedTensor =
  | { readonly kind: 'float', readonly values: Float32Array }
  | { readonly kind: 'int', readonly values: Int32Array }
  | { readonly kind: 'bool', readonly values: Uint8Array }
  | { readonly kind: 'string', readonly values: Uint8Array[] }

/** Decodes TensorData bytes, checking they fit its shape; throws InvalidArgumentError when malformed. */
export function decodeTensorData (d: TensorData): DecodedTensor {
  const shape = d.shape
  if (!Array.isArray(shape) || !shape.every(x => Number.isSafeInteger(x) && x >= 0)) {
    throw new InvalidArgumentError(`tensor ${JSON.stringify(d.name)}: invalid shape ${JSON.stringify(shape)}`, { name: d.name })
  }
  const n = numElements(shape)
  const bytes = d.data
  const malformed = (what: string): InvalidArgumentError =>
    new InvalidArgumentError(`tensor ${JSON.stringify(d.name)} (${d.dtype} [${shape.join(', ')}]): ${what}`, { name: d.name, dtype: d.dtype, shape: [...shape] })
  switch (d.dtype) {
    case 'float32':
    case 'int32': {
      if (bytes.byteLength !== n * 4) throw malformed(`has ${bytes.byteLength} bytes, expected ${n * 4}`)
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      if (d.dtype === 'float32') {
        const v = new Float32Array(n)
        for (let i = 0; i < n; i++) v[i] = dv.getFloat32(i * 4, true)
        return { kind: 'float', values: v }
      }
      const v = new Int32Array(n)
      for (let i = 0; i < n; i++) v[i] = dv.getInt32(i * 4, true)
      return { kind: 'int', values: v }
    }
    case 'bool':
      if (bytes.byteLength !== n) throw malformed(`has ${bytes.byteLength} bytes, expected ${n}`)
      return { kind: 'bool', values: bytes }
    case 'string': {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      const out: Uint8Array[] = []
      let off = 0
      while (off < bytes.byteLength) {
        if (off + 4 > bytes.byteLength) throw malformed('truncated string length')
        const len = dv.getUint32(off, true)
        if (off + 4 + len > bytes.byteLength) throw malformed('truncated string bytes')
        out.push(bytes.subarray(off + 4, off + 4 + len))
        off += 4 + len
      }
      if (out.length !== n) throw malformed(`holds ${out.length} strings, expected ${n}`)
      return { kind: 'string', values: out }
    }
    default:
      throw malformed('unsupported dtype')
  }
}

/**
 * Orders `inputs` like the signature: by name when every input's name is a model input name, else by
 * position (unnamed inputs from an inputs file). Checks counts and known dimensions.
 */
export function bindInputs (sig: readonly InputSpec[], inputs: readonly TensorData[]): TensorData[] {
  const expected = sig.map(s => `${s.name} [${s.shape.map(d => d ?? '?').join(', ')}] ${s.dtype}`).join('; ')
  if (inputs.length !== sig.length) {
    throw new InvalidArgumentError(`the model takes ${sig.length} input(s) (${expected}) but ${inputs.length} were given`, { expected: sig.length, given: inputs.length })
  }
  const names = new Set(sig.map(s => s.name))
  const byName = inputs.every(t => names.has(t.name)) && new Set(inputs.map(t => t.name)).size === inputs.length
  const bound = byName ? sig.map(s => inputs.find(t => t.name === s.name) as TensorData) : [...inputs]
  return bound.map((t, i) => {
    const s = sig[i] as InputSpec
    const ok = t.shape.length === s.shape.length && s.shape.every((d, k) => d === null || d < 0 || d === t.shape[k])
    if (!ok) {
      throw new InvalidArgumentError(`input ${JSON.stringify(t.name)} has shape [${t.shape.join(', ')}], but model input ${JSON.stringify(s.name)} expects [${s.shape.map(d => d ?? '?').join(', ')}]`, { input: s.name, shape: [...t.shape] })
    }
    return t.name === s.name ? t : { ...t, name: s.name }
  })
}
