/**
 * `npm run demo`: trains a small TF.js model for a few seconds, versions it with mvc, retrains it,
 * versions it again, and rolls back to the first version with behaviour verification. It uses the
 * library for saving (model.save(repo.saveHandler(...))) and the CLI for everything else, printing
 * each command and its real output. Runs in a temporary folder (kept with MVC_DEMO_KEEP=1).
 */
import { mkdtemp, rm, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnSync } from 'node:child_process'
import { Repository } from '../src/index.js'
import { loadRuntime } from '../src/formats/tfjs/runtime.js'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'mvc.js')

process.env.MVC_AUTHOR_NAME ??= 'Demo'
process.env.MVC_AUTHOR_EMAIL ??= 'demo@example.com'

/** Runs the CLI, prints the command and its output; `expect` is the exit code the step must end with. */
function mvc (cwd: string, args: string[], expect = 0): string {
  process.stdout.write(`\n$ mvc ${args.join(' ')}\n`)
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8' })
  process.stdout.write(r.stdout + r.stderr)
  if (r.status !== expect) throw new Error(`mvc ${args.join(' ')} exited ${r.status}, expected ${expect}`)
  if (expect !== 0) process.stdout.write(`(exit code ${r.status})\n`)
  return r.stdout
}

/** A deterministic two-spirals style dataset: 2-D points, 3 classes. */
function dataset (n: number): { xs: number[][], ys: number[] } {
  let s = 42
  const rnd = (): number => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32 }
  const xs: number[][] = []
  const ys: number[] = []
  for (let i = 0; i < n; i++) {
    const c = i % 3
    const r = rnd()
    const t = c * 2.1 + r * 4 + (rnd() - 0.5) * 0.3
    xs.push([r * Math.cos(t), r * Math.sin(t)])
    ys.push(c)
  }
  return { xs, ys }
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mvc-demo-'))
  console.log(`demo repository: ${dir}`)
  try {
    mvc(dir, ['init'])
    const rt = await loadRuntime()
    const tf = rt.tf
    console.log(`\nTraining with TensorFlow.js ${rt.tfjsVersion} on the ${rt.backend} backend…`)
    const { xs, ys } = dataset(900)
    const x = tf.tensor2d(xs)
    const y = tf.oneHot(tf.tensor1d(ys, 'int32'), 3)
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ units: 32, activation: 'relu', inputShape: [2], kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.dense({ units: 32, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
        tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) })
      ]
    })
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] })

    const train = async (epochs: number, message: string, params: Record<string, number>): Promise<void> => {
      const h = await model.fit(x, y, { epochs, batchSize: 32, shuffle: false, verbose: 0 })
      const acc = Number(h.history.acc?.at(-1) ?? h.history.accuracy?.at(-1))
      const loss = Number(h.history.loss.at(-1))
      console.log(`trained ${epochs} epochs: accuracy ${acc.toFixed(4)}, loss ${loss.toFixed(4)}`)
      process.stdout.write(`\n> await model.save(repo.saveHandler({ message: '${message}', metrics: { accuracy, loss } }))\n`)
      const repo = await Repository.open({ dir })
      try {
        await model.save(repo.saveHandler({
          path: 'model',
          message,
          params,
          metrics: { accuracy: Number(acc.toFixed(6)), loss: Number(loss.toFixed(6)) },
          onCommit: r => { console.log(`v${r.version} ${r.cid?.toString() ?? ''}`) }
        }))
      } finally {
        await repo.close()
      }
    }

    await train(5, 'baseline: 5 epochs', { epochs: 5, lr: 0.01 })
    await train(25, 'retrained: 25 more epochs', { epochs: 30, lr: 0.01 })
    mvc(dir, ['log'])
    mvc(dir, ['show', 'v2'])
    // A stray edit to the working model is caught before checkout overwrites it.
    await appendFile(join(dir, 'model', 'model.json'), ' ')
    mvc(dir, ['status'])
    mvc(dir, ['checkout', 'v1'], 7)
    mvc(dir, ['checkout', 'v1', '--force'])
    mvc(dir, ['verify', 'v2', '--backend', 'cpu'])

    process.stdout.write("\n> const m = await tf.loadLayersModel(repo.loadHandler('v2'))   // straight from the store\n")
    const repo = await Repository.open({ dir })
    try {
      const restored = await tf.loadLayersModel(repo.loadHandler('v2'))
      const probe = tf.tensor2d([[0.5, 0.1]])
      const a = model.predict(probe) as import('@tensorflow/tfjs').Tensor
      const b = restored.predict(probe) as import('@tensorflow/tfjs').Tensor
      console.log(`trained model: [${[...a.dataSync()].map(v => v.toFixed(6)).join(', ')}]`)
      console.log(`v2 from mvc:   [${[...b.dataSync()].map(v => v.toFixed(6)).join(', ')}]`)
      tf.dispose([probe, a, b]); restored.dispose()
    } finally {
      await repo.close()
    }
    x.dispose(); y.dispose(); model.dispose()
  } finally {
    if (process.env.MVC_DEMO_KEEP === undefined) await rm(dir, { recursive: true, force: true })
    else console.log(`\nkept ${dir}`)
  }
}

await main()
