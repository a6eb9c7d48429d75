/**
 * `serve`: a repository (or a bare store) served to mvc clients over HTTP (docs/protocol.md).
 */
import { resolve } from 'node:path'
import { isMvcError } from '../errors.js'
import { serve as serveCore, type Serving } from '../core/serve.js'

export type { Serving }

export interface ServeArgs {
  /** A folder inside the repository to serve (default '.'); ignored with `storeDir`. */
  readonly dir?: string
  /** Serve this bare store folder (`<dir>/db`, `<dir>/packs`) instead of a repository. */
  readonly storeDir?: string
  /** With `storeDir`: create the store if it is missing. */
  readonly init?: boolean
  /** A tokens file of "<token> read|write|append" lines; null serves without authentication. */
  readonly tokensFile: string | null
  /** Clients may add objects, create refs and move branches forward, never delete or rewrite refs. */
  readonly appendOnly?: boolean
  /** Seconds a request body may make no progress before it is cut (default 30). */
  readonly idleTimeoutSeconds?: number
  readonly host?: string
  /** 0 picks a free port (default 8080). */
  readonly port?: number
  /** Requests' notable events and warnings (default: nowhere). */
  readonly log?: (line: string) => void
}

/**
 * Starts serving; stop with `stop()`.
 * @example const s = await serve({ storeDir: '/srv/models', init: true, tokensFile: 'tokens', port: 0 }); console.log(s.url)
 */
export async function serve (args: ServeArgs): Promise<Serving> {
  try {
    return await serveCore({
      target: args.storeDir === undefined ? { dir: args.dir ?? '.' } : { storeDir: resolve(args.storeDir), init: args.init },
      tokensFile: args.tokensFile === null ? null : resolve(args.tokensFile),
      host: args.host ?? '127.0.0.1',
      port: args.port ?? 8080,
      appendOnly: args.appendOnly,
      idleTimeoutSeconds: args.idleTimeoutSeconds,
      log: args.log ?? (() => {})
    })
  } catch (err) {
    if (isMvcError(err) && err.caller === undefined) err.caller = 'serve'
    throw err
  }
}
