/**
 * Params and metrics of a commit: `--param k=v` / `--metric k=v` flags, `--params` / `--metrics`
 * files (JSON or YAML, e.g. DVC's params.yaml), and a `metadata.json` next to the model. Values are scalars
 * (numbers stay numbers); nested objects are flattened with dots; keys are kept as flat strings.
 * Precedence: flags > files (later files win) > metadata.json.
 */
import { readFile } from 'node:fs/promises'
import { extname, join } from 'node:path'
import type YAMLModule from 'yaml'
import { createRequire } from 'node:module'
import { InvalidArgumentError } from '../../errors.js'
import type { ParamValue } from '../../format/lineage.js'
import { parseJson } from '../../content/bounded.js'

export type Values = Record<string, ParamValue>

/** Decimal numbers as written by people and by JSON: `10`, `-3`, `0.9`, `.5`, `1e-3`, `2.5E+4`. */
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/

/**
 * A flag value as a scalar: decimal numbers become numbers, `true`/`false`/`null` those values, and
 * anything else stays the string it was. Integers with leading zeros (`007`) and integers beyond
 * 2^53 stay strings, because a number would not give back what was written.
 */
export function parseScalar (text: string): ParamValue {
  if (text === 'true') return true
  if (text === 'false') return false
  if (text === 'null') return null
  if (NUMBER.test(text)) {
    const digits = text.replace(/^[+-]/, '')
    if (/^0\d/.test(digits)) return text
    const n = Number(text)
    if (!Number.isFinite(n)) return text
    if (/^\d+$/.test(digits) && !Number.isSafeInteger(n)) return text
    return Object.is(n, -0) ? 0 : n
  }
  return text
}

/** `k=v` strings of a repeatable flag → values (later ones win). */
export function parseAssignments (pairs: readonly string[], flag: string): Values {
  const out: Values = {}
  for (const p of pairs) {
    const at = typeof p === 'string' ? p.indexOf('=') : -1
    if (at <= 0) throw new InvalidArgumentError(`${flag} ${String(p)}: expected key=value`, { flag, value: p })
    const key = p.slice(0, at).trim()
    if (key === '') throw new InvalidArgumentError(`${flag} ${p}: the key is empty`, { flag, value: p })
    out[key] = parseScalar(p.slice(at + 1))
  }
  return out
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype
}

/**
 * Flattens nested objects (`{ optimizer: { lr: 0.1 } }` → `optimizer.lr`) and arrays (`layers.0`) into
 * scalar values. `what` names the source in errors.
 */
export function flattenValues (v: Record<string, unknown>, what: string): Values {
  const out: Values = {}
  const visit = (x: unknown, key: string): void => {
    if (x === null || typeof x === 'string' || typeof x === 'boolean') { out[key] = x; return }
    if (typeof x === 'number') {
      if (!Number.isFinite(x)) throw new InvalidArgumentError(`${what}: ${key} is ${String(x)}; only finite numbers can be recorded`, { source: what, key })
      out[key] = Object.is(x, -0) ? 0 : x
      return
    }
    if (Array.isArray(x)) { x.forEach((e, i) => visit(e, `${key}.${i}`)); return }
    if (isPlainObject(x)) {
      const keys = Object.keys(x)
      if (keys.length === 0 && key !== '') out[key] = null
      for (const k of keys) {
        if (k === '') throw new InvalidArgumentError(`${what}: empty key${key === '' ? '' : ` under ${key}`}`, { source: what })
        visit(x[k], key === '' ? k : `${key}.${k}`)
      }
      return
    }
    throw new InvalidArgumentError(`${what}: ${key} is a ${typeof x}; values must be numbers, strings, booleans or null`, { source: what, key })
  }
  visit(v, '')
  return out
}

/** Checks metrics: finite numbers or strings (dag-cbor cannot encode NaN or Infinity). */
export function checkMetrics (values: Values, what: string): Record<string, number | string> {
  const out: Record<string, number | string> = {}
  for (const [k, v] of Object.entries(values)) {
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v
    else if (typeof v === 'string') {
      if (/^[+-]?(nan|inf|infinity)$/i.test(v.trim())) throw new InvalidArgumentError(`${what}: metric ${k} is ${v}; metrics must be finite numbers (or strings)`, { source: what, key: k })
      out[k] = v
    } else {
      throw new InvalidArgumentError(`${what}: metric ${k} is ${JSON.stringify(v)}; metrics must be finite numbers (or strings)`, { source: what, key: k })
    }
  }
  return out
}

/** Values given as an object through the API: flattened and checked like a file's. */
export function valuesFrom (v: Record<string, unknown> | undefined, what: string): Values {
  if (v === undefined) return {}
  if (!isPlainObject(v)) throw new InvalidArgumentError(`${what} must be an object of key → value`, { source: what })
  return flattenValues(v, what)
}

/**
 * YAML as DVC's `params.yaml` and other tools write it (YAML 1.2 core schema, by the `yaml` package):
 * nested maps and lists, comments, quotes, anchors. Duplicate keys and anything but a map at the top
 * are refused with an error naming the file and line.
 */
export function parseYaml (text: string, file: string): Record<string, unknown> {
  // Loaded on first use (it is large, and most commands never read YAML).
  const YAML = createRequire(import.meta.url)('yaml') as typeof YAMLModule
  let v: unknown
  try {
    v = YAML.parse(text, { uniqueKeys: true, prettyErrors: true, maxAliasCount: 1000 })
  } catch (e) {
    const pos = (e as { linePos?: Array<{ line: number }> }).linePos?.[0]?.line
    throw new InvalidArgumentError(`${file}${pos !== undefined ? `:${pos}` : ''}: not valid YAML: ${((e as Error).message.split('\n')[0] ?? '').trim()}`, { path: file, ...(pos !== undefined ? { line: pos } : {}) })
  }
  if (v === null || v === undefined) return {}
  if (!isPlainObject(v)) throw new InvalidArgumentError(`${file} must hold a map of key → value at the top`, { path: file })
  return v
}

/** Reads a `--params` / `--metrics` file: `.yaml`/`.yml` as YAML, anything else as JSON. */
export async function readValuesFile (path: string, what: 'params' | 'metrics'): Promise<Values> {
  let text: string
  try { text = await readFile(path, 'utf8') } catch (e) {
    throw new InvalidArgumentError(`cannot read --${what} ${path}: ${(e as Error).message}`, { path })
  }
  const ext = extname(path).toLowerCase()
  let parsed: unknown
  if (ext === '.yaml' || ext === '.yml') {
    parsed = parseYaml(text, path)
  } else {
    try { parsed = parseJson(text) } catch (e) {
      throw new InvalidArgumentError(`--${what} ${path} is not valid JSON: ${(e as Error).message}`, { path })
    }
  }
  if (!isPlainObject(parsed)) throw new InvalidArgumentError(`--${what} ${path} must hold an object of key → value`, { path })
  const values = flattenValues(parsed, path)
  return what === 'metrics' ? checkMetrics(values, path) : values
}

export const METADATA_FILE = 'metadata.json'

/** A declared input of a model (metadata.json `input_signature`). */
export interface DeclaredInput { readonly name: string, readonly dtype: string, readonly shape: ReadonlyArray<number | null> }

export interface Metadata {
  readonly params: Values
  readonly metrics: Record<string, number | string>
  readonly found: boolean
  /** `data.dataset_id`, recorded as an external data reference when no --data is given. */
  readonly dataRef?: string
  /** `input_signature`: the inputs the model declares. */
  readonly inputs?: readonly DeclaredInput[]
  /** What was not read, and why: metadata never blocks a commit (the file is stored as it is). */
  readonly warnings: readonly string[]
}

/** Flattens what it can, leaving out (with a warning) values a commit cannot record. */
function lenientValues (v: Record<string, unknown>, prefix: string, path: string, warnings: string[]): Values {
  const out: Values = {}
  for (const [k, x] of Object.entries(v)) {
    const key = prefix === '' ? k : `${prefix}.${k}`
    try {
      Object.assign(out, flattenValues({ [key]: x }, path))
    } catch (e) {
      warnings.push(`${key} not read: ${(e as Error).message.replace(`${path}: `, '')}`)
    }
  }
  return out
}

function lenientMetrics (v: Values, path: string, warnings: string[]): Record<string, number | string> {
  const out: Record<string, number | string> = {}
  for (const [k, x] of Object.entries(v)) {
    try {
      Object.assign(out, checkMetrics({ [k]: x }, path))
    } catch {
      warnings.push(`metric ${k} not read: ${JSON.stringify(x)} is not a finite number or a string`)
    }
  }
  return out
}

function declaredInputs (v: unknown): DeclaredInput[] | undefined {
  if (!Array.isArray(v)) return undefined
  const out: DeclaredInput[] = []
  for (const [i, e] of v.entries()) {
    if (!isPlainObject(e)) return undefined
    const shape = e.shape
    if (!Array.isArray(shape) || !shape.every(d => d === null || (typeof d === 'number' && Number.isInteger(d)))) return undefined
    out.push({ name: typeof e.name === 'string' ? e.name : `input_${i}`, dtype: typeof e.dtype === 'string' ? e.dtype : 'float32', shape: shape.map(d => d === null || (d as number) < 0 ? null : d as number) })
  }
  return out
}

/**
 * `metadata.json` in a folder (the layout TensorFlow guides use next to a saved model): its `params`
 * (or `hyperparameters`) and `metrics` objects; the guides' fields `model_name`, `format`, `version`,
 * `tensorflow_version`, `keras_version` and `training` {optimizer, loss, metrics, batch_size, epochs,
 * seed} as params; `data` {dataset_id, split, preprocessing} as a data reference and `data.*` params;
 * `input_signature` as the declared inputs. Anything else is ignored. A file mvc cannot read (invalid
 * JSON, fields of the wrong kind, non-finite numbers) never blocks a commit: what was not read is
 * returned in `warnings`, and the file is stored like any other.
 */
export async function readMetadata (dir: string): Promise<Metadata> {
  const path = join(dir, METADATA_FILE)
  const warnings: string[] = []
  const none = (found: boolean): Metadata => ({ params: {}, metrics: {}, found, warnings })
  let text: string
  try { text = await readFile(path, 'utf8') } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return none(false)
    warnings.push(`${METADATA_FILE} could not be read (${(e as Error).message}); nothing in it was recorded`)
    return none(true)
  }
  let parsed: unknown
  try { parsed = parseJson(text) } catch (e) {
    warnings.push(`${METADATA_FILE} is not valid JSON (${(e as Error).message}); nothing in it was recorded (it is stored as a file)`)
    return none(true)
  }
  if (!isPlainObject(parsed)) {
    warnings.push(`${METADATA_FILE} is not a JSON object; nothing in it was recorded`)
    return none(true)
  }
  const field = (name: string): Record<string, unknown> => {
    const v = parsed[name]
    if (v === undefined || v === null) return {}
    if (!isPlainObject(v)) {
      warnings.push(`"${name}" not read: it is ${Array.isArray(v) ? 'a list' : `a ${typeof v}`}, not an object of key → value`)
      return {}
    }
    return v
  }
  const params: Values = { ...lenientValues(field('hyperparameters'), '', path, warnings), ...lenientValues(field('params'), '', path, warnings) }
  for (const k of ['model_name', 'format', 'version', 'tensorflow_version', 'keras_version']) {
    const v = parsed[k]
    if (v === undefined || v === null) continue
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') Object.assign(params, lenientValues({ [k]: v }, '', path, warnings))
    else warnings.push(`"${k}" not read: not a string or number`)
  }
  const training = field('training')
  for (const [k, v] of Object.entries(training)) {
    // A list of metric names (or any list of strings) is one value: "accuracy,auc".
    if (Array.isArray(v) && v.every(x => typeof x === 'string')) params[`training.${k}`] = v.join(',')
    else Object.assign(params, lenientValues({ [k]: v }, 'training', path, warnings))
  }
  const data = field('data')
  let dataRef: string | undefined
  if (typeof data.dataset_id === 'string' && data.dataset_id.trim() !== '') dataRef = data.dataset_id
  for (const [k, v] of Object.entries(data)) {
    if (k === 'dataset_id') continue
    if (Array.isArray(v) && v.every(x => typeof x === 'string')) params[`data.${k}`] = v.join(',')
    else Object.assign(params, lenientValues({ [k]: v }, 'data', path, warnings))
  }
  const metrics = lenientMetrics(lenientValues(field('metrics'), '', path, warnings), path, warnings)
  let inputs: DeclaredInput[] | undefined
  if (parsed.input_signature !== undefined && parsed.input_signature !== null) {
    inputs = declaredInputs(parsed.input_signature)
    if (inputs === undefined) warnings.push('"input_signature" not read: expected a list of { name, dtype, shape }')
  }
  return { params, metrics, found: true, warnings, ...(dataRef !== undefined ? { dataRef } : {}), ...(inputs !== undefined ? { inputs } : {}) }
}
