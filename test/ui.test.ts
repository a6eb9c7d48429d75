/**
 * `mvc ui` in a real browser: the real CLI serves the README's tour repository (test/ui-tour.ts, six
 * versions committed through the CLI) and Debian's Chromium, driven by playwright-core, loads the page.
 * Checked: the version list and its graph, one version in full, a metric plot with one point per
 * version (linked to it), the tensor-change view of two versions against statistics this file computes
 * from the weights it wrote, a screenshot whose pixels are looked at, the token (401 without, 403
 * wrong), that the repository's keys, values and packs are byte for byte the same after the UI was
 * used, that other mvc commands run while it is up, and a clean stop on SIGINT.
 *
 * The browser comes from scripts/chromium.sh (MVC_CHROMIUM, else /usr/bin/chromium, installed with
 * apt-get when missing). `MVC_UI_SCREENSHOT=docs/ui.png node --test dist/test/ui.test.js` also writes
 * the screenshot for the README.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmod, mkdtemp, readdir, readFile, realpath, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { openDiskStore } from '../src/store/open.js'
import { GraphLayout } from '../src/core/ui/graph.js'
import type { CompareResponse, MetricsResponse, StorageResponse, SummaryResponse, VersionsPage } from '../src/core/ui/types.js'
import { REPO_ROOT, removeDir, runMvc, spawnMvc, tmpdir, type RunResult } from './helpers.js'
import { buildTour, type Tour } from './ui-tour.js'

const TIMEOUT = { timeout: 180_000 }

// The callbacks given to page.evaluate and waitForFunction run in the browser; these are the browser
// globals they use (the Node build has no DOM library).
interface Canvas { width: number, height: number, getContext (kind: '2d'): { drawImage (img: Image, x: number, y: number): void, getImageData (x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null }
declare const document: { body: { dataset: Record<string, string | undefined> }, getElementById (id: string): { textContent: string | null } | null, createElement (tag: 'canvas'): Canvas }
declare const location: { hash: string }
declare class Image { src: string; readonly width: number; readonly height: number; decode (): Promise<void> }
declare interface HTMLElement { readonly dataset: Record<string, string | undefined> }
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

const cleanup: string[] = []
let tour: Tour
let ui: { child: ChildProcess, done: Promise<RunResult>, url: string, base: string, token: string }
let context: BrowserContext
let page: Page
let stateBefore: string

function chromiumPath (): string {
  const out = execFileSync('bash', [join(REPO_ROOT, 'scripts', 'chromium.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  return out.trim().split('\n').pop()!
}

/** Starts `mvc ui --json` in `cwd` and resolves with what it printed. */
async function startUi (cwd: string, args: readonly string[] = [], env: Record<string, string> = {}): Promise<typeof ui> {
  const { child, done } = spawnMvc(['ui', '--json', ...args], { cwd, env })
  const printed = await new Promise<{ url: string, token: string }>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`mvc ui printed nothing in 30 s: ${out}`)) }, 30_000)
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString('utf8')
      const line = out.split('\n').find(l => l.startsWith('{'))
      if (line !== undefined) { clearTimeout(timer); resolve(JSON.parse(line) as { url: string, token: string }) }
    })
    void done.then(r => { clearTimeout(timer); reject(new Error(`mvc ui exited ${String(r.code)} before listening:\n${r.stdout}\n${r.stderr}`)) })
  })
  return { child, done, url: printed.url, base: printed.url.slice(0, printed.url.indexOf('/?')), token: printed.token }
}

async function api<T> (path: string): Promise<T> {
  const res = await fetch(`${ui.base}${path}`, { headers: { 'X-Mvc-Token': ui.token } })
  assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`)
  return await res.json() as T
}

/** Every key and value of the store, the pack files and every other file of .mvc/ except LevelDB's own (which opening rewrites). */
async function repositoryState (root: string): Promise<string> {
  const h = createHash('sha256')
  const store = await openDiskStore(join(root, '.mvc'), { lockTimeoutMs: 20_000 })
  let keys = 0
  try {
    for await (const [k, v] of store.kv.entries('')) { h.update(k).update('\0').update(v).update('\0'); keys++ }
  } finally { await store.close() }
  assert.ok(keys > 100, `the store has keys (${keys})`)
  const walk = async (dir: string): Promise<void> => {
    for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name)
      if (e.isDirectory()) { if (p !== join(root, '.mvc', 'db')) await walk(p) } else h.update(relative(root, p)).update('\0').update(await readFile(p))
    }
  }
  await walk(join(root, '.mvc'))
  return h.digest('hex')
}

async function open (hash: string): Promise<void> {
  // A new hash on the same page is not a reload: mark the old view so that it is not taken for the new one.
  if (page.url().startsWith(ui.url)) await page.evaluate(() => { document.body.dataset.state = 'stale' })
  await page.goto(`${ui.url}${hash}`)
  await page.waitForFunction(() => document.body.dataset.state !== 'loading' && document.body.dataset.state !== 'stale', null, { timeout: 60_000 })
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready', await page.textContent('main') ?? '')
}

/** Statistics of b − a computed here, independently of mvc's diff. */
function stats (a: Float32Array, b: Float32Array): { maxAbs: number, meanAbs: number, relL2: number } {
  let max = 0; let sum = 0; let d2 = 0; let a2 = 0
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(b[i]! - a[i]!)
    max = Math.max(max, d); sum += d; d2 += d * d; a2 += a[i]! * a[i]!
  }
  return { maxAbs: max, meanAbs: sum / a.length, relL2: Math.sqrt(d2) / Math.sqrt(a2) }
}

function close (actual: number, expected: number, rel: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= rel * Math.abs(expected), `${what}: ${actual} is not within ${rel} of ${expected}`)
}

describe('mvc ui in Chromium', TIMEOUT, () => {
  let browser: Browser | null
  before(async () => {
    const executablePath = process.env.MVC_CHROMIUM ?? chromiumPath()
    const base = await realpath(await tmpdir('mvc-ui-'))
    cleanup.push(base)
    tour = await buildTour(base)
    stateBefore = await repositoryState(tour.root)
    ui = await startUi(tour.root)
    const profile = await mkdtemp(join(base, 'chromium-profile-'))
    context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1200, height: 900 } })
    browser = context.browser()
    page = await context.newPage()
    page.on('pageerror', err => { throw err })
  })
  after(async () => {
    await context?.close()
    void browser
    if (ui !== undefined && ui.child.exitCode === null) { ui.child.kill('SIGKILL'); await ui.done }
    await Promise.all(cleanup.map(removeDir))
  })

  test('the server refuses requests without the token (401) or with a wrong one (403), and anything but GET', async () => {
    for (const path of ['/', '/api/summary', '/api/versions', '/assets/app.js', '/api/diff?a=v1&b=v2']) {
      const none = await fetch(`${ui.base}${path}`)
      assert.equal(none.status, 401, path)
      assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'TOKEN_REQUIRED')
      const sep = path.includes('?') ? '&' : '?'
      const wrong = await fetch(`${ui.base}${path}${sep}token=${'0'.repeat(32)}`)
      assert.equal(wrong.status, 403, path)
      const wrongHeader = await fetch(`${ui.base}${path}`, { headers: { 'X-Mvc-Token': ui.token.slice(0, -1) } })
      assert.equal(wrongHeader.status, 403, path)
      const right = await fetch(`${ui.base}${path}${sep}token=${ui.token}`)
      assert.equal(right.status, 200, path)
    }
    const post = await fetch(`${ui.base}/api/summary?token=${ui.token}`, { method: 'POST', body: '{}' })
    assert.equal(post.status, 405)
    assert.match(ui.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32}$/)
    const page = await fetch(ui.url)
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/)
    assert.match(await page.text(), new RegExp(`/assets/app\\.js\\?token=${ui.token}`))
  })

  test('the version list: every version newest first, names, messages, metrics and the graph', async () => {
    await open('')
    const rows = await page.$$eval('#version-list tbody tr', trs => trs.map(tr => ({ version: Number((tr as HTMLElement).dataset.version), text: tr.textContent ?? '' })))
    assert.deepEqual(rows.map(r => r.version), [6, 5, 4, 3, 2, 1])
    for (const r of rows) {
      const v = tour.versions[r.version - 1]!
      assert.ok(r.text.includes(v.message), `row v${r.version} shows its message`)
      assert.ok(r.text.includes(`accuracy=${v.metrics.accuracy}`), `row v${r.version} shows its accuracy`)
    }
    assert.match(rows[0]!.text, /HEAD -> main.*1\.1\.0.*@staging/)
    assert.match(rows[2]!.text, /experiment/)
    assert.match(rows[4]!.text, /@production/)
    assert.match(rows[5]!.text, /1\.0\.0/)
    // The graph: one dot per version; v4 (on the experiment branch) in a lane of its own.
    const dots = await page.$$eval('#version-list td.graph g[aria-label="dot"] circle', cs => cs.map(c => Number(c.getAttribute('cx'))))
    assert.equal(dots.length, 6)
    const [v6, v5, v4, v3, v2, v1] = dots as [number, number, number, number, number, number]
    assert.deepEqual([v5, v3, v2, v1], [v6, v6, v6, v6])
    assert.ok(v4 > v6, 'v4 is drawn in a lane right of main')
    // Lines from each row to the next: v6-v5, v5 down past v4, on to v3; v4 down beside v3, then joining main at v2; v3-v2; v2-v1.
    assert.equal(await page.$$eval('#version-list td.graph g[aria-label="link"] path', ps => ps.length), 7)

    // One version in full, reached by its link.
    await page.click('#version-list a[href="#/version/v2"]')
    await page.waitForFunction(() => document.body.dataset.state === 'ready' && location.hash === '#/version/v2')
    const text = await page.textContent('main') ?? ''
    for (const s of ['v2 fine-tune the head', '@production', 'Ada <ada@example.com>', 'lr0.005', 'epochs8', 'accuracy0.934', 'layers-model', 'group1-shard4of4.bin', 'wide_input', 'recorded', 'on master, clean']) {
      assert.ok(text.includes(s), `the page of v2 shows ${JSON.stringify(s)}`)
    }
    assert.deepEqual(await page.$$eval('dl.fields dd a', as => as.map(a => a.textContent)), ['v1', 'v3', 'v4'], 'parent v1, children v3 and v4')
  })

  test('a metric plot has one point per version that records it, each linked to its version', async () => {
    await open('#/metrics?m=accuracy')
    const fig = 'figure.metric[data-metric="accuracy"]'
    const points = await page.$$eval(`${fig} g[aria-label="dot"] a`, as => as.map(a => ({ href: a.getAttribute('href') ?? a.getAttribute('xlink:href'), cy: Number(a.querySelector('circle')!.getAttribute('cy')) })))
    assert.equal(points.length, 6)
    assert.deepEqual(points.map(p => p.href), [1, 2, 3, 4, 5, 6].map(v => `#/version/v${v}`))
    // Higher accuracy is higher up (smaller y): the order of the points' heights is the order of the metrics committed.
    const byHeight = [...points.keys()].sort((i, j) => points[i]!.cy - points[j]!.cy)
    const byAccuracy = [...tour.versions.keys()].sort((i, j) => tour.versions[j]!.metrics.accuracy! - tour.versions[i]!.metrics.accuracy!)
    assert.deepEqual(byHeight, byAccuracy)
    // Only main's history: v4 is on another branch.
    await open('#/metrics?m=accuracy%2Closs&rev=main')
    assert.equal(await page.$$eval(`${fig} g[aria-label="dot"] circle`, cs => cs.length), 5)
    assert.equal(await page.$$eval('figure.metric[data-metric="loss"] g[aria-label="dot"] circle', cs => cs.length), 5)
    // Against a param: accuracy over lr.
    await open('#/metrics?m=accuracy&x=param%3Alr')
    assert.equal(await page.$$eval(`${fig} g[aria-label="dot"] circle`, cs => cs.length), 6)
    assert.match(await page.textContent(`${fig} svg`) ?? '', /lr/)
    // A point opens its version.
    // (Plot writes the links as xlink:href, which CSS attribute selectors don't match without namespaces.)
    const links = await page.$$eval(`${fig} g[aria-label="dot"] a`, as => as.map(a => a.getAttribute('href') ?? a.getAttribute('xlink:href')))
    await page.locator(`${fig} g[aria-label="dot"] a`).nth(links.indexOf('#/version/v4')).click()
    await page.waitForFunction(() => document.body.dataset.state === 'ready' && location.hash === '#/version/v4')
    assert.match(await page.textContent('h1') ?? '', /v4 experiment: retrain the first layer/)
    const m = await api<MetricsResponse>('/api/metrics')
    assert.deepEqual(m.versions, [1, 2, 3, 4, 5, 6])
    assert.deepEqual(m.metrics.accuracy, tour.versions.map(v => v.metrics.accuracy))
  })

  test('the tensor-change view of two versions: every tensor, coloured by its change, with the statistics', async () => {
    const [v1, v2, , v4] = tour.versions as [typeof tour.versions[0], typeof tour.versions[0], unknown, typeof tour.versions[0]]
    await open('#/compare?a=v1&b=v2')
    const strip = 'figure.tensor-strip[data-model="model.json"][data-role="weights"]'
    assert.equal(await page.getAttribute(strip, 'data-tensors'), '4')
    const cells = await page.$$eval(`${strip} g[aria-label="cell"] rect`, rs => rs.map(r => r.getAttribute('fill')))
    assert.equal(cells.length, 4, 'one cell per tensor')
    assert.equal(new Set(cells).size, 3, 'unchanged tensors share a colour; the two changed ones differ from it and from each other')
    const rows = await page.$$eval('table.tensors tbody tr', trs => trs.map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent ?? '')))
    assert.deepEqual(rows.map(r => r[1]), ['narrow/kernel', 'narrow/bias'])
    for (const row of rows) {
      const name = row[1]!
      const want = stats(v1.weights.get(name)!, v2.weights.get(name)!)
      close(Number(row[5]), want.maxAbs, 5e-4, `${name} max_abs on the page`)
      close(Number(row[6]), want.meanAbs, 5e-4, `${name} mean_abs on the page`)
      close(Number(row[7]), want.relL2, 5e-4, `${name} rel_l2 on the page`)
    }
    assert.match(await page.textContent('main') ?? '', /2 of 4 tensors changed/)
    const d = await api<CompareResponse>('/api/diff?a=v1&b=v2')
    for (const t of d.tensors) {
      if (t.status === 'unchanged') { assert.ok(t.name.startsWith('wide/')); continue }
      const want = stats(v1.weights.get(t.name)!, v2.weights.get(t.name)!)
      close(t.stats!.maxAbs, want.maxAbs, 1e-6, `${t.name} maxAbs`)
      close(t.stats!.meanAbs, want.meanAbs, 1e-6, `${t.name} meanAbs`)
      close(t.stats!.relL2!, want.relL2, 1e-6, `${t.name} relL2`)
    }
    assert.deepEqual(d.metrics.map(m => [m.name, m.a, m.b]), [['accuracy', 0.912, 0.934], ['loss', 0.31, 0.262]])
    assert.deepEqual(d.params.map(p => [p.name, p.a, p.b]), [['epochs', 5, 8], ['lr', 0.01, 0.005]])
    // The behavioural diff: both versions ran the same reference inputs; the head changed, so the output did.
    assert.equal(await page.getAttribute('div.behaviour[data-model="model.json"]', 'data-status'), 'compared')
    assert.equal(d.behaviour[0]!.outputs[0]!.name, 'narrow')
    assert.ok(d.behaviour[0]!.outputs[0]!.maxAbs! > 0.1)
    assert.equal(await page.$$eval('figure.scatter g[aria-label="dot"] circle', cs => cs.length), 128, 'the output [2,64] of both versions, point by point')

    // The experiment branch changed the first layer instead.
    await open('#/compare?a=v2&b=v4&by=maxAbs')
    const changed = await page.$$eval('table.tensors tbody tr', trs => trs.map(tr => tr.querySelectorAll('td')[1]!.textContent))
    assert.deepEqual(changed, ['wide/kernel', 'wide/bias'])
    const wideBias = stats(v2.weights.get('wide/bias')!, v4.weights.get('wide/bias')!)
    close(wideBias.maxAbs, 0.1, 1e-5, 'the test itself added 0.1')
    const d24 = await api<CompareResponse>('/api/diff?a=v2&b=v4')
    close(d24.tensors.find(t => t.name === 'wide/bias')!.stats!.maxAbs, wideBias.maxAbs, 1e-6, 'wide/bias maxAbs')
  })

  test('a screenshot of the comparison has the page on it (checked pixel by pixel in the browser)', async () => {
    await open('#/compare?a=v1&b=v2')
    const png = await page.screenshot({ clip: { x: 0, y: 0, width: 1200, height: 900 } })
    const target = process.env.MVC_UI_SCREENSHOT
    if (target !== undefined && target !== '') await writeFile(join(REPO_ROOT, target), png)
    // Decode it with the browser in a blank page (not the UI's), and count pixels.
    const blank = await context.newPage()
    const px = await blank.evaluate(async (src: string) => {
      const img = new Image()
      img.src = src
      await img.decode()
      const c = document.createElement('canvas')
      c.width = img.width; c.height = img.height
      const g = c.getContext('2d')!
      g.drawImage(img, 0, 0)
      const d = g.getImageData(0, 0, c.width, c.height).data
      let ink = 0; let darkRed = 0; let orange = 0
      for (let i = 0; i < d.length; i += 4) {
        const [r, gr, b] = [d[i]!, d[i + 1]!, d[i + 2]!]
        if (r < 235 || gr < 235 || b < 235) ink++
        if (r > 100 && r < 190 && gr < 40 && b < 70) darkRed++
        if (r > 230 && gr > 120 && gr < 200 && b < 110) orange++
      }
      return { width: c.width, height: c.height, ink, darkRed, orange }
    }, `data:image/png;base64,${png.toString('base64')}`)
    await blank.close()
    assert.deepEqual([px.width, px.height], [1200, 900])
    assert.ok(px.ink > 0.03 * px.width * px.height, `the screenshot is not blank (${px.ink} pixels of ink)`)
    assert.ok(px.darkRed > 500, `the most changed tensor (narrow/bias) is dark red in the heat strip and the bars (${px.darkRed} pixels)`)
    assert.ok(px.orange > 500, `narrow/kernel is orange (${px.orange} pixels)`)
  })

  test('storage: bytes each version added, and what sharing saved', async () => {
    await open('#/storage')
    const s = await api<StorageResponse>('/api/storage')
    assert.deepEqual(s.rows.map(r => r.version), [6, 5, 4, 3, 2, 1])
    const files = tour.versions.map(() => 0)
    for (const r of s.rows) files[r.version - 1] = r.logical
    // Every version holds the same six files: the four shards (64 KiB, 64 KiB, 64 KiB, 1280 B), model.json and metadata.json.
    assert.ok(files.every(n => n > 3 * 65536 + 1280 && n < 3 * 65536 + 1280 + 4096), JSON.stringify(files))
    const added = new Map(s.rows.map(r => [r.version, r.added]))
    // v1 stores everything; v2 its head (narrow: 64 KiB + 256 B of tensors) and small objects; v5 only narrow/bias (256 B).
    assert.ok(added.get(1)! > 3 * 65536)
    assert.ok(added.get(2)! > 65536 && added.get(2)! < 65536 + 16384, `v2 added ${added.get(2)!}`)
    assert.ok(added.get(5)! > 256 && added.get(5)! < 8192, `v5 added ${added.get(5)!}`)
    assert.ok(added.get(4)! > 131072 && added.get(4)! < 131072 + 32768, `v4 (the first layer: 128 KiB + 1 KiB) added ${added.get(4)!}`)
    assert.equal(s.totals.added, s.rows.reduce((n, r) => n + r.added, 0))
    assert.ok(s.totals.saved > 0.4 * s.totals.logical, 'six versions of one model share more than 40 % of their bytes')
    assert.equal(await page.$$eval('table.storage-table tbody tr', trs => trs.length), 6)
  })

  test('the repository is byte for byte what it was: the UI never wrote to it', async () => {
    assert.equal(await repositoryState(tour.root), stateBefore)
  })

  test('other mvc commands run while the UI is up, and the UI sees what they did', async () => {
    // Keep the UI busy while commands run: each command must still get the repository.
    let stop = false
    const load = (async () => { while (!stop) await api<VersionsPage>('/api/versions?limit=10') })()
    try {
      const started = Date.now()
      const tag = await runMvc(['tag', '2.0.0', 'v5'], { cwd: tour.root })
      assert.equal(tag.code, 0, tag.stderr)
      const log = await runMvc(['log', '-n', '1'], { cwd: tour.root })
      assert.equal(log.code, 0, log.stderr)
      assert.ok(Date.now() - started < 20_000)
    } finally {
      stop = true
      await load
    }
    const s = await api<SummaryResponse>('/api/summary')
    assert.deepEqual(s.tags.map(t => [t.name, t.version]), [['1.0.0', 1], ['1.1.0', 6], ['2.0.0', 5]])
  })

  test('while another process holds the repository the API answers 503 and the page waits, then shows it', async () => {
    const store = await openDiskStore(join(tour.root, '.mvc'), { lockTimeoutMs: 20_000 })
    let released = false
    try {
      const res = await fetch(`${ui.base}/api/summary`, { headers: { 'X-Mvc-Token': ui.token } })
      assert.equal(res.status, 503)
      assert.equal(res.headers.get('retry-after'), '1')
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'REPOSITORY_LOCKED')
      await page.goto(`${ui.url}#/version/v3`)
      await page.waitForFunction(() => /busy/.test(document.getElementById('status')?.textContent ?? ''), null, { timeout: 30_000 })
      await store.close()
      released = true
      await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 30_000 })
      assert.match(await page.textContent('h1') ?? '', /v3 more epochs on the head/)
    } finally {
      if (!released) await store.close()
    }
  })

  test('Ctrl-C stops it cleanly (exit 0)', async () => {
    ui.child.kill('SIGINT')
    const r = await ui.done
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /stopped/)
    await assert.rejects(fetch(ui.url))
  })
})

describe('mvc ui: the version graph\'s lanes (pure)', () => {
  const layout = (nodes: ReadonlyArray<readonly [string, readonly string[]]>): Array<[number, ReadonlyArray<readonly [number, number]>]> => {
    const ids = new Set(nodes.map(([id]) => id))
    const g = new GraphLayout(id => ids.has(id))
    return nodes.map(([id, parents]) => { const c = g.add({ id, parents }); return [c.lane, c.down] })
  }
  test('a straight line stays in lane 0', () => {
    assert.deepEqual(layout([['c', ['b']], ['b', ['a']], ['a', []]]), [[0, [[0, 0]]], [0, [[0, 0]]], [0, []]])
  })
  test('a branch takes lane 1 and joins lane 0 at its base, as `|/` does', () => {
    // The tour: v4 branched from v2 while main went on with v3, v5, v6.
    assert.deepEqual(layout([['6', ['5']], ['5', ['3']], ['4', ['2']], ['3', ['2']], ['2', ['1']], ['1', []]]), [
      [0, [[0, 0]]],
      [0, [[0, 0]]],
      [1, [[0, 0], [1, 1]]],
      [0, [[1, 0], [0, 0]]],
      [0, [[0, 0]]],
      [0, []]
    ])
  })
  test('a merge opens a lane for its second parent, which closes where the lines meet', () => {
    assert.deepEqual(layout([['m', ['x', 'y']], ['x', ['base']], ['y', ['base']], ['base', []]]), [
      [0, [[0, 0], [0, 1]]],
      [0, [[1, 1], [0, 0]]],
      [1, [[0, 0], [1, 0]]],
      [0, []]
    ])
  })
  test('a parent outside the listed versions gets no lane', () => {
    assert.deepEqual(layout([['b', ['a', 'elsewhere']], ['a', []]]), [[0, [[0, 0]]], [0, []]])
  })
})

describe('mvc ui: start-up', TIMEOUT, () => {
  test('outside a repository it exits 3; a bad port is a usage error (2)', async () => {
    const dir = await tmpdir('mvc-ui-none-')
    cleanup.push(dir)
    const r = await runMvc(['ui'], { cwd: dir })
    assert.equal(r.code, 3, r.stderr)
    assert.match(r.stderr, /NOT_A_REPOSITORY/)
    const p = await runMvc(['ui', '--port', '70000'], { cwd: dir })
    assert.equal(p.code, 2, p.stderr)
  })

  test('--open hands the URL to $BROWSER', async () => {
    const dir = await realpath(await tmpdir('mvc-ui-open-'))
    cleanup.push(dir)
    await runMvc(['init'], { cwd: dir })
    const script = join(dir, 'browser.sh')
    const seen = join(dir, 'seen.txt')
    await writeFile(script, `#!/bin/sh\necho "$1" > '${seen}'\n`)
    await chmod(script, 0o755)
    const s = await startUi(dir, ['--open'], { BROWSER: script })
    try {
      let text = ''
      for (let i = 0; i < 100 && text === ''; i++) {
        text = await readFile(seen, 'utf8').catch(() => '')
        if (text === '') await new Promise(resolve => setTimeout(resolve, 50))
      }
      assert.equal(text.trim(), s.url)
      // An empty repository: the page says so instead of failing.
      const v = await (await fetch(`${s.base}/api/versions?token=${s.token}`)).json() as VersionsPage
      assert.equal(v.total, 0)
    } finally {
      s.child.kill('SIGTERM')
      assert.equal((await s.done).code, 0)
    }
  })
})

after(async () => { await Promise.all(cleanup.map(removeDir)) })
