/** Routes are the part of the page's URL after `#`: `#/compare?a=v1&b=v2`. */
import type { SummaryResponse } from '../core/ui/types.js'

export interface Route {
  readonly view: string
  readonly arg: string | null
  readonly params: URLSearchParams
}

/** What every view is given. */
export interface Context {
  readonly summary: SummaryResponse
  readonly route: Route
}

export function parseHash (raw: string): Route {
  const s = raw.replace(/^#\/?/, '')
  const at = s.indexOf('?')
  const path = at === -1 ? s : s.slice(0, at)
  const params = new URLSearchParams(at === -1 ? '' : s.slice(at + 1))
  const [view, ...rest] = path.split('/').map(decodeURIComponent)
  return { view: view === undefined || view === '' ? 'versions' : view, arg: rest.length > 0 ? rest.join('/') : null, params }
}

/** The hash for a view: `hash('compare', null, { a: 'v1', b: 'v2' })`. */
export function hash (view: string, arg: string | null = null, params: Readonly<Record<string, string | number | undefined>> = {}): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v))
  return `#/${view}${arg === null ? '' : `/${encodeURIComponent(arg)}`}${q.toString() !== '' ? `?${q.toString()}` : ''}`
}
