import type { CommandModule } from 'yargs'
import { open } from 'node:fs/promises'
import { resolve } from 'node:path'
import { InvalidArgumentError, Repository, RefExistsError, type SignatureAlgorithm } from '../../api/index.js'
import { toJson, type GlobalArgs, type Io } from '../output.js'

interface Args extends GlobalArgs { name: string, type: string, force?: boolean }

async function writeNew (path: string, text: string, mode: number, force: boolean): Promise<void> {
  let fh
  try {
    fh = await open(path, force ? 'w' : 'wx', mode)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new RefExistsError(`${path} exists; choose another name or use --force to overwrite it`, { path })
    throw new InvalidArgumentError(`cannot write ${path}: ${(e as Error).message}`, { path })
  }
  try {
    await fh.chmod(mode)
    await fh.writeFile(text)
    await fh.sync()
  } finally { await fh.close() }
}

export function keygenCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'keygen [name]',
    describe: 'Make a signing key pair: <name> (private, PKCS#8 PEM, mode 0600) and <name>.pub (public, SPKI PEM)',
    builder: y => y
      .positional('name', { type: 'string', default: 'mvc-key', describe: 'file name of the private key' })
      .option('type', { alias: 't', type: 'string', choices: ['ed25519', 'ecdsa-p256'], default: 'ed25519', describe: 'ed25519, or ecdsa-p256 for OpenSSF model signing bundles (`mvc sign --openssf`)' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'overwrite existing files' }),
    handler: async args => {
      const k = Repository.keygen({ algorithm: args.type as SignatureAlgorithm })
      const priv = resolve(args.name)
      const pub = priv + '.pub'
      await writeNew(pub, k.publicKey, 0o644, args.force === true)
      await writeNew(priv, k.privateKey, 0o600, args.force === true)
      if (args.json === true) { io.out(toJson({ privateKey: priv, publicKey: pub, algorithm: k.algorithm, fingerprint: k.fingerprint })); return }
      io.out(`wrote ${priv} (private key, ${k.algorithm}; keep it secret) and ${pub} (public key)\nfingerprint ${k.fingerprint}`)
    }
  }
}
