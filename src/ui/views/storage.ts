/** Storage per version: bytes each version added to the store, and what sharing objects saved. */
import * as Plot from '@observablehq/plot'
import type { StorageResponse } from '../../core/ui/types.js'
import { get } from '../api.js'
import { fields, h, table } from '../dom.js'
import { bytes } from '../format.js'
import { hash, type Context } from '../route.js'
import { pager } from './common.js'

const BARS = 600

export async function storageView ({ route }: Context): Promise<Node> {
  const limit = 100
  const offset = Math.max(0, Number(route.params.get('offset') ?? 0) || 0)
  let s = await get<StorageResponse>('/api/storage', { offset, limit })
  const status = document.getElementById('status')
  while (!s.complete) {
    // A long history is walked once (then kept): show how far it got, and ask again.
    if (status !== null) status.textContent = `storage: walked ${s.walked.toLocaleString('en')} of ${s.versions.toLocaleString('en')} versions…`
    s = await get<StorageResponse>('/api/storage', { offset, limit })
  }
  if (status !== null) status.textContent = ''
  const t = s.totals
  const bars = s.chart.versions.flatMap((v, i) => {
    const added = s.chart.added[i]!
    const logical = s.chart.logical[i]!
    return [
      { version: v, kind: 'added (new objects)', y1: 0, y2: added, bytes: added },
      { version: v, kind: 'shared with earlier versions', y1: added, y2: Math.max(added, logical), bytes: Math.max(0, logical - added) }
    ]
  })
  const chart = Plot.plot({
    width: 1000,
    height: 260,
    marginLeft: 70,
    x: { label: 'version', tickFormat: (v: number) => Number.isInteger(v) ? `v${v}` : '' },
    y: { label: 'bytes', grid: true, tickFormat: (v: number) => bytes(v) },
    color: { legend: true, domain: ['added (new objects)', 'shared with earlier versions'], range: ['#e15759', '#bab0ab'] },
    marks: [
      // A bar per version while bars are wide enough to see; beyond that, two areas (two paths instead of 20,000 rectangles).
      s.chart.versions.length <= BARS
        ? Plot.rect(bars, { x1: d => d.version - 0.45, x2: d => d.version + 0.45, y1: 'y1', y2: 'y2', fill: 'kind', title: d => `v${d.version}: ${d.kind} ${bytes(d.bytes)}` })
        : Plot.areaY(bars, { x: 'version', y1: 'y1', y2: 'y2', fill: 'kind', z: 'kind', curve: 'step' }),
      Plot.ruleY([0])
    ]
  })
  const href = (o: number): string => hash('storage', null, { offset: o })
  return h('div', { class: 'storage' },
    fields([
      ['versions', s.total.toLocaleString('en')],
      ['files in all versions', bytes(t.logical)],
      ['stored', `${bytes(t.added)} in ${t.objects.toLocaleString('en')} objects`],
      ['dedup saved', `${bytes(t.saved)} (${t.logical === 0 ? 0 : (100 * t.saved / t.logical).toFixed(1)} %)`],
      ['pack files on disk', bytes(t.packBytes)]
    ]),
    h('figure', { class: 'storage-chart' }, chart),
    pager(s.offset, limit, s.total, href, 'versions'),
    table(['version', 'files', 'objects added', 'bytes added', 'dedup saved', 'missing'], s.rows.map(r => [
      h('a', { href: hash('version', `v${r.version}`) }, `v${r.version}`),
      { cell: bytes(r.logical), class: 'num' },
      { cell: r.objects.toLocaleString('en'), class: 'num' },
      { cell: bytes(r.added), class: 'num' },
      { cell: bytes(r.saved), class: 'num' },
      { cell: r.missing === 0 ? '' : String(r.missing), class: 'num' }
    ]), { class: 'storage-table' }),
    h('p', { class: 'muted' }, `Bytes added: the objects a version stored first, in version order (chunks, tensors, files, manifests, the commit). Dedup saved: the version's files minus what it added. Walked in ${s.ms} ms.`))
}
