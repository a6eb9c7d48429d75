/**
 * The command line. Runs one command and maps any error to the documented exit code (docs/cli.md) in
 * one place. Returns the exit code; bin/mvc.js sets it.
 *
 * Start-up is kept to what the command needs: `--version` reads package.json and nothing else; the
 * everyday commands are parsed by the quick parser (lite.ts) and load only their own module and the
 * library; yargs (full.ts) is loaded for help, completion, and anything the quick parser hands over.
 */
import { readFileSync } from 'node:fs'
import { resolve as resolvePath } from 'node:path'
import { ExitCode, UsageError, exitCodeFor, isMvcError, toMvcError } from '../api/errors.js'
import { processIo, type GlobalArgs, type Io } from './output.js'
import { GIT_VERB_HINTS } from './hints.js'
import { colorWanted, paint } from './color.js'
import { page, pagerCommand } from './pager.js'
import { COMMANDS } from './commands/index.js'
import { runLite } from './lite.js'

/** Commands that take paths after `--`. */
const PATHSPEC = new Set(['log', 'diff', 'checkout', 'status'])

/** Commands whose output can be long: paged on a terminal. */
const PAGED = new Set(['log', 'show', 'diff'])

/** mvc's version, from its package.json (what yargs' --version prints). */
function version (): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

export async function main (argv: string[], base: Io = processIo): Promise<number> {
  if (argv.length === 1 && argv[0] === '--version') {
    base.out(version())
    return ExitCode.ok
  }
  let exitCode: number = ExitCode.ok
  const json = argv.includes('--json')
  const settings = base.outTty === true && !json ? await (await import('../api/settings.js')).outputSettings(dirArg(argv)) : {}
  const colorFlag = argv.includes('--no-color') ? false : argv.includes('--color') ? true : undefined
  const painted = colorWanted({ flag: colorFlag, setting: settings.color, tty: base.outTty === true }) && !json
  // Long output of log, show and diff goes through a pager on a terminal.
  const pager = base.outTty === true && !json && !argv.includes('--no-pager') && PAGED.has(argv.find(a => !a.startsWith('-')) ?? '')
    ? pagerCommand(settings.pager)
    : undefined
  const buffered: string[] = []
  // `mvc log -- model`: paths after `--` narrow the commands that take them (git's pathspec); for other
  // commands `--` keeps its usual meaning, the end of options (`mvc tag -- -x`).
  const command = argv.find(a => !a.startsWith('-'))
  const dd = argv.indexOf('--')
  const narrows = command !== undefined && PATHSPEC.has(command) && dd >= 0
  const yargsArgv = narrows ? argv.slice(0, dd) : argv
  const io: Io = {
    ...base,
    // Given relative to the current folder (or -C): passed on absolute.
    paths: narrows ? argv.slice(dd + 1).filter(p => p !== '').map(p => resolvePath(dirArg(argv), p)) : [],
    out: pager === undefined ? base.out : s => { buffered.push(s.endsWith('\n') ? s : s + '\n') },
    paint: paint(painted),
    setExitCode: code => { exitCode = code }
  }
  const flush = async (): Promise<void> => {
    if (pager === undefined || buffered.length === 0) return
    const text = buffered.join('')
    const rows = process.stdout.rows ?? 24
    if (text.split('\n').length <= rows) process.stdout.write(text)
    else await page(text, pager)
  }
  const names = new Set(COMMANDS.map(c => c.name))
  // A git word mvc does not have gets what to do instead, not a misleading "did you mean".
  const first = argv.find(a => !a.startsWith('-'))
  const hint = first === undefined ? undefined : GIT_VERB_HINTS[first]
  if (hint !== undefined && !names.has(first!)) {
    return report(io, new UsageError(`mvc has no '${first}' command: ${hint}`, { command: first }), argv)
  }
  try {
    if (!(await runLite(yargsArgv, io))) await (await import('./full.js')).runFull(yargsArgv, io)
    await flush()
    return exitCode
  } catch (err) {
    await flush()
    return report(io, err, argv)
  }
}

function report (io: Io, thrown: unknown, argv: string[]): number {
  // A full disk, a read-only file system, a refused permission: faults of the environment, typed.
  const err = toMvcError(thrown)
  const code = exitCodeFor(err)
  const json = argv.includes('--json')
  if (isMvcError(err)) {
    if (json) io.err(JSON.stringify({ error: err.toJSON() }))
    else io.err(`mvc: error [${err.code}]: ${err.message}${err.code === 'USAGE' ? '\nRun `mvc --help` for usage.' : ''}`)
    return code
  }
  const e = err as Error
  io.err(`mvc: unexpected error: ${e?.message ?? String(err)}`)
  if (process.env.MVC_DEBUG !== undefined) io.err(e?.stack ?? '')
  else io.err('(set MVC_DEBUG=1 for a stack trace; please report this as a bug)')
  return code
}

export type { GlobalArgs }

/** The folder a command runs in (`-C <dir>`), for reading settings before parsing. */
function dirArg (argv: readonly string[]): string {
  const i = argv.indexOf('-C')
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : '.'
}
