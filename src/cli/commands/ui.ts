import type { CommandModule } from 'yargs'
import { UsageError, ui } from '../../api/index.js'
import type { GlobalArgs, Io } from '../output.js'
import { runUntilSignal, type Signals } from './serve.js'

interface Args extends GlobalArgs { host: string, port: number, open: boolean }

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

export function uiCommand (io: Io, signals: Signals = process): CommandModule<GlobalArgs, Args> {
  return {
    command: 'ui',
    describe: 'Look at versions, lineage, metrics and what changed inside the models in a browser (read-only, docs/ui.md)',
    builder: y => y
      .option('port', { type: 'number', default: 0, describe: 'port to listen on; 0 picks a free one' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on (anything but loopback lets other machines try the token)' })
      .option('open', { type: 'boolean', default: false, describe: 'open the page in the browser ($BROWSER, else xdg-open / open / start)' })
      .epilogue('The URL carries a random token; requests without it are refused. The UI never writes to the repository and holds it only while answering, so other mvc commands keep working. Stop with Ctrl-C.'),
    handler: async args => {
      if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, not ${String(args.port)}`, { port: args.port })
      const server = await ui({ dir: args.C ?? '.', host: args.host, port: args.port, open: args.open, log: io.err })
      await runUntilSignal(signals, server, io, 'shutting down', () => {
        if (args.json === true) io.out(JSON.stringify({ url: server.url, host: server.host, port: server.port, token: server.token, root: server.root }))
        else io.out(`mvc ui: ${server.url}`)
        io.err(`serving ${server.root} read-only`)
        if (!LOOPBACK.has(args.host)) io.err(`warning: listening on ${args.host}: anyone who can reach it and has the URL can read the repository`)
      })
      io.err('stopped')
    }
  }
}
