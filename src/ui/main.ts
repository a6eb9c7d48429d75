/**
 * The `mvc ui` page: a hash router over four views (versions, one version, metrics, compare,
 * storage). Every view asks the server (api.ts) and builds plain DOM; charts are Observable Plot.
 * `body[data-state]` is `loading`, `ready` or `error` — the browser tests wait on it.
 */
import './style.css'
import { h } from './dom.js'
import { ApiError, get, onBusy } from './api.js'
import type { SummaryResponse } from '../core/ui/types.js'
import { parseHash, type Context } from './route.js'
import { versionsView } from './views/versions.js'
import { versionView } from './views/version.js'
import { metricsView } from './views/metrics.js'
import { compareView } from './views/compare.js'
import { storageView } from './views/storage.js'

const VIEWS: Readonly<Record<string, (ctx: Context) => Promise<Node>>> = {
  versions: versionsView,
  version: versionView,
  metrics: metricsView,
  compare: compareView,
  storage: storageView
}

const main = document.getElementById('main')!
const status = document.getElementById('status')!
const repo = document.getElementById('repo')!
onBusy(busy => { status.textContent = busy ?? '' })

let generation = 0
async function render (): Promise<void> {
  const mine = ++generation
  const route = parseHash(location.hash)
  document.body.dataset.state = 'loading'
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) a.classList.toggle('active', a.dataset.view === route.view || (route.view === 'version' && a.dataset.view === 'versions'))
  const started = performance.now()
  try {
    const summary = await get<SummaryResponse>('/api/summary')
    repo.textContent = `${summary.root} · ${summary.versions.toLocaleString('en')} versions · on ${summary.head}`
    const view = VIEWS[route.view]
    const node = view === undefined ? h('p', { class: 'error' }, `no view ${route.view}`) : await view({ summary, route })
    if (mine !== generation) return
    main.replaceChildren(node)
    document.body.dataset.state = 'ready'
    document.body.dataset.renderMs = String(Math.round(performance.now() - started))
  } catch (err) {
    if (mine !== generation) return
    const e = err as Error
    main.replaceChildren(h('div', { class: 'error' }, h('strong', null, err instanceof ApiError ? `${err.code}: ` : 'error: '), e.message))
    document.body.dataset.state = 'error'
  }
}

window.addEventListener('hashchange', () => { void render() })
void render()
