import type { CommandModule } from 'yargs'
import { formatBytes, formatDate, toJson, withRepo, type GlobalArgs, type Io } from '../output.js'
import type { CommitObject, ModelSummary } from '../../api/index.js'
import { describeRecorded } from '../verification.js'

function formatValues (v: Readonly<Record<string, unknown>>): string {
  const keys = Object.keys(v).sort()
  if (keys.length === 0) return '(none)'
  return keys.map(k => {
    const x = v[k]
    return `${k}=${typeof x === 'string' && (x === '' || /[\s="]/.test(x)) ? JSON.stringify(x) : String(x)}`
  }).join('  ')
}

/** The lineage of a commit, one labelled line per field (docs/design.md, "Lineage"). */
export function lineageLines (c: CommitObject): string[] {
  const d = c.data
  const data = d === null ? '(not recorded)' : d.kind === 'ref' ? `ref ${d.ref}` : `${d.manifest.toString()}  ${d.path} (${d.files} files, ${formatBytes(d.bytes)})`
  const g = c.code
  let code = '(not recorded)'
  if (g?.kind === 'none') code = `none: ${g.reason}`
  else if (g?.kind === 'git') {
    const where = `${g.branch !== null ? ` on ${g.branch}` : ' (detached HEAD)'}${g.remote !== null ? ` from ${g.remote}` : ''}`
    const shown = g.dirtyPaths.slice(0, 10).join(', ') + (g.dirtyPaths.length > 10 ? `, … (${g.dirtyPaths.length - 10} more)` : '')
    code = `git ${g.oid}${where}, ${g.dirty ? `dirty: ${shown}` : 'clean'}`
  }
  const e = c.environment
  const env = e === null || typeof e !== 'object'
    ? '(not recorded)'
    : `mvc ${String(e.mvc)}, node ${String(e.node)}, ${String(e.platform)} ${String(e.arch)}${typeof e.tfjs === 'string' ? `, tfjs ${e.tfjs} on ${String(e.backend)}` : ''}`
  const lines = [
    `data      ${data}`,
    `code      ${code}`,
    `params    ${formatValues(c.params)}`,
    `metrics   ${formatValues(c.metrics)}`,
    `env       ${env}`
  ]
  const v = c.verification
  if (v === null) lines.push('verify    (not recorded)')
  else if (v.models.length === 0) lines.push('verify    no TF.js model')
  for (const [i, m] of (v?.models ?? []).entries()) {
    const what = describeRecorded(m, v!)
    lines.push(`${i === 0 ? 'verify    ' : '          '}${m.path}: ${what}`)
  }
  if (c.inputs !== undefined) lines.push(`inputs    ${formatContract(c.inputs)} (declared in metadata.json)`)
  return lines
}

function formatContract (ts: ReadonlyArray<{ name: string, dtype: string, shape: ReadonlyArray<number | null> }>): string {
  return ts.map(t => `${t.name} ${t.dtype}[${t.shape.map(d => d ?? '?').join(',')}]`).join(', ')
}

/** One block per model: its format, tensors, contract and the custom classes it needs. */
export function modelLines (models: readonly ModelSummary[]): string[] {
  const lines: string[] = []
  for (const m of models) {
    lines.push(`model     ${m.path}: ${m.format}, ${m.tensors} tensors${m.runnable ? '' : ', weights only'}`)
    if (m.contract !== null) {
      lines.push(`          inputs  ${formatContract(m.contract.inputs)}`)
      if (m.contract.outputs.length > 0) lines.push(`          outputs ${formatContract(m.contract.outputs)}`)
    }
    if (m.customObjects.length > 0) lines.push(`          custom  ${m.customObjects.join(', ')} (verify with --custom-objects <file>)`)
  }
  return lines
}

interface Args extends GlobalArgs { rev: string }

export function showCommand (io: Io): CommandModule<GlobalArgs, Args> {
  return {
    command: 'show [rev]',
    describe: 'Show everything a version records',
    builder: y => y.positional('rev', { type: 'string', default: 'HEAD', describe: 'version to show' })
      .example('mvc show v3', 'everything version 3 records')
      .example('mvc show production --json', 'the version the alias names, as JSON'),
    handler: async args => {
      await withRepo(args, async repo => {
        const s = await repo.show({ rev: args.rev })
        if (args.json === true) { io.out(toJson({ cid: s.cid, names: s.names, commit: s.commit, manifest: s.manifest, models: s.models })); return }
        const c = s.commit
        const total = s.manifest.entries.reduce((a, e) => a + e.size, 0)
        const lines = [
          `version   v${c.version}${s.names.length > 0 ? `  (${s.names.join(', ')})` : ''}`,
          `commit    ${s.cid.toString()}`,
          `parents   ${c.parents.length === 0 ? '(none)' : c.parents.map(p => p.toString()).join(' ')}`,
          `author    ${c.author.name} <${c.author.email}>`,
          `date      ${formatDate(c.timestamp)}`,
          ...(c.paths.length === 1
            ? [`path      ${c.paths[0]!.path} (${s.manifest.kind === 'file' ? 'file' : 'folder'})`, `manifest  ${c.paths[0]!.manifest.toString()}: ${s.manifest.entries.length} files, ${formatBytes(total)}`]
            : [`paths     ${c.paths.map(p => p.path).join(', ')}: ${s.manifest.entries.length} files, ${formatBytes(total)}`, ...c.paths.map(p => `manifest  ${p.manifest.toString()}  ${p.path}`)]),
          ...lineageLines(c),
          ...modelLines(s.models),
          '',
          `    ${c.message}`,
          ''
        ]
        for (const e of s.manifest.entries) lines.push(`  ${e.mode.toString(8).padStart(4, '0')}  ${String(e.size).padStart(12)}  ${e.path}`)
        for (const d of s.manifest.dirs) lines.push(`  dir   ${''.padStart(12)}  ${d}/`)
        io.out(lines.join('\n'))
      }, { reader: true })
    }
  }
}
