/**
 * Scale benchmark (issue 11): a large TF.js-layout model (MVC_BENCH_SCALE_BYTES, default 10GiB) through
 * commit, checkout, push and pull over HTTP (`mvc serve` on 127.0.0.1), with throughput, CPU and peak RSS
 * of each step, and the server's own CPU and peak RSS. Then a 2-layer fine-tune: commit, push, pull.
 *
 * Steps (each a child process under GNU time; writes timed with a trailing sync; untimed sync before):
 *   cp -r + sync (baseline) · mvc init + commit --no-verify · mvc checkout v1 --to <new> (diff -r
 *   against the model, untimed, then removed) · mvc serve --store <dir> --init --no-auth · push ·
 *   clone --no-verify (a pull of everything into a new repository) · fine-tune (two layer blocks
 *   rewritten in place) · commit · push · pull --no-verify in the clone.
 * Disk: about 5x the model size at the peak (model, store, server store, clone's store and files).
 * Env: MVC_BENCH_SCALE_BYTES (default 10GiB, or 10 x MVC_BENCH_BYTES when that is set; 0 skips),
 * MVC_BENCH_KEEP=1.  Usage: node dist/bench/scale-bench.js
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { readFileSync, rmSync } from 'node:fs'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tmpdir, loadavg, cpus } from 'node:os'
import { fineTuneRanges, writeModelFolder, type DataFile } from './dataset.js'
import { formatTable, mib, parseBytes, pickRssMethod, quiet, run, writeKeystream, type RssMethod, type RunOptions } from './lib.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const MVC_BIN = join(ROOT, 'bin', 'mvc.js')

interface Row { readonly op: string, readonly seconds: number, readonly cpu: number, readonly rss: number, readonly bytes: number | null, readonly note: string }

async function measure (method: RssMethod, steps: Array<{ cmd: string, args: string[], options?: RunOptions }>, durable: boolean): Promise<{ seconds: number, cpu: number, rss: number, stdout: string[] }> {
  await quiet('sync', [])
  let seconds = 0
  let cpu = 0
  let rss = 0
  const stdout: string[] = []
  for (const s of durable ? [...steps, { cmd: 'sync', args: [] }] : steps) {
    const r = await run(method, s.cmd, s.args, s.options)
    seconds += r.seconds
    cpu += r.cpuSeconds
    rss = Math.max(rss, r.peakRss)
    stdout.push(r.stdout)
  }
  return { seconds, cpu, rss, stdout }
}

function fineTune (files: readonly DataFile[]): Array<{ rel: string, offset: number, length: number }> {
  return fineTuneRanges(files).ranges
}

async function startServe (storeDir: string): Promise<{ url: string, child: ChildProcess }> {
  const child = spawn(process.execPath, [MVC_BIN, 'serve', '--store', storeDir, '--init', '--port', '0', '--no-auth', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString()
      const line = out.split('\n').find(l => l.trim().startsWith('{'))
      if (line !== undefined && out.includes('\n')) resolve((JSON.parse(line) as { url: string }).url)
    })
    child.on('exit', code => { reject(new Error(`mvc serve exited (${String(code)})`)) })
  })
  return { url, child }
}

function procStats (pid: number): { cpu: number, hwm: number } {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ')
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return { cpu: (Number(f[11]) + Number(f[12])) / 100, hwm: m === null ? 0 : Number(m[1]) * 1024 }
}

async function main (): Promise<void> {
  // 10 GiB, or ten times MVC_BENCH_BYTES for a quick run; 0 skips.
  const quick = process.env.MVC_BENCH_BYTES
  const total = parseBytes(process.env.MVC_BENCH_SCALE_BYTES ?? (quick !== undefined ? String(10 * parseBytes(quick)) : '10GiB'))
  if (total === 0) { console.log('scale bench: skipped (MVC_BENCH_SCALE_BYTES=0)'); return }
  const method = await pickRssMethod()
  const base = await mkdtemp(join(tmpdir(), 'mvc-scale-'))
  const keep = process.env.MVC_BENCH_KEEP === '1'
  const rows: Row[] = []
  const load0 = loadavg()
  let server: { url: string, child: ChildProcess } | undefined
  try {
    const work = join(base, 'work')
    const model = join(work, 'model')
    console.log(`scale bench: ${mib(total)} MiB in ${base}; load ${load0.map(x => x.toFixed(2)).join(' / ')} on ${cpus().length} cores`)
    const { files, json } = await writeModelFolder(model, total)
    const bytes = files.reduce((a, f) => a + f.size, 0) + Buffer.byteLength(json ?? '')
    await new Promise(resolve => setTimeout(resolve, 2500)) // past the stat cache's racy window
    const add = (op: string, r: { seconds: number, cpu: number, rss: number }, b: number | null, note = ''): void => {
      rows.push({ op, ...r, bytes: b, note })
      console.log(`  ${op}: ${r.seconds.toFixed(2)} s, CPU ${r.cpu.toFixed(2)} s, RSS ${mib(r.rss)} MiB${b !== null ? `, ${(b / r.seconds / 1e6).toFixed(0)} MB/s` : ''} ${note}`)
    }
    const mvc = (cwd: string, ...args: string[]): { cmd: string, args: string[], options: RunOptions } => ({ cmd: process.execPath, args: [MVC_BIN, ...args], options: { cwd } })
    const cpOut = join(base, 'cp-out')
    add('cp -r + sync', await measure(method, [{ cmd: 'cp', args: ['-r', model, cpOut] }], true), bytes)
    await rm(cpOut, { recursive: true, force: true })
    add('mvc init + commit --no-verify', await measure(method, [mvc(work, 'init', work), mvc(work, 'commit', model, '-m', 'v1', '--no-verify', '--no-code')], true), bytes)
    const out = join(base, 'out')
    add('mvc checkout v1 --to <new>', await measure(method, [mvc(work, 'checkout', 'v1', '--to', out, '--no-verify')], true), bytes)
    const d = await run('proc-poll', 'diff', ['-r', '-q', model, out], { check: false })
    if (d.code !== 0) throw new Error(`checkout differs: ${d.stdout.slice(0, 2000)}`)
    await rm(out, { recursive: true, force: true })
    server = await startServe(join(base, 'served'))
    await quiet(process.execPath, [MVC_BIN, 'remote', 'add', 'origin', server.url], { cwd: work })
    add('mvc push (http)', await measure(method, [mvc(work, 'push')], true), bytes)
    const clone = join(base, 'clone')
    add('mvc clone --no-verify (http, pull of everything)', await measure(method, [mvc(base, 'clone', server.url, clone, '--no-verify')], true), bytes)
    const ft = fineTune(files)
    for (const r of ft) await writeKeystream(join(model, r.rel), `scale-ft:${r.rel}:${r.offset}`, r.offset, r.length, false)
    const ftBytes = ft.reduce((a, r) => a + r.length, 0)
    add('mvc commit, 2-layer fine-tune', await measure(method, [mvc(work, 'commit', '-m', 'ft', '--no-verify', '--no-code', '--json')], true), ftBytes, `(${mib(ftBytes)} MiB changed)`)
    add('mvc push, fine-tune (http)', await measure(method, [mvc(work, 'push')], true), ftBytes)
    add('mvc pull --no-verify, fine-tune (http)', await measure(method, [mvc(clone, 'pull', '--no-verify')], true), ftBytes)
    add('mvc status in the clone after the pull', await measure(method, [mvc(clone, 'status')], false), null)
    const st = procStats(server.child.pid!)
    rows.push({ op: '(mvc serve, whole run)', seconds: NaN, cpu: st.cpu, rss: st.hwm, bytes: null, note: '' })
  } finally {
    server?.child.kill('SIGTERM')
    if (!keep) rmSync(base, { recursive: true, force: true })
  }
  console.log()
  console.log(formatTable(['operation', 'seconds', 'CPU s', 'MB/s', 'peak RSS MiB'], rows.map(r => [r.op + (r.note !== '' ? ' ' + r.note : ''), Number.isNaN(r.seconds) ? '—' : r.seconds.toFixed(2), r.cpu.toFixed(2), r.bytes === null || Number.isNaN(r.seconds) ? '—' : (r.bytes / r.seconds / 1e6).toFixed(0), mib(r.rss)])))
  console.log(`load average: start ${load0.map(x => x.toFixed(2)).join(' / ')}, end ${loadavg().map(x => x.toFixed(2)).join(' / ')}`)
}

main().catch((err: unknown) => {
  process.stderr.write(`scale bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})
