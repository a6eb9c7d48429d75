import type { CommandModule } from 'yargs'
import { readFile } from 'node:fs/promises'
import { InvalidArgumentError } from '../../api/index.js'
import type { BackendName, DiffEndpoint, DiffResult, OutputsDiff, TensorDiff, TopologyChange } from '../../api/index.js'
import { verifyProgress } from '../verification.js'
import { formatBytes, shortCid, toJson, withRepo, type GlobalArgs, type Io, colors } from '../output.js'
import { NO_PAINT, type Paint } from '../color.js'

interface Args extends GlobalArgs { a: string, b?: string, stat?: boolean, 'exact-norm'?: boolean, 'exit-code'?: boolean, outputs?: boolean, inputs?: string, backend?: string, runtime?: string, python?: string, 'custom-objects'?: string[] }

export function diffCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'diff <a> [b]',
    describe: 'Show what differs between two versions, or between a version and the working folder at its path',
    builder: y => y
      .positional('a', { type: 'string', demandOption: true, describe: 'a version (vN, tag, alias, branch, HEAD~n, CID prefix)' })
      .positional('b', { type: 'string', describe: 'another version (default: the working folder at a\'s committed path)' })
      .option('stat', { type: 'boolean', default: false, describe: 'print counts per section only' })
      .option('exit-code', { type: 'boolean', default: false, describe: 'exit 1 when there are differences, 0 when there are none (like git diff --exit-code)' })
      .option('exact-norm', { type: 'boolean', default: false, describe: 'also read the identical chunks of a\'s changed tensors so rel_l2 is exact, not an upper bound' })
      .example('mvc diff v1 v2', 'what changed between two versions, tensor by tensor')
      .example('mvc diff v2', 'the working folder against v2')
      .example('mvc diff v1 v2 --stat', 'one line per section')
      .example('mvc diff v1 v2 --outputs', 'run both versions on v1\'s recorded inputs and compare what they compute')
      .option('outputs', { type: 'boolean', default: false, describe: 'behavioural diff: run both versions on a\'s recorded reference inputs (or --inputs) and compare their outputs' })
      .option('inputs', { type: 'string', describe: 'with --outputs: inputs to run instead of a\'s recorded ones (JSON, .npy or .npz)' })
      .option('backend', { type: 'string', choices: ['tensorflow', 'wasm', 'cpu'], describe: 'with --outputs: TensorFlow.js backend' })
      .option('runtime', { type: 'string', choices: ['tfjs', 'python-tensorflow'], describe: 'with --outputs: runtime to run both versions with' })
      .option('python', { type: 'string', describe: 'with --outputs: Python interpreter with TensorFlow' })
      .option('custom-objects', { type: 'string', array: true, nargs: 1, describe: 'with --outputs: file registering custom classes (repeatable)' }),
    handler: async args => {
      await withRepo(args, async repo => {
        const paths = (io.paths ?? [])
        const d = await repo.diff({ a: args.a, b: args.b, exactNorm: args['exact-norm'], ...(paths.length > 0 ? { paths } : {}) })
        let outputs: OutputsDiff | undefined
        if (args.outputs === true) {
          let inputs: Uint8Array | undefined
          if (args.inputs !== undefined) {
            try { inputs = await readFile(args.inputs) } catch (e) {
              throw new InvalidArgumentError(`cannot read --inputs ${args.inputs}: ${(e as Error).message}`, { path: args.inputs })
            }
          }
          const vp = verifyProgress(io, 'running')
          try {
            outputs = await repo.diffOutputs({
              a: args.a,
              b: args.b,
              ...(paths.length > 0 ? { paths } : {}),
              ...(inputs !== undefined ? { inputs } : {}),
              ...(args.backend !== undefined ? { backend: args.backend as BackendName } : {}),
              ...(args.runtime !== undefined ? { runtime: args.runtime } : {}),
              ...(args.python !== undefined ? { python: args.python } : {}),
              ...(args['custom-objects'] !== undefined ? { customObjects: args['custom-objects'] } : {}),
              onProgress: vp.onProgress
            })
          } finally { vp.done() }
        }
        if (args.json === true) io.out(toJson(outputs === undefined ? d : { ...d, outputs }))
        else {
          io.out(args.stat === true ? formatStat(d) : formatDiff(d, colors(io)))
          if (outputs !== undefined) io.out(formatOutputs(outputs))
        }
        if (args['exit-code'] === true && (!d.identical || outputs?.changed === true)) io.setExitCode?.(1)
      }, { reader: true })
    }
  }
}

function endpoint (e: DiffEndpoint): string {
  if (e.worktree) return `working folder ${e.path}${e.exists ? '' : ' (missing)'}`
  return `v${String(e.version)}${e.rev !== null && e.rev !== `v${String(e.version)}` ? ` (${e.rev})` : ''}`
}

function header (d: DiffResult): string {
  const paths = d.a.path === d.b.path ? d.a.path : `${d.a.path} → ${d.b.path}`
  return `diff ${endpoint(d.a)} → ${endpoint(d.b)}  [${paths}]`
}

/** Short human form of a number: 4 significant digits, exponent outside [1e-3, 1e5). */
export function num (x: number): string {
  if (x === 0) return '0'
  if (!Number.isFinite(x)) return String(x)
  const a = Math.abs(x)
  return a >= 1e-3 && a < 1e5 ? String(Number(x.toPrecision(4))) : x.toExponential(3)
}

function value (v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(toPlain(v))
}

/** CIDs as strings for printing. */
function toPlain (v: unknown): unknown {
  return JSON.parse(toJson(v ?? null)) as unknown
}

function shape (s: readonly number[]): string { return `[${s.join(',')}]` }

function table (rows: string[][], indent = '  '): string[] {
  const widths: number[] = []
  // The last cell of a row is never padded, so it does not widen its column (notes run on).
  for (const r of rows) r.forEach((c, i) => { if (i < r.length - 1) widths[i] = Math.max(widths[i] ?? 0, [...c].length) })
  return rows.map(r => indent + r.map((c, i) => i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - [...c].length)).join('  ').trimEnd())
}

function tensorRow (t: TensorDiff): string[] {
  const mark = t.status === 'added' ? '+' : t.status === 'removed' ? '-' : '~'
  const x = t.a
  const y = t.b
  const shp = x !== null && y !== null && shape(x.shape) !== shape(y.shape) ? `${shape(x.shape)}→${shape(y.shape)}` : shape((y ?? x)!.shape)
  const dt = x !== null && y !== null && x.dtype !== y.dtype ? `${x.dtype}→${y.dtype}` : (y ?? x)!.dtype
  if (t.stats !== null) {
    const s = t.stats
    const rel = s.relL2 === null ? 'inf' : num(s.relL2)
    return [mark, t.name, shp, dt, num(s.maxAbs), num(s.meanAbs), s.relL2Exact ? rel : `≤${rel}`]
  }
  return [mark, t.name, shp, dt, t.note ?? '']
}

function topologyLine (c: TopologyChange): string[] {
  const what = c.kind.startsWith('layer') ? 'layer' : c.kind.startsWith('node') ? 'node' : c.kind.startsWith('weight') ? 'weight' : ''
  const type = c.type !== null ? ` (${c.type})` : ''
  const lines: string[] = []
  switch (c.kind) {
    case 'layer-added': case 'node-added': lines.push(`+ ${what} ${c.name ?? ''}${type}`); break
    case 'layer-removed': case 'node-removed': lines.push(`- ${what} ${c.name ?? ''}${type}`); break
    case 'layer-changed': case 'node-changed': lines.push(`~ ${what} ${c.name ?? ''}${type}: ${c.fields.join(', ')}`); break
    case 'weight-shape-changed': break
    case 'layer-order-changed': lines.push('~ layer order changed'); break
    case 'config-changed': lines.push(`~ model config: ${c.fields.join(', ')}`); break
    case 'meta-changed': lines.push(`~ model.json fields: ${c.fields.join(', ')}`); break
    case 'format-changed': lines.push('~ format changed'); break
  }
  for (const s of c.shapes) {
    lines.push(c.kind === 'weight-shape-changed'
      ? `~ weight ${c.name ?? ''} shape ${value(s.a)} → ${value(s.b)}`
      : `    ${s.field}: ${value(s.a)} → ${value(s.b)}`)
  }
  return lines
}

function mode (m: number): string { return m.toString(8).padStart(4, '0') }

/** The default, readable form: only sections with differences. */
export function formatDiff (d: DiffResult, p: Paint = NO_PAINT): string {
  const out: string[] = [header(d)]
  const section = (title: string, lines: string[]): void => {
    if (lines.length === 0) return
    out.push('', p.bold(title), ...lines.map(l => {
      const t = l.trimStart()
      return t.startsWith('+ ') ? p.green(l) : t.startsWith('- ') ? p.red(l) : t.startsWith('! ') ? p.red(l) : t.startsWith('~ ') ? p.yellow(l) : l
    }))
  }
  section('models', d.models.flatMap(m => {
    if (m.status === 'added') return [`  + ${m.path} (${m.format.b ?? ''})`]
    if (m.status === 'removed') return [`  - ${m.path} (${m.format.a ?? ''})`]
    const l: string[] = []
    if (m.format.a !== m.format.b) l.push(`  ~ ${m.path}: format ${m.format.a ?? ''} → ${m.format.b ?? ''}`)
    if (m.shards !== null) l.push(`  ~ ${m.path}: shards ${m.shards.a.join(', ')} → ${m.shards.b.join(', ')}`)
    if (m.jsonChanged && m.a !== null && m.b !== null && m.a.equals(m.b)) l.push(`  ~ ${m.path}: JSON file bytes changed (same topology and weights)`)
    return l
  }))
  for (const c of d.contracts) {
    section(`contract  ${c.model}${c.breaking ? '  BREAKING' : ''}`, c.changes.map(l => `  ${c.breaking ? '!' : '~'} ${l}`))
  }
  for (const t of d.topology) section(`topology  ${t.model}`, t.changes.flatMap(topologyLine).map(l => `  ${l}`))
  const byModel = new Map<string, TensorDiff[]>()
  // Weights first, then each other part of a model (optimizer state) apart.
  for (const t of d.tensors) {
    const key = t.role === undefined ? t.model : `${t.model} (${t.role})`
    byModel.set(key, [...(byModel.get(key) ?? []), t])
  }
  for (const [model, list] of byModel) {
    section(`tensors  ${model}`, table([['', 'name', 'shape', 'dtype', 'max_abs', 'mean_abs', 'rel_l2'], ...list.map(tensorRow)]))
  }
  if (d.tensors.length > 0) out.push(`  (${d.summary.tensors.unchanged} unchanged)`)
  const f = d.files
  section('files', [
    ...f.added.map(p => `  + ${p}`),
    ...f.removed.map(p => `  - ${p}`),
    ...f.modified.map(m => `  ~ ${m.path}${m.mode !== null ? `  mode ${mode(m.mode.a)} → ${mode(m.mode.b)}` : ''}${m.content || m.mode === null ? '' : ' (content unchanged)'}`),
    ...f.dirsAdded.map(p => `  + ${p}/`),
    ...f.dirsRemoved.map(p => `  - ${p}/`)
  ])
  if (d.params !== null) {
    section('params', [
      ...d.params.added.map(p => `  + ${p.name}: ${value(p.value)}`),
      ...d.params.removed.map(p => `  - ${p.name}: ${value(p.value)}`),
      ...d.params.changed.map(p => `  ~ ${p.name}: ${value(p.a)} → ${value(p.b)}`)
    ])
  }
  if (d.metrics !== null) {
    section('metrics', [
      ...d.metrics.added.map(p => `  + ${p.name}: ${value(p.value)}`),
      ...d.metrics.removed.map(p => `  - ${p.name}: ${value(p.value)}`),
      ...d.metrics.changed.map(p => `  ~ ${p.name}: ${value(p.a)} → ${value(p.b)}${p.delta === null ? '' : `  (${p.delta >= 0 ? '+' : ''}${num(p.delta)})`}`)
    ])
  }
  if (d.data !== null && d.data.status !== 'none' && d.data.status !== 'same') {
    const files = d.data.files
    section('data', [
      `  ${d.data.status}: ${lineageLabel(d.data.a)} → ${lineageLabel(d.data.b)}`,
      ...(files === null ? [] : [...files.added.map(p => `    + ${p}`), ...files.removed.map(p => `    - ${p}`), ...files.modified.map(p => `    ~ ${p}`)])
    ])
  }
  if (d.code !== null && d.code.status !== 'none' && d.code.status !== 'same') {
    section('code', [`  ${d.code.status}: ${codeLabel(d.code.a)} → ${codeLabel(d.code.b)}`])
  }
  if (d.identical) out.push('', 'no differences')
  return out.join('\n')
}

function lineageLabel (v: unknown): string {
  const r = toPlain(v) as Record<string, unknown> | null
  if (r === null || typeof r !== 'object') return '(none)'
  if (r.kind === 'ref' && typeof r.ref === 'string') return r.ref
  if (r.kind === 'snapshot' && typeof r.manifest === 'string') return `${typeof r.path === 'string' ? r.path + ' ' : ''}${shortCid(r.manifest)}`
  return JSON.stringify(r)
}

function codeLabel (v: unknown): string {
  const r = toPlain(v) as Record<string, unknown> | null
  if (r === null || typeof r !== 'object') return '(none)'
  if (r.kind === 'git' && typeof r.oid === 'string') return `${r.oid.slice(0, 12)}${r.dirty === true ? ' (dirty)' : ''}`
  if (r.kind === 'none') return `(no git: ${String(r.reason)})`
  return JSON.stringify(r)
}

/** `--stat`: one line per section with counts. */
export function formatStat (d: DiffResult): string {
  const s = d.summary
  const lines = [
    header(d),
    `models:   ${s.models.added} added, ${s.models.removed} removed, ${s.models.modified} modified, ${s.models.unchanged} unchanged`,
    `topology: ${s.topology.added} added, ${s.topology.removed} removed, ${s.topology.changed} changed, ${s.topology.shapes} shape changes`,
    `tensors:  ${s.tensors.changed} changed, ${s.tensors.added} added, ${s.tensors.removed} removed, ${s.tensors.unchanged} unchanged`,
    `files:    ${s.files.added} added, ${s.files.removed} removed, ${s.files.modified} modified`
  ]
  if (d.contracts.length > 0) lines.splice(2, 0, `contract: ${d.contracts.length} changed${d.contracts.some(c => c.breaking) ? ' (BREAKING)' : ''}`)
  if (s.params !== null && s.metrics !== null) {
    lines.push(`params:   ${s.params.added} added, ${s.params.removed} removed, ${s.params.changed} changed`)
    lines.push(`metrics:  ${s.metrics.added} added, ${s.metrics.removed} removed, ${s.metrics.changed} changed`)
    lines.push(`data:     ${s.data ?? 'none'}`)
    lines.push(`code:     ${s.code ?? 'none'}`)
  } else {
    lines.push('lineage:  not compared (the working folder has none)')
  }
  const st = d.stats
  lines.push(`read ${st.chunksRead} tensor chunk${st.chunksRead === 1 ? '' : 's'} (${formatBytes(st.bytesRead)}), skipped ${st.chunksSkipped} identical`)
  lines.push(d.identical ? 'no differences' : 'different')
  return lines.join('\n')
}

/** The behavioural section: per model, per output, how far b's outputs moved from a's. */
export function formatOutputs (o: OutputsDiff): string {
  const lines = ['', 'outputs (both versions run on the same inputs)']
  if (o.models.length === 0) lines.push('  (no model)')
  for (const m of o.models) {
    if (m.status === 'skipped') { lines.push(`  ${m.path}: not run (${m.reason ?? ''})`); continue }
    const rt = m.runtime === null ? '' : `, ${m.runtime.id} ${m.runtime.version} ${m.runtime.backend}`
    lines.push(`  ${m.path}  (${m.inputs} inputs${rt})`)
    const rows: string[][] = [['', 'output', 'max_abs', 'mean_abs', 'relative', 'changed', 'recorded tolerance', 'verdict']]
    for (const c of m.outputs) {
      const mark = c.status === 'same' ? ' ' : c.status === 'added' ? '+' : c.status === 'removed' ? '-' : '~'
      const tol = c.rule === null ? '-' : c.rule === 'allclose' ? `allclose atol ${num(c.atol ?? 0)}${c.rtol !== null && c.rtol !== 0 ? ` rtol ${num(c.rtol)}` : ''}` : c.rule === 'set' ? `set atol ${num(c.atol ?? 0)}` : c.rule
      const verdict = c.status === 'same' ? 'identical' : c.status === 'within' ? 'within tolerance' : c.status === 'changed' ? 'CHANGED' : c.status === 'shape' ? `shape [${(c.shape.a ?? []).join(',')}] → [${(c.shape.b ?? []).join(',')}]` : c.status
      const changed = c.changedElements === null || c.elements === null ? '-' : `${c.changedElements}/${c.elements}`
      rows.push([mark, c.probe === true ? `${c.name} (probe)` : c.name, c.maxAbsDiff === null ? '-' : num(c.maxAbsDiff), c.meanAbsDiff === null ? '-' : num(c.meanAbsDiff), c.relDiff === null ? '-' : num(c.relDiff), changed, tol, verdict + (c.note !== null ? ` (${c.note})` : '')])
    }
    lines.push(...table(rows, '    '))
  }
  // Identical only when something ran: models that were not run say nothing about behaviour.
  const compared = o.models.filter(m => m.status === 'compared').length
  lines.push(o.changed ? 'behaviour changed' : compared === 0 ? 'behaviour not compared: no model ran on both sides' : compared < o.models.length ? `behaviour identical for the ${compared} model${compared === 1 ? '' : 's'} that ran` : 'behaviour identical')
  return lines.join('\n')
}
