/**
 * Fault injection for crash tests: compiled in, inert unless `MVC_FAULT_KILL_AT` is set.
 *
 * Every durable step of the store (a pack append, fsync, rename, a folder fsync, the LevelDB batch, the
 * rename that creates a store) calls `faultPoint(name)`. With `MVC_FAULT_KILL_AT=<n>` the process kills
 * itself with SIGKILL — no cleanup, no `finally`, exactly like `kill -9` or a power cut seen from the
 * process — at the n-th point it reaches; `MVC_FAULT_KILL_AT=<name>:<n>` counts only points of that name.
 * `MVC_FAULT_TRACE=1` prints every point reached to stderr (`mvc-fault <n> <name>`), which is how a test
 * learns how many points an operation has. docs/reliability.md lists the points and the figures.
 */

const spec = process.env.MVC_FAULT_KILL_AT
const trace = process.env.MVC_FAULT_TRACE === '1'
let target: { name: string | undefined, n: number } | undefined
if (spec !== undefined && spec !== '') {
  const m = /^(?:([a-z.-]+):)?(\d+)$/.exec(spec)
  if (m !== null) target = { name: m[1], n: Number(m[2]) }
}
let reached = 0
let matched = 0

/** Marks a durable step; kills the process here when MVC_FAULT_KILL_AT says so. */
export function faultPoint (name: string): void {
  if (target === undefined && !trace) return
  reached++
  if (trace) process.stderr.write(`mvc-fault ${reached} ${name}\n`)
  if (target === undefined) return
  if (target.name !== undefined && target.name !== name) return
  matched++
  if (matched === target.n) process.kill(process.pid, 'SIGKILL')
}
