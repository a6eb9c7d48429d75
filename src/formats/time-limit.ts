/**
 * A time limit for work that runs in this process and may never end — TF.js building or running a
 * hostile model can loop synchronously, and then no timer fires. A watchdog worker thread holds the
 * deadline; when it passes, it stops the main thread's running JavaScript through the inspector
 * protocol (`Runtime.terminateExecution`, the same thing a debugger's "pause and terminate" does). The
 * event loop then runs again, the timer set here fires and the limited promise is rejected with
 * VERIFICATION_FAILED naming what did not finish: a verification failure with its reason, never a hang.
 * The limit is MVC_VERIFY_TIMEOUT_MS (default 10 minutes, as for the Python runtime).
 */
import { Worker } from 'node:worker_threads'
import { VerificationFailedError } from '../errors.js'

export function verifyTimeLimit (): number {
  const env = Number(process.env.MVC_VERIFY_TIMEOUT_MS)
  return Number.isFinite(env) && env > 0 ? env : 10 * 60_000
}

const WATCHDOG = `
const { parentPort } = require('node:worker_threads')
const inspector = require('node:inspector')
const session = new inspector.Session()
session.connectToMainThread()
let deadline = 0
parentPort.on('message', m => { deadline = m })
setInterval(() => {
  if (deadline > 0 && Date.now() > deadline) { deadline = 0; session.post('Runtime.terminateExecution', () => {}) }
}, 25).unref()
parentPort.ref()
`

const GRACE_MS = 2000
let watchdog: Worker | undefined
let armed = 0

function arm (deadline: number): void {
  if (watchdog === undefined) {
    watchdog = new Worker(WATCHDOG, { eval: true })
    watchdog.on('error', () => { watchdog = undefined })
  }
  armed++
  watchdog.ref()
  watchdog.postMessage(deadline)
}

function disarm (): void {
  armed--
  if (armed > 0 || watchdog === undefined) return
  watchdog.postMessage(0)
  watchdog.unref() // an idle watchdog never keeps the process alive
}

/** Runs `fn`, rejecting with VERIFICATION_FAILED when it has not finished after `ms` (even if it blocks the thread). */
export async function withTimeLimit<T> (what: string, fn: () => Promise<T>, ms = verifyTimeLimit()): Promise<T> {
  // The watchdog acts only if this thread could not even run its own timer for GRACE_MS more: when
  // it can, the timer rejects and disarms first, and no running code is ever cut short by mistake.
  arm(Date.now() + ms + GRACE_MS)
  let timer: NodeJS.Timeout | undefined
  try {
    return await new Promise<T>((resolve, reject) => {
      timer = setTimeout(() => {
        disarmNow()
        reject(new VerificationFailedError(
        `${what} did not finish within ${ms} ms (MVC_VERIFY_TIMEOUT_MS) and was stopped; the model never completes here (a hostile or broken model?)`,
        { timeoutMs: ms }))
      }, ms)
      fn().then(resolve, reject)
    })
  } finally {
    clearTimeout(timer)
    disarm()
  }
}

/** Stops the watchdog's countdown at once (this thread is running: no need to stop it). */
function disarmNow (): void {
  watchdog?.postMessage(0)
}
