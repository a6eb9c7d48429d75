import type { CommandModule } from 'yargs'
import { resolve } from 'node:path'
import { Repository, cloneDirName } from '../../api/index.js'
import { remoteScheme } from '../../api/index.js'
import { formatBytes, progress, toJson, type GlobalArgs, type Io, colors } from '../output.js'
import { formatReport, verifyArgs, verifyingStep, verifyOptions, type VerifyFlags } from '../verification.js'
import { formatAliasChange, formatRefChange, printedRefChanges, transferProgress } from './push.js'
import { trustArgs, trustOptions, type TrustFlags } from '../trust.js'

interface Args extends GlobalArgs, VerifyFlags, TrustFlags { url: string, dir?: string, filter?: string, checkout?: boolean, origin?: string, expect?: string }

export function cloneCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'clone <url> [dir]',
    describe: "Create a repository from a remote, with origin set, and check out its default branch's HEAD version",
    builder: y => trustOptions(verifyOptions(y, 'load the checked-out model with TF.js and compare outputs with those recorded at commit'), 'the clone (nothing is left behind)')
      .positional('url', { type: 'string', demandOption: true, describe: 'a path, file:///path, http(s)://host:port/ or s3://bucket/prefix' })
      .positional('dir', { type: 'string', describe: 'folder to create (default: the last part of the URL)' })
      .option('filter', { type: 'string', choices: ['commits'], describe: "partial clone: fetch commits and refs only; a version's content is fetched when it is checked out, shown, verified or diffed" })
      .option('checkout', { type: 'boolean', default: true, describe: 'check out the HEAD version (--no-checkout fetches only)' })
      .option('origin', { alias: 'o', type: 'string', default: 'origin', describe: 'name of the remote in the new repository' })
      .option('expect', { type: 'string', describe: 'a commit CID the cloned branch must contain (exit 7 otherwise): guards a first clone against a rolled-back remote' })
      .example('mvc clone http://127.0.0.1:8080/ classifier', 'a repository from an mvc serve')
      .example('mvc clone s3://models/classifier --filter=commits', 'history now, contents when used'),
    handler: async args => {
      // With -C, a relative URL path and the target folder are taken relative to that folder.
      const base = args.C ?? '.'
      const url = remoteScheme(args.url) === 'folder' && !/^file:/i.test(args.url) ? resolve(base, args.url) : args.url
      const dir = resolve(base, args.dir ?? cloneDirName(url))
      const p = transferProgress(io, 'cloning')
      const files = progress(io, 'checking out')
      const verify = (await verifyArgs(args, true)) ?? false
      const r = await verifyingStep(io, args.json === true, [p, files], async () => await Repository.clone({
        url,
        dir,
        remoteName: args.origin,
        filter: args.filter === 'commits' ? 'commits' : undefined,
        checkout: args.checkout,
        ...(args.expect !== undefined ? { expect: args.expect } : {}),
        verify,
        ...(await trustArgs(args)),
        onProgress: p.onProgress,
        onFile: (_f, size) => files.tick(size)
      }))
      const f = r.fetch
      if (args.json === true) {
        io.out(toJson({
          root: r.root,
          remote: r.remote,
          url: r.url,
          partial: r.partial,
          branch: r.branch,
          head: r.head,
          objectsReceived: f.objectsReceived,
          bytesReceived: f.bytesReceived,
          versions: f.versions,
          refs: f.refs,
          aliases: f.aliases,
          warnings: f.warnings,
          checkout: r.checkout === undefined ? null : { cid: r.checkout.cid, version: r.checkout.commit.version, target: r.checkout.target, files: r.checkout.files, bytes: r.checkout.bytes, verification: r.checkout.verification ?? null }
        }))
        return
      }
      io.out(`cloned ${r.url} into ${r.root}${r.partial ? ' (partial: commits only; content is fetched on demand)' : ''}`)
      if (r.branch === null) io.out('the remote has no branches yet: nothing to check out')
      for (const c of printedRefChanges(f.refs, false)) if (c.ref.startsWith('refs/tags/')) io.out(formatRefChange(c))
      for (const a of f.aliases) io.out(formatAliasChange(a, 'fetch'))
      if (r.checkout !== undefined) {
        io.out(`checked out v${r.checkout.commit.version} to ${r.checkout.target}: ${r.checkout.files} files, ${formatBytes(r.checkout.bytes)}`)
        if (r.checkout.verification !== undefined) io.out(formatReport(r.checkout.verification, colors(io)))
      }
      io.err(`received ${f.objectsReceived} objects, ${formatBytes(f.bytesReceived)}`)
    }
  }
}
