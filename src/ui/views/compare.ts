/**
 * Two versions compared: what changed inside the models — topology, and every tensor as a heat strip
 * (one row per layer, one cell per tensor, coloured by rel_l2, max_abs or mean_abs) with the most
 * changed tensors as bars — the behavioural diff on the recorded reference inputs, then contracts,
 * params, metrics, files and lineage.
 */
import * as Plot from '@observablehq/plot'
import type { BehaviourDiff, CompareResponse, TensorChange, VersionsPage } from '../../core/ui/types.js'
import { get } from '../api.js'
import { h, section, table, type Child } from '../dom.js'
import { bytes, num, scalar, shape } from '../format.js'
import { hash, type Context } from '../route.js'

type By = 'relL2' | 'maxAbs' | 'meanAbs'
const BY_LABEL: Readonly<Record<By, string>> = { relL2: 'rel_l2', maxAbs: 'max_abs', meanAbs: 'mean_abs' }
const TOP = 40

function valueOf (t: TensorChange, by: By): number | null {
  if (t.status === 'unchanged') return 0
  if (t.stats === null) return null
  return t.stats[by]
}

function shortName (t: TensorChange): string {
  return t.layer !== t.name && t.name.startsWith(t.layer) ? t.name.slice(t.layer.length).replace(/^[/:]/, '') : t.name
}

function symbol (t: TensorChange): string {
  return t.status === 'added' ? '+' : t.status === 'removed' ? '−' : t.kind === 'shape' ? 'shape' : t.kind === 'dtype' ? 'dtype' : '?'
}

interface Cell { readonly t: TensorChange, readonly layer: string, readonly col: number, readonly v: number | null, readonly label: string, readonly title: string }

function strip (tensors: readonly TensorChange[], by: By, max: number): Element {
  const layers = [...new Set(tensors.map(t => t.layer))]
  const cols = new Map<string, number>()
  const cells: Cell[] = tensors.map(t => {
    const col = cols.get(t.layer) ?? 0
    cols.set(t.layer, col + 1)
    const v = valueOf(t, by)
    const stats = t.stats === null ? '' : `\nmax_abs ${num(t.stats.maxAbs)}  mean_abs ${num(t.stats.meanAbs)}  rel_l2 ${num(t.stats.relL2)}${t.stats.relL2Exact ? '' : ' (upper bound)'}`
    return { t, layer: t.layer, col, v, label: shortName(t), title: `${t.name} ${t.dtype} ${shape(t.shape)} — ${t.status}${t.note === null ? '' : ` (${t.note})`}${stats}` }
  })
  const widest = Math.max(...cols.values())
  const numeric = cells.filter(c => c.v !== null)
  const other = cells.filter(c => c.v === null)
  return Plot.plot({
    width: Math.min(1100, 180 + widest * 110),
    height: 12 + layers.length * 24,
    marginLeft: 170,
    marginTop: 6,
    marginBottom: 6,
    padding: 0.06,
    x: { type: 'band', domain: [...Array(widest).keys()], axis: null },
    y: { type: 'band', domain: layers, label: null, tickFormat: (l: string) => l.length > 26 ? `…${l.slice(-25)}` : l },
    color: { type: 'sqrt', domain: [0, max > 0 ? max : 1], scheme: 'YlOrRd', legend: true, label: BY_LABEL[by] },
    marks: [
      Plot.cell(numeric, { x: 'col', y: 'layer', fill: 'v', title: 'title', stroke: d => d.t.status === 'unchanged' ? '#e5e5e5' : '#333', strokeWidth: 0.5, inset: 0.5 }),
      Plot.cell(other, { x: 'col', y: 'layer', fill: '#cfd8e3', title: 'title', stroke: '#333', strokeDasharray: '3,2', inset: 0.5 }),
      Plot.text(cells, { x: 'col', y: 'layer', text: d => d.v === null ? `${symbol(d.t)} ${d.label}` : d.label, fill: d => d.v !== null && max > 0 && d.v > max * 0.55 ? 'white' : 'black', fontSize: 10, title: 'title', lineWidth: 10 })
    ]
  })
}

function bars (tensors: readonly TensorChange[], by: By, max: number): Element | null {
  const top = tensors.filter(t => t.status === 'changed' && valueOf(t, by) !== null)
    .map(t => ({ name: t.name, v: valueOf(t, by)!, t }))
    .sort((a, b) => b.v - a.v).slice(0, TOP)
  if (top.length === 0) return null
  return Plot.plot({
    width: 900,
    height: 40 + top.length * 20,
    marginLeft: 220,
    x: { label: BY_LABEL[by], grid: true },
    y: { label: null, domain: top.map(d => d.name), tickFormat: (l: string) => l.length > 34 ? `…${l.slice(-33)}` : l },
    color: { type: 'sqrt', domain: [0, max > 0 ? max : 1], scheme: 'YlOrRd' },
    marks: [
      Plot.barX(top, { x: 'v', y: 'name', fill: 'v', stroke: '#333', strokeWidth: 0.5, title: d => `${d.name}: ${BY_LABEL[by]} ${num(d.v)}` }),
      Plot.text(top, { x: 'v', y: 'name', text: d => num(d.v), dx: 4, textAnchor: 'start', fontSize: 10 }),
      Plot.ruleX([0])
    ]
  })
}

function tensorTable (tensors: readonly TensorChange[]): HTMLElement {
  const changed = tensors.filter(t => t.status !== 'unchanged')
  const unchanged = tensors.length - changed.length
  return h('div', null,
    table(['', 'tensor', 'role', 'dtype', 'shape', 'max_abs', 'mean_abs', 'rel_l2', 'changed', 'note'], changed.map(t => [
      { cell: t.status === 'added' ? '+' : t.status === 'removed' ? '−' : '~', class: `st ${t.status}` },
      h('span', { class: 'mono' }, t.name),
      t.role,
      t.dtype,
      h('span', { class: 'mono' }, t.shapeA !== null && t.kind === 'shape' ? `${shape(t.shapeA)} → ${shape(t.shape)}` : shape(t.shape)),
      { cell: num(t.stats?.maxAbs), class: 'num' },
      { cell: num(t.stats?.meanAbs), class: 'num' },
      { cell: t.stats === null ? '—' : `${num(t.stats.relL2)}${t.stats.relL2Exact ? '' : '≤'}`, class: 'num' },
      { cell: t.stats === null ? '' : `${t.stats.changedElements.toLocaleString('en')}/${t.stats.elements.toLocaleString('en')}`, class: 'num' },
      t.note ?? ''
    ]), { class: 'tensors' }),
    h('p', { class: 'muted' }, `${unchanged.toLocaleString('en')} unchanged`))
}

function modelSection (model: string, tensors: readonly TensorChange[], by: By): HTMLElement {
  const weights = tensors.filter(t => t.role === 'weights')
  const others = [...new Set(tensors.filter(t => t.role !== 'weights').map(t => t.role))]
  const max = Math.max(0, ...tensors.map(t => valueOf(t, by) ?? 0))
  const block = (title: string | null, ts: readonly TensorChange[]): Child => ts.length === 0
    ? null
    : h('figure', { class: 'tensor-strip', 'data-model': model, 'data-role': ts[0]!.role, 'data-tensors': ts.length },
      title === null ? null : h('figcaption', null, title),
      strip(ts, by, max), bars(ts, by, max))
  const changed = tensors.filter(t => t.status !== 'unchanged').length
  return h('section', { class: 'model' },
    h('h2', null, 'Tensors of ', h('span', { class: 'mono' }, model), h('span', { class: 'muted' }, ` — ${changed} of ${tensors.length} changed, ${bytes(tensors.reduce((n, t) => n + t.bytes, 0))}`)),
    block(null, weights),
    others.map(role => block(`${role} state (shown apart from the weights)`, tensors.filter(t => t.role === role))),
    tensorTable(tensors))
}

function behaviourSection (b: readonly BehaviourDiff[], va: number, vb: number): Child {
  if (b.length === 0) return section('Behaviour', h('p', { class: 'muted' }, 'neither version recorded reference outputs'))
  return section('Behaviour on the reference inputs', b.map(m => h('div', { class: 'behaviour', 'data-model': m.model, 'data-status': m.status },
    h('h3', null, h('span', { class: 'mono' }, m.model), ' ', m.status === 'compared' ? '' : h('span', { class: 'warn' }, m.status)),
    m.reason === null ? null : h('p', null, m.reason),
    m.status !== 'compared'
      ? null
      : [
          h('p', { class: 'muted' }, `v${va}: ${m.runtimeA ?? '?'} · v${vb}: ${m.runtimeB ?? '?'} · tolerance atol ${m.tolerance?.atol ?? '?'}, rtol ${m.tolerance?.rtol ?? '?'}`),
          table(['output', 'dtype', 'shape', 'max_abs', 'mean_abs', 'within tolerance', 'note'], m.outputs.map(o => [
            h('span', { class: 'mono' }, o.name), o.dtype, h('span', { class: 'mono' }, shape(o.shape)),
            { cell: num(o.maxAbs), class: 'num' }, { cell: num(o.meanAbs), class: 'num' },
            o.withinTolerance ? h('span', { class: 'ok' }, 'yes') : h('span', { class: 'warn' }, 'no'), o.note ?? ''
          ])),
          h('div', { class: 'scatters' }, m.outputs.filter(o => o.sampleA.length > 0).map(o => {
            const pts = o.sampleA.map((a, i) => ({ a, b: o.sampleB[i]! }))
            const lo = Math.min(...o.sampleA, ...o.sampleB)
            const hi = Math.max(...o.sampleA, ...o.sampleB)
            return h('figure', { class: 'scatter' }, h('figcaption', null, `${o.name}: v${vb} against v${va} (${pts.length} values)`),
              Plot.plot({
                width: 300,
                height: 300,
                grid: true,
                x: { label: `v${va}`, domain: [lo, hi] },
                y: { label: `v${vb}`, domain: [lo, hi] },
                marks: [Plot.link([{ lo, hi }], { x1: 'lo', y1: 'lo', x2: 'hi', y2: 'hi', stroke: '#aaa' }), Plot.dot(pts, { x: 'a', y: 'b', r: 2, fill: '#4e79a7', fillOpacity: 0.6 })]
              }))
          }))
        ])))
}

async function defaults (): Promise<{ a: string, b: string } | null> {
  const page = await get<VersionsPage>('/api/versions', { offset: 0, limit: 1 })
  const top = page.rows[0]
  if (top === undefined) return null
  return { a: top.parents[0] !== undefined && top.parents[0] > 0 ? `v${top.parents[0]}` : `v${top.version}`, b: `v${top.version}` }
}

export async function compareView ({ route }: Context): Promise<Node> {
  let a = route.params.get('a') ?? ''
  let b = route.params.get('b') ?? ''
  const by = (['relL2', 'maxAbs', 'meanAbs'].includes(route.params.get('by') ?? '') ? route.params.get('by') : 'relL2') as By
  if (a === '' || b === '') {
    const d = await defaults()
    if (d === null) return h('p', { class: 'muted' }, 'no versions to compare yet')
    a = a === '' ? d.a : a
    b = b === '' ? d.b : b
  }
  const recent = await get<VersionsPage>('/api/versions', { offset: 0, limit: 200 })
  const go = (p: Record<string, string>): void => { location.hash = hash('compare', null, { a, b, by, ...p }) }
  const inputA = h('input', { name: 'a', value: a, list: 'revs', size: 14 })
  const inputB = h('input', { name: 'b', value: b, list: 'revs', size: 14 })
  const controls = h('form', {
    class: 'controls',
    onsubmit: (e: Event) => { e.preventDefault(); go({ a: inputA.value.trim(), b: inputB.value.trim() }) }
  },
  h('datalist', { id: 'revs' }, recent.rows.map(r => h('option', { value: `v${r.version}` }, r.title))),
  h('label', null, 'from ', inputA), ' ',
  h('button', { type: 'button', title: 'swap', onclick: () => { go({ a: b, b: a }) } }, '⇄'), ' ',
  h('label', null, 'to ', inputB), ' ',
  h('button', { type: 'submit' }, 'compare'), ' ',
  h('label', null, 'colour by ', h('select', { name: 'by', onchange: (e: Event) => { go({ by: (e.target as HTMLSelectElement).value }) } },
    (Object.keys(BY_LABEL) as By[]).map(k => h('option', { value: k, selected: k === by }, BY_LABEL[k])))))
  const d = await get<CompareResponse>('/api/diff', { a, b })
  const models = [...new Set(d.tensors.map(t => t.model))]
  const summary = [
    `${d.tensors.filter(t => t.status !== 'unchanged').length} of ${d.tensors.length} tensors changed`,
    `${d.topology.length} topology changes`,
    `${d.files.added.length + d.files.removed.length + d.files.modified.length} other files changed`,
    d.identical ? 'identical' : null
  ].filter(s => s !== null).join(' · ')
  return h('div', { class: 'compare' },
    controls,
    h('h1', null, h('a', { href: hash('version', `v${d.a.version}`) }, `v${d.a.version}`), ' → ', h('a', { href: hash('version', `v${d.b.version}`) }, `v${d.b.version}`)),
    h('p', { class: 'summary' }, summary, h('span', { class: 'muted' }, d.ms > 0 ? ` (computed in ${d.ms} ms)` : '')),
    d.contracts.length === 0 ? null : section('Inputs and outputs', d.contracts.map(c => h('div', { class: c.breaking ? 'warn' : '' }, h('strong', null, c.model, c.breaking ? ' (breaking)' : ''), h('ul', null, c.changes.map(x => h('li', null, x)))))),
    d.metrics.length === 0 && d.params.length === 0
      ? null
      : h('div', { class: 'columns' },
        section('Metrics', d.metrics.length === 0 ? h('p', { class: 'muted' }, 'unchanged') : table(['metric', `v${d.a.version}`, `v${d.b.version}`, 'Δ'], d.metrics.map(m => [m.name, { cell: scalar(m.a), class: 'num' }, { cell: scalar(m.b), class: 'num' }, { cell: m.delta === null ? '' : `${m.delta > 0 ? '+' : ''}${num(m.delta)}`, class: m.delta === null ? 'num' : m.delta >= 0 ? 'num up' : 'num down' }]))),
        section('Params', d.params.length === 0 ? h('p', { class: 'muted' }, 'unchanged') : table(['param', `v${d.a.version}`, `v${d.b.version}`], d.params.map(p => [p.name, { cell: scalar(p.a), class: 'num' }, { cell: scalar(p.b), class: 'num' }])))),
    section('Topology', d.topology.length === 0
      ? h('p', { class: 'muted' }, 'no layer or node changed')
      : table(['model', 'change', 'name', 'type', 'fields'], d.topology.map(c => [
        h('span', { class: 'mono' }, c.model), c.kind, c.name ?? '', c.type ?? '',
        [c.fields.join(', '), c.shapes.map(s => h('div', { class: 'mono' }, `${s.field}: ${JSON.stringify(s.a)} → ${JSON.stringify(s.b)}`))]
      ]), { class: 'topology' })),
    models.map(m => modelSection(m, d.tensors.filter(t => t.model === m), by)),
    models.length === 0 ? section('Tensors', h('p', { class: 'muted' }, 'no model in either version')) : null,
    behaviourSection(d.behaviour, d.a.version, d.b.version),
    section('Files',
      d.files.added.length + d.files.removed.length + d.files.modified.length === 0
        ? h('p', { class: 'muted' }, 'no other file changed')
        : h('ul', { class: 'mono' }, d.files.added.map(f => h('li', { class: 'added' }, `+ ${f}`)), d.files.removed.map(f => h('li', { class: 'removed' }, `− ${f}`)), d.files.modified.map(f => h('li', null, `~ ${f}`)))),
    section('Lineage', h('p', null, `data: ${d.data?.status ?? '—'} · code: ${d.code?.status ?? '—'}`)))
}
