/**
 * Real TensorFlow files and TensorFlow's own reading of them, for the TF checkpoint and SavedModel
 * tests: the fixtures of fixtures/tf/make_fixtures.py, generated with the project's Python venv
 * (scripts/python-env.sh) once per version of the script and cached in the system's temp folder,
 * and what `tf.train.load_checkpoint` and `tf.saved_model.load` report for them (an independent
 * source: TensorFlow's C++ reader, not mvc's).
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { REPO_ROOT } from './helpers.js'

const run = promisify(execFile)

/** What TensorFlow reads for one checkpoint key. */
export interface TfVariable {
  readonly dtype: string
  readonly shape: number[]
  /** The tensor's bytes (numpy `tobytes()`), hex; absent for strings. */
  readonly hex?: string
}

export interface TfSignatureTensor { readonly name: string, readonly dtype: string, readonly shape: Array<number | null> }

export interface TfReference {
  /** By checkpoint prefix (relative to the fixtures root): key → variable. */
  readonly checkpoints: Record<string, Record<string, TfVariable>>
  /** By checkpoint prefix: checkpoint key → full name, from the object graph. */
  readonly names: Record<string, Record<string, string>>
  /** By SavedModel folder: the serving_default signature as `tf.saved_model.load` sees it. */
  readonly signatures: Record<string, { inputs: TfSignatureTensor[], outputs: TfSignatureTensor[] }>
  /**
   * By SavedModel folder: serving_default run by TensorFlow on `runInput` (float32 [2, n], n the
   * input's last dimension): each output's float32 bytes, hex.
   */
  readonly outputs: Record<string, Record<string, string>>
}

/** The input TensorFlow runs each SavedModel on: element i of a [2, n] float32 tensor. */
export function runInput (i: number): number {
  return (i % 7) / 7 - 0.3
}

/** Checkpoint prefixes (relative to the fixtures root) the tests read. */
export const CHECKPOINTS = [
  'mlp-tf-checkpoint/ckpt-1',
  'mlp-tf-checkpoint-optimizer/ckpt-1',
  'mlp-tf-checkpoint-sharded/weights',
  'mlp-keras3-tf-checkpoint/ckpt-1',
  'mlp-tfkeras-weights-tf/weights',
  'mlp-savedmodel/variables/variables',
  'mlp-savedmodel-tfkeras/variables/variables',
  'seeds-savedmodel/variables/variables',
  'finetune/v1/mlp-tf-checkpoint/ckpt-1',
  'finetune/v2/mlp-tf-checkpoint/ckpt-1',
  'finetune/v1/mlp-savedmodel/variables/variables',
  'finetune/v2/mlp-savedmodel/variables/variables',
  'finetune/v1/mlp-savedmodel-tfkeras/variables/variables',
  'finetune/v2/mlp-savedmodel-tfkeras/variables/variables',
  'finetune/v1/mlp-tfkeras-weights-tf/weights',
  'finetune/v2/mlp-tfkeras-weights-tf/weights'
] as const

export const SAVED_MODELS = ['mlp-savedmodel', 'mlp-savedmodel-tfkeras', 'seeds-savedmodel'] as const

const REFERENCE_PY = String.raw`
import json, sys, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
from tensorflow.core.protobuf import trackable_object_graph_pb2
root, out = sys.argv[1], sys.argv[2]
ckpts, sms = json.loads(sys.argv[3]), json.loads(sys.argv[4])
ref = {"checkpoints": {}, "names": {}, "signatures": {}, "outputs": {}}
for prefix in ckpts:
    r = tf.train.load_checkpoint(os.path.join(root, prefix))
    shapes, dtypes = r.get_variable_to_shape_map(), r.get_variable_to_dtype_map()
    vs = {}
    for k in shapes:
        v = {"dtype": dtypes[k].name, "shape": [int(d) for d in shapes[k]]}
        if dtypes[k] != tf.string:
            v["hex"] = r.get_tensor(k).tobytes().hex()
        vs[k] = v
    ref["checkpoints"][prefix] = vs
    names = {}
    if "_CHECKPOINTABLE_OBJECT_GRAPH" in shapes:
        g = trackable_object_graph_pb2.TrackableObjectGraph.FromString(r.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
        for n in g.nodes:
            for a in n.attributes:
                if a.full_name:
                    names[a.checkpoint_key] = a.full_name
    ref["names"][prefix] = names
def spec(name, s):
    return {"name": name, "dtype": s.dtype.name, "shape": None if s.shape.rank is None else [d for d in s.shape.as_list()]}
for d in sms:
    sig = tf.saved_model.load(os.path.join(root, d)).signatures["serving_default"]
    ins = sig.structured_input_signature[1]
    outs = sig.structured_outputs
    ref["signatures"][d] = {"inputs": [spec(k, ins[k]) for k in sorted(ins)], "outputs": [spec(k, outs[k]) for k in sorted(outs)]}
    (name, s), = ins.items()
    n = s.shape[-1]
    x = tf.constant([[(i % 7) / 7 - 0.3 for i in range(r * n, r * n + n)] for r in range(2)], dtype=tf.float32)
    ref["outputs"][d] = {k: v.numpy().astype("<f4").tobytes().hex() for k, v in sig(**{name: x}).items()}
with open(out, "w") as f:
    json.dump(ref, f)
`

async function exists (p: string): Promise<boolean> {
  try { await stat(p); return true } catch { return false }
}

let cached: Promise<{ root: string, reference: TfReference }> | undefined

/** The venv's interpreter (creating the venv if needed: minutes the first time). */
export async function python (): Promise<string> {
  const { stdout } = await run('bash', [join(REPO_ROOT, 'scripts', 'python-env.sh')], { maxBuffer: 64 << 20 })
  return stdout.trim().split('\n').pop()!
}

/**
 * The generated fixtures' root and TensorFlow's reference reading of them. Generated once per
 * content of make_fixtures.py (and this file's reference script) into the temp folder; concurrent
 * test processes race harmlessly (each builds aside, the first rename wins).
 */
export async function tfFixtures (): Promise<{ root: string, reference: TfReference }> {
  cached ??= (async () => {
    const script = join(REPO_ROOT, 'fixtures', 'tf', 'make_fixtures.py')
    const h = createHash('sha256').update(await readFile(script)).update(await readFile(join(REPO_ROOT, 'fixtures', 'tf', 'requirements.txt'))).update(REFERENCE_PY)
    const dir = join(tmpdir(), `mvc-tf-fixtures-${h.digest('hex').slice(0, 16)}`)
    if (!await exists(join(dir, 'reference.json'))) {
      const py = await python()
      const building = await mkdtemp(join(tmpdir(), 'mvc-tf-fixtures-building-'))
      try {
        await run(py, [script, join(building, 'tf')], { maxBuffer: 64 << 20 })
        await run(py, ['-c', REFERENCE_PY, join(building, 'tf'), join(building, 'reference.json'), JSON.stringify(CHECKPOINTS), JSON.stringify(SAVED_MODELS)], { maxBuffer: 64 << 20 })
        await writeFile(join(building, 'done'), '')
        try {
          await rename(building, dir)
        } catch (e) {
          if (!await exists(join(dir, 'reference.json'))) throw e
          await rm(building, { recursive: true, force: true })
        }
      } catch (e) {
        await rm(building, { recursive: true, force: true })
        throw e
      }
    }
    const reference = JSON.parse(await readFile(join(dir, 'reference.json'), 'utf8')) as TfReference
    return { root: join(dir, 'tf'), reference }
  })()
  return await cached
}
