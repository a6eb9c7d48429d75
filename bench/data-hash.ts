/**
 * Data lineage hashing (src/core/data.ts) on many small files: the first hash reads every file; a
 * re-hash of the unchanged dataset should cost one lstat (plus one stat-cache read) per file.
 *
 * Method: a fresh repository and a data folder of N files (default 10,000: 100 folders × 100 files of
 * 64–1,024 bytes) whose mtimes are set one day into the past (so the stat cache's 2 s racy window
 * does not apply). Times, in this process:
 *   - walk only: `walk()` (the lstat floor);
 *   - first hash: hashData (walk + read + chunk + sha256 of every file, DRY_RUN sink);
 *   - keep: staging the manifest and stat-cache entries and committing the transaction, as a commit does;
 *   - re-hash: hashData again, unchanged (median of 5, each followed by its keep step as in a commit).
 * Wall-clock on a possibly shared machine: run it a few times; the load average is printed.
 * Usage: node dist/bench/data-hash.js [files=10000]
 */
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Repository } from '../src/api/repository.js'
import { hashData, stageData, type HashedData } from '../src/core/lineage/data.js'
import { walk } from '../src/core/snapshot.js'

const N = Number(process.argv[2] ?? '10000')
if (!Number.isInteger(N) || N < 100) throw new TypeError(`files must be an integer ≥ 100, got ${process.argv[2] ?? ''}`)

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

async function main (): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'mvc-bench-data-'))
  try {
    await Repository.init({ dir: base })
    const data = join(base, 'data')
    const perDir = 100
    const past = new Date(Date.now() - 86_400_000)
    let bytes = 0
    for (let d = 0; d < Math.ceil(N / perDir); d++) {
      const dir = join(data, `part-${String(d).padStart(3, '0')}`)
      await mkdir(dir, { recursive: true })
      for (let f = 0; f < perDir && d * perDir + f < N; f++) {
        const size = 64 + ((d * perDir + f) * 7919) % 961
        const p = join(dir, `sample-${String(f).padStart(3, '0')}.txt`)
        await writeFile(p, Buffer.alloc(size, (d * perDir + f) % 251))
        await utimes(p, past, past)
        bytes += size
      }
    }
    const repo = await Repository.open({ dir: base })
    try {
      const keep = async (h: HashedData): Promise<number> => {
        const t = performance.now()
        const tx = await repo.store.transaction()
        await stageData(tx, h)
        await tx.commit()
        return performance.now() - t
      }
      let t = performance.now()
      const w = await walk(data)
      const walkMs = performance.now() - t
      if (w.files.length !== N) throw new Error(`walked ${w.files.length} files, expected ${N}`)

      t = performance.now()
      const first = await hashData({ store: repo.store, path: data, root: base })
      const firstMs = performance.now() - t
      const firstKeep = await keep(first)

      const runs: number[] = []
      const keeps: number[] = []
      let cid = ''
      for (let i = 0; i < 5; i++) {
        t = performance.now()
        const h = await hashData({ store: repo.store, path: data, root: base })
        runs.push(performance.now() - t)
        if (h.stats.hashedFiles !== 0) throw new Error(`re-hash read ${h.stats.hashedFiles} files; expected 0`)
        cid = h.lineage.manifest.toString()
        keeps.push(await keep(h))
      }
      if (cid !== first.lineage.manifest.toString()) throw new Error('re-hash gave a different manifest')
      const re = median(runs)
      const us = (ms: number): string => (ms * 1000 / N).toFixed(1)
      console.log(`data: ${N} files, ${bytes} bytes; node ${process.version}; load average ${loadavg().map(l => l.toFixed(2)).join(' ')}`)
      console.log(`walk only (lstat floor)  ${walkMs.toFixed(1).padStart(8)} ms  ${us(walkMs).padStart(6)} µs/file`)
      console.log(`first hash               ${firstMs.toFixed(1).padStart(8)} ms  ${us(firstMs).padStart(6)} µs/file  (hashed ${first.stats.hashedFiles} files)`)
      console.log(`  + keep (tx commit)     ${firstKeep.toFixed(1).padStart(8)} ms`)
      console.log(`re-hash, unchanged       ${re.toFixed(1).padStart(8)} ms  ${us(re).padStart(6)} µs/file  (median of 5: ${runs.map(r => r.toFixed(0)).join(', ')}; hashed 0 files)`)
      console.log(`  + keep (tx commit)     ${median(keeps).toFixed(1).padStart(8)} ms  (stat-cache entries rewritten every commit)`)
      console.log(`manifest ${cid}`)
    } finally { await repo.close() }
  } finally {
    await rm(base, { recursive: true, force: true })
  }
}

await main()
