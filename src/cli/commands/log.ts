import type { CommandModule } from 'yargs'
import { UsageError, graphRows, type LogEntry, type LogLine } from '../../api/index.js'
import { colors, formatDate, shortCid, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'
import { NO_PAINT, type Paint } from '../color.js'

interface Args extends GlobalArgs {
  rev?: string
  n?: number
  graph?: boolean
  all?: boolean
  data?: string
  code?: string
  where?: string | string[]
}

/** `acc=0.91 loss=0.25`: numbers to 6 significant digits, other scalars as they are. */
export function formatMetrics (metrics: Readonly<Record<string, unknown>>): string {
  return Object.entries(metrics).map(([k, v]) => {
    const s = typeof v === 'number' ? String(Number(v.toPrecision(6))) : typeof v === 'string' ? v : JSON.stringify(v)
    return `${k}=${s}`
  }).join(' ')
}

/** One line of the log, from a whole commit (`log`) or its summary (`logLines`). */
function line (e: LogLine | LogEntry, p: Paint = NO_PAINT): string {
  const c = 'summary' in e ? e.summary : { ...e.commit, author: e.commit.author.name, paths: e.commit.paths.map(x => x.path) }
  const metrics = formatMetrics(c.metrics)
  const names = e.names.length > 0 ? `  ${p.cyan(`(${e.names.join(', ')})`)}` : ''
  return `${p.yellow(`v${c.version}`)}  ${p.dim(shortCid(e.cid))}  ${formatDate(c.timestamp)}  ${c.author}  ${c.paths.join(',')}  ${c.message}${metrics !== '' ? `  [${metrics}]` : ''}${names}`
}

export function logCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'log [rev]',
    describe: 'Show the history, newest version first',
    builder: y => y
      .positional('rev', { type: 'string', describe: 'start here instead of HEAD' })
      .option('n', { alias: 'max-count', type: 'number', describe: 'show at most n versions (after filtering)' })
      .option('graph', { type: 'boolean', default: false, describe: 'draw branches and merges as lanes (* commit, | / \\ lines)' })
      .option('all', { type: 'boolean', describe: 'every version, on every branch (instead of the history of HEAD or rev)' })
      .option('data', { type: 'string', describe: 'only versions trained on this data: manifest CID (or prefix) of a data snapshot, or an external data ref (or prefix)' })
      .option('code', { type: 'string', describe: 'only versions whose training code was at this git commit (id or prefix, ≥ 4 hex digits)' })
      .option('where', { type: 'string', describe: "only versions meeting a condition: 'acc>0.9', 'loss<=0.2', 'params.lr<0.01' (ops > >= < <= == !=; repeatable, all must hold)" })
      .conflicts('all', 'rev')
      .example('mvc log -n 5', 'the last five versions')
      .example(`mvc log --where 'accuracy>0.9'`, 'versions whose metric passes')
      .example('mvc log --all --graph', 'every branch, drawn as lanes'),
    handler: async args => {
      await withRepo(args, async repo => {
        const where = args.where === undefined ? undefined : [args.where].flat().map(String)
        const only = (io.paths ?? [])
        if (only.length > 1) throw new UsageError('log takes one path after --', {})
        const options = { rev: args.rev, all: args.all, limit: args.n, data: args.data, code: args.code, where, ...(only.length === 1 ? { path: only[0] } : {}) }
        if (args.json === true) {
          const entries = await repo.log(options)
          io.out(toJson(entries.map(e => ({ cid: e.cid, names: e.names, ...e.commit }))))
          return
        }
        // Text needs only what the log index holds; whole commits when a filter needs them.
        const entries: Array<LogLine | LogEntry> = (await repo.logLines(options)) ?? await repo.log(options)
        if (entries.length === 0) {
          const filtered = args.data !== undefined || args.code !== undefined || where !== undefined
          io.out(filtered ? 'no versions match' : 'no versions yet')
          return
        }
        if (args.graph !== true) {
          io.out(entries.map(e => line(e, colors(io))).join('\n'))
          return
        }
        const rows = graphRows(entries.map(e => ({ id: e.cid.toString(), parents: e.graphParents.map(p => p.toString()) })))
        io.out(rows.map(r => r.node === null ? r.text : `${r.text} ${line(entries[r.node]!, colors(io))}`).join('\n'))
      }, { reader: true })
    }
  }
}
