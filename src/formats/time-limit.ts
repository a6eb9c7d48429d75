/**
 * A time limit for verification work that runs in this process (TF.js), which a hostile or broken
 * model can keep busy forever. MVC_VERIFY_TIMEOUT_MS (default 10 minutes, as for the Python runtime).
 *
 * - Work that keeps yielding (slow, or waiting forever) is rejected at the limit with VERIFICATION_FAILED
 *   naming what did not finish: a verification failure with its reason.
 * - Work that never yields (a synchronous endless loop inside TF.js) blocks every timer. For that, a
 *   watchdog thread holds the deadline: if the main thread has not even run its own timer 2 s after it,
 *   the watchdog prints the same error and ends the process with SIGKILL — the one way out of a loop
 *   that cannot be interrupted safely (stopping JavaScript from outside, as a debugger does, aborts
 *   Node when it lands inside a callback). A killed mvc leaves the repository as a crash does: as it was
 *   (docs/design.md, crash table; the next command removes the temporary pack). The watchdog runs only
 *   in the main thread; in a worker thread the owner of the worker stops it (worker.terminate()).
 */
import { Worker, isMainThread } from 'node:worker_threads'
import { VerificationFailedError } from '../errors.js'

export function verifyTimeLimit (): number {
  const env = Number(process.env.MVC_VERIFY_TIMEOUT_MS)
  return Number.isFinite(env) && env > 0 ? env : 10 * 60_000
}

const GRACE_MS = 2000

// Plain script (no require, no import): works whatever module type the process was started with.
const WATCHDOG = `
const { parentPort } = process.getBuiltinModule('node:worker_threads')
let deadline = 0
let message = ''
parentPort.on('message', m => { deadline = m.deadline; message = m.message })
setInterval(() => {
  if (deadline > 0 && Date.now() > deadline) {
    process.getBuiltinModule('node:fs').writeSync(2, 'mvc: error [VERIFICATION_FAILED]: ' + message + ' (the process was blocked and is ended; nothing was changed)\\n')
    process.kill(process.pid, 'SIGKILL')
  }
}, 50)
`

let watchdog: Worker | undefined

function post (deadline: number, message = ''): void {
  if (!isMainThread) return
  if (watchdog === undefined) {
    if (deadline === 0) return
    watchdog = new Worker(WATCHDOG, { eval: true, execArgv: [] })
    watchdog.on('error', () => { watchdog = undefined })
  }
  watchdog.postMessage({ deadline, message })
  if (deadline === 0) watchdog.unref() // an idle watchdog never keeps the process alive
  else watchdog.ref()
}

function timeoutMessage (what: string, ms: number): string {
  return `${what} did not finish within ${ms} ms (MVC_VERIFY_TIMEOUT_MS); the model never completes here (a hostile or broken model?)`
}

/** Runs `fn`, rejecting with VERIFICATION_FAILED when it has not finished after `ms` (see the module comment). */
export async function withTimeLimit<T> (what: string, fn: () => Promise<T>, ms = verifyTimeLimit()): Promise<T> {
  post(Date.now() + ms + GRACE_MS, timeoutMessage(what, ms))
  let timer: NodeJS.Timeout | undefined
  try {
    return await new Promise<T>((resolve, reject) => {
      timer = setTimeout(() => {
        post(0)
        reject(new VerificationFailedError(timeoutMessage(what, ms), { timeoutMs: ms }))
      }, ms)
      fn().then(resolve, reject)
    })
  } finally {
    clearTimeout(timer)
    post(0)
  }
}
