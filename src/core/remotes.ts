/**
 * Named remotes, kept in the store's metadata: `m/remote/<name>` → JSON `{ url, options }`
 * (docs/remotes.md, "Configuration"). A partial clone records the remote it fetches missing objects
 * from in `m/partial`.
 *
 * URL forms, stored as follows:
 * - `file:///abs/path` — stored as given;
 * - a plain path — resolved against the current folder when added, stored absolute;
 * - `http://host:port/…`, `https://…` — stored as given (the server is `mvc serve`);
 * - `s3://bucket/prefix` — stored as given.
 */
import { InvalidArgumentError, RefExistsError } from '../errors.js'
import type { ObjectStore } from '../store/interface.js'

import { DEFAULT_REMOTE, META, REMOTES, remoteSeenPrefix } from '../format/keys.js'
import { normalizeRemoteUrl, remoteScheme, folderPath, type RemoteScheme } from '../remote/url.js'

export { normalizeRemoteUrl, remoteScheme, folderPath, type RemoteScheme }
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

const PREFIX = META.remote
export const PARTIAL_KEY = META.partial
export { DEFAULT_REMOTE, REMOTES }

export interface RemoteConfig {
  readonly name: string
  readonly url: string
  readonly options: Readonly<Record<string, unknown>>
}

/** Remote names: letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export function validateRemoteName (name: string): void {
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name) || name.endsWith('.lock') || name.includes('..')) {
    throw new InvalidArgumentError(`invalid remote name ${JSON.stringify(name)}: use letters, digits, ".", "_" and "-", starting with a letter or digit`, { name })
  }
}

function parse (name: string, value: Uint8Array): RemoteConfig {
  const j = JSON.parse(fromUtf8.decode(value)) as { url?: unknown, options?: unknown }
  return { name, url: String(j.url), options: typeof j.options === 'object' && j.options !== null ? j.options as Record<string, unknown> : {} }
}

export async function getRemoteConfig (store: ObjectStore, name: string): Promise<RemoteConfig | undefined> {
  const v = await store.readMeta(PREFIX + name)
  return v === undefined ? undefined : parse(name, v)
}

/** The remote's configuration; INVALID_ARGUMENT naming `mvc remote add` when there is none. */
export async function requireRemoteConfig (store: ObjectStore, name: string): Promise<RemoteConfig> {
  const c = await getRemoteConfig(store, name)
  if (c === undefined) {
    throw new InvalidArgumentError(`no remote named ${JSON.stringify(name)}; add one with \`mvc remote add ${name} <url>\` (\`mvc remote list\` shows them)`, { name })
  }
  return c
}

export async function listRemoteConfigs (store: ObjectStore): Promise<RemoteConfig[]> {
  return (await store.listMeta(PREFIX)).map(([k, v]) => parse(k.slice(k.indexOf(PREFIX) + PREFIX.length), v))
    .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
}

/** Adds a remote. REF_EXISTS when the name is taken (remove it first). */
export async function addRemoteConfig (store: ObjectStore, name: string, url: string, options: Record<string, unknown> = {}, cwd = process.cwd()): Promise<RemoteConfig> {
  validateRemoteName(name)
  const stored = normalizeRemoteUrl(url, cwd)
  const existing = await getRemoteConfig(store, name)
  if (existing !== undefined) {
    throw new RefExistsError(`remote ${name} already exists (${existing.url}); \`mvc remote remove ${name}\` first`, { name, url: existing.url })
  }
  const tx = await store.transaction()
  try {
    tx.setMeta(PREFIX + name, utf8.encode(JSON.stringify({ url: stored, options })))
    await tx.commit()
  } catch (err) { await tx.abort(); throw err }
  return { name, url: stored, options }
}

/** Removes a remote and its remote-tracking refs (`refs/remotes/<name>/…`). Objects stay. */
export async function removeRemoteConfig (store: ObjectStore, name: string): Promise<RemoteConfig> {
  const c = await requireRemoteConfig(store, name)
  const partial = await partialRemote(store)
  if (partial === name) {
    throw new InvalidArgumentError(`this repository is a partial clone of ${name}: versions not checked out yet are fetched from it on demand, so it can't be removed`, { name })
  }
  const tx = await store.transaction()
  try {
    tx.setMeta(PREFIX + name, null)
    for (const [ref, value] of await store.listRefs(`${REMOTES}${name}/`)) tx.setRef({ name: ref, value: null, expect: value })
    // What was last seen on it (rollback detection) goes too: a new remote of that name starts afresh.
    for (const [key] of await store.listMeta(remoteSeenPrefix(name))) tx.setMeta(key, null)
    await tx.commit()
  } catch (err) { await tx.abort(); throw err }
  return c
}

/** The remote a partial clone fetches from, or undefined for a complete repository. */
export async function partialRemote (store: ObjectStore): Promise<string | undefined> {
  const v = await store.readMeta(PARTIAL_KEY)
  return v === undefined ? undefined : fromUtf8.decode(v)
}
