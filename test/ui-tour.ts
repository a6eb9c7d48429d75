/**
 * The README's tour repository, grown to six versions for the UI tests and the screenshot: a git
 * repository holding the training code, a TF.js LayersModel in `model/` (the `sharded` fixture: four
 * weight shards, layers `wide` 128→256 and `narrow` 256→64) with a `metadata.json` of params and
 * metrics, and its training data in `data/`. Every version is committed through the real CLI (with
 * verification on TF.js), after changing weights the way fine-tuning would:
 *
 *   v1 baseline                                  main          tag 1.0.0
 *   v2 fine-tune the head      narrow/*          main          alias production
 *   v3 more epochs on the head narrow/kernel     main
 *   v4 retrain the first layer wide/*            experiment (from v2)
 *   v5 lower learning rate     narrow/bias       main
 *   v6 fine-tune on more data  narrow/kernel     main          tag 1.1.0, alias staging
 *
 * The changes to the weights are returned so tests can check the UI's statistics against numbers they
 * compute themselves from the files they wrote.
 */
import { execFileSync } from 'node:child_process'
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildFixtures } from '../fixtures/build.js'
import { mvcOk } from './helpers.js'

export interface TourVersion {
  readonly version: number
  readonly message: string
  readonly branch: string
  readonly params: Readonly<Record<string, number>>
  readonly metrics: Readonly<Record<string, number>>
  /** Weights of the model folder as committed, by tensor name. */
  readonly weights: ReadonlyMap<string, Float32Array>
}

export interface Tour {
  readonly root: string
  readonly versions: readonly TourVersion[]
}

interface Manifest { readonly weightsManifest: ReadonlyArray<{ readonly paths: readonly string[], readonly weights: ReadonlyArray<{ readonly name: string, readonly shape: readonly number[] }> }> }

async function readWeights (model: string): Promise<Map<string, Float32Array>> {
  const m = JSON.parse(await readFile(join(model, 'model.json'), 'utf8')) as Manifest
  const out = new Map<string, Float32Array>()
  for (const group of m.weightsManifest) {
    const bytes = Buffer.concat(await Promise.all(group.paths.map(async p => await readFile(join(model, p)))))
    let off = 0
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1)
      const v = new Float32Array(n)
      for (let i = 0; i < n; i++) v[i] = bytes.readFloatLE(off + 4 * i)
      out.set(w.name, v)
      off += 4 * n
    }
  }
  return out
}

async function writeWeights (model: string, weights: ReadonlyMap<string, Float32Array>): Promise<void> {
  const m = JSON.parse(await readFile(join(model, 'model.json'), 'utf8')) as Manifest
  for (const group of m.weightsManifest) {
    const sizes = await Promise.all(group.paths.map(async p => (await readFile(join(model, p))).length))
    const all = Buffer.concat(group.weights.map(w => {
      const v = weights.get(w.name)!
      const b = Buffer.alloc(4 * v.length)
      v.forEach((x, i) => b.writeFloatLE(x, 4 * i))
      return b
    }))
    let off = 0
    for (let i = 0; i < group.paths.length; i++) {
      await writeFile(join(model, group.paths[i]!), all.subarray(off, off + sizes[i]!))
      off += sizes[i]!
    }
  }
}

function git (cwd: string, ...args: string[]): void {
  execFileSync('git', ['-c', 'user.name=Ada', '-c', 'user.email=ada@example.com', '-c', 'init.defaultBranch=master', ...args], { cwd, stdio: 'ignore' })
}

type Edit = (w: Map<string, Float32Array>) => void

const STEPS: ReadonlyArray<{ message: string, branch: string, from?: number, params: Record<string, number>, metrics: Record<string, number>, edit: Edit, data?: boolean, code?: string }> = [
  { message: 'baseline', branch: 'main', params: { lr: 0.01, epochs: 5 }, metrics: { accuracy: 0.912, loss: 0.31 }, edit: () => {} },
  {
    message: 'fine-tune the head',
    branch: 'main',
    params: { lr: 0.005, epochs: 8 },
    metrics: { accuracy: 0.934, loss: 0.262 },
    edit: w => {
      w.get('narrow/bias')!.forEach((x, i, a) => { a[i] = x + 0.25 })
      w.get('narrow/kernel')!.forEach((x, i, a) => { if (i < 16 * 64) a[i] = x + 0.25 })
    }
  },
  {
    message: 'more epochs on the head',
    branch: 'main',
    params: { lr: 0.005, epochs: 12 },
    metrics: { accuracy: 0.941, loss: 0.244 },
    code: '# train.py: 12 epochs\n',
    edit: w => { w.get('narrow/kernel')!.forEach((x, i, a) => { a[i] = x * 1.05 }) }
  },
  {
    message: 'experiment: retrain the first layer',
    branch: 'experiment',
    from: 2,
    params: { lr: 0.02, epochs: 8 },
    metrics: { accuracy: 0.925, loss: 0.281 },
    edit: w => {
      w.get('wide/kernel')!.forEach((x, i, a) => { a[i] = x + 0.01 * Math.sin(i) })
      w.get('wide/bias')!.forEach((x, i, a) => { a[i] = x + 0.1 })
    }
  },
  {
    message: 'lower learning rate',
    branch: 'main',
    from: 3,
    params: { lr: 0.003, epochs: 12 },
    metrics: { accuracy: 0.947, loss: 0.231 },
    edit: w => { w.get('narrow/bias')!.forEach((x, i, a) => { a[i] = x - 0.05 }) }
  },
  {
    message: 'fine-tune on more data',
    branch: 'main',
    params: { lr: 0.003, epochs: 15 },
    metrics: { accuracy: 0.952, loss: 0.22 },
    data: true,
    edit: w => { w.get('narrow/kernel')!.forEach((x, i, a) => { if (i >= 32 * 64 && i < 48 * 64) a[i] = x + 0.1 }) }
  }
]

/** Builds the tour in `base/tour` (about 20 s: six commits with TF.js verification). */
export async function buildTour (base: string): Promise<Tour> {
  const root = join(base, 'tour')
  await mkdir(join(root, 'data'), { recursive: true })
  const fixtures = await buildFixtures(join(base, 'fixtures'))
  const sharded = fixtures.find(f => f.name === 'sharded')!
  await cp(sharded.dir, join(root, 'model'), { recursive: true })
  await writeFile(join(root, 'data', 'train.csv'), 'x,y\n1,0\n')
  await writeFile(join(root, 'data', 'test.csv'), 'x,y\n2,1\n')
  await writeFile(join(root, 'data', 'labels.txt'), 'no\nyes\n')
  await writeFile(join(root, 'train.py'), '# train.py: 5 epochs\n')
  await writeFile(join(root, '.gitignore'), '.mvc/\nmodel/\ndata/\n')
  git(root, 'init', '-q')
  git(root, 'add', '.')
  git(root, 'commit', '-q', '-m', 'training code')
  const env = (i: number): Record<string, string> => ({ MVC_AUTHOR_NAME: 'Ada', MVC_AUTHOR_EMAIL: 'ada@example.com', MVC_DATE: new Date(Date.UTC(2026, 10, 23, 9 + i, 0, 0)).toISOString() })
  const run = async (i: number, ...args: string[]): Promise<void> => { await mvcOk(args, { cwd: root, env: env(i) }) }
  await run(0, 'init')
  const model = join(root, 'model')
  const versions: TourVersion[] = []
  let branch = 'main'
  for (const [i, step] of STEPS.entries()) {
    if (step.branch !== branch) {
      if (step.from === undefined) throw new Error('a step on another branch needs `from`')
      if (step.branch === 'main') await run(i, 'switch', 'main')
      else await run(i, 'switch', '-c', step.branch, `v${step.from}`)
      await run(i, 'checkout', `v${step.from}`, '--force', '--no-verify')
      branch = step.branch
    }
    if (step.code !== undefined) {
      await writeFile(join(root, 'train.py'), step.code)
      git(root, 'commit', '-q', '-am', step.message)
    }
    if (step.data === true) await writeFile(join(root, 'data', 'extra.csv'), 'x,y\n3,0\n4,1\n')
    const w = await readWeights(model)
    step.edit(w)
    await writeWeights(model, w)
    await writeFile(join(model, 'metadata.json'), JSON.stringify({ params: step.params, metrics: step.metrics }) + '\n')
    await run(i, 'commit', 'model', '-m', step.message, '--data', 'data')
    versions.push({ version: i + 1, message: step.message, branch: step.branch, params: step.params, metrics: step.metrics, weights: await readWeights(model) })
    if (i === 1) {
      await run(i, 'tag', '1.0.0', 'v1')
      await run(i, 'alias', 'production', 'v2')
    }
  }
  await run(6, 'tag', '1.1.0', 'v6')
  await run(6, 'alias', 'staging', 'v6')
  return { root, versions }
}
