/**
 * Opening the remote an operation talks to: a configured name (default `origin`), a URL or path
 * where allowed (push), or a transport the caller already opened (tests, embedding).
 */
import { DEFAULT_REMOTE } from '../format/keys.js'
import type { Remote } from '../remote/interface.js'
import { openRemote } from '../remote/open.js'
import { normalizeRemoteUrl } from '../remote/url.js'
import type { ObjectStore } from '../store/interface.js'
import { getRemoteConfig, requireRemoteConfig } from './remotes.js'
import { join } from 'node:path'
import { MVC_DIR } from '../format/paths.js'

/** Where a repository keeps partial downloads (`<root>/.mvc/tmp/downloads/<cid>.part`); any file there may be deleted at any time. */
export function downloadDir (root: string, mvcDir = join(root, MVC_DIR)): string {
  return join(mvcDir, 'tmp', 'downloads')
}

export interface RemoteSelection {
  /** A configured remote's name (default `origin`), or, where `allowUrl`, a URL or path. */
  readonly remote?: string
  /** An already open remote to use instead (not closed here). */
  readonly transport?: Remote
}

/** An argument that names a URL or path rather than a configured remote: it has `/`, `\\` or `:`, or starts with `.`. */
export function looksLikeUrl (arg: string): boolean {
  return /[/\\:]|^\./.test(arg)
}

export interface Connection {
  readonly remote: Remote
  /** The configured name, or undefined for a bare URL. */
  readonly name: string | undefined
  close (): Promise<void>
}

/**
 * Opens the selected remote. `downloadDir`: where HTTP downloads cut off mid-object are kept to be
 * resumed (the repository's `.mvc/tmp/downloads`, `downloadDir(root)`).
 */
export async function connect (store: ObjectStore, args: RemoteSelection, options: { create?: boolean, allowUrl?: boolean, downloadDir?: string } = {}): Promise<Connection> {
  const arg = args.remote ?? DEFAULT_REMOTE
  if (args.transport !== undefined) return { remote: args.transport, name: arg, close: async () => {} }
  const config = await getRemoteConfig(store, arg)
  let url: string
  let name: string | undefined = arg
  if (config !== undefined) url = config.url
  else if (options.allowUrl === true && looksLikeUrl(arg)) { url = normalizeRemoteUrl(arg); name = undefined } else url = (await requireRemoteConfig(store, arg)).url
  const remote = await openRemote(url, { create: options.create, config: config?.options, ...(options.downloadDir !== undefined ? { downloadDir: options.downloadDir } : {}) })
  return { remote, name, close: async () => { await remote.close() } }
}
