import type { CommandModule } from 'yargs'
import { readFile } from 'node:fs/promises'
import { InputNotFoundError, UsageError } from '../../api/index.js'
import { colors, formatBytes, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'
import { readKeyFile } from '../trust.js'
import { formatReport, verifyArgs, verifyingStep, verifyOptions, verifyProgress, type VerifyFlags } from '../verification.js'

interface Args extends GlobalArgs, VerifyFlags { rev: string, signature?: boolean, bundle?: string, 'trusted-key'?: string[], path?: string }

export function verifyCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'verify [rev]',
    describe: 'Load a version\'s models from the store, run the recorded inputs and compare outputs (the working folder is not touched); with --signature or --bundle, check who signed it instead',
    builder: y => verifyOptions(y, 'verify').positional('rev', { type: 'string', default: 'HEAD', describe: 'version to verify' })
      .option('signature', { type: 'boolean', describe: 'check that a trusted key (`mvc trust`, --trusted-key) signed the version; exit 12 if not' })
      .option('bundle', { type: 'string', describe: 'check an OpenSSF model signing bundle (e.g. from `model_signing sign key`) against the version\'s files, or --path\'s; exit 12 if they differ' })
      .option('trusted-key', { type: 'string', array: true, nargs: 1, describe: 'public key (PEM) to trust; with --bundle, the key that signed it; repeatable' })
      .option('path', { type: 'string', describe: 'with --bundle: check this folder (or file) on disk instead of the version' })
      .example('mvc verify production', 'check the aliased version from the store')
      .example('mvc verify v2 --backend cpu --json', 'on another backend, as JSON')
      .example('mvc verify v3 --signature', 'check that a trusted key signed v3'),
    handler: async args => {
      await withRepo(args, async repo => {
        const keys = await Promise.all((args['trusted-key'] ?? []).map(async p => await readKeyFile(p, '--trusted-key')))
        if (args.bundle !== undefined) {
          if (keys.length !== 1) throw new UsageError('--bundle needs the public key that signed it: --trusted-key <key.pub>', {})
          let bundle: string
          try { bundle = await readFile(args.bundle, 'utf8') } catch (e) { throw new InputNotFoundError(`cannot read --bundle ${args.bundle}: ${(e as Error).message}`, { path: args.bundle }) }
          const r = await repo.verifySignatureBundle({ rev: args.rev, path: args.path, bundle, bundlePath: args.bundle, publicKey: keys[0]! })
          if (args.json === true) { io.out(toJson(r)); return }
          const what = args.path !== undefined ? args.path : `v${r.version ?? ''} ${r.cid?.toString() ?? ''}`
          io.out(`${what}: the ${r.files} files match the signed bundle for ${r.name} (${formatBytes(r.stats.bytes)}; ${formatBytes(r.stats.hashedBytes)} hashed)\nPASS`)
          return
        }
        if (args.path !== undefined) throw new UsageError('--path goes with --bundle', {})
        if (args.signature === true) {
          const r = await repo.verifySignature({ rev: args.rev, trustedKeys: keys })
          if (args.json === true) { io.out(toJson(r)); return }
          io.out(`v${r.version} ${r.cid.toString()}`)
          for (const s of r.trustedBy) io.out(`  signed by trusted ${s.algorithm} key ${s.fingerprint.slice(0, 16)}${s.signedAt !== undefined ? ` at ${s.signedAt}` : ''}`)
          io.out('PASS')
          return
        }
        const vp = verifyProgress(io, 'verifying')
        const v = (await verifyArgs(args, true, vp.onProgress)) ?? {}
        const r = await verifyingStep(io, args.json === true, [vp], async () => await repo.verify({ rev: args.rev, ...v }))
        if (args.json === true) io.out(toJson(r))
        else io.out(`v${r.version} ${r.cid.toString()}\n${formatReport(r, colors(io))}`)
      }, { reader: true })
    }
  }
}
