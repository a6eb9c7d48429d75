/** One version in full: lineage, params, metrics, verification, models and their contracts, files. */
import type { TensorContractJson, VersionDetail } from '../../core/ui/types.js'
import { get } from '../api.js'
import { fields, h, link, section, table, type Child } from '../dom.js'
import { bytes, date, scalar, shape } from '../format.js'
import { hash, type Context } from '../route.js'
import { badges } from './common.js'

function contract (ts: readonly TensorContractJson[]): Child {
  if (ts.length === 0) return h('span', { class: 'muted' }, 'none declared')
  return ts.map(t => h('div', { class: 'mono' }, `${t.name}: ${t.dtype} ${shape(t.shape)}`))
}

function values (title: string, r: Readonly<Record<string, unknown>>): Child {
  const entries = Object.entries(r)
  if (entries.length === 0) return section(title, h('p', { class: 'muted' }, 'none recorded'))
  return section(title, table(['name', 'value'], entries.map(([k, v]) => [k, { cell: scalar(v as never), class: 'num' }]), { class: 'kv' }))
}

export async function versionView ({ route }: Context): Promise<Node> {
  const rev = route.arg ?? 'HEAD'
  const d = await get<VersionDetail>('/api/version', { rev })
  const v = `v${d.version}`
  const [title, ...body] = d.message.split('\n')
  const parent = d.parents[0]
  const data: Child = d.data === null
    ? h('span', { class: 'muted' }, 'not recorded')
    : d.data.kind === 'ref' ? h('span', { class: 'mono' }, d.data.ref) : [h('span', { class: 'mono' }, d.data.manifest), ` ${d.data.path} (${d.data.files} files, ${bytes(d.data.bytes)})`]
  const code: Child = d.code === null
    ? h('span', { class: 'muted' }, 'not recorded')
    : d.code.kind === 'none' ? h('span', { class: 'muted' }, d.code.reason)
      : [h('span', { class: 'mono' }, `git ${d.code.oid}`), d.code.branch === null ? '' : ` on ${d.code.branch}`, d.code.remote === null ? '' : ` (${d.code.remote})`, d.code.dirty ? h('span', { class: 'warn' }, ` dirty: ${d.code.dirtyPaths.join(', ')}`) : ', clean']
  const env = d.environment
  const verification: Child = d.verification === null
    ? h('p', { class: 'muted' }, 'no verification recorded')
    : [
        h('p', null, `recorded on ${d.verification.backend}, tolerance atol ${d.verification.tolerance.atol}, rtol ${d.verification.tolerance.rtol}`),
        d.verification.models.map(m => h('div', { class: 'model-verify' },
          h('h3', null, m.path, ' ', m.status === 'recorded' ? h('span', { class: 'ok' }, 'recorded') : h('span', { class: 'warn' }, 'skipped')),
          m.status === 'skipped'
            ? h('p', null, m.reason)
            : [
                h('p', null, 'runtime: ', m.runtime === null ? 'TF.js' : `${m.runtime.id} ${m.runtime.version} on ${m.runtime.backend}`),
                table(['', 'name', 'dtype', 'shape'], [
                  ...m.inputs.map(t => [t.cid === null ? 'input (generated)' : 'input', t.name, t.dtype, h('span', { class: 'mono' }, shape(t.shape))]),
                  ...m.outputs.map(t => ['output', t.name, t.dtype, h('span', { class: 'mono' }, shape(t.shape))])
                ])
              ]))
      ]
  return h('div', { class: 'version' },
    h('h1', null, v, ' ', h('span', { class: 'title' }, title ?? ''), ' ', badges(d.names)),
    body.join('\n').trim() === '' ? null : h('pre', { class: 'message' }, body.join('\n').trim()),
    h('div', { class: 'actions' },
      parent === undefined ? null : h('a', { class: 'button', href: hash('compare', null, { a: `v${parent.version}`, b: v }) }, `compare with v${parent.version}`),
      h('a', { class: 'button', href: hash('metrics', null, { rev: v }) }, 'metrics up to here')),
    fields([
      ['commit', h('span', { class: 'mono' }, d.cid)],
      ['parents', d.parents.length === 0 ? h('span', { class: 'muted' }, 'none (first version)') : d.parents.map(p => [link(hash('version', `v${p.version}`), `v${p.version}`), ' '])],
      ['children', d.children.length === 0 ? h('span', { class: 'muted' }, 'none') : d.children.map(c => [link(hash('version', `v${c.version}`), `v${c.version}`), ' '])],
      ['author', `${d.author.name} <${d.author.email}>`],
      ['date', date(d.timestamp)],
      ['path', h('span', { class: 'mono' }, d.path)],
      ['manifest', [h('span', { class: 'mono' }, d.manifest), d.files === null ? '' : `: ${d.files.length} files, ${bytes(d.bytes)}`]],
      ['data', data],
      ['code', code],
      ['environment', env === null ? h('span', { class: 'muted' }, 'not recorded') : `mvc ${env.mvc}, node ${env.node}, ${env.platform} ${env.arch}${env.tfjs === null ? '' : `, tfjs ${env.tfjs} on ${env.backend ?? '?'}`}`]
    ]),
    h('div', { class: 'columns' }, values('Params', d.params), values('Metrics', d.metrics)),
    section('Verification', verification),
    d.missing !== null ? h('p', { class: 'warn' }, d.missing) : null,
    d.inputs === null ? null : section('Declared inputs (metadata.json)', contract(d.inputs)),
    d.models === null
      ? null
      : section('Models', d.models.length === 0
        ? h('p', { class: 'muted' }, 'no model recognised: stored as files')
        : table(['path', 'format', 'tensors', 'runnable', 'inputs', 'outputs', 'custom objects'], d.models.map(m => [
          h('span', { class: 'mono' }, m.path), m.format, { cell: m.tensors, class: 'num' }, m.runnable ? 'yes' : 'no',
          m.contract === null ? h('span', { class: 'muted' }, '—') : contract(m.contract.inputs),
          m.contract === null ? h('span', { class: 'muted' }, '—') : contract(m.contract.outputs),
          m.customObjects.length === 0 ? '' : m.customObjects.join(', ')
        ]), { class: 'models' })),
    d.files === null
      ? null
      : section(`Files (${d.files.length}, ${bytes(d.bytes)})`, table(['mode', 'size', 'path'], d.files.map(f => [
        h('span', { class: 'mono' }, f.mode.toString(8).padStart(4, '0')), { cell: bytes(f.size), class: 'num' }, h('span', { class: 'mono', title: f.cid }, f.path)
      ]), { class: 'files' })))
}
