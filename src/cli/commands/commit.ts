import type { CommandModule } from 'yargs'
import { parseVerification } from '../../core/verify.js'
import { verifyArgs, verifyOptions, type VerifyFlags } from '../verification.js'
import { formatBytes, progress, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs, VerifyFlags { path?: string, message: string, 'allow-empty'?: boolean, inputs?: string, 'require-verify'?: boolean }

export function commitCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'commit [path]',
    describe: 'Snapshot a model folder or file as a new version (default path: the last one committed)',
    builder: y => verifyOptions(y, 'record reference inputs and outputs of each TF.js model')
      .positional('path', { type: 'string', describe: 'file or folder to commit' })
      .option('inputs', { type: 'string', describe: 'JSON file of reference inputs ({ "inputs": [{ name?, shape, dtype, values }] }) when they cannot be generated' })
      .option('require-verify', { type: 'boolean', default: false, describe: 'fail instead of committing when a model cannot be loaded and run' })
      .option('message', { alias: 'm', type: 'string', demandOption: true, describe: 'what this version is' })
      .option('allow-empty', { type: 'boolean', default: false, describe: 'create a version even if nothing changed' }),
    handler: async args => {
      await withRepo(args, async repo => {
        const p = progress(io, 'committing')
        let r
        try {
          r = await repo.commit({ path: args.path, message: args.message, allowEmpty: args['allow-empty'], verify: (await verifyArgs(args)) ?? false, onFile: (_f, size) => p.tick(size) })
        } finally { p.done() }
        if (args.json === true) {
          io.out(toJson(r))
        } else if (!r.committed) {
          io.out(`nothing to commit: ${r.path} is unchanged since v${(await repo.show({ rev: 'HEAD' })).commit.version} (use --allow-empty to commit anyway)`)
        } else {
          io.out(`v${r.version} ${r.cid!.toString()}`)
          const v = parseVerification(r.verification)
          for (const m of v?.models ?? []) {
            if (m.status === 'skipped') io.err(`verification skipped: ${m.path}: ${m.reason}`)
            else io.err(`verification recorded: ${m.path} (${m.inputs.length} inputs, ${m.outputs.length} outputs, ${v!.backend})`)
          }
          io.err(`${r.path}: ${r.stats.files} files, ${formatBytes(r.stats.bytes)}; ${r.newObjects} new objects, ${formatBytes(r.newBytes)} added`)
        }
      })
    }
  }
}
