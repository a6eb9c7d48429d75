/**
 * `mvc ui`: a local, read-only web page over a repository (docs/ui.md).
 *
 * Glossary:
 * - page: the browser code in src/ui/, bundled by scripts/build-ui.mjs into dist/ui/ at `npm ci`,
 *   served by this server and nothing else (it fetches nothing from the internet).
 * - token: the random value in the printed URL that every request must carry.
 * - lease: the store, opened while requests are answered and closed between them (lease.ts), so
 *   the UI never keeps other mvc commands out of the repository for long.
 * - storage: bytes each version added to the store, in version order (storage.ts).
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export { startUi, type UiOptions, type UiServer } from './server.js'
export type * from './types.js'

/** Where the build puts the page: dist/ui/, beside dist/src/ (this module is dist/src/core/ui/index.js). */
export function defaultAssetsDir (): string {
  return fileURLToPath(new URL('../../../ui/', import.meta.url))
}

/**
 * Opens a URL in the user's browser: `$BROWSER` when set (as xdg-open does), else the platform's opener.
 * Returns the command used; failures are reported through `onError`, never thrown (the server still runs).
 */
export function openInBrowser (url: string, onError: (message: string) => void, env: NodeJS.ProcessEnv = process.env): string {
  const browser = env.BROWSER?.split(':')[0]
  const [cmd, args] = browser !== undefined && browser !== ''
    ? [browser, [url]]
    : process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]]
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true })
    child.on('error', err => { onError(`could not open a browser with ${cmd}: ${err.message}; open the URL yourself`) })
    child.unref()
  } catch (err) {
    onError(`could not open a browser with ${cmd}: ${(err as Error).message}; open the URL yourself`)
  }
  return cmd
}
