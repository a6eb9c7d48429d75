/**
 * Reference inputs: deterministic, seeded inputs built from a model's signature at commit, and inputs
 * the user gives in a file. Pure: the bytes never depend on a runtime or backend.
 */
import { InvalidArgumentError } from '../../errors.js'
import { bindInputs, decodeTensorData, encodeStrings, numElements, numericBytes, type InputSpec, type TensorData, type TensorDType } from '../../formats/tensor-data.js'
import { isNpy, isZip, parseNpy, parseNpz } from './npy.js'
import { parseJson } from '../../content/bounded.js'

function messageOf (e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Fixed seed for reference inputs ("mvc1"); changing it changes every recorded reference input. */
export const DEFAULT_SEED = 0x6d766331

/** mulberry32: tiny, fast, well-distributed 32-bit PRNG; identical on every platform. */
export function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0)
  }
}

/** The same generator as floats in [0, 1): for fixtures, tests and benchmarks that need seeded data. */
export function uniform01 (seed: number): () => number {
  const next = mulberry32(seed)
  return () => next() / 4294967296
}

/** Concrete shape for reference inputs: unknown batch (dim 0) → 2, other unknown dims → 4. */
export function concreteShape (shape: readonly (number | null)[]): number[] {
  return shape.map((d, i) => (d === null || d < 0) ? (i === 0 ? 2 : 4) : d)
}


/**
 * Deterministic reference inputs: per input a mulberry32 stream seeded from `seed` and the input's
 * index; unknown dimensions become small fixed sizes (batch 2, others 4); float inputs uniform in
 * [-1, 1); int inputs in [0, 10) because integer inputs are nearly always token or class ids, which
 * must be valid indices even for small vocabularies (models with other ranges need --inputs); bool
 * inputs 0/1. Inputs feeding an Embedding get integers in [0, min(10, vocabulary)) whatever their
 * dtype. Pure: the bytes do not depend on the backend (`rt` is taken for API symmetry).
 */
export function referenceInputs (_rt: unknown, sig: readonly InputSpec[], seed: number = DEFAULT_SEED): TensorData[] {
  return sig.map((spec, index): TensorData => {
    const shape = concreteShape(spec.shape)
    const n = numElements(shape)
    const next = mulberry32((seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0)
    const intBound = Math.max(1, Math.min(10, spec.indexBound ?? 10))
    switch (spec.dtype) {
      case 'float32': {
        const v = new Float32Array(n)
        for (let i = 0; i < n; i++) {
          // 24 random bits: every value is exactly representable in float32, so the range stays [-1, 1).
          v[i] = spec.indexBound !== undefined ? next() % intBound : (next() >>> 8) / 2 ** 23 - 1
        }
        return { name: spec.name, dtype: 'float32', shape, data: numericBytes(v) }
      }
      case 'int32': {
        const v = new Int32Array(n)
        for (let i = 0; i < n; i++) v[i] = next() % intBound
        return { name: spec.name, dtype: 'int32', shape, data: numericBytes(v) }
      }
      case 'bool': {
        const v = new Uint8Array(n)
        for (let i = 0; i < n; i++) v[i] = next() & 1
        return { name: spec.name, dtype: 'bool', shape, data: v }
      }
      default:
        throw new InvalidArgumentError(`cannot build reference values for input ${JSON.stringify(spec.name)} of dtype ${spec.dtype}; supply inputs with --inputs`, { input: spec.name, dtype: spec.dtype })
    }
  })
}

const INPUT_DTYPES: readonly TensorDType[] = ['float32', 'int32', 'bool', 'string']

/**
 * Parses a user-supplied inputs file:
 * `{ "inputs": [ { "name"?, "shape": [...], "dtype": "float32"|"int32"|"bool"|"string", "values": [...] } ] }`.
 * `values` is flat (length = product of shape) or nested exactly like the shape. float32 also accepts
 * "NaN", "Infinity" and "-Infinity" (JSON has no literals for them); bool accepts true/false/0/1.
 * Unnamed entries get the name `#<index>` ('#' cannot occur in TF names), which runModel binds by
 * position. Throws InvalidArgumentError naming the entry and what is wrong.
 */
export function parseInputsFile (bytes: Uint8Array): TensorData[] {
  let json: unknown
  try {
    json = parseJson(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (e) {
    throw new InvalidArgumentError(`inputs file is not valid UTF-8 JSON: ${messageOf(e)}`, {}, { cause: e })
  }
  if (!isRecord(json) || !Array.isArray(json.inputs)) {
    throw new InvalidArgumentError('inputs file must be a JSON object with an "inputs" array', {})
  }
  return (json.inputs as unknown[]).map((entry, i): TensorData => {
    const where = `inputs[${i}]`
    const bad = (msg: string): InvalidArgumentError => new InvalidArgumentError(`inputs file: ${where}: ${msg}`, { index: i })
    if (!isRecord(entry)) throw bad('is not an object')
    const name = entry.name === undefined ? `#${i}` : entry.name
    if (typeof name !== 'string' || name.length === 0) throw bad('"name" must be a non-empty string')
    const shape = entry.shape
    if (!Array.isArray(shape) || !shape.every((d: unknown) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
      throw bad('"shape" must be an array of non-negative integers')
    }
    const dims = shape as number[]
    const dtype = entry.dtype
    if (typeof dtype !== 'string' || !(INPUT_DTYPES as readonly string[]).includes(dtype)) {
      throw bad(`"dtype" must be one of ${INPUT_DTYPES.join(', ')}`)
    }
    if (!Array.isArray(entry.values)) throw bad('"values" must be an array')
    const count = numElements(dims)
    const flat = flattenValues(entry.values, dims, msg => bad(msg))
    if (flat.length !== count) {
      throw bad(`"values" has ${flat.length} elements but shape [${dims.join(', ')}] needs ${count}`)
    }
    const t = dtype as TensorDType
    return { name, dtype: t, shape: dims, data: encodeValues(t, flat, (j, msg) => bad(`values element ${j}: ${msg}`)) }
  })
}

/** Flat arrays pass as they are; nested arrays must match `shape` level by level. */
function flattenValues (values: unknown[], shape: readonly number[], bad: (msg: string) => Error): unknown[] {
  if (!values.some(v => Array.isArray(v))) return values
  const out: unknown[] = []
  const walk = (v: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw bad(`"values"${path} is nested deeper than shape [${shape.join(', ')}]`)
      out.push(v)
      return
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw bad(`"values"${path} must be an array of length ${shape[depth] ?? 0} to match shape [${shape.join(', ')}]`)
    }
    v.forEach((x, k) => { walk(x, depth + 1, `${path}[${k}]`) })
  }
  walk(values, 0, '')
  return out
}

function encodeValues (dtype: TensorDType, flat: readonly unknown[], bad: (j: number, msg: string) => Error): Uint8Array {
  switch (dtype) {
    case 'float32': {
      const v = new Float32Array(flat.length)
      flat.forEach((x, j) => {
        if (typeof x === 'number') v[j] = x
        else if (x === 'NaN') v[j] = NaN
        else if (x === 'Infinity') v[j] = Infinity
        else if (x === '-Infinity') v[j] = -Infinity
        else throw bad(j, `${JSON.stringify(x)} is not a number`)
      })
      return numericBytes(v)
    }
    case 'int32': {
      const v = new Int32Array(flat.length)
      flat.forEach((x, j) => {
        if (typeof x !== 'number' || !Number.isInteger(x) || x < -(2 ** 31) || x > 2 ** 31 - 1) throw bad(j, `${JSON.stringify(x)} is not a 32-bit integer`)
        v[j] = x
      })
      return numericBytes(v)
    }
    case 'bool': {
      const v = new Uint8Array(flat.length)
      flat.forEach((x, j) => {
        if (x === true || x === 1) v[j] = 1
        else if (x === false || x === 0) v[j] = 0
        else throw bad(j, `${JSON.stringify(x)} is not a boolean (true/false/0/1)`)
      })
      return v
    }
    case 'string': {
      const enc = new TextEncoder()
      return encodeStrings(flat.map((x, j) => {
        if (typeof x !== 'string') throw bad(j, `${JSON.stringify(x)} is not a string`)
        return enc.encode(x)
      }))
    }
  }
}

/** Reference inputs from a file the user gives: NumPy `.npy` or `.npz` (by their magic bytes), else JSON (parseInputsFile). */
export function parseInputs (bytes: Uint8Array): TensorData[] {
  if (isNpy(bytes)) return [parseNpy(bytes, '#0')]
  if (isZip(bytes)) {
    const out = parseNpz(bytes)
    if (out.length === 0) throw new InvalidArgumentError('inputs file: the .npz archive holds no .npy arrays', {})
    return out
  }
  return parseInputsFile(bytes)
}

/**
 * Binds inputs to a model's input contract (names, count, known dimensions: bindInputs) and its
 * dtypes: an input of the declared dtype passes; integers and booleans given for a float input are
 * converted (exactly, below 2^24 — images as uint8 arrays are the common case); floats given for an
 * integer input are converted only when every value is an integer; anything else is refused.
 */
export function conformInputs (sig: readonly InputSpec[], inputs: readonly TensorData[]): TensorData[] {
  const bound = bindInputs(sig, inputs)
  return bound.map((t, i) => {
    const want = sig[i]!.dtype
    if (t.dtype === want || (sig[i]!.indexBound !== undefined && want === 'float32' && t.dtype === 'int32')) return t
    const refuse = (why: string): InvalidArgumentError => new InvalidArgumentError(`input ${JSON.stringify(t.name)} is ${t.dtype} but the model takes ${want}${why}`, { input: t.name, dtype: t.dtype, expected: want })
    const d = decodeTensorData(t)
    if (want === 'float32' && (d.kind === 'int' || d.kind === 'bool')) {
      const v = Float32Array.from(d.values as ArrayLike<number>)
      return { ...t, dtype: 'float32', data: numericBytes(v) }
    }
    if (want === 'int32' && d.kind === 'float') {
      const xs = d.values
      for (let k = 0; k < xs.length; k++) if (!Number.isInteger(xs[k])) throw refuse(` (element ${k} is ${xs[k]}, not an integer)`)
      return { ...t, dtype: 'int32', data: numericBytes(Int32Array.from(xs)) }
    }
    throw refuse('')
  })
}
