/**
 * The command line. Parses arguments with yargs, runs one command, and maps any error to the
 * documented exit code (docs/cli.md) in one place. Returns the exit code; bin/mvc.js sets it.
 */
import yargs from 'yargs'
import { ExitCode, InputNotFoundError, UsageError, exitCodeFor, isMvcError, toMvcError } from '../api/index.js'
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
import { serveCommand } from './commands/serve.js'
import { diffCommand } from './commands/diff.js'
import { fsckCommand } from './commands/fsck.js'
import { repairCommand } from './commands/repair.js'

export async function main (argv: string[], base: Io = processIo): Promise<number> {
  let exitCode: number = ExitCode.ok
  const io: Io = { ...base, setExitCode: code => { exitCode = code } }
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
    .command(initCommand(io))
    .command(commitCommand(io))
    .command(statusCommand(io))
    .command(logCommand(io))
    .command(showCommand(io))
    .command(diffCommand(io))
    .command(checkoutCommand(io))
    .command(verifyCommand(io))
    .command(fsckCommand(io))
    .command(repairCommand(io))
    .command(tagCommand(io))
    .command(aliasCommand(io))
    .command(branchCommand(io))
    .command(switchCommand(io))
    .command(remoteCommand(io))
    .command(pushCommand(io))
    .command(fetchCommand(io))
    .command(pullCommand(io))
    .command(cloneCommand(io))
    .command(serveCommand(io))
    .demandCommand(1, 'name a command; see `mvc --help`')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .epilogue('Exit codes: 0 ok, 1 unexpected error, 2 usage, 3 not a repository or unsupported format, 4 unknown revision, 5 corrupt or missing object, 6 repository locked, 7 conflict, 8 bad input, 9 verification failed, 10 remote error, 11 authentication refused, 12 disk full, read-only or permission denied. See docs/cli.md.')
    .exitProcess(false)
    .fail((msg: string | null, err: Error | undefined) => {
      if (err !== undefined && err !== null) throw err
      throw new UsageError(msg ?? 'invalid arguments', {})
    })
  try {
    await parser.parseAsync()
    return exitCode
  } catch (err) {
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
