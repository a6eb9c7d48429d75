/**
 * The TensorFlow.js runtime: importing TF.js lazily and selecting a backend.
 *
 * TF.js is heavy (hundreds of milliseconds to import), so this module only has *type* imports of it:
 * the library itself is imported inside `loadRuntime`, and every function that needs it takes the
 * `LoadedRuntime` it returned.
 *
 * Glossary:
 * - runtime: the imported TF.js module plus the selected backend (`LoadedRuntime`), one per process.
 * - backend: where kernels run: 'tensorflow' (tfjs-node, native libtensorflow, optional),
 *   'wasm' (@tensorflow/tfjs-backend-wasm, SIMD when available, single-threaded in Node), 'cpu'
 *   (plain JavaScript, always available).
 */
import os from 'node:os'
import { InvalidArgumentError, VerificationUnavailableError } from '../../errors.js'

type TfModule = typeof import('@tensorflow/tfjs')

export type BackendName = 'tensorflow' | 'wasm' | 'cpu'
export const BACKENDS: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu']

/** What the WebAssembly backend actually runs with (recorded so a verification report can say it). */
export interface WasmDetails {
  readonly simd: boolean
  readonly multithread: boolean
  readonly threads: number
}

export interface LoadedRuntime {
  readonly tf: TfModule
  readonly backend: BackendName
  readonly tfjsVersion: string
  /** Present when backend is 'wasm'. */
  readonly wasm?: WasmDetails
}

// ---------------------------------------------------------------------------------------------------
// Runtime loading
// ---------------------------------------------------------------------------------------------------

/**
 * Module-level caches. TF.js keeps its engine, registered backends and flags in a process global,
 * so there is exactly one TF.js per process whatever we do; caching the runtime objects here only
 * avoids redoing backend selection and makes repeated calls return the identical object.
 * Promises are cached (not results) so concurrent callers share one initialisation.
 */
const runtimes = new Map<BackendName, Promise<LoadedRuntime>>()
let defaultRuntime: Promise<LoadedRuntime> | undefined
let tfjsModule: Promise<TfModule> | undefined

const TFJS_NODE = '@tensorflow/tfjs-node'

function messageOf (e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** A dynamically imported CommonJS package may expose its exports as the namespace or on `default`. */
function asTfModule (m: unknown): TfModule | undefined {
  for (const cand of [m, isRecord(m) ? m.default : undefined]) {
    if ((typeof cand === 'object' || typeof cand === 'function') && cand !== null &&
        typeof (cand as Record<string, unknown>).tensor === 'function' &&
        typeof (cand as Record<string, unknown>).setBackend === 'function') {
      return cand as TfModule
    }
  }
  return undefined
}

/**
 * Silences TF.js's console chatter. In Node the cpu backend prints a "looks like you are running
 * TensorFlow.js in Node.js ... install our node backend" banner through console.warn on its first
 * tensor, and the engine warns on re-registrations; mvc's CLI output must stay clean (and mvc picks
 * the backend itself). The maintainers' switch for this is the PROD flag (tensorflow/tfjs#5349,
 * fixed by #5368: tfjs-core's log.warn/log.log are no-ops when PROD is set). In 4.x PROD gates only
 * those messages, it changes no numerics. It must be set before the first backend initialises.
 */
function quietTf (tf: TfModule): void {
  tf.env().set('PROD', true)
}

async function importTfjs (): Promise<TfModule> {
  tfjsModule ??= (async () => {
    let m: unknown
    try {
      m = await import('@tensorflow/tfjs')
    } catch (e) {
      throw new VerificationUnavailableError(
        `behaviour verification needs TensorFlow.js, which could not be loaded (${messageOf(e)}); install it with \`npm install @tensorflow/tfjs\``,
        { package: '@tensorflow/tfjs' }, { cause: e })
    }
    const tf = asTfModule(m)
    if (tf === undefined) {
      throw new VerificationUnavailableError('@tensorflow/tfjs loaded but does not look like TensorFlow.js (no tensor/setBackend exports)', { package: '@tensorflow/tfjs' })
    }
    quietTf(tf)
    return tf
  })()
  tfjsModule.catch(() => { tfjsModule = undefined })
  return await tfjsModule
}

function versionOf (tf: TfModule): string {
  const v: unknown = tf.version
  if (isRecord(v) && typeof v.tfjs === 'string') return v.tfjs
  return tf.version_core
}

async function selectBackend (tf: TfModule, backend: BackendName, install: string): Promise<void> {
  let ok: boolean
  try {
    ok = await tf.setBackend(backend)
    await tf.ready()
  } catch (e) {
    throw new VerificationUnavailableError(`the '${backend}' TensorFlow.js backend failed to initialise (${messageOf(e)}); ${install}`, { backend }, { cause: e })
  }
  if (!ok || tf.getBackend() !== backend) {
    throw new VerificationUnavailableError(`the '${backend}' TensorFlow.js backend failed to initialise; ${install}`, { backend })
  }
}

async function initTensorflow (): Promise<LoadedRuntime> {
  // tfjs-node is optional and not a dependency: a computed specifier keeps TypeScript from needing
  // its types and keeps bundlers from trying to resolve it.
  const specifier: string = TFJS_NODE
  const unavailable = (e: unknown): VerificationUnavailableError => new VerificationUnavailableError(
    `the 'tensorflow' backend needs ${TFJS_NODE}, which could not be loaded (${messageOf(e)}); install it with \`npm install ${TFJS_NODE}\` (its install step downloads libtensorflow), or use the 'wasm' or 'cpu' backend`,
    { backend: 'tensorflow', package: TFJS_NODE }, { cause: e })
  let m: unknown
  try {
    // Resolve first so that the environment is only touched when the package is there at all.
    import.meta.resolve(specifier)
  } catch (e) {
    throw unavailable(e)
  }
  // libtensorflow prints its own C++ log lines (CPU feature notices) on load; keep them out of mvc's
  // output unless the user asked for them.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2'
  try {
    m = await import(specifier)
  } catch (e) {
    throw unavailable(e)
  }
  const tf = asTfModule(m)
  if (tf === undefined) {
    throw new VerificationUnavailableError(`${TFJS_NODE} loaded but does not look like TensorFlow.js`, { backend: 'tensorflow', package: TFJS_NODE })
  }
  quietTf(tf)
  await selectBackend(tf, 'tensorflow', `reinstall ${TFJS_NODE} or use the 'wasm' or 'cpu' backend`)
  return { tf, backend: 'tensorflow', tfjsVersion: versionOf(tf) }
}

async function initWasm (): Promise<LoadedRuntime> {
  const tf = await importTfjs()
  let wasm: unknown
  try {
    // Importing registers the 'wasm' backend with the engine. In Node it finds its .wasm binaries next
    // to its own files (verified with 4.22), so setWasmPaths is not needed.
    wasm = await import('@tensorflow/tfjs-backend-wasm')
  } catch (e) {
    throw new VerificationUnavailableError(
      `the 'wasm' backend needs @tensorflow/tfjs-backend-wasm, which could not be loaded (${messageOf(e)}); install it with \`npm install @tensorflow/tfjs-backend-wasm\`, or use the 'cpu' backend`,
      { backend: 'wasm', package: '@tensorflow/tfjs-backend-wasm' }, { cause: e })
  }
  await selectBackend(tf, 'wasm', "reinstall @tensorflow/tfjs-backend-wasm or use the 'cpu' backend")
  // TF.js decides these itself: SIMD when the engine validates SIMD code, multithreading never in Node
  // (tfjs disables it there, tensorflow/tfjs#3830), so the thread count is 1.
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true
  const multithread = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true
  let threads = 1
  if (isRecord(wasm) && typeof wasm.getThreadsCount === 'function') {
    const n: unknown = wasm.getThreadsCount()
    if (typeof n === 'number' && n > 0) threads = n
  }
  return { tf, backend: 'wasm', tfjsVersion: versionOf(tf), wasm: { simd, multithread, threads } }
}

async function initCpu (): Promise<LoadedRuntime> {
  const tf = await importTfjs()
  await selectBackend(tf, 'cpu', 'reinstall @tensorflow/tfjs')
  return { tf, backend: 'cpu', tfjsVersion: versionOf(tf) }
}

function initBackend (backend: BackendName): Promise<LoadedRuntime> {
  let p = runtimes.get(backend)
  if (p === undefined) {
    p = backend === 'tensorflow' ? initTensorflow() : backend === 'wasm' ? initWasm() : initCpu()
    runtimes.set(backend, p)
    // A failed initialisation is not cached, so a later call reports the problem again with its reason.
    p.catch(() => { if (runtimes.get(backend) === p) runtimes.delete(backend) })
  }
  return p
}

/**
 * What decides a TF.js runtime's numerics, as one string: runs with equal fingerprints compute
 * bit-identical outputs. wasm: XNNPACK's kernels differ with and without SIMD (and with threads);
 * cpu: kernels are JavaScript, so V8's Math functions count (its version); tensorflow: libtensorflow
 * picks kernels by CPU features and splits work by thread count, so the CPU model and count count.
 */
export function runtimeFingerprint (rt: LoadedRuntime): string {
  const base = `tfjs ${rt.tfjsVersion} ${rt.backend}`
  if (rt.backend === 'wasm') return `${base} simd=${rt.wasm?.simd === true ? 1 : 0} threads=${rt.wasm?.threads ?? 1}`
  if (rt.backend === 'cpu') return `${base} v8 ${process.versions.v8}`
  const cpus = os.cpus()
  return `${base} ${os.arch()} ${cpus[0]?.model.trim() ?? '?'} x${cpus.length}`
}

/** Makes the runtime's backend the active one (TF.js has a single global active backend). */
export async function activate (rt: LoadedRuntime): Promise<void> {
  if (rt.tf.getBackend() !== rt.backend) await selectBackend(rt.tf, rt.backend, 'the backend was available earlier in this process')
}

/**
 * Loads TF.js lazily (a dynamic import, so commands that do not verify do not pay for it) and selects a
 * backend: the requested one, else tfjs-node ('tensorflow') when `@tensorflow/tfjs-node` can be
 * imported, else 'wasm', else 'cpu'. Requesting an unavailable backend throws
 * VerificationUnavailableError saying why and what to install.
 *
 * Runtimes are cached per backend in this module (TF.js is a process global anyway), so calling it
 * twice returns the same object. The returned backend is made the active TF.js backend; the other
 * functions here re-activate their runtime's backend when a different one was selected since.
 * Side effect: sets TF.js's PROD flag (see `quietTf`) to keep its banner out of mvc's output.
 */
export async function loadRuntime (backend?: BackendName): Promise<LoadedRuntime> {
  if (backend !== undefined && !BACKENDS.includes(backend)) {
    throw new InvalidArgumentError(`unknown TensorFlow.js backend ${JSON.stringify(backend)}; expected one of ${BACKENDS.join(', ')}`, { backend })
  }
  let rt: LoadedRuntime
  if (backend !== undefined) {
    rt = await initBackend(backend)
  } else {
    defaultRuntime ??= (async () => {
      const reasons: string[] = []
      for (const b of BACKENDS) {
        try {
          return await initBackend(b)
        } catch (e) {
          if (!(e instanceof VerificationUnavailableError)) throw e
          reasons.push(`${b}: ${e.message}`)
        }
      }
      throw new VerificationUnavailableError(`no TensorFlow.js backend could be loaded:\n${reasons.join('\n')}`, { tried: BACKENDS })
    })()
    defaultRuntime.catch(() => { defaultRuntime = undefined })
    rt = await defaultRuntime
  }
  await activate(rt)
  return rt
}
