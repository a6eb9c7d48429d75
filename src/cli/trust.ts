/**
 * CLI options shared by the commands that apply a trust policy (checkout, pull, clone, verify):
 * `--require-signed` and `--trusted-key <file>` (repeatable), read into PEM text here.
 */
import type { Argv } from 'yargs'
import { readFile } from 'node:fs/promises'
import { InputNotFoundError, type TrustArgs } from '../api/index.js'

export interface TrustFlags { 'require-signed'?: boolean, 'trusted-key'?: string[] }

export function trustOptions<T> (y: Argv<T>, what: string): Argv<T & TrustFlags> {
  return y
    .option('require-signed', { type: 'boolean', describe: `refuse ${what} unless a trusted key signed it (default: the repository's setting, \`mvc trust require on\`)` })
    .option('trusted-key', { type: 'string', array: true, nargs: 1, describe: 'a public key (PEM) to trust besides the repository\'s (`mvc trust`); repeatable' }) as Argv<T & TrustFlags>
}

/** Reads a PEM file named on the command line. */
export async function readKeyFile (path: string, what: string): Promise<string> {
  try { return await readFile(path, 'utf8') } catch (e) {
    throw new InputNotFoundError(`cannot read ${what} ${path}: ${(e as Error).message}`, { path })
  }
}

export async function trustArgs (a: TrustFlags): Promise<TrustArgs> {
  const keys = await Promise.all((a['trusted-key'] ?? []).map(async p => await readKeyFile(p, '--trusted-key')))
  return {
    ...(a['require-signed'] !== undefined ? { requireSigned: a['require-signed'] } : {}),
    ...(keys.length > 0 ? { trustedKeys: keys } : {})
  }
}
