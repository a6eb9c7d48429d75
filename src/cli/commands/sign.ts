import type { CommandModule } from 'yargs'
import { writeFile } from 'node:fs/promises'
import { formatBytes, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'
import { readKeyFile } from '../trust.js'
import { UsageError } from '../../api/index.js'

interface Args extends GlobalArgs { rev: string, key?: string, password?: string, openssf?: string, force?: boolean, list?: boolean, 'trusted-key'?: string[] }

export function signCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'sign [rev]',
    describe: 'Sign a version with a private key (the signature covers its commit CID and travels with it); --openssf also writes an OpenSSF model signing bundle for its files',
    builder: y => y
      .positional('rev', { type: 'string', default: 'HEAD', describe: 'version to sign' })
      .option('key', { alias: 'k', type: 'string', describe: 'private key (PEM: `mvc keygen`, or OpenSSL\'s)' })
      .option('password', { type: 'string', describe: 'password of an encrypted key (default: MVC_KEY_PASSWORD)' })
      .option('openssf', { type: 'string', describe: 'also write a model_signing bundle (Sigstore bundle, DSSE, in-toto) for the version\'s files here; needs an ECDSA key' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'sign again even if this key signed the version already' })
      .option('list', { alias: 'l', type: 'boolean', default: false, describe: 'list the version\'s signatures (checked) instead of signing' })
      .option('trusted-key', { type: 'string', array: true, nargs: 1, describe: 'with --list: mark signatures by this public key as trusted too; repeatable' }),
    handler: async args => {
      await withRepo(args, async repo => {
        if (args.list === true) {
          const keys = await Promise.all((args['trusted-key'] ?? []).map(async p => await readKeyFile(p, '--trusted-key')))
          const r = await repo.signatures({ rev: args.rev, trustedKeys: keys })
          if (args.json === true) { io.out(toJson(r)); return }
          if (r.signatures.length === 0) { io.out(`v${r.version} ${r.cid.toString()} is not signed`); return }
          io.out(`v${r.version} ${r.cid.toString()}`)
          for (const s of r.signatures) {
            io.out(`  ${s.fingerprint.slice(0, 16)}  ${s.algorithm.padEnd(10)}  ${s.valid ? (s.trusted ? 'valid, trusted' : 'valid, key not trusted') : `INVALID: ${s.problem ?? ''}`}${s.signedAt !== undefined ? `  signed ${s.signedAt}` : ''}`)
          }
          return
        }
        if (args.key === undefined) throw new UsageError('mvc sign needs --key <private key file> (make one with `mvc keygen`)', {})
        const key = await readKeyFile(args.key, '--key')
        const password = args.password ?? process.env.MVC_KEY_PASSWORD
        const s = await repo.sign({ rev: args.rev, key, password, force: args.force })
        let bundle: Awaited<ReturnType<typeof repo.exportSignatureBundle>> | undefined
        if (args.openssf !== undefined) {
          bundle = await repo.exportSignatureBundle({ rev: s.cid.toString(), key, password })
          await writeFile(args.openssf, bundle.bundle)
        }
        if (args.json === true) {
          io.out(toJson({ ...s, openssf: bundle === undefined ? null : { path: args.openssf, name: bundle.name, files: bundle.files.length, stats: bundle.stats } }))
          return
        }
        io.out(s.created
          ? `signed v${s.version} ${s.cid.toString()} with ${s.algorithm} key ${s.fingerprint.slice(0, 16)}: signature ${s.signature.toString()}`
          : `v${s.version} is already signed by key ${s.fingerprint.slice(0, 16)} (signature ${s.signature.toString()}); --force signs again`)
        if (bundle !== undefined) {
          const st = bundle.stats
          io.out(`wrote ${args.openssf ?? ''}: OpenSSF model signing bundle for ${bundle.name}/ (${st.files} files, ${formatBytes(st.bytes)}; ${formatBytes(st.hashedBytes)} hashed, ${st.cachedFiles} files' digests cached)`)
        }
      })
    }
  }
}
