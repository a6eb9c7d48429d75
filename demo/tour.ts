/**
 * `npm run tour`: the README's tour, run for real. Builds a project in a temporary folder — a git
 * repository with the training code, a TF.js LayersModel in `model/` (four weight shards, layers `wide`
 * and `narrow`, params and metrics in its `metadata.json`), training data in `data/` and, when a Python
 * with TensorFlow is at hand (MVC_PYTHON, as scripts/python-env.sh prints it), a Keras 3 classifier
 * trained by Keras itself — then runs each command of the tour with the real CLI and prints it with its
 * output, as a console block for the README. Each step must end with the exit code it expects, so the
 * tour cannot silently drift from what mvc does.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildFixtures } from '../fixtures/build.js'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'mvc.js')

interface Manifest { readonly weightsManifest: ReadonlyArray<{ readonly paths: readonly string[], readonly weights: ReadonlyArray<{ readonly name: string, readonly shape: readonly number[] }> }> }

/** Adds `delta` to the first `count` values of one float32 tensor of a TF.js model folder, in place. */
async function nudge (model: string, tensor: string, delta: number, count = Infinity): Promise<void> {
  const m = JSON.parse(await readFile(join(model, 'model.json'), 'utf8')) as Manifest
  for (const group of m.weightsManifest) {
    const files = await Promise.all(group.paths.map(async p => await readFile(join(model, p))))
    const all = Buffer.concat(files)
    let off = 0
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1)
      if (w.name === tensor) for (let i = 0; i < Math.min(n, count); i++) all.writeFloatLE(all.readFloatLE(off + 4 * i) + delta, off + 4 * i)
      off += 4 * n
    }
    let at = 0
    for (const [i, p] of group.paths.entries()) {
      await writeFile(join(model, p), all.subarray(at, at + files[i]!.length))
      at += files[i]!.length
    }
  }
}

const KERAS_TRAIN = `
import sys, numpy as np, keras
keras.utils.set_random_seed(7)
x = np.random.default_rng(7).normal(size=(256, 8)).astype("float32")
y = (x[:, 0] + x[:, 1] > 0).astype("int32")
m = keras.Sequential([keras.Input((8,), name="features"), keras.layers.Dense(16, activation="relu", name="hidden"),
                      keras.layers.Dense(2, activation="softmax", name="probs")], name="classifier")
m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
h = m.fit(x, y, epochs=int(sys.argv[2]), verbose=0)
m.save(sys.argv[1])
print(round(float(h.history["accuracy"][-1]), 3))
`

async function main (): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'mvc-tour-'))
  const root = join(base, 'project')
  const env = { ...process.env, MVC_AUTHOR_NAME: 'Ada', MVC_AUTHOR_EMAIL: 'ada@example.com', NO_COLOR: '1', TF_CPP_MIN_LOG_LEVEL: '3' }
  const show = (cwd: string, shown: string, argv: string[], expect = 0, stderr = true): string => {
    process.stdout.write(`$ ${shown}\n`)
    const r = spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: 'utf8', env })
    const out = (r.stdout + (stderr ? r.stderr : '')).replace(new RegExp(base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g'), '/tmp/tour')
    process.stdout.write(out.endsWith('\n') || out === '' ? out : out + '\n')
    if (r.status !== expect) throw new Error(`${shown} exited ${String(r.status)}, expected ${expect}:\n${out}`)
    if (expect !== 0) process.stdout.write(`(exit code ${String(r.status)})\n`)
    process.stdout.write('\n')
    return r.stdout
  }
  const mvc = (args: string[], expect = 0, cwd = root): string => show(cwd, `mvc ${args.map(a => /[\s"'>]/.test(a) ? `"${a}"` : a).join(' ')}`, [process.execPath, BIN, ...args], expect)
  const git = (...args: string[]): void => { execFileSync('git', ['-c', 'user.name=Ada', '-c', 'user.email=ada@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd: root, stdio: 'ignore' }) }
  try {
    await mkdir(join(root, 'data'), { recursive: true })
    const fixtures = await buildFixtures(join(base, 'fixtures'))
    await cp(fixtures.find(f => f.name === 'sharded')!.dir, join(root, 'model'), { recursive: true })
    await writeFile(join(root, 'model', 'metadata.json'), JSON.stringify({ params: { lr: 0.01, epochs: 5 }, metrics: { accuracy: 0.912 } }) + '\n')
    await writeFile(join(root, 'data', 'train.csv'), 'x,y\n1,0\n2,1\n')
    await writeFile(join(root, 'train.py'), '# the training code\n')
    git('init', '-q')
    git('add', '.')
    git('commit', '-q', '-m', 'training code')
    console.log('```console')
    mvc(['init'])
    show(root, 'git status --short', ['git', 'status', '--short'])
    mvc(['commit', 'model', '-m', 'baseline', '--data', 'data'])

    const python = process.env.MVC_PYTHON
    if (python !== undefined && python !== '') {
      const accuracy = show(root, 'python train_classifier.py classifier.keras   # prints its accuracy; TensorFlow\'s log left out', [python, '-c', KERAS_TRAIN, 'classifier.keras', '40'], 0, false).trim()
      mvc(['commit', 'classifier.keras', '-m', 'add the Keras classifier', '--metric', `classifier.accuracy=${accuracy}`])
    }

    // Fine-tune the TF.js model's head.
    await nudge(join(root, 'model'), 'narrow/bias', 0.25)
    await nudge(join(root, 'model'), 'narrow/kernel', 0.25, 16 * 64)
    await writeFile(join(root, 'model', 'metadata.json'), JSON.stringify({ params: { lr: 0.005, epochs: 8 }, metrics: { accuracy: 0.934 } }) + '\n')
    mvc(['status'])
    mvc(['commit', '-m', 'fine-tune the head', '--data', 'data'])
    mvc(['log'])
    const head = python !== undefined && python !== '' ? 'v3' : 'v2'
    mvc(['diff', 'v1', head, '--outputs', '--', 'model'])
    mvc(['log', '--where', 'accuracy>0.92'])
    mvc(['tag', '1.0.0', 'v1'])
    mvc(['alias', 'production', head, '-m', 'better on the holdout set'])

    // Roll the model back, verified.
    mvc(['checkout', 'v1', '--', 'model'])
    mvc(['status'])
    mvc(['checkout', head, '--', 'model'])

    // Share it: a folder remote, a clone on another machine, the alias travels.
    mvc(['remote', 'add', 'origin', join(base, 'shared')])
    mvc(['push', 'origin'])
    mvc(['clone', join(base, 'shared'), join(base, 'laptop')], 0, base)
    mvc(['alias', '--history'], 0, join(base, 'laptop'))
    mvc(['ls-remote', 'origin'], 0, join(base, 'laptop'))

    // Clean up: delete an experiment nobody needs, then collect what only it used.
    await nudge(join(root, 'model'), 'wide/kernel', 0.01)
    mvc(['commit', '-m', 'try a wider first layer (discarded)'])
    const last = python !== undefined && python !== '' ? 'v4' : 'v3'
    mvc(['checkout', head, '--force', '--', 'model'])
    mvc(['rm', last, '--force'])
    mvc(['gc', '--prune=now'])
    mvc(['log', '-n', '2'])
    console.log('```')
  } finally {
    if (process.env.MVC_TOUR_KEEP === '1') console.error(`kept: ${base}`)
    else await rm(base, { recursive: true, force: true })
  }
}

await main()
