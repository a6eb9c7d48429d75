/**
 * CLI options and output shared by the commands that record or check behaviour (commit, checkout, verify).
 */
import type { Argv } from 'yargs'
import { readFile } from 'node:fs/promises'
import { InvalidArgumentError, isMvcError } from '../api/index.js'
import type { VerifyArgs } from '../api/index.js'
import type { VerificationReport, BackendName } from '../api/index.js'
import { colors, toJson, type Io } from './output.js'
import { NO_PAINT, verdict, type Paint } from './color.js'

export interface VerifyFlags { verify?: boolean, backend?: string, atol?: number, rtol?: number, runtime?: string, python?: string, 'custom-objects'?: string[] }

export function verifyOptions<T> (y: Argv<T>, what: string): Argv<T & VerifyFlags> {
  return y
    .option('verify', { type: 'boolean', default: true, describe: `${what} (--no-verify skips it and never loads TensorFlow.js)` })
    .option('backend', { type: 'string', choices: ['tensorflow', 'wasm', 'cpu'], describe: 'TensorFlow.js backend (default: tensorflow when @tensorflow/tfjs-node is installed, else wasm, else cpu)' })
    .option('atol', { type: 'number', describe: 'absolute tolerance (default 1e-5, or as recorded)' })
    .option('rtol', { type: 'number', describe: 'relative tolerance (default 1e-5, or as recorded)' })
    .option('runtime', { type: 'string', choices: ['tfjs', 'python-tensorflow'], describe: 'run models with this runtime when it can (default: the one that recorded them; at commit, each format\'s best)' })
    .option('python', { type: 'string', describe: 'Python interpreter with TensorFlow for the python-tensorflow runtime (default: MVC_PYTHON, else python3)' })
    .option('custom-objects', { type: 'string', array: true, nargs: 1, describe: 'file registering custom classes: a Python module (Keras register_keras_serializable) or a JS module (tf.serialization.registerClass); repeatable' }) as Argv<T & VerifyFlags>
}

/** Verification settings from flags; undefined when --no-verify. */
export async function verifyArgs (a: VerifyFlags & { inputs?: string, 'require-verify'?: boolean }, recorded?: boolean): Promise<VerifyArgs | undefined> {
  if (a.verify === false) return undefined
  for (const [k, v] of [['atol', a.atol], ['rtol', a.rtol]] as const) {
    if (v !== undefined && (!Number.isFinite(v) || v < 0)) throw new InvalidArgumentError(`--${k} must be a number ≥ 0`, { [k]: v })
  }
  // Given flags only: otherwise the recorded tolerance (checks) or `mvc config verify.atol` / the default (commit).
  void recorded
  const tolerance = a.atol !== undefined || a.rtol !== undefined
    ? { atol: a.atol ?? 1e-5, rtol: a.rtol ?? 1e-5 }
    : undefined
  let inputs: Uint8Array | undefined
  if (a.inputs !== undefined) {
    try { inputs = await readFile(a.inputs) } catch (e) {
      throw new InvalidArgumentError(`cannot read --inputs ${a.inputs}: ${(e as Error).message}`, { path: a.inputs })
    }
  }
  return {
    backend: a.backend as BackendName | undefined,
    tolerance,
    inputs,
    require: a['require-verify'],
    ...(a.runtime !== undefined ? { runtime: a.runtime } : {}),
    ...(a.python !== undefined ? { python: a.python } : {}),
    ...(a['custom-objects'] !== undefined ? { customObjects: a['custom-objects'] } : {})
  }
}

export function formatReport (r: VerificationReport, p: Paint = NO_PAINT): string {
  const lines: string[] = []
  if (!r.verified) {
    for (const m of r.models) lines.push(`verification skipped: ${m.path}: ${m.reason ?? 'nothing recorded'}`)
    if (r.models.length === 0) lines.push('verification skipped: no TF.js model was recorded in this version')
    return lines.join('\n')
  }
  const tfjsOnly = r.models.every(m => m.runtime === undefined)
  lines.push(tfjsOnly
    ? `verifying on ${r.backend} (recorded on ${r.recordedBackend}), atol ${r.tolerance.atol}, rtol ${r.tolerance.rtol}`
    : `verifying, atol ${r.tolerance.atol}, rtol ${r.tolerance.rtol}`)
  for (const m of r.models) {
    if (m.status === 'skipped') { lines.push(`  ${m.path}: skipped (${m.reason ?? ''})`); continue }
    const ran = m.runtime === undefined ? '' : `  (${m.runtime.id} ${m.runtime.version}${m.recordedBy !== undefined && (m.recordedBy.id !== m.runtime.id || m.recordedBy.version !== m.runtime.version) ? `; recorded by ${m.recordedBy.id} ${m.recordedBy.version}` : ''})`
    lines.push(`  ${m.path}${ran}`)
    for (const o of m.outputs) {
      const extra = o.shapeMismatch !== undefined ? ` shape [${o.shapeMismatch.actual.join(',')}], recorded [${o.shapeMismatch.expected.join(',')}]` : o.missing !== undefined ? ` missing in ${o.missing}` : ''
      lines.push(`    ${o.name.padEnd(32)} max_abs_diff ${o.maxAbsDiff.toExponential(3)}  ${verdict(p, o.pass)}${extra}`)
    }
  }
  lines.push(verdict(p, r.pass))
  return lines.join('\n')
}

/** Prints the report carried by a VERIFICATION_FAILED / _UNAVAILABLE error before it propagates (as JSON on stdout with --json). */
function printFailedReport (io: Io, err: unknown, json: boolean): void {
  if (!isMvcError(err) || (err.code !== 'VERIFICATION_FAILED' && err.code !== 'VERIFICATION_UNAVAILABLE')) return
  const report = (err.data as { report?: VerificationReport }).report
  if (report === undefined) return
  if (json) io.out(toJson({ ...report, error: { code: err.code, message: err.message } }))
  else io.out(formatReport(report, colors(io)))
}

/**
 * Runs a step that may verify behaviour: clears its progress lines when it ends, and when it fails
 * verification prints the per-output report (carried by the error) before the error propagates.
 */
export async function verifyingStep<T> (io: Io, json: boolean, progressLines: ReadonlyArray<{ done: () => void }>, step: () => Promise<T>): Promise<T> {
  try {
    const r = await step()
    for (const p of progressLines) p.done()
    return r
  } catch (err) {
    for (const p of progressLines) p.done()
    printFailedReport(io, err, json)
    throw err
  }
}
