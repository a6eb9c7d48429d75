/**
 * `mvc ls-remote`, whole: the refs a remote holds, as git's `ls-remote` shows them (`<value>\t<ref>`),
 * from a configured remote of the repository it runs in or from a URL or path (also outside any
 * repository). Nothing is fetched and nothing local changes.
 *
 * Glossary: a *kind* is a ref's namespace — `head` (HEAD), `branch` (refs/heads/), `tag`, `alias`
 * (refs/aliases/: the commit an alias names), `alias-log` (refs/alias-log/: its newest move), `version`,
 * `signature`, `remote-tracking`, `import`, `other`.
 */
import { join } from 'node:path'
import { NotARepositoryError, RemoteError, isMvcError } from '../errors.js'
import {
  ALIASES, ALIAS_LOG, DEFAULT_REMOTE, HEAD, HEADS, IMPORTS, REMOTES, SIGNATURES, TAGS, VERSIONS, symbolicTarget, versionOfRef
} from '../format/keys.js'
import { MVC_DIR } from '../format/paths.js'
import type { Remote, RemoteRef } from '../remote/interface.js'
import { openRemote } from '../remote/open.js'
import { normalizeRemoteUrl } from '../remote/url.js'
import { openDiskStore } from '../store/open.js'
import { Config } from './config.js'
import { looksLikeUrl } from './connect.js'
import { getRemoteConfig } from './remotes.js'
import { findRoot } from './repo.js'

export type RemoteRefKind = 'head' | 'branch' | 'tag' | 'alias' | 'alias-log' | 'version' | 'signature' | 'remote-tracking' | 'import' | 'other'

/** Filters of `mvc ls-remote` (`--branches`, `--tags`, `--aliases`, `--versions`): union of kinds. */
export type RefFilter = 'branches' | 'tags' | 'aliases' | 'versions'

const FILTER_KINDS: Readonly<Record<RefFilter, readonly RemoteRefKind[]>> = {
  branches: ['branch'],
  tags: ['tag'],
  aliases: ['alias', 'alias-log'],
  versions: ['version']
}

export interface ListedRef {
  readonly name: string
  /** A CID (HEAD: the CID of the branch it names, as git shows it). */
  readonly value: string
  readonly kind: RemoteRefKind
  /** For versions: the number. */
  readonly version?: number
  /** For HEAD: the branch it names (`refs/heads/main`). */
  readonly symref?: string
}

export interface LsRemoteResult {
  /** The remote's URL. */
  readonly url: string
  /** The configured remote's name; null for a URL or path given directly. */
  readonly remote: string | null
  readonly refs: readonly ListedRef[]
}

export interface LsRemoteOptions {
  /** Where to look for a repository whose configured remotes may be named (default `.`); none is needed for a URL. */
  readonly dir?: string
  /** A configured remote's name (default: `remote.default`, else `origin`), or a URL or path. */
  readonly remote?: string
  /** An open remote to list instead (not closed here). */
  readonly transport?: Remote
  /** Only these kinds of ref (HEAD is left out when any is given). */
  readonly filters?: readonly RefFilter[]
  /** git's ls-remote patterns: a glob (`*`, `?`, `[…]`) matched against the whole name or a tail after a `/`. */
  readonly patterns?: readonly string[]
  readonly lockTimeoutMs?: number
}

export function refKind (name: string): RemoteRefKind {
  if (name === HEAD) return 'head'
  const ns: Array<[string, RemoteRefKind]> = [[HEADS, 'branch'], [TAGS, 'tag'], [ALIASES, 'alias'], [ALIAS_LOG, 'alias-log'], [VERSIONS, 'version'],
    [SIGNATURES, 'signature'], [REMOTES, 'remote-tracking'], [IMPORTS, 'import']]
  return ns.find(([prefix]) => name.startsWith(prefix))?.[1] ?? 'other'
}

/** A git ls-remote pattern as a regular expression over ref names (tail match). */
export function patternRegExp (pattern: string): RegExp {
  let re = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '*') re += '.*'
    else if (c === '?') re += '[^/]'
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2)
      if (end < 0) { re += '\\['; continue }
      let cls = pattern.slice(i + 1, end).replace(/\\/g, '\\\\')
      if (cls.startsWith('!')) cls = '^' + cls.slice(1)
      re += `[${cls}]`
      i = end
    } else re += c.replace(/[.+^${}()|\\/]/g, m => `\\${m}`)
  }
  return new RegExp(`(^|/)${re}$`)
}

/** Where to list: the configured remote's URL and options, or the URL given. REMOTE_ERROR when it is neither. */
async function select (options: LsRemoteOptions): Promise<{ url: string, name: string | null, config?: Readonly<Record<string, unknown>> }> {
  let root: string | undefined
  try { root = await findRoot(options.dir ?? '.') } catch (err) {
    if (!(err instanceof NotARepositoryError)) throw err
  }
  let arg = options.remote
  if (root !== undefined) {
    arg ??= (await Config.load(root)).string('remote.default') ?? DEFAULT_REMOTE
    // Opened only to read the remote's configuration, and closed before the remote is contacted.
    const store = await openDiskStore(join(root, MVC_DIR), { lockTimeoutMs: options.lockTimeoutMs })
    try {
      const c = await getRemoteConfig(store, arg)
      if (c !== undefined) return { url: c.url, name: arg, config: c.options }
    } finally { await store.close() }
  }
  if (arg === undefined) {
    throw new RemoteError(`not in an mvc repository, so there are no configured remotes: name a URL or path (\`mvc ls-remote http://host:8080/\`, \`mvc ls-remote /srv/models\`)`, { path: options.dir ?? '.' })
  }
  if (!looksLikeUrl(arg)) {
    throw new RemoteError(root === undefined
      ? `${JSON.stringify(arg)} is not a URL or path, and this is not an mvc repository with a remote of that name; give a URL (http://host:port/, s3://bucket/prefix) or a path`
      : `no remote named ${JSON.stringify(arg)} in this repository (\`mvc remote list\` shows them), and it is not a URL or path`, { remote: arg })
  }
  return { url: normalizeRemoteUrl(arg), name: null }
}

function order (a: ListedRef, b: ListedRef): number {
  if (a.kind === 'head') return -1
  if (b.kind === 'head') return 1
  if (a.version !== undefined && b.version !== undefined) return a.version - b.version
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}

/** The refs of `refs`, as listed: HEAD resolved, filtered, sorted (versions by number). */
export function listedRefs (refs: readonly RemoteRef[], filters: readonly RefFilter[] = [], patterns: readonly string[] = []): ListedRef[] {
  const byName = new Map(refs.map(r => [r.name, r.value]))
  const kinds = new Set(filters.flatMap(f => FILTER_KINDS[f]))
  const res = patterns.map(patternRegExp)
  const out: ListedRef[] = []
  for (const { name, value } of refs) {
    const kind = refKind(name)
    if (kinds.size > 0 && !kinds.has(kind)) continue
    if (res.length > 0 && !res.some(re => re.test(name))) continue
    if (kind === 'head') {
      const target = symbolicTarget(value)
      if (target === undefined) { out.push({ name, value, kind }); continue }
      const resolved = byName.get(target)
      if (resolved !== undefined) out.push({ name, value: resolved, kind, symref: target })
      continue // HEAD of a remote without commits names nothing yet
    }
    const version = kind === 'version' ? versionOfRef(name) : undefined
    out.push(version === undefined ? { name, value, kind } : { name, value, kind, version })
  }
  return out.sort(order)
}

/**
 * Lists a remote's refs.
 * @example const { refs } = await lsRemote({ remote: 'origin', filters: ['aliases'] })
 */
export async function lsRemote (options: LsRemoteOptions): Promise<LsRemoteResult> {
  if (options.transport !== undefined) {
    return { url: options.transport.url, remote: options.remote ?? null, refs: listedRefs(await options.transport.listRefs(''), options.filters, options.patterns) }
  }
  const where = await select(options)
  let remote: Remote
  try {
    remote = await openRemote(where.url, where.config === undefined ? {} : { config: where.config })
  } catch (err) {
    // A folder that is no repository, a host that refuses: the remote is unreachable, whatever the cause.
    if (isMvcError(err) && err.code === 'NOT_A_REPOSITORY') throw new RemoteError(`${where.url} is not an mvc repository: ${err.message}`, { url: where.url }, { cause: err })
    throw err
  }
  try {
    return { url: remote.url, remote: where.name, refs: listedRefs(await remote.listRefs(''), options.filters, options.patterns) }
  } finally { await remote.close() }
}
