/**
 * Metrics across versions: one plot per chosen metric, over version numbers or against a param;
 * every point links to its version (for up to LINKED points; beyond that a click on the plot opens
 * the version under the pointer, so 10,000 points stay light).
 */
import * as Plot from '@observablehq/plot'
import type { MetricsResponse, Scalar } from '../../core/ui/types.js'
import { get } from '../api.js'
import { h } from '../dom.js'
import { num } from '../format.js'
import { hash, type Context } from '../route.js'
import { LANE_COLORS } from './common.js'

const LINKED = 2000

interface Point { readonly version: number, readonly x: number | string, readonly y: number, readonly title: string }

function points (m: MetricsResponse, metric: string, x: string): Point[] {
  const ys = m.metrics[metric] ?? []
  const xs: readonly Scalar[] | undefined = x === 'version' ? undefined : m.params[x.slice('param:'.length)]
  const out: Point[] = []
  ys.forEach((y, i) => {
    if (typeof y !== 'number' || !Number.isFinite(y)) return
    let xv: number | string = m.versions[i]!
    if (xs !== undefined) {
      const p = xs[i]
      if (p === null || p === undefined) return
      xv = typeof p === 'number' ? p : String(p)
    }
    out.push({ version: m.versions[i]!, x: xv, y, title: `v${m.versions[i]!} ${metric}=${num(y)}${xs === undefined ? '' : ` ${x.slice(6)}=${String(xv)}`}\n${m.titles[i] ?? ''}` })
  })
  return out
}

function chart (pts: readonly Point[], metric: string, x: string, color: string): Element {
  const byVersion = x === 'version'
  const linked = pts.length <= LINKED
  const marks: Plot.Markish[] = [Plot.ruleY([Math.min(...pts.map(p => p.y))], { stroke: '#ddd' })]
  if (byVersion) marks.push(Plot.line(pts, { x: 'x', y: 'y', stroke: color, strokeOpacity: 0.5 }))
  marks.push(Plot.dot(pts, { x: 'x', y: 'y', fill: color, r: linked ? 4 : 1.5, ...(linked ? { href: (d: Point) => hash('version', `v${d.version}`), title: 'title' } : {}) }))
  if (!linked) marks.push(Plot.tip(pts, Plot.pointer({ x: 'x', y: 'y', title: 'title' })), Plot.dot(pts, Plot.pointer({ x: 'x', y: 'y', r: 5, stroke: color })))
  const numericX = pts.every(p => typeof p.x === 'number')
  const fig = Plot.plot({
    width: 900,
    height: 260,
    marginLeft: 60,
    grid: true,
    x: { label: byVersion ? 'version' : x.slice('param:'.length), ...(numericX ? {} : { type: 'point' as const }), ...(byVersion ? { tickFormat: (v: number) => Number.isInteger(v) ? `v${v}` : '' } : {}) },
    y: { label: metric, nice: true },
    marks
  })
  if (!linked) {
    fig.style.cursor = 'pointer'
    fig.addEventListener('click', () => {
      const v = (fig as unknown as { value?: Point | null }).value
      if (v !== null && v !== undefined) location.hash = hash('version', `v${v.version}`)
    })
  }
  return fig
}

export async function metricsView ({ summary, route }: Context): Promise<Node> {
  const rev = route.params.get('rev') ?? ''
  const numeric = summary.metrics.filter(m => m.numeric > 0).map(m => m.name)
  const chosen = (route.params.get('m') ?? numeric[0] ?? '').split(',').filter(m => m !== '')
  const x = route.params.get('x') ?? 'version'
  const m = await get<MetricsResponse>('/api/metrics', { rev })
  const go = (changes: Record<string, string | undefined>): void => {
    const next = { m: chosen.join(','), x, rev, ...changes }
    location.hash = hash('metrics', null, next)
  }
  const controls = h('form', { class: 'controls', onsubmit: (e: Event) => { e.preventDefault() } },
    h('fieldset', null, h('legend', null, 'metrics'),
      numeric.length === 0
        ? h('span', { class: 'muted' }, 'no version records a numeric metric')
        : numeric.map(name => h('label', null, h('input', {
          type: 'checkbox',
          name: 'metric',
          value: name,
          checked: chosen.includes(name),
          onchange: (e: Event) => {
            const on = (e.target as HTMLInputElement).checked
            go({ m: (on ? [...chosen, name] : chosen.filter(c => c !== name)).join(',') })
          }
        }), ' ', name))),
    h('label', null, 'x axis ', h('select', { name: 'x', onchange: (e: Event) => { go({ x: (e.target as HTMLSelectElement).value }) } },
      h('option', { value: 'version', selected: x === 'version' }, 'version'),
      summary.params.map(p => h('option', { value: `param:${p.name}`, selected: x === `param:${p.name}` }, `param ${p.name}`)))),
    h('label', null, 'versions ', h('select', { name: 'rev', onchange: (e: Event) => { go({ rev: (e.target as HTMLSelectElement).value }) } },
      h('option', { value: '', selected: rev === '' }, 'all'),
      summary.branches.map(b => h('option', { value: b.name, selected: rev === b.name }, `history of ${b.name}`)),
      rev !== '' && !summary.branches.some(b => b.name === rev) ? h('option', { value: rev, selected: true }, `history of ${rev}`) : null)))
  const plots = chosen.map((metric, i) => {
    const pts = points(m, metric, x)
    const color = LANE_COLORS[i % LANE_COLORS.length]!
    return h('figure', { class: 'metric', 'data-metric': metric, 'data-points': pts.length },
      h('figcaption', null, metric, h('span', { class: 'muted' }, ` — ${pts.length.toLocaleString('en')} versions${x === 'version' ? '' : ` against ${x.slice(6)}`}`)),
      pts.length === 0 ? h('p', { class: 'muted' }, 'no version records it as a number') : chart(pts, metric, x, color))
  })
  return h('div', { class: 'metrics' }, controls, plots.length === 0 ? h('p', { class: 'muted' }, 'choose a metric') : plots)
}
