/**
 * `mvc ui` on a long history (docs/performance.md, "mvc ui"): builds a repository of MVC_UI_BENCH_VERSIONS
 * versions (default 10,000) of a small TF.js model — each version changes one layer and records params
 * and metrics; every 500 versions a side branch of three versions — then starts `mvc ui` (the real CLI)
 * and measures:
 *   - the API: each endpoint cold (first request after start) and warm (the median of 5 more);
 *   - the page in Chromium (scripts/chromium.sh, playwright-core): from navigation to the view being
 *     drawn (`body[data-state=ready]`), for each view, first visit and again.
 * The repository is kept in MVC_UI_BENCH_DIR when set (and reused when it already holds the versions).
 *
 *   npm run build && node dist/bench/ui-bench.js
 */
import { execFileSync, spawn } from 'node:child_process'
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { Repository } from '../src/index.js'
import { buildFixtures } from '../fixtures/build.js'
import { REPO_ROOT } from '../test/helpers.js'

const VERSIONS = Number(process.env.MVC_UI_BENCH_VERSIONS ?? 10_000)
const BRANCH_EVERY = 500

async function buildRepository (root: string): Promise<void> {
  const done = await stat(join(root, '.mvc')).then(() => true, () => false)
  if (done) {
    const repo = await Repository.open({ dir: root })
    try {
      const head = await repo.log({ limit: 1, all: true })
      if ((head[0]?.commit.version ?? 0) >= VERSIONS) return
    } finally { await repo.close() }
    throw new Error(`${root} holds an unfinished benchmark repository; remove it`)
  }
  await mkdir(root, { recursive: true })
  const fixtures = await buildFixtures(join(root, '..', 'fixtures'))
  await cp(fixtures.find(f => f.name === 'dense')!.dir, join(root, 'model'), { recursive: true })
  await Repository.init({ dir: root })
  const repo = await Repository.open({ dir: root })
  const weights = join(root, 'model', 'weights.bin')
  const original = await readFile(weights)
  const started = performance.now()
  try {
    let version = 0
    const commit = async (message: string): Promise<void> => {
      version++
      // Change one layer's bias (the last 16 bytes of `probs/bias`, at the end of weights.bin) a little.
      const bytes = Buffer.from(original)
      for (let k = 0; k < 4; k++) bytes.writeFloatLE(bytes.readFloatLE(bytes.length - 16 + 4 * k) + version * 1e-4, bytes.length - 16 + 4 * k)
      await writeFile(weights, bytes)
      const t = version / VERSIONS
      await repo.commit({
        path: join(root, 'model'),
        message,
        verify: false,
        code: false,
        timestamp: Date.UTC(2026, 0, 1) + version * 60_000,
        params: { lr: Number((0.01 * (1 - 0.5 * t)).toFixed(6)), epochs: 5 + (version % 10) },
        metrics: { accuracy: Number((0.8 + 0.15 * (1 - Math.exp(-5 * t)) + 0.01 * Math.sin(version)).toFixed(5)), loss: Number((0.6 * Math.exp(-3 * t) + 0.05).toFixed(5)) }
      })
      if (version % 1000 === 0) console.error(`  ${version} versions, ${((performance.now() - started) / 1000).toFixed(0)} s`)
    }
    while (version < VERSIONS) {
      if (version > 0 && version % BRANCH_EVERY === 0 && version + 3 < VERSIONS) {
        const name = `experiment-${version}`
        await repo.switch({ name, create: true, rev: `v${version - 2}` })
        for (let k = 0; k < 3; k++) await commit(`${name}: try ${k + 1}`)
        await repo.switch({ name: 'main' })
        if (version % 2000 === 0) await repo.tag({ name: `1.${version / 2000}.0` })
      }
      await commit(`training run ${version + 1}`)
    }
    await repo.alias({ name: 'production', rev: `v${VERSIONS - 10}` })
  } finally { await repo.close() }
  console.error(`built ${VERSIONS} versions in ${((performance.now() - started) / 1000).toFixed(0)} s`)
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

async function main (): Promise<void> {
  const keep = process.env.MVC_UI_BENCH_DIR
  const base = keep ?? await mkdtemp(join(tmpdir(), 'mvc-ui-bench-'))
  const root = join(base, 'repo')
  try {
    await buildRepository(root)
    const startedUi = performance.now()
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'mvc.js'), 'ui', '--json'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
    const printed = await new Promise<{ url: string, token: string }>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString()
        const line = out.split('\n').find(l => l.startsWith('{'))
        if (line !== undefined) resolve(JSON.parse(line) as { url: string, token: string })
      })
      child.on('exit', code => { reject(new Error(`mvc ui exited ${String(code)}`)) })
    })
    const startMs = performance.now() - startedUi
    const base = printed.url.slice(0, printed.url.indexOf('/?'))
    try {
      const rows: string[] = []
      const time = async (path: string): Promise<{ ms: number, bytes: number }> => {
        const t0 = performance.now()
        const res = await fetch(`${base}${path}`, { headers: { 'X-Mvc-Token': printed.token, 'Accept-Encoding': 'gzip' } })
        const body = await res.arrayBuffer()
        if (res.status !== 200) throw new Error(`${path}: ${res.status} ${Buffer.from(body).toString()}`)
        return { ms: performance.now() - t0, bytes: Number(res.headers.get('content-length') ?? body.byteLength) }
      }
      // The storage walk of the whole history, from cold: the page asks until `complete`.
      {
        const t0 = performance.now()
        let asks = 0
        for (;;) {
          asks++
          const res = await fetch(`${base}/api/storage?offset=0&limit=100`, { headers: { 'X-Mvc-Token': printed.token } })
          const body = await res.json() as { complete: boolean }
          if (body.complete) break
        }
        rows.push(`| \`/api/storage\` until complete (the first walk of the whole history) | ${(performance.now() - t0).toFixed(0)} (${asks} requests) | | |`)
      }
      const endpoints = [
        '/api/summary', '/api/versions?offset=0&limit=100', `/api/versions?offset=${VERSIONS - 100}&limit=100`, '/api/metrics',
        `/api/version?rev=v${VERSIONS}`, `/api/diff?a=v1&b=v${VERSIONS}`, '/api/storage?offset=0&limit=100'
      ]
      for (const p of endpoints) {
        const cold = await time(p)
        const warm: number[] = []
        for (let i = 0; i < 5; i++) warm.push((await time(p)).ms)
        rows.push(`| \`${p}\` | ${cold.ms.toFixed(0)} | ${median(warm).toFixed(1)} | ${(cold.bytes / 1024).toFixed(1)} |`)
      }
      console.log(`mvc ui over ${VERSIONS.toLocaleString('en')} versions: started in ${startMs.toFixed(0)} ms (process start to URL printed)\n`)
      console.log('| request | cold ms | warm ms (median of 5) | KiB sent (gzip) |\n|---|---:|---:|---:|\n' + rows.join('\n'))

      const executablePath = process.env.MVC_CHROMIUM ?? execFileSync('bash', [join(REPO_ROOT, 'scripts', 'chromium.sh')], { encoding: 'utf8' }).trim().split('\n').pop()!
      const profile = await mkdtemp(join(tmpdir(), 'mvc-ui-bench-profile-'))
      const context = await chromium.launchPersistentContext(profile, {
        executablePath,
        headless: true,
        viewport: { width: 1280, height: 900 },
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
      })
      try {
        const page = await context.newPage()
        const views = ['#/versions', `#/versions?offset=${VERSIONS - 100}`, `#/version/v${VERSIONS}`, '#/metrics?m=accuracy%2Closs', `#/compare?a=v${VERSIONS - 1}&b=v${VERSIONS}`, '#/storage']
        const prows: string[] = []
        for (const v of views) {
          const ms: number[] = []
          for (let i = 0; i < 3; i++) {
            await page.goto('about:blank')
            const t0 = performance.now()
            await page.goto(`${printed.url}${v}`)
            await page.waitForFunction(() => (globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset.state !== 'loading', null, { timeout: 120_000 })
            ms.push(performance.now() - t0)
            const state = await page.evaluate(() => (globalThis as unknown as { document: { body: { dataset: Record<string, string> } } }).document.body.dataset.state)
            if (state !== 'ready') throw new Error(`${v}: ${state}`)
          }
          prows.push(`| \`${v}\` | ${ms[0]!.toFixed(0)} | ${median(ms.slice(1)).toFixed(0)} |`)
        }
        console.log('\n| page (Chromium, navigation to drawn) | first ms | again ms |\n|---|---:|---:|\n' + prows.join('\n'))
      } finally {
        await context.close()
        await rm(profile, { recursive: true, force: true })
      }
    } finally {
      child.kill('SIGINT')
      await new Promise(resolve => child.once('exit', resolve))
    }
  } finally {
    if (keep === undefined) await rm(base, { recursive: true, force: true })
  }
}

await main()
