/**
 * CLI options and output shared by the commands that record or check behaviour (commit, checkout, verify).
 */
import type { Argv } from 'yargs'
import { readFile } from 'node:fs/promises'
import { InvalidArgumentError, isMvcError } from '../api/index.js'
import type { VerifyArgs } from '../api/index.js'
import type { VerificationReport, BackendName, ModelVerification, OutputResult, VerificationRecord, VerifyProgress } from '../api/index.js'
import type { RuntimeRecord } from '../api/index.js'
import { colors, toJson, type Io } from './output.js'
import { NO_PAINT, verdict, type Paint } from './color.js'

export interface VerifyFlags { verify?: boolean, backend?: string, atol?: number, rtol?: number, runtime?: string, python?: string, 'custom-objects'?: string[] }

export function verifyOptions<T> (y: Argv<T>, what: string): Argv<T & VerifyFlags> {
  return y
    .option('verify', { type: 'boolean', default: true, describe: `${what} (--no-verify skips it and never loads TensorFlow.js)` })
    .option('backend', { type: 'string', choices: ['tensorflow', 'wasm', 'cpu'], describe: 'TensorFlow.js backend (default: tensorflow when @tensorflow/tfjs-node is installed, else wasm, else cpu)' })
    .option('atol', { type: 'number', describe: 'absolute tolerance for every float output (default: each output\'s own, recorded at commit; 1e-5 when only --rtol is given)' })
    .option('rtol', { type: 'number', describe: 'relative tolerance for every float output (default: each output\'s own, recorded at commit; 1e-5 when only --atol is given)' })
    .option('runtime', { type: 'string', choices: ['tfjs', 'python-tensorflow'], describe: 'run models with this runtime when it can (default: the one that recorded them; at commit, each format\'s best)' })
    .option('python', { type: 'string', describe: 'Python interpreter with TensorFlow for the python-tensorflow runtime (default: MVC_PYTHON, else python3)' })
    .option('custom-objects', { type: 'string', array: true, nargs: 1, describe: 'file registering custom classes: a Python module (Keras register_keras_serializable) or a JS module (tf.serialization.registerClass); repeatable' }) as Argv<T & VerifyFlags>
}

/** Verification settings from flags; undefined when --no-verify. */
export async function verifyArgs (a: VerifyFlags & { inputs?: string, 'require-verify'?: boolean, measure?: string }, recorded?: boolean, onProgress?: (p: VerifyProgress) => void): Promise<VerifyArgs | undefined> {
  if (a.verify === false) return undefined
  for (const [k, v] of [['atol', a.atol], ['rtol', a.rtol]] as const) {
    if (v !== undefined && (!Number.isFinite(v) || v < 0)) throw new InvalidArgumentError(`--${k} must be a number ≥ 0`, { [k]: v })
  }
  // Given only when the user gave one: otherwise each output gets its own rule and tolerance at
  // commit (measured or derived, docs/design.md "Verification"), and checks use those.
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
    ...(a.measure !== undefined ? { measure: a.measure as 'auto' | 'always' | 'never' } : {}),
    ...(onProgress !== undefined ? { onProgress } : {}),
    ...(a.runtime !== undefined ? { runtime: a.runtime } : {}),
    ...(a.python !== undefined ? { python: a.python } : {}),
    ...(a['custom-objects'] !== undefined ? { customObjects: a['custom-objects'] } : {})
  }
}

function num (x: number): string {
  if (Number.isNaN(x)) return '-'
  if (x === 0) return '0'
  if (!Number.isFinite(x)) return 'inf'
  return x.toExponential(2)
}

function runtimeName (r: RuntimeRecord): string {
  return `${r.id} ${r.version} ${r.backend}`
}

/** The tolerance column of an output: what it was compared with. */
function toleranceOf (o: OutputResult): string {
  if (o.rule === 'none' || o.rule === '-') return '-'
  if (o.rule.startsWith('exact')) return 'identical bytes'
  return o.rtol === 0 ? `atol ${num(o.atol)}` : `atol ${num(o.atol)} rtol ${num(o.rtol)}`
}

/**
 * The per-output report: for every output its rule, max_abs_diff, relative difference
 * (max_abs_diff / max |recorded|), the tolerance and PASS, FAIL or SKIP (not compared, with why).
 */
export function formatReport (r: VerificationReport, p: Paint = NO_PAINT): string {
  const lines: string[] = []
  if (!r.verified && r.models.every(m => m.status === 'skipped')) {
    for (const m of r.models) lines.push(`verification skipped: ${m.path}: ${m.reason ?? 'nothing recorded'}`)
    if (r.models.length === 0) lines.push('verification skipped: no model was recorded in this version')
    return lines.join('\n')
  }
  lines.push(`verifying on ${r.backend} (recorded on ${r.recordedBackend})${r.toleranceGiven === true ? `, every output allclose at atol ${r.tolerance.atol}, rtol ${r.tolerance.rtol} (given)` : ''}`)
  let compared = 0; let notCompared = 0
  for (const m of r.models) {
    if (m.status === 'skipped') { lines.push(`  ${m.path}: skipped (${m.reason ?? ''})`); continue }
    const how = m.runtime === undefined || m.recordedBy === undefined
      ? ''
      : m.sameRuntime === true
        ? `  (${runtimeName(m.runtime)}: the recording runtime, outputs must be identical)`
        : `  (${runtimeName(m.runtime)}; recorded by ${runtimeName(m.recordedBy)}: each output's recorded rule)`
    lines.push(`  ${m.path}${how}`)
    const label = (o: OutputResult): string => o.probe === true ? `${o.name} (probe)` : o.name
    const width = Math.min(40, Math.max(6, ...m.outputs.map(o => label(o).length)))
    lines.push(`    ${'output'.padEnd(width)}  ${'rule'.padEnd(9)}  ${'max_abs_diff'.padStart(12)}  ${'relative'.padStart(9)}  tolerance`)
    for (const o of m.outputs) {
      const shown = o.skipped === true ? p.dim('SKIP') : verdict(p, o.pass)
      if (o.skipped === true) notCompared++; else compared++
      const rule = o.rule === 'exact (same runtime)' ? 'exact' : o.rule
      const extra = o.shapeMismatch !== undefined
        ? `  shape [${o.shapeMismatch.actual.join(',')}], recorded [${o.shapeMismatch.expected.join(',')}]`
        : o.dtypeMismatch !== undefined ? `  dtype ${o.dtypeMismatch.actual}, recorded ${o.dtypeMismatch.expected}`
          : o.missing !== undefined ? `  missing in ${o.missing === 'actual' ? 'the model now' : 'the record'}` : ''
      const sampled = o.sampled && o.skipped !== true ? ` (${o.elements} sampled elements)` : ''
      const note = o.note !== undefined ? `  ${o.note}` : ''
      lines.push(`    ${label(o).padEnd(width)}  ${rule.padEnd(9)}  ${num(o.maxAbsDiff).padStart(12)}  ${num(o.relDiff).padStart(9)}  ${toleranceOf(o).padEnd(18)} ${shown}${sampled}${extra}${note}`)
    }
  }
  const tail = notCompared > 0 ? ` (${compared} outputs compared, ${notCompared} not compared)` : ''
  lines.push(`${verdict(p, r.pass)}${tail}`)
  return lines.join('\n')
}

/** One line about a recorded model for `commit` and `show`: inputs, outputs and how they will be compared. */
export function describeRecorded (m: ModelVerification, record: VerificationRecord): string {
  if (m.status === 'skipped') return `skipped: ${m.reason}`
  const by = m.runtime !== undefined ? `${m.runtime.id} ${m.runtime.version} ${m.runtime.backend}` : `tfjs ${record.tfjsVersion} ${record.backend}`
  const ref = m.reference
  if (ref === undefined) return `recorded (${m.inputs.length} inputs, ${m.outputs.length} outputs, ${by})`
  const inputs = ref.generated !== null ? `${ref.inputDigests.length} generated input${ref.inputDigests.length === 1 ? '' : 's'}` : `${ref.inputDigests.length} given input${ref.inputDigests.length === 1 ? '' : 's'}`
  const rules = new Map<string, number>()
  const outs = ref.outputs.filter(o => o.probe !== true)
  const probes = ref.outputs.length - outs.length
  for (const o of ref.outputs) {
    const k = o.check.rule === 'allclose' ? `allclose ${o.check.basis === 'measured' && o.check.measured !== null ? `measured on ${o.check.measured.backend}` : o.check.basis}` : o.check.rule === 'none' ? 'not comparable elsewhere' : o.check.rule
    rules.set(k, (rules.get(k) ?? 0) + 1)
  }
  const across = [...rules].map(([k, n]) => `${n} ${k}`).join(', ')
  return `recorded (${inputs}, ${outs.length} output${outs.length === 1 ? '' : 's'}${probes > 0 ? ` + ${probes} probe${probes === 1 ? '' : 's'}` : ''}, ${by}; elsewhere: ${across})`
}

/**
 * A progress line for verification (model i of n, phase, elapsed), drawn on a terminal only and
 * redrawn every half second so that the elapsed time moves while a large model loads or runs.
 */
export function verifyProgress (io: Io, what: string): { onProgress: (p: VerifyProgress) => void, done: () => void } {
  if (!io.tty) return { onProgress: () => {}, done: () => {} }
  const words: Record<VerifyProgress['phase'], string> = { load: 'loading', run: 'running', 'second-backend': 'measuring on a second backend', done: 'done' }
  let last: { p: VerifyProgress, at: number } | undefined
  let timer: NodeJS.Timeout | undefined
  const draw = (): void => {
    if (last === undefined) return
    const elapsed = last.p.elapsedMs + (Date.now() - last.at)
    process.stderr.write(`\r${what} model ${last.p.index} of ${last.p.total} (${last.p.model}): ${words[last.p.phase]}, ${(elapsed / 1000).toFixed(1)} s\x1b[K`)
  }
  return {
    onProgress: p => {
      last = { p, at: Date.now() }
      draw()
      if (timer === undefined) { timer = setInterval(draw, 500); timer.unref() }
    },
    done: () => {
      if (timer !== undefined) clearInterval(timer)
      timer = undefined
      if (last !== undefined) process.stderr.write('\r\x1b[K')
      last = undefined
    }
  }
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
