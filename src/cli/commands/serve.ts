import { resolve } from 'node:path'
import type { CommandModule } from 'yargs'
import { UsageError, serve } from '../../api/index.js'
import type { GlobalArgs, Io } from '../output.js'

interface Args extends GlobalArgs { host: string, port: number, tokens?: string, auth: boolean, store?: string, init: boolean, 'append-only': boolean, 'idle-timeout': number }

/** Where the command learns it should stop; `process` by default, replaceable in tests. */
export interface Signals {
  once (signal: 'SIGINT' | 'SIGTERM', fn: () => void): void
  off (signal: 'SIGINT' | 'SIGTERM', fn: () => void): void
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/**
 * Runs a server until SIGINT or SIGTERM, then stops it. The signals are listened for before `announce`
 * prints the URL: until a listener exists, SIGTERM's default action kills the process at once, and a
 * client may send it as soon as it reads the URL. A second signal cuts in-flight requests short.
 */
export async function runUntilSignal (signals: Signals, server: { stop: () => Promise<void>, terminate: () => void }, io: Io, shuttingDown: string, announce: () => void): Promise<void> {
  try {
    const stopped = new Promise<void>(resolve => {
      const stop = (): void => {
        signals.off('SIGINT', stop)
        signals.off('SIGTERM', stop)
        signals.once('SIGINT', server.terminate)
        signals.once('SIGTERM', server.terminate)
        resolve()
      }
      signals.once('SIGINT', stop)
      signals.once('SIGTERM', stop)
    })
    announce()
    io.err('stop with Ctrl-C (SIGINT) or SIGTERM')
    await stopped
    io.err(shuttingDown)
  } finally {
    try {
      await server.stop()
    } finally {
      signals.off('SIGINT', server.terminate)
      signals.off('SIGTERM', server.terminate)
    }
  }
}

export function serveCommand (io: Io, signals: Signals = process): CommandModule<GlobalArgs, Args> {
  return {
    command: 'serve',
    describe: 'Serve the repository (or a bare store) to mvc clients over HTTP (docs/protocol.md)',
    builder: y => y
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on' })
      .option('port', { type: 'number', default: 8080, describe: 'port to listen on; 0 picks a free one' })
      .option('tokens', { type: 'string', describe: 'file of "<token> read|write|append" lines; clients send one in MVC_TOKEN' })
      .option('auth', { type: 'boolean', default: true, describe: 'require tokens; --no-auth lets anyone who can connect read and write' })
      .option('store', { type: 'string', describe: 'serve this bare store folder (<dir>/db, <dir>/packs) instead of the current repository' })
      .option('init', { type: 'boolean', default: false, describe: 'with --store: create the store if it is missing' })
      .option('append-only', { type: 'boolean', default: false, describe: 'clients may add objects, create refs and move branches forward, never delete or rewrite refs' })
      .option('idle-timeout', { type: 'number', default: 30, describe: 'seconds a request body may make no progress before the request is cut (408)' })
      .epilogue('While it runs, the server holds the store: local mvc commands in a served repository wait and then fail with REPOSITORY_LOCKED. Prefer serving a dedicated bare store (--store <dir> --init).')
      .example('mvc serve --store /srv/models --init --tokens tokens', 'serve a bare store with bearer tokens')
      .example('mvc serve --no-auth --port 0', 'this repository, anyone local may read and write'),
    handler: async args => {
      if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, not ${String(args.port)}`, { port: args.port })
      if (args.tokens !== undefined && !args.auth) throw new UsageError('give either --tokens <file> or --no-auth, not both', {})
      if (args.tokens === undefined && args.auth) {
        throw new UsageError('refusing to serve without authentication: give --tokens <file> (lines of "<token> read|write"), or --no-auth to let anyone who can connect read and write', {})
      }
      if (args.init && args.store === undefined) throw new UsageError('--init needs --store <dir>', {})
      const idle = args['idle-timeout']
      if (!Number.isFinite(idle) || idle <= 0 || idle > 3600) {
        throw new UsageError(`--idle-timeout must be a number of seconds from 0 to 3600, not ${String(idle)}`, { idleTimeout: idle })
      }
      // Relative paths are relative to -C, as for every command.
      const cwd = args.C ?? '.'
      const server = await serve({
        tokensFile: args.tokens === undefined ? null : resolve(cwd, args.tokens),
        ...(args.store === undefined ? { dir: cwd } : { storeDir: resolve(cwd, args.store), init: args.init }),
        host: args.host,
        port: args.port,
        appendOnly: args['append-only'],
        idleTimeoutSeconds: idle,
        log: io.err
      })
      await runUntilSignal(signals, server, io, 'shutting down: finishing requests in flight', () => {
        if (args.json === true) io.out(JSON.stringify({ url: server.url, repository: server.repositoryId, store: server.location }))
        else io.out(`listening on ${server.url}`)
        if (server.created) io.err(`created an empty store in ${server.location}`)
        if (server.appendOnly) io.err('append-only: refs can be created and branches moved forward; nothing is deleted or rewritten')
        io.err(`serving ${server.location} (repository ${server.repositoryId}; pin it with ${server.url}?repository=${server.repositoryId})`)
        if (!server.authenticated) {
          io.err(LOOPBACK.has(args.host)
            ? 'warning: no authentication (--no-auth): every local user can read and write'
            : `warning: no authentication (--no-auth) on ${args.host}: anyone who can reach it can read and write`)
        }
      })
      io.err('stopped')
    }
  }
}
