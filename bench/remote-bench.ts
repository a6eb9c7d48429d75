/**
 * Remotes benchmark (issue #5): push, clone and fetch of a TF.js-layout model over a loopback
 * `mvc serve` and over S3 (radosgw), then an incremental push after changing ~10 % of the tensors.
 *
 * Method (measurement helpers in bench/lib.ts):
 *   1. A synthetic TF.js model (same layout as bench/bench.ts: 4 MiB group1 shards with tensors
 *      straddling shard boundaries, two large group2 files, a model.json manifest; AES-CTR keystream
 *      content, incompressible) of MVC_BENCH_BYTES (default 1GiB) is committed with `--no-verify`
 *      into a temp repository, so mvc stores it tensor by tensor.
 *   2. For each remote — (a) `mvc serve --store <dir> --init --port 0 --no-auth` on 127.0.0.1 as a
 *      child process, (b) S3 on the radosgw of scripts/radosgw.sh (a fresh bucket created with the
 *      AWS SDK, deleted at the end) when AWS_ENDPOINT_URL and credentials are set — each operation runs
 *      as a child process measured for wall time, CPU (user + sys) and peak RSS:
 *        push (full), clone --no-verify (+ sync), fetch into an empty `init` + `remote add` repository
 *        (+ sync), then ~10 % of the bytes changed as whole tensors (group1 tensors picked evenly
 *        through the manifest, each tensor's whole byte span overwritten), commit, `push --json`.
 *      The incremental push is CHECKED: bytesSent <= 1.05 x changed tensor bytes + 1 MiB (structured
 *      objects: commit, tree, model manifest); PASS/MISS is printed, a MISS does not fail the run.
 *      For HTTP the server's own CPU time and peak RSS (VmHWM) are read from /proc before it stops.
 *   3. Baseline: `cp -r` of the model folder + sync.
 * Env: MVC_BENCH_BYTES, MVC_BENCH_KEEP=1 (keep temp dirs and bucket), MVC_BENCH_S3=0 (skip S3).
 * Exit 0 on success (MISS included), 1 if a step fails.
 *
 * Usage: node dist/bench/remote-bench.js
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { tmpdir, loadavg, cpus, totalmem } from 'node:os'
import { randomBytes } from 'node:crypto'
import { S3Client, CreateBucketCommand, DeleteBucketCommand, ListObjectsV2Command, DeleteObjectsCommand } from '@aws-sdk/client-s3'
import { SHARD, group1Tensors, writeModelFolder, type DataFile } from './dataset.js'
import { MiB, formatTable, mib, parseBytes, pickRssMethod, quiet, run, writeKeystream, type RssMethod, type RunOptions } from './lib.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const MVC_BIN = join(ROOT, 'bin', 'mvc.js')
const SLACK = 1.05
const STRUCT_ALLOWANCE = MiB

// ---------------------------------------------------------------------------------------------
// Dataset (same layout as bench/bench.ts)

async function generate (dir: string, total: number): Promise<{ files: DataFile[], bytes: number }> {
  const { files, json } = await writeModelFolder(dir, total)
  return { files, bytes: files.reduce((s, f) => s + f.size, 0) + Buffer.byteLength(json ?? '') }
}

/**
 * Overwrites whole group1 tensors amounting to ~10 % of all bytes, spread evenly through the
 * manifest (a tensor is taken when that brings the changed bytes closer to 10 % of the bytes seen so far).
 */
async function changeTensors (dir: string, files: readonly DataFile[], totalBytes: number): Promise<{ bytes: number, tensors: number }> {
  const shards = files.filter(f => f.rel.startsWith('group1-'))
  const tensors = group1Tensors(files)
  const target = totalBytes / 10
  const group1Bytes = shards.reduce((s, f) => s + f.size, 0)
  const scale = target / group1Bytes // fraction of group1 to change so that ~10 % of all bytes change
  let seen = 0
  let changed = 0
  let count = 0
  let offset = 0
  for (const t of tensors) {
    seen += t.bytes
    const want = seen * scale
    if (Math.abs(changed + t.bytes - want) < Math.abs(changed - want) && changed + t.bytes <= target * 1.02) {
      // Overwrite [offset, offset + t.bytes) of the concatenated shards.
      let pos = offset
      let left = t.bytes
      let base = 0
      for (const f of shards) {
        if (left === 0) break
        if (pos < base + f.size) {
          const inFile = pos - base
          const n = Math.min(left, f.size - inFile)
          await writeKeystream(join(dir, f.rel), `v2:${t.name}:${f.rel}`, inFile, n, false)
          pos += n
          left -= n
        }
        base += f.size
      }
      changed += t.bytes
      count++
    }
    offset += t.bytes
  }
  return { bytes: changed, tensors: count }
}

// ---------------------------------------------------------------------------------------------
// Measurement

interface Row { remote: string, op: string, seconds: number, cpu: number, rss: number, mbBytes: number | null, sent: string }

interface Step { readonly cmd: string, readonly args: readonly string[], readonly options?: RunOptions }

async function measure (method: RssMethod, steps: readonly Step[]): Promise<{ seconds: number, cpu: number, rss: number, stdout: string }> {
  let seconds = 0
  let cpu = 0
  let rss = 0
  let stdout = ''
  for (const s of steps) {
    const r = await run(method, s.cmd, s.args, s.options)
    seconds += r.seconds
    cpu += r.cpuSeconds
    rss = Math.max(rss, r.peakRss)
    if (r.stdout.trim() !== '') stdout = r.stdout
  }
  return { seconds, cpu, rss, stdout }
}

function lastJson (stdout: string): Record<string, unknown> {
  const t = stdout.trim()
  try {
    return JSON.parse(t) as Record<string, unknown>
  } catch {
    // Several JSON documents (e.g. clone's), pretty-printed or not: take the last top-level one.
    const i = t.lastIndexOf('\n{')
    return JSON.parse(i < 0 ? t : t.slice(i + 1)) as Record<string, unknown>
  }
}

const num = (v: unknown): number => typeof v === 'number' ? v : NaN

interface ServerHandle { readonly url: string, readonly child: ChildProcess }

async function startServe (storeDir: string): Promise<ServerHandle> {
  const child = spawn(process.execPath, [MVC_BIN, 'serve', '--store', storeDir, '--init', '--port', '0', '--no-auth', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', (b: Buffer) => { err += b.toString() })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    const onData = (b: Buffer): void => {
      out += b.toString()
      const line = out.split('\n').find(l => l.trim().startsWith('{'))
      if (line !== undefined && out.includes('\n')) {
        child.stdout.off('data', onData)
        resolve((JSON.parse(line) as { url: string }).url)
      }
    }
    child.stdout.on('data', onData)
    child.on('exit', code => { reject(new Error(`mvc serve exited (${String(code)}): ${err}`)) })
    setTimeout(() => { reject(new Error(`mvc serve did not announce a URL in 30 s: ${err}`)) }, 30000).unref()
  })
  return { url, child }
}

function procStats (pid: number): { cpu: number, hwm: number } {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ')
    const cpu = (Number(f[11]) + Number(f[12])) / 100
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return { cpu, hwm: m === null ? 0 : Number(m[1]) * 1024 }
  } catch {
    return { cpu: 0, hwm: 0 }
  }
}

async function stopServe (h: ServerHandle): Promise<void> {
  if (h.child.exitCode !== null) return
  const done = new Promise<void>(resolve => h.child.once('exit', () => { resolve() }))
  h.child.kill('SIGTERM')
  const t = setTimeout(() => h.child.kill('SIGKILL'), 10000)
  await done
  clearTimeout(t)
}

async function emptyAndDeleteBucket (s3: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const l = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }))
    const keys = (l.Contents ?? []).map(o => ({ Key: o.Key! }))
    if (keys.length === 0) break
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }))
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }))
}

// ---------------------------------------------------------------------------------------------

async function main (): Promise<number> {
  const total = parseBytes(process.env.MVC_BENCH_BYTES ?? '1GiB')
  const keep = process.env.MVC_BENCH_KEEP === '1'
  const method = await pickRssMethod()
  const base = await mkdtemp(join(tmpdir(), 'mvc-remote-bench-'))
  const rows: Row[] = []
  const checks: string[] = []
  let s3: S3Client | null = null
  let bucket: string | null = null
  let server: ServerHandle | null = null
  let failed = false
  const load0 = loadavg()
  console.log(`mvc remote benchmark: ${mib(total)} MiB, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM, node ${process.version}, RSS via ${method}`)
  console.log(`load average at start: ${load0.map(x => x.toFixed(2)).join(' ')}; temp dir ${base}`)
  try {
    const model = join(base, 'work', 'model')
    const work = join(base, 'work')
    const ds = await generate(model, total)
    await quiet('sync', [])
    const mvc = (cwd: string, ...args: string[]): Step => ({ cmd: process.execPath, args: [MVC_BIN, ...args], options: { cwd } })
    const sync: Step = { cmd: 'sync', args: [] }

    // Baseline
    await quiet('sync', [])
    const cp = await measure(method, [{ cmd: 'cp', args: ['-r', model, join(base, 'cp-copy')] }, sync])
    rows.push({ remote: 'local', op: 'cp -r + sync', seconds: cp.seconds, cpu: cp.cpu, rss: cp.rss, mbBytes: ds.bytes, sent: '-' })
    await rm(join(base, 'cp-copy'), { recursive: true, force: true })

    await quiet(process.execPath, [MVC_BIN, 'init', work], { cwd: work })
    const c1 = await measure(method, [mvc(work, 'commit', 'model', '-m', 'v1', '--no-verify', '--json')])
    rows.push({ remote: 'local', op: 'commit v1', seconds: c1.seconds, cpu: c1.cpu, rss: c1.rss, mbBytes: ds.bytes, sent: '-' })

    const remotes: Array<{ name: string, setup: () => Promise<string>, teardown: () => Promise<void> }> = []
    remotes.push({
      name: 'http',
      setup: async () => {
        server = await startServe(join(base, 'served-store'))
        return server.url
      },
      teardown: async () => {
        if (server !== null) {
          const st = procStats(server.child.pid!)
          rows.push({ remote: 'http', op: '(server process, all ops)', seconds: NaN, cpu: st.cpu, rss: st.hwm, mbBytes: null, sent: '-' })
          await stopServe(server)
          server = null
        }
      }
    })
    const s3Wanted = process.env.MVC_BENCH_S3 !== '0' && process.env.AWS_ENDPOINT_URL !== undefined && process.env.AWS_ACCESS_KEY_ID !== undefined
    if (s3Wanted) {
      remotes.push({
        name: 's3',
        setup: async () => {
          s3 = new S3Client({ endpoint: process.env.AWS_ENDPOINT_URL, region: process.env.AWS_REGION ?? 'us-east-1', forcePathStyle: true })
          bucket = `mvc-bench-${process.pid}-${randomBytes(4).toString('hex')}`
          await s3.send(new CreateBucketCommand({ Bucket: bucket }))
          return `s3://${bucket}/bench`
        },
        teardown: async () => {}
      })
    } else {
      console.log('S3: skipped (set AWS_ENDPOINT_URL etc.: eval "$(bash scripts/radosgw.sh env)")')
    }

    let v2Bytes: { bytes: number, tensors: number } | null = null
    for (const r of remotes) {
      // Each remote starts from a repository holding only v1.
      const repo = join(base, `repo-${r.name}`)
      await quiet('cp', ['-a', work, repo])
      const url = await r.setup()
      await quiet(process.execPath, [MVC_BIN, 'remote', 'add', 'origin', url], { cwd: repo })
      await quiet('sync', [])
      const p1 = await measure(method, [mvc(repo, 'push', 'origin', '--json')])
      const j1 = lastJson(p1.stdout)
      rows.push({ remote: r.name, op: 'push (full)', seconds: p1.seconds, cpu: p1.cpu, rss: p1.rss, mbBytes: ds.bytes, sent: `${mib(num(j1.bytesSent))} MiB` })

      await quiet('sync', [])
      const cloneDir = join(base, `clone-${r.name}`)
      const cl = await measure(method, [mvc(base, 'clone', url, cloneDir, '--no-verify', '--json'), sync])
      const jc = lastJson(cl.stdout)
      rows.push({ remote: r.name, op: 'clone + sync', seconds: cl.seconds, cpu: cl.cpu, rss: cl.rss, mbBytes: ds.bytes, sent: `recv ${mib(num(jc.bytesReceived))} MiB` })
      const diff = await run(method, 'diff', ['-r', model, join(cloneDir, 'model')], { check: false })
      if (diff.code !== 0) throw new Error(`clone from ${r.name} differs from the model:\n${diff.stdout.slice(0, 2000)}`)
      await rm(cloneDir, { recursive: true, force: true })

      const fetchDir = join(base, `fetch-${r.name}`)
      await mkdir(fetchDir)
      await quiet(process.execPath, [MVC_BIN, 'init', fetchDir], { cwd: fetchDir })
      await quiet(process.execPath, [MVC_BIN, 'remote', 'add', 'origin', url], { cwd: fetchDir })
      await quiet('sync', [])
      const fe = await measure(method, [mvc(fetchDir, 'fetch', 'origin', '--json'), sync])
      const jf = lastJson(fe.stdout)
      rows.push({ remote: r.name, op: 'fetch (empty repo) + sync', seconds: fe.seconds, cpu: fe.cpu, rss: fe.rss, mbBytes: ds.bytes, sent: `recv ${mib(num(jf.bytesReceived))} MiB` })
      await rm(fetchDir, { recursive: true, force: true })

      // ~10 % of the bytes changed as whole tensors, in this remote's own work tree.
      const rmodel = join(repo, 'model')
      const ch = await changeTensors(rmodel, ds.files, ds.bytes)
      v2Bytes = ch
      await quiet(process.execPath, [MVC_BIN, 'commit', 'model', '-m', 'v2', '--no-verify', '--json'], { cwd: repo })
      await quiet('sync', [])
      const p2 = await measure(method, [mvc(repo, 'push', 'origin', '--json')])
      const j2 = lastJson(p2.stdout)
      const sent = num(j2.bytesSent)
      const limit = SLACK * ch.bytes + STRUCT_ALLOWANCE
      const verdict = sent <= limit ? 'PASS' : 'MISS'
      rows.push({ remote: r.name, op: 'push (10 % tensors changed)', seconds: p2.seconds, cpu: p2.cpu, rss: p2.rss, mbBytes: ch.bytes, sent: `${mib(sent)} MiB` })
      checks.push(`${verdict} ${r.name}: incremental push sent ${sent} B (${mib(sent)} MiB) for ${ch.bytes} B (${mib(ch.bytes)} MiB) changed in ${ch.tensors} tensors ` +
        `(limit 1.05 x changed + 1 MiB = ${mib(limit)} MiB; ratio ${(sent / ch.bytes).toFixed(4)}); objects sent ${num(j2.objectsSent)}, skipped ${num(j2.objectsSkipped)} ` +
        `[full push: objects sent ${num(j1.objectsSent)}, skipped ${num(j1.objectsSkipped)}]`)
      await r.teardown()
      if (!keep) await rm(repo, { recursive: true, force: true })
    }
    if (v2Bytes !== null) console.log(`change: ${v2Bytes.tensors} whole tensors, ${v2Bytes.bytes} B = ${(100 * v2Bytes.bytes / ds.bytes).toFixed(2)} % of ${ds.bytes} B`)
  } catch (e) {
    failed = true
    console.error(`remote-bench: FAILED: ${e instanceof Error ? e.stack ?? e.message : String(e)}`)
  } finally {
    if (server !== null) await stopServe(server).catch(() => {})
    if (s3 !== null && bucket !== null) {
      if (keep) console.log(`kept bucket ${bucket}`)
      else await emptyAndDeleteBucket(s3, bucket).catch(e => { console.error(`could not delete bucket ${String(bucket)}: ${String(e)}`); failed = true })
    }
    if (keep) console.log(`kept ${base}`)
    else await rm(base, { recursive: true, force: true })
  }
  const table = formatTable(['remote', 'operation', 'seconds', 'MB/s', 'CPU s', 'peak RSS MiB', 'bytes sent'], rows.map(r => [
    r.remote, r.op,
    Number.isNaN(r.seconds) ? '-' : r.seconds.toFixed(2),
    r.mbBytes === null || Number.isNaN(r.seconds) ? '-' : (r.mbBytes / 1e6 / r.seconds).toFixed(1),
    r.cpu.toFixed(2), mib(r.rss), r.sent
  ]))
  console.log('\n' + table + '\n')
  for (const c of checks) console.log(c)
  console.log(`load average at end: ${loadavg().map(x => x.toFixed(2)).join(' ')}`)
  return failed ? 1 : 0
}

process.exitCode = await main()
