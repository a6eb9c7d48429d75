/**
 * `ui`: a local, read-only web page over the repository (docs/ui.md): versions and lineage, metrics
 * across versions, what changed inside the models between two versions, and storage per version.
 */
import { isMvcError } from '../errors.js'
import { defaultAssetsDir, openInBrowser, startUi, type UiServer } from '../core/ui/index.js'

export type { UiServer }

export interface UiArgs {
  /** Any folder inside the repository (default '.'). */
  readonly dir?: string
  /** Default 127.0.0.1: only this machine can connect. */
  readonly host?: string
  /** 0 (the default) picks a free port. */
  readonly port?: number
  /** Open the page in the user's browser once the server listens. */
  readonly open?: boolean
  /** The token (default: random); at least 16 letters, digits, - or _. */
  readonly token?: string
  /** How long a request waits for another mvc command to release the repository (default 3000 ms). */
  readonly waitMs?: number
  /** Folder of the built page (default: dist/ui of this package). */
  readonly assets?: string
  /** Requests' errors and warnings (default: nowhere). */
  readonly log?: (line: string) => void
}

/**
 * Starts the UI server; stop it with `stop()`.
 * @example const server = await ui({ dir: '.', open: true }); console.log(server.url); … await server.stop()
 */
export async function ui (args: UiArgs = {}): Promise<UiServer> {
  try {
    const log = args.log ?? (() => {})
    const server = await startUi({
      dir: args.dir ?? '.',
      host: args.host ?? '127.0.0.1',
      port: args.port ?? 0,
      assets: args.assets ?? defaultAssetsDir(),
      token: args.token,
      waitMs: args.waitMs,
      log
    })
    if (args.open === true) openInBrowser(server.url, log)
    return server
  } catch (err) {
    if (isMvcError(err) && err.caller === undefined) err.caller = 'ui'
    throw err
  }
}
