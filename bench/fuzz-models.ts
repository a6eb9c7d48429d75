/**
 * The long fuzz run (docs/reliability.md has its figures): mutated model files committed through the
 * library with verification on, and mutated repository objects decoded the way clone, checkout and
 * fsck read them. Every case must end as a result or a typed error: no crash, no hang, and no damaged
 * model.json committed silently as a plain file. test/fuzz.test.ts runs the same code, bounded.
 *
 *   node dist/bench/fuzz-models.js [--models 6000] [--objects 6000] [--seed 1] [--big-string 41943040] [--timeout-ms 60000] [--out file.json]
 *
 * Exit 0 when there was no crash, hang or silent-plain case; 1 otherwise (each listed).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { parseArgs } from 'node:util'
import { Repository } from '../src/api/index.js'
import { DAG_CBOR } from '../src/content/block.js'
import { prepareSeeds, runFuzz, type RunSummary } from '../test/fuzz-lib.js'

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: '6000' },
    objects: { type: 'string', default: '6000' },
    seed: { type: 'string', default: '1' },
    'big-string': { type: 'string', default: String(40 * 1024 * 1024) },
    'timeout-ms': { type: 'string', default: '60000' },
    out: { type: 'string' }
  }
})
const fuzz = { bigString: Number(values['big-string']), deep: 100_000 }
const seed = Number(values.seed)
const timeout = Number(values['timeout-ms'])

const work = await mkdtemp(join(tmpdir(), 'mvc-fuzz-'))
try {
  const seeds = await prepareSeeds(join(work, 'seeds'))
  const root = join(work, 'repo')
  await Repository.init({ dir: root })
  let shown = 0
  const progress = (label: string, total: number) => (o: { i: number }): void => {
    if (o.i + 1 >= shown + Math.max(1, Math.floor(total / 20)) || o.i + 1 === total) { shown = o.i + 1; process.stderr.write(`${label}: ${o.i + 1}/${total}\n`) }
  }
  const models: RunSummary = await runFuzz({ mode: 'models', seed, cases: Number(values.models), caseTimeoutMs: timeout, fuzz, seeds, repo: root, onOutcome: progress('models', Number(values.models)) })
  // Objects: every structured object the model run stored (commits, manifests, models, tensors, topologies, files).
  const objects: Array<{ cid: string, bytes: Uint8Array }> = []
  const repo = await Repository.open({ dir: root })
  try {
    const seen = new Set<string>()
    for await (const cid of repo.store.cids()) {
      if (cid.code !== DAG_CBOR || objects.length >= 3000) continue
      const bytes = await repo.store.get(cid)
      const type = new TextDecoder().decode(bytes.subarray(0, 64)).match(/mvc\/[a-z]+/)?.[0] ?? '?'
      if (seen.has(type + bytes.length)) continue
      seen.add(type + bytes.length)
      objects.push({ cid: cid.toString(), bytes })
    }
    const check = await repo.fsck()
    if (!check.ok) throw new Error(`fsck after the model run: ${JSON.stringify({ missing: check.missing.length, corrupt: check.corrupt.length })}`)
  } finally {
    await repo.close()
  }
  shown = 0
  const objs: RunSummary = await runFuzz({ mode: 'objects', seed, cases: Number(values.objects), caseTimeoutMs: timeout, fuzz, objects, onOutcome: progress('objects', Number(values.objects)) })
  const report = { seed, fuzz, caseTimeoutMs: timeout, seeds: seeds.map(s => s.name), objectCorpus: objects.length, models, objects: objs }
  const text = JSON.stringify(report, null, 2)
  if (values.out !== undefined) await writeFile(values.out, text + '\n')
  console.log(text)
  const bad = models.bad.length + objs.bad.length
  process.exitCode = bad === 0 ? 0 : 1
} finally {
  await rm(work, { recursive: true, force: true })
}
