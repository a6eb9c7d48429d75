/**
 * CLI plumbing shared by the commands: the output streams, JSON printing, human formatting, and
 * opening the repository for a command. The CLI is the only layer that prints.
 */
import type { Repository } from '../api/index.js'
import type { CID } from 'multiformats/cid'
import { NO_PAINT, type Paint } from './color.js'

export interface Io {
  readonly out: (s: string) => void
  readonly err: (s: string) => void
  /** True when stderr is a terminal (progress lines are drawn only then). */
  readonly tty: boolean
  /** Sets the exit code of a command that succeeded but has something to report (`diff --exit-code`). */
  readonly setExitCode?: (code: number) => void
  /** True when stdout is a terminal (colour and the pager apply only then). */
  readonly outTty?: boolean
  /** Colours for stdout (identity functions when colour is off). */
  readonly paint?: Paint
  /** Tracked paths given after `--` (`mvc log -- model`). */
  readonly paths?: readonly string[]
}

export const processIo: Io = {
  out: s => { process.stdout.write(s.endsWith('\n') ? s : s + '\n') },
  err: s => { process.stderr.write(s.endsWith('\n') ? s : s + '\n') },
  tty: process.stderr.isTTY === true,
  outTty: process.stdout.isTTY === true
}

/** The colours of an Io (none unless main decided colour is wanted). */
export function colors (io: Io): Paint {
  return io.paint ?? NO_PAINT
}

export interface GlobalArgs {
  readonly C?: string
  readonly json?: boolean
}

/** JSON with CIDs as plain strings (CID.toJSON gives `{ "/": cid }`), bigints as numbers, bytes as base64. */
export function toJson (v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
      const keys = Object.keys(x)
      const link = (x as Record<string, unknown>)['/']
      if (keys.length === 1 && typeof link === 'string') return link
    }
    if (typeof x === 'bigint') return Number(x)
    if (x instanceof Uint8Array) return Buffer.from(x).toString('base64')
    return x
  }, 2)
}

export function shortCid (cid: CID | string): string {
  const s = cid.toString()
  return s.slice(0, 16)
}

export function formatBytes (n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = -1
  do { v /= 1024; i++ } while (v >= 1024 && i < units.length - 1)
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`
}

export function formatDate (ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')
}

/**
 * Runs `fn` on the repository around the current folder (or -C). `reader`: the command only reads, so
 * it never waits for another mvc process writing the repository (it reads a snapshot instead).
 */
export async function withRepo<T> (args: GlobalArgs, fn: (repo: Repository) => Promise<T>, options: { reader?: boolean } = {}): Promise<T> {
  const { Repository } = await import('../api/index.js') // the library loads with the first command that needs it
  const repo = await Repository.open({ dir: args.C ?? '.', reader: options.reader })
  try {
    return await fn(repo)
  } finally {
    await repo.close()
  }
}

/**
 * A progress line on stderr when it is a terminal, rewritten in place (at most 10 times a second);
 * silent otherwise. `bytes(done, total)` draws a bar with the rate and the time left; `tick(size)`
 * counts files when no total is known.
 */
export function progress (io: Io, label: string): { tick: (bytes: number) => void, bytes: (done: number, total: number) => void, done: () => void } {
  if (!io.tty) return { tick: () => {}, bytes: () => {}, done: () => {} }
  const start = Date.now()
  let counted = 0
  let files = 0
  let last = 0
  let drawn = false
  const draw = (text: string): void => { process.stderr.write(`\r${text}\x1b[K`); drawn = true }
  return {
    tick: (n: number) => {
      counted += n
      files++
      const now = Date.now()
      if (now - last < 100) return
      last = now
      const rate = counted / Math.max(0.001, (now - start) / 1000)
      draw(`${label}: ${files} files, ${formatBytes(counted)} (${formatBytes(rate)}/s)`)
    },
    bytes: (done: number, total: number) => {
      const now = Date.now()
      if (now - last < 100 && done < total) return
      last = now
      const secs = Math.max(0.001, (now - start) / 1000)
      const rate = done / secs
      const frac = total > 0 ? Math.min(1, done / total) : 1
      const width = 24
      const fill = Math.round(frac * width)
      const left = rate > 0 && done < total ? Math.ceil((total - done) / rate) : 0
      const eta = done >= total ? '' : ` ETA ${left >= 60 ? `${Math.floor(left / 60)}m${String(left % 60).padStart(2, '0')}s` : `${left}s`}`
      draw(`${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${Math.floor(frac * 100)}% ${formatBytes(done)}/${formatBytes(total)} ${formatBytes(rate)}/s${eta}`)
    },
    done: () => { if (drawn) process.stderr.write('\r\x1b[K') }
  }
}
