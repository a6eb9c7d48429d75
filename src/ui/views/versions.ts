/**
 * The version list, newest first, paged, with the version graph (lanes computed by the server,
 * src/core/ui/graph.ts) drawn beside the rows by Observable Plot.
 */
import * as Plot from '@observablehq/plot'
import type { GraphEdge, VersionsPage } from '../../core/ui/types.js'
import { get } from '../api.js'
import { h } from '../dom.js'
import { date, shortCid } from '../format.js'
import { hash, type Context } from '../route.js'
import { badges, laneColor, metricChips, pager } from './common.js'

export const ROW = 30
const LANE = 14

function graph (page: VersionsPage): Element {
  const x = (lane: number): number => 10 + lane * LANE
  const y = (row: number): number => row * ROW + ROW / 2
  const n = page.rows.length
  const height = n * ROW
  const edges: Array<{ x1: number, y1: number, x2: number, y2: number, lane: number }> = []
  const add = (row: number, [from, to]: GraphEdge, lane: number): void => {
    // The last row's lines leave the page half a row down (toward the next page).
    const end = row + 1 >= n ? { x2: (x(from) + x(to)) / 2, y2: height } : { x2: x(to), y2: y(row + 1) }
    edges.push({ x1: x(from), y1: y(row), ...end, lane })
  }
  for (const e of page.incoming) edges.push({ x1: (x(e[0]) + x(e[1])) / 2, y1: 0, x2: x(e[1]), y2: y(0), lane: e[1] })
  page.rows.forEach((r, i) => { for (const e of r.graph.down) add(i, e, e[0] === r.graph.lane ? e[1] : e[0]) })
  const dots = page.rows.map((r, i) => ({ x: x(r.graph.lane), y: y(i), lane: r.graph.lane, version: r.version, merge: r.parents.length > 1, title: `v${r.version} ${r.title}` }))
  return Plot.plot({
    width: x(Math.max(page.lanes, 1) - 1) + 10,
    height: Math.max(height, 1),
    margin: 0,
    x: { type: 'identity' },
    y: { type: 'identity' },
    marks: [
      Plot.link(edges, { x1: 'x1', y1: 'y1', x2: 'x2', y2: 'y2', stroke: d => laneColor(d.lane), strokeWidth: 2, curve: 'bump-y' }),
      Plot.dot(dots, { x: 'x', y: 'y', r: 5, fill: d => d.merge ? 'white' : laneColor(d.lane), stroke: d => laneColor(d.lane), strokeWidth: 2, href: d => hash('version', `v${d.version}`), title: 'title' })
    ]
  })
}

export async function versionsView ({ summary, route }: Context): Promise<Node> {
  const limit = Math.min(500, Math.max(1, Number(route.params.get('limit') ?? 100) || 100))
  const offset = Math.max(0, Number(route.params.get('offset') ?? 0) || 0)
  const page = await get<VersionsPage>('/api/versions', { offset, limit })
  if (page.total === 0) return h('div', { class: 'empty' }, h('h1', null, 'No versions yet'), h('p', null, 'Commit a model with ', h('code', null, 'mvc commit <path> -m <message>'), ' and reload.'))
  const href = (o: number): string => hash('versions', null, { offset: o, limit: limit === 100 ? undefined : limit })
  const names = [
    ...summary.branches.map(b => h('span', { class: `badge ${b.current ? 'head' : 'branch'}` }, b.current ? `HEAD -> ${b.name}` : b.name, ' ', h('a', { href: hash('version', `v${b.version}`) }, `v${b.version}`))),
    ...summary.tags.map(t => h('span', { class: 'badge tag' }, t.name, ' ', h('a', { href: hash('version', `v${t.version}`) }, `v${t.version}`))),
    ...summary.aliases.map(a => h('span', { class: 'badge alias' }, '@', a.name, ' ', h('a', { href: hash('version', `v${a.version}`) }, `v${a.version}`)))
  ]
  const rows = page.rows.map((r, i) => h('tr', { 'data-version': r.version },
    i === 0 ? h('td', { class: 'graph', rowspan: page.rows.length }, graph(page)) : null,
    h('td', { class: 'ver' }, h('a', { href: hash('version', `v${r.version}`) }, `v${r.version}`)),
    h('td', { class: 'cid mono' }, shortCid(r.cid)),
    h('td', { class: 'msg' }, badges(r.names), h('span', { title: r.title }, r.title)),
    h('td', { class: 'metrics' }, metricChips(r.metrics)),
    h('td', { class: 'verify', title: `verification: ${r.verification}` }, r.verification === 'recorded' ? '✓' : r.verification === 'none' ? '' : r.verification === 'partial' ? '½' : '–'),
    h('td', { class: 'author' }, r.author),
    h('td', { class: 'date mono' }, date(r.timestamp)),
    h('td', { class: 'cmp' }, r.parents.length > 0 && r.parents[0]! > 0 ? h('a', { href: hash('compare', null, { a: `v${r.parents[0]!}`, b: `v${r.version}` }), title: `what changed from v${r.parents[0]!}` }, 'Δ') : null)))
  return h('div', { class: 'versions' },
    h('div', { class: 'names' }, names),
    pager(page.offset, limit, page.total, href, 'versions'),
    h('table', { class: 'log', id: 'version-list' },
      h('thead', null, h('tr', null, ['', 'version', 'commit', 'message', 'metrics', '✓', 'author', 'date', ''].map(t => h('th', null, t)))),
      h('tbody', null, rows)),
    pager(page.offset, limit, page.total, href, 'versions'))
}
