/** Pieces several views share: name badges, a pager, colours of graph lanes. */
import { h, type Child } from '../dom.js'

/** `HEAD -> main`, `main`, `tag: 1.0.0`, `alias: production` as badges. */
export function badges (names: readonly string[]): Child[] {
  return names.map(n => {
    if (n.startsWith('HEAD -> ')) return h('span', { class: 'badge head' }, n)
    if (n.startsWith('tag: ')) return h('span', { class: 'badge tag' }, n.slice(5))
    if (n.startsWith('alias: ')) return h('span', { class: 'badge alias' }, '@', n.slice(7))
    return h('span', { class: 'badge branch' }, n)
  })
}

/** Newer / older links around "rows a–b of n". */
export function pager (offset: number, limit: number, total: number, href: (offset: number) => string, what: string): HTMLElement {
  const first = total === 0 ? 0 : offset + 1
  const last = Math.min(offset + limit, total)
  return h('div', { class: 'pager' },
    offset > 0 ? h('a', { href: href(0) }, '« newest') : h('span', { class: 'off' }, '« newest'),
    offset > 0 ? h('a', { href: href(Math.max(0, offset - limit)), rel: 'prev' }, '‹ newer') : h('span', { class: 'off' }, '‹ newer'),
    h('span', { class: 'where' }, `${what} ${first.toLocaleString('en')}–${last.toLocaleString('en')} of ${total.toLocaleString('en')}`),
    last < total ? h('a', { href: href(offset + limit), rel: 'next' }, 'older ›') : h('span', { class: 'off' }, 'older ›'),
    last < total ? h('a', { href: href(Math.floor((total - 1) / limit) * limit) }, 'oldest »') : h('span', { class: 'off' }, 'oldest »'))
}

export const LANE_COLORS = ['#4e79a7', '#f28e2c', '#59a14f', '#e15759', '#76b7b2', '#edc949', '#af7aa1', '#ff9da7', '#9c755f', '#bab0ab']

export function laneColor (lane: number): string {
  return LANE_COLORS[lane % LANE_COLORS.length]!
}

/** Title of a value by a number of significant digits; the cell's title has it in full. */
export function metricChips (metrics: Readonly<Record<string, unknown>>, max = 3): Child[] {
  const entries = Object.entries(metrics)
  const shown = entries.slice(0, max).map(([k, v]) => h('span', { class: 'chip', title: `${k}=${String(v)}` }, `${k}=${typeof v === 'number' ? String(Number(v.toPrecision(4))) : String(v)}`))
  return entries.length > max ? [...shown, h('span', { class: 'chip more' }, `+${entries.length - max}`)] : shown
}
