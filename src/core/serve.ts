/**
 * `mvc serve`, whole: open the repository (or a bare store, created with `init`), load the tokens, and
 * run the HTTP server (src/remote/http-server.ts) until `stop`.
 */
import { stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { NotARepositoryError, isMvcError } from '../errors.js'
import { MVC_DIR } from '../format/paths.js'
import { loadTokens, startServer, type RunningServer, type TokenAccess } from '../remote/http-server.js'
import type { ObjectStore } from '../store/interface.js'
import { DB_DIR, openDiskStore } from '../store/open.js'
import { initRefs } from './refs.js'
import { openRepo } from './repo.js'
import { gc } from './gc.js'
import { LevelObjectStore } from '../store/level-store.js'
import type { RemoteGcRequest } from '../remote/interface.js'

/** A store opened for serving; the caller closes `store`. */
export interface ServeTarget { readonly store: ObjectStore, readonly location: string, readonly created: boolean }

/**
 * Opens the repository around `dir`, or the bare store folder `storeDir` (`<dir>/db`, `<dir>/packs`),
 * creating the bare store when `init` is set and it is missing.
 */
export async function openServedStore (options: { readonly dir: string } | { readonly storeDir: string, readonly init?: boolean }): Promise<ServeTarget> {
  if ('dir' in options) {
    const repo = await openRepo(options.dir)
    return { store: repo.store, location: join(repo.root, MVC_DIR), created: false }
  }
  const dir = resolve(options.storeDir)
  const exists = (await stat(join(dir, DB_DIR)).catch(() => undefined))?.isDirectory() === true
  if (!exists && options.init === true) {
    const store = await openDiskStore(dir, { create: true })
    try {
      await initRefs(store)
    } catch (err) {
      await store.close()
      throw err
    }
    return { store, location: dir, created: true }
  }
  try {
    return { store: await openDiskStore(dir), location: dir, created: false }
  } catch (err) {
    if (!exists && isMvcError(err) && err.code === NotARepositoryError.code) {
      throw new NotARepositoryError(`${dir} holds no mvc store; add --init to create an empty one there`, { path: dir }, { cause: err })
    }
    throw err
  }
}


export interface ServeOptions {
  /** The repository around this folder, or (with `storeDir`) a bare store folder. */
  readonly target: { readonly dir: string } | { readonly storeDir: string, readonly init?: boolean }
  /** A tokens file ("<token> read|write|append" lines); null serves without authentication. */
  readonly tokensFile: string | null
  /** Every token that may write may only add: no ref is deleted or rewritten, branches move forward only. */
  readonly appendOnly?: boolean
  /** Seconds a request body may make no progress before it is cut (default 30). */
  readonly idleTimeoutSeconds?: number
  readonly host: string
  readonly port: number
  /** Where the server logs requests and warnings. */
  readonly log: (line: string) => void
}

export interface Serving extends RunningServer {
  readonly location: string
  /** True when `init` created the store. */
  readonly created: boolean
  readonly authenticated: boolean
  readonly appendOnly: boolean
  /** Stops the server (finishing requests in flight) and closes the store. */
  stop (): Promise<void>
}

export async function serve (options: ServeOptions): Promise<Serving> {
  const tokens: Map<string, TokenAccess> | null = options.tokensFile === null ? null : await loadTokens(options.tokensFile, options.log)
  const target = await openServedStore(options.target)
  try {
    const server = await startServer({
      store: target.store,
      tokens,
      host: options.host,
      port: options.port,
      log: options.log,
      appendOnly: options.appendOnly,
      // POST /v1/gc: the served store is collected here, in the process that holds it.
      ...(target.store instanceof LevelObjectStore ? { gc: async (request: RemoteGcRequest) => await gc(target.store as LevelObjectStore, request) } : {}),
      ...(options.idleTimeoutSeconds !== undefined ? { idleTimeoutMs: options.idleTimeoutSeconds * 1000 } : {})
    })
    return {
      ...server,
      location: target.location,
      created: target.created,
      authenticated: tokens !== null,
      appendOnly: options.appendOnly === true,
      async stop () {
        try { await server.close() } finally { await target.store.close() }
      }
    }
  } catch (err) {
    await target.store.close()
    throw err
  }
}
