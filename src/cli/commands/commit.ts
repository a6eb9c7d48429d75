import type { CommandModule } from 'yargs'
import { UsageError, parseAssignments } from '../../api/index.js'
import { describeRecorded, verifyArgs, verifyOptions, verifyProgress, type VerifyFlags } from '../verification.js'
import { formatBytes, progress, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'

interface LineageFlags { data?: string, 'data-ref'?: string, code?: string | boolean, param?: string[], metric?: string[], params?: string[], metrics?: string[] }
interface Args extends GlobalArgs, VerifyFlags, LineageFlags { path?: string, message: string, 'allow-empty'?: boolean, 'allow-invalid-models'?: boolean, inputs?: string, 'require-verify'?: boolean, measure?: string }

/** The lineage arguments of `repo.commit` from the flags. */
function lineageArgs (a: LineageFlags): { data?: { path: string } | { ref: string }, code?: { dir?: string } | false, params: Record<string, unknown>, metrics: Record<string, unknown>, paramFiles: string[], metricFiles: string[] } {
  if (a.data !== undefined && a['data-ref'] !== undefined) throw new UsageError('--data and --data-ref cannot be used together', {})
  if (a.code === true || a.code === '') throw new UsageError('--code needs a folder (or use --no-code)', {})
  return {
    data: a.data !== undefined ? { path: a.data } : a['data-ref'] !== undefined ? { ref: a['data-ref'] } : undefined,
    code: a.code === false ? false : typeof a.code === 'string' ? { dir: a.code } : undefined,
    params: parseAssignments(a.param ?? [], '--param'),
    metrics: parseAssignments(a.metric ?? [], '--metric'),
    paramFiles: a.params ?? [],
    metricFiles: a.metrics ?? []
  }
}

export function commitCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'commit [path]',
    describe: 'Snapshot a model folder or file as a new version (default path: the last one committed)',
    builder: y => verifyOptions(y, 'record reference inputs and outputs of each TF.js model')
      .positional('path', { type: 'string', describe: 'file or folder to commit' })
      .option('inputs', { type: 'string', describe: 'reference inputs instead of generated ones: a JSON file ({ "inputs": [{ name?, shape, dtype, values }] }), a NumPy .npy (one input) or .npz (one array per input, named after the inputs or in order)' })
      .option('measure', { type: 'string', choices: ['auto', 'always', 'never'], describe: 'run the reference inputs on a second backend to measure each output\'s tolerance for other runtimes: auto (default) when the first run took ≤ 150 ms and the model is ≤ 128 MiB (the cpu backend is 10–50× slower than wasm)' })
      .option('require-verify', { type: 'boolean', default: false, describe: 'fail instead of committing when a model cannot be loaded and run' })
      .option('message', { alias: 'm', type: 'string', demandOption: true, describe: 'what this version is' })
      .option('allow-empty', { type: 'boolean', default: false, describe: 'create a version even if nothing changed' })
      .option('allow-invalid-models', { type: 'boolean', default: false, describe: 'commit a file that claims to be a model but is invalid (a truncated model.json) as a plain file, with a warning, instead of failing (exit 8)' })
      .option('data', { type: 'string', describe: 'training data folder or file: hashed like a model (only its manifest is stored)' })
      .option('data-ref', { type: 'string', describe: 'external identifier of the training data (s3://…?versionId=…, a DVC hash), recorded as given' })
      .option('code', { type: 'string', describe: 'folder in the git repository of the training code (default: the committed path; --no-code records none)' })
      .option('param', { type: 'string', array: true, nargs: 1, describe: 'a param key=value (repeatable; numbers stay numbers)' })
      .option('metric', { type: 'string', array: true, nargs: 1, describe: 'a metric key=value (repeatable; finite numbers or strings)' })
      .option('params', { type: 'string', array: true, nargs: 1, describe: 'JSON or YAML file of params (as DVC keeps params.yaml: nested keys and list indexes joined with dots)' })
      .option('metrics', { type: 'string', array: true, nargs: 1, describe: 'JSON or YAML file of metrics (as DVC keeps metrics.json)' })
      .example('mvc commit model -m "baseline"', 'snapshot the model folder as a new version')
      .example('mvc commit -m "fine-tune head" --data data --param lr=0.005', 'commit the last path with its training data and a param')
      .example('mvc commit model.h5 -m "keras" --python .venv/bin/python', 'record outputs with TensorFlow in that Python'),
    handler: async args => {
      await withRepo(args, async repo => {
        const p = progress(io, 'committing')
        const vp = verifyProgress(io, 'recording behaviour:')
        let r
        try {
          r = await repo.commit({ path: args.path, message: args.message, allowEmpty: args['allow-empty'], allowInvalidModels: args['allow-invalid-models'], verify: (await verifyArgs(args, false, m => { p.done(); vp.onProgress(m) })) ?? false, onBytes: (done, total) => p.bytes(done, total), ...lineageArgs(args) })
        } finally { p.done(); vp.done() }
        // Every warning the text prints is in the JSON too.
        const warnings = [...r.warnings]
        const code = r.commit?.code ?? null
        if (code?.kind === 'git' && code.dirty) {
          const shown = code.dirtyPaths.slice(0, 5).join(', ') + (code.dirtyPaths.length > 5 ? ', …' : '')
          warnings.push(`the code at ${code.oid.slice(0, 10)} has uncommitted changes (${shown}); recorded as dirty`)
        }
        for (const m of r.verification?.models ?? []) if (m.status === 'skipped') warnings.push(`verification skipped: ${m.path}: ${m.reason}`)
        if (args.json === true) {
          const { commit: _written, parentVersion: _pv, warnings: _w, ...shown } = r
          io.out(toJson(warnings.length > 0 ? { ...shown, warnings } : shown))
        } else if (!r.committed) {
          io.out(`nothing to commit: ${r.path} is unchanged since v${String(r.parentVersion)} (use --allow-empty to commit anyway)`)
        } else {
          io.out(`v${r.version} ${r.cid!.toString()}`)
          const v = r.verification ?? null
          for (const m of v?.models ?? []) {
            if (m.status === 'skipped') io.err(`verification skipped: ${m.path}: ${m.reason}`)
            else io.err(`verification ${m.path}: ${describeRecorded(m, v!)}`)
          }
          const where = r.paths.length > 1 ? r.paths.map(p => p.path).join(', ') : r.path
          io.err(`${where}: ${r.stats.files} files, ${formatBytes(r.stats.bytes)}; ${r.newObjects} new objects, ${formatBytes(r.newBytes)} added`)
          // Skipped verifications were printed above, with the recorded ones.
          for (const w of warnings) if (!w.startsWith('verification skipped')) io.err(`warning: ${w}`)
          if (r.gitignore !== undefined) io.err(`added ${r.gitignore.added.join(', ')} to ${r.gitignore.file}: mvc versions it, not git (commit .gitignore to git)`)
        }
      })
    }
  }
}
