/**
 * The Python-TensorFlow runtime: real TensorFlow/Keras, the framework that wrote the model, run in a
 * child process (python/mvc_tf_runtime.py, shipped with mvc). Optional: mvc never needs Python; this
 * runtime is available when an interpreter that can import tensorflow is found — `--python <path>`,
 * else `MVC_PYTHON`, else `python3` on the PATH.
 *
 * Protocol: one JSON request per line on the child's stdin, one JSON response per line on its stdout
 * (the script's `--lines` mode; its docstring has the requests). Loaded models are cached in the child,
 * so recording (signature, then run) loads a model once. Tensors travel as base64 of the TF.js byte
 * encoding (src/formats/tensor-data.ts).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { InvalidModelError, VerificationUnavailableError } from '../../errors.js'
import type { LoadedModel, ModelRuntime, OpenRuntime, RuntimeOptions } from '../interface.js'
import type { InputSpec, TensorData, TensorDType } from '../tensor-data.js'

export const PYTHON_RUNTIME_ID = 'python-tensorflow'
const SCRIPT = 'mvc_tf_runtime.py'
/** How long one request may take before the child is stopped (MVC_VERIFY_TIMEOUT_MS). */
function requestTimeout (): number {
  const env = Number(process.env.MVC_VERIFY_TIMEOUT_MS)
  return Number.isFinite(env) && env > 0 ? env : 10 * 60_000
}

/** python/mvc_tf_runtime.py, found by walking up from this module (src/… or dist/src/…). */
export function runtimeScript (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'python', SCRIPT)
    if (existsSync(p)) return p
    const up = dirname(dir)
    if (up === dir) break
    dir = up
  }
  throw new VerificationUnavailableError(`the Python runtime script ${SCRIPT} is missing from this installation of mvc`, { script: SCRIPT })
}

interface Response { ok: boolean, code?: string, message?: string, missing?: string[], [k: string]: unknown }

/** A child process answering requests one at a time. */
class Session {
  private readonly child: ChildProcessWithoutNullStreams
  private readonly lines: AsyncIterator<string>
  private stderr = ''
  private queue: Promise<unknown> = Promise.resolve()
  private exited: string | undefined

  constructor (readonly python: string) {
    this.child = spawn(python, [runtimeScript(), '--lines'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2' } })
    this.child.stderr.setEncoding('utf8')
    this.child.stderr.on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-4000) })
    this.child.on('error', e => { this.exited = e.message })
    this.child.on('exit', (code, signal) => { this.exited ??= signal !== null ? `killed by ${signal}` : `exited with ${String(code)}` })
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]()
  }

  private unavailable (why: string): VerificationUnavailableError {
    const tail = this.stderr.trim().split('\n').slice(-3).join(' | ')
    return new VerificationUnavailableError(`the Python runtime (${this.python}) ${why}${tail !== '' ? `: ${tail}` : ''}`, { python: this.python })
  }

  async request (req: Record<string, unknown>): Promise<Response> {
    const run = async (): Promise<Response> => {
      if (this.exited !== undefined) throw this.unavailable(`is not running (${this.exited})`)
      this.child.stdin.write(JSON.stringify(req) + '\n')
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          this.child.kill('SIGKILL')
          reject(this.unavailable(`did not answer "${String(req.op)}" within ${requestTimeout()} ms (MVC_VERIFY_TIMEOUT_MS); it was stopped`))
        }, requestTimeout())
      })
      try {
        const next = await Promise.race([this.lines.next(), timeout])
        if (next.done === true) throw this.unavailable(`stopped before answering (${this.exited ?? 'its output ended'})`)
        try { return JSON.parse(next.value) as Response } catch { throw this.unavailable(`answered something that is not JSON (${next.value.slice(0, 200)})`) }
      } finally { clearTimeout(timer) }
    }
    const p = this.queue.then(run, run)
    this.queue = p.catch(() => {})
    return await p
  }

  async close (): Promise<void> {
    if (this.exited !== undefined) return
    const gone = new Promise<void>(resolve => this.child.once('exit', () => resolve()))
    this.child.stdin.end()
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000)
    await gone
    clearTimeout(t)
  }
}

const FORMAT_OF: Readonly<Record<string, string>> = {
  'layers-model': 'tfjs-layers'
}

function toWire (t: TensorData): Record<string, unknown> {
  return { name: t.name, dtype: t.dtype, shape: [...t.shape], data: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64') }
}

function fromWire (v: unknown, what: string): TensorData {
  const o = v as { name?: unknown, dtype?: unknown, shape?: unknown, data?: unknown }
  if (typeof o?.name !== 'string' || typeof o.dtype !== 'string' || !Array.isArray(o.shape) || typeof o.data !== 'string') {
    throw new VerificationUnavailableError(`the Python runtime returned a malformed ${what}`, {})
  }
  return { name: o.name, dtype: o.dtype as TensorDType, shape: o.shape as number[], data: new Uint8Array(Buffer.from(o.data, 'base64')) }
}

/** Turns a failed response into the error a user can act on. */
function failure (r: Response, path: string): Error {
  const message = r.message ?? 'failed'
  if (r.code === 'MISSING_CUSTOM_OBJECTS') {
    const missing = r.missing ?? []
    return new VerificationUnavailableError(
      `${path} needs custom classes that are not registered (${missing.join(', ')}); pass the Python file that defines them with --custom-objects <file.py>`,
      { path, missing, code: r.code })
  }
  if (r.code === 'LOAD_FAILED') return new InvalidModelError(`TensorFlow could not load ${path}: ${message}`, { path })
  return new VerificationUnavailableError(`the Python runtime could not run ${path}: ${message}`, { path, code: r.code })
}

export interface PythonRuntimeOptions extends RuntimeOptions {
  /** The interpreter (default MVC_PYTHON, else python3). */
  readonly python?: string
  /** Python files that register custom Keras classes. */
  readonly customObjects?: readonly string[]
}

export const pythonRuntime: ModelRuntime = {
  id: PYTHON_RUNTIME_ID,
  needsDirectory: true,
  async open (options: PythonRuntimeOptions): Promise<OpenRuntime> {
    const python = options.python ?? (process.env.MVC_PYTHON !== undefined && process.env.MVC_PYTHON !== '' ? process.env.MVC_PYTHON : 'python3')
    const session = new Session(python)
    let probe: Response
    try {
      probe = await session.request({ op: 'probe' })
    } catch (e) {
      await session.close()
      throw new VerificationUnavailableError(
        `no Python with TensorFlow: ${e instanceof Error ? e.message : String(e)}. Install tensorflow-cpu for ${python}, or name an interpreter that has it with --python or MVC_PYTHON`,
        { python }, { cause: e })
    }
    if (!probe.ok || typeof probe.tensorflow !== 'string') {
      await session.close()
      throw new VerificationUnavailableError(`${python} cannot import TensorFlow (${probe.message ?? 'no version'}); install tensorflow-cpu for it, or name another interpreter with --python or MVC_PYTHON`, { python })
    }
    const customObjects = (options.customObjects ?? []).map(p => resolve(p))
    return {
      backend: 'cpu',
      version: `tensorflow ${probe.tensorflow}`,
      // TensorFlow picks kernels by CPU features and splits reductions by thread count.
      fingerprint: `python-tensorflow ${probe.tensorflow} cpu ${os.arch()} ${os.cpus()[0]?.model.trim() ?? '?'} x${os.cpus().length}`,
      async load (model, _read, where): Promise<LoadedModel> {
        if (where?.dir === undefined) throw new VerificationUnavailableError('the Python runtime needs the model\'s files in a folder', { path: model.path })
        const abs = join(where.dir, model.path)
        const format = FORMAT_OF[model.format] ?? model.format
        const target = format === 'saved-model' ? dirname(abs) : abs
        const base = { format, path: target, custom_objects: customObjects }
        const sig = await session.request({ op: 'signature', ...base })
        if (!sig.ok) throw failure(sig, model.path)
        const inputs = (sig.inputs as Array<{ name: string, dtype: string, shape: Array<number | null> | null }>)
          .map((s): InputSpec => ({ name: s.name, dtype: s.dtype, shape: s.shape ?? [] }))
        return {
          inputs,
          async run (given) {
            const r = await session.request({ op: 'run', ...base, inputs: given.map(toWire) })
            if (!r.ok) throw failure(r, model.path)
            return (r.outputs as unknown[]).map(o => fromWire(o, 'output'))
          },
          dispose () {}
        }
      },
      close: async () => { await session.close() }
    }
  }
}
