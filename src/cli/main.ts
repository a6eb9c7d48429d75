/**
 * The command line. Parses arguments with yargs, runs one command, and maps any error to the
 * documented exit code (docs/cli.md) in one place. Returns the exit code; bin/mvc.js sets it.
 */
import yargs, { type CommandModule } from 'yargs'
import { resolve as resolvePath } from 'node:path'
import { ExitCode, InputNotFoundError, UsageError, exitCodeFor, isMvcError, outputSettings, toMvcError } from '../api/index.js'
import { processIo, type GlobalArgs, type Io } from './output.js'
import { initCommand } from './commands/init.js'
import { commitCommand } from './commands/commit.js'
import { checkoutCommand } from './commands/checkout.js'
import { logCommand } from './commands/log.js'
import { tagCommand } from './commands/tag.js'
import { aliasCommand } from './commands/alias.js'
import { branchCommand } from './commands/branch.js'
import { switchCommand } from './commands/switch.js'
import { showCommand } from './commands/show.js'
import { statusCommand } from './commands/status.js'
import { verifyCommand } from './commands/verify.js'
import { remoteCommand } from './commands/remote.js'
import { pushCommand } from './commands/push.js'
import { fetchCommand } from './commands/fetch.js'
import { pullCommand } from './commands/pull.js'
import { cloneCommand } from './commands/clone.js'
import { lsRemoteCommand } from './commands/ls-remote.js'
import { serveCommand } from './commands/serve.js'
import { uiCommand } from './commands/ui.js'
import { diffCommand } from './commands/diff.js'
import { fsckCommand } from './commands/fsck.js'
import { configCommand } from './commands/config.js'
import { GIT_VERB_HINTS } from './hints.js'
import { colorWanted, paint } from './color.js'
import { page, pagerCommand } from './pager.js'
import { keygenCommand } from './commands/keygen.js'
import { signCommand } from './commands/sign.js'
import { trustCommand } from './commands/trust.js'
import { exportCommand } from './commands/export.js'
import { importCommand } from './commands/import.js'
import { repairCommand } from './commands/repair.js'

/** Commands that take paths after `--`. */
const PATHSPEC = new Set(['log', 'diff', 'checkout', 'status'])

/** Commands whose output can be long: paged on a terminal. */
const PAGED = new Set(['log', 'show', 'diff'])

export async function main (argv: string[], base: Io = processIo): Promise<number> {
  let exitCode: number = ExitCode.ok
  const json = argv.includes('--json')
  const settings = base.outTty === true && !json ? await outputSettings(dirArg(argv)) : {}
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
  // In workflow order: --help lists them so.
  const commands: Array<CommandModule<GlobalArgs, any>> = [ // eslint-disable-line @typescript-eslint/no-explicit-any
    initCommand(io), commitCommand(io), statusCommand(io), logCommand(io), showCommand(io), diffCommand(io),
    checkoutCommand(io), verifyCommand(io), fsckCommand(io), repairCommand(io), tagCommand(io), aliasCommand(io), branchCommand(io),
    switchCommand(io), remoteCommand(io), pushCommand(io), fetchCommand(io), pullCommand(io), cloneCommand(io), lsRemoteCommand(io),
    serveCommand(io), uiCommand(io), configCommand(io), keygenCommand(io), signCommand(io), trustCommand(io), exportCommand(io), importCommand(io)
  ]
  const names = new Set(commands.map(c => String(c.command).split(' ')[0]!))
  // A git word mvc does not have gets what to do instead, not a misleading "did you mean".
  const first = argv.find(a => !a.startsWith('-'))
  const hint = first === undefined ? undefined : GIT_VERB_HINTS[first]
  if (hint !== undefined && !names.has(first!)) {
    return report(io, new UsageError(`mvc has no '${first}' command: ${hint}`, { command: first }), argv)
  }
  const parser = yargs(yargsArgv)
    .scriptName('mvc')
    .usage('mvc — version control for TensorFlow.js models\n\nUsage: mvc <command> [options]')
    .option('C', { type: 'string', describe: 'run as if started in this folder', global: true })
    .middleware(argv => {
      // Like git -C: every relative path on the command line is then relative to that folder.
      if (typeof argv.C !== 'string') return
      try { process.chdir(argv.C) } catch (e) {
        throw new InputNotFoundError(`-C ${argv.C}: ${(e as Error).message}`, { path: argv.C })
      }
      argv.C = undefined
    }, true)
    .option('json', { type: 'boolean', describe: 'print machine-readable JSON', global: true })
    .option('color', { type: 'boolean', describe: 'colour the output (default: on a terminal, unless NO_COLOR is set); --no-color turns it off', global: true })
    .option('pager', { type: 'boolean', describe: 'page long output on a terminal (default on; --no-pager turns it off)', global: true })
    .command(commands)
    .completion('completion', 'Print a shell completion script (bash, zsh): mvc completion >> ~/.bashrc')
    .demandCommand(1, 'name a command; see `mvc --help`')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .epilogue('Exit codes: 0 ok, 1 unexpected error, 2 usage, 3 not a repository or unsupported format, 4 unknown revision, 5 corrupt or missing object, 6 repository locked, 7 conflict, 8 bad input, 9 verification failed, 10 remote error, 11 authentication refused, 12 signature missing or invalid, 13 disk full, read-only, permission denied or I/O error. See docs/cli.md.')
    .exitProcess(false)
    .fail((msg: string | null, err: Error | undefined) => {
      if (err !== undefined && err !== null) throw err
      throw new UsageError(msg ?? 'invalid arguments', {})
    })
  try {
    await parser.parseAsync()
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
