/**
 * The full command line: yargs, every command, `--help` and completion. Loaded only when the quick
 * parser (lite.ts) cannot take the arguments on its own — yargs and its text layout cost more than
 * Node's own start-up.
 */
import yargs, { type CommandModule } from 'yargs'
import { InputNotFoundError, UsageError } from '../api/errors.js'
import type { GlobalArgs, Io } from './output.js'
import { COMMANDS } from './commands/index.js'

export const EPILOGUE = 'Exit codes: 0 ok, 1 unexpected error, 2 usage, 3 not a repository or unsupported format, 4 unknown revision, 5 corrupt or missing object, 6 repository locked, 7 conflict, 8 bad input, 9 verification failed, 10 remote error, 11 authentication refused, 12 signature missing or invalid, 13 disk full, read-only, permission denied or I/O error. See docs/cli.md.'

/** Parses and runs with yargs; throws what the command throws. */
export async function runFull (argv: string[], io: Io): Promise<void> {
  // In workflow order: --help lists them so.
  const commands: Array<CommandModule<GlobalArgs, any>> = [] // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const c of COMMANDS) commands.push((await c.load())(io))
  const parser = yargs(argv)
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
    .epilogue(EPILOGUE)
    .exitProcess(false)
    .fail((msg: string | null, err: Error | undefined) => {
      if (err !== undefined && err !== null) throw err
      throw new UsageError(msg ?? 'invalid arguments', {})
    })
  await parser.parseAsync()
}
