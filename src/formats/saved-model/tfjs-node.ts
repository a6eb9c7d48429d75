/**
 * Running a SavedModel with `@tensorflow/tfjs-node` (`tf.node.loadSavedModel`), which links the
 * native TensorFlow C library. It is optional and not a dependency — its install step downloads
 * libtensorflow — so it is imported dynamically, and its absence is a VerificationUnavailableError
 * saying what to install. TF.js itself cannot run SavedModels in process.
 *
 * tfjs-node loads a SavedModel from a folder on disk: the model's files (saved_model.pb, the
 * variables index and its data shards, the assets its meta graph names) are written to a temporary
 * folder through `read`, loaded, and the folder is removed when the model is disposed. Inputs and
 * outputs are the `serving_default` signature's, by signature key, in key order.
 *
 * Without network access to tfjs-node's download host, it can be built against the TensorFlow pip
 * wheel (checked with tfjs-node 4.22.0 and tensorflow-cpu 2.21.0, whose `libtensorflow_cc.so.2`
 * exports the C and eager C APIs): `npm install --ignore-scripts @tensorflow/tfjs-node`, then in its
 * folder link `deps/include` to the wheel's `tensorflow/include`, `deps/lib/libtensorflow.so{,.2}` and
 * `deps/lib/libtensorflow_cc.so.2` to `libtensorflow_cc.so.2`, `deps/lib/libtensorflow_framework.so{,.2}`
 * to the wheel's, run `node-gyp rebuild --nodedir=/usr --module_name=tfjs_binding
 * --module_path=./lib/napi-v8 --napi_build_version=8`, and copy `build/Release/tfjs_binding.node`
 * to `lib/napi-v8/`.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type * as TF from '@tensorflow/tfjs'
import { InvalidModelError, VerificationUnavailableError, isMvcError } from '../../errors.js'
import type { LoadedModel, ModelRuntime, OpenRuntime } from '../interface.js'
import { bindInputs, decodeTensorData, type InputSpec, type TensorData } from '../tensor-data.js'
import { encodeTensor } from '../tfjs/model.js'
import { BundleHeaderProto, decodePlain as decodeBundle } from '../tf-checkpoint/protos.js'
import { readTable } from '../tf-checkpoint/sstable.js'
import { shardName } from '../tf-checkpoint/bundle.js'
import { SavedModelProto, decodePlain, type SavedModel } from './protos.js'
import { SERVING_SIGNATURE, contractOf, primaryMetaGraph } from './summary.js'

const TFJS_NODE = '@tensorflow/tfjs-node'

type TfNode = typeof TF & {
  node: { loadSavedModel: (path: string, tags?: string[], signature?: string) => Promise<SavedModelHandle> }
}
interface SavedModelHandle {
  predict: (inputs: TF.NamedTensorMap) => TF.Tensor | TF.Tensor[] | TF.NamedTensorMap
  dispose: () => void
}

function messageOf (e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

function unavailable (why: string, cause?: unknown): VerificationUnavailableError {
  return new VerificationUnavailableError(
    `running a SavedModel needs ${TFJS_NODE} (${why}); install it with \`npm install ${TFJS_NODE}\` (its install step downloads libtensorflow), or verify the model with Python TensorFlow`,
    { runtime: 'tfjs-node', package: TFJS_NODE }, cause === undefined ? undefined : { cause })
}

let loading: Promise<TfNode> | undefined

async function importTfjsNode (): Promise<TfNode> {
  loading ??= (async () => {
    // A computed specifier: TypeScript needs no types for it and bundlers leave it alone.
    const specifier: string = TFJS_NODE
    try {
      import.meta.resolve(specifier)
    } catch (e) {
      throw unavailable('it is not installed', e)
    }
    process.env.TF_CPP_MIN_LOG_LEVEL ??= '2'
    let m: unknown
    try {
      m = await import(specifier)
    } catch (e) {
      throw unavailable(`it could not be loaded: ${messageOf(e)}`, e)
    }
    for (const cand of [m, (m as { default?: unknown }).default]) {
      const node = (cand as { node?: { loadSavedModel?: unknown } } | undefined)?.node
      if (typeof node?.loadSavedModel === 'function') {
        const tf = cand as TfNode
        tf.env().set('PROD', true)
        return tf
      }
    }
    throw unavailable('it loaded but has no node.loadSavedModel')
  })()
  loading.catch(() => { loading = undefined })
  return await loading
}

/** The files tfjs-node needs, relative to the snapshot root: saved_model.pb, the variables, the assets. */
async function modelFiles (path: string, sm: SavedModel, read: (p: string) => Promise<Uint8Array>): Promise<string[]> {
  const dir = path.slice(0, path.length - 'saved_model.pb'.length)
  const files = [path]
  const index = `${dir}variables/variables.index`
  let indexBytes: Uint8Array | undefined
  try {
    indexBytes = await read(index)
  } catch (e) {
    if (!isMvcError(e)) throw e
  }
  if (indexBytes !== undefined) {
    files.push(index)
    const header = readTable(indexBytes)[0]
    const numShards = header === undefined ? 0 : (decodeBundle(BundleHeaderProto, header.value).num_shards as number)
    for (let i = 0; i < numShards; i++) files.push(shardName(`${dir}variables/variables`, i, numShards))
  }
  for (const a of primaryMetaGraph(sm).asset_file_def) files.push(`${dir}assets/${a.filename}`)
  return files
}

function tensorOf (tf: TfNode, t: TensorData): TF.Tensor {
  const d = decodeTensorData(t)
  return tf.tensor(d.values as never, [...t.shape], t.dtype)
}

export const tfjsNodeSavedModelRuntime: ModelRuntime = {
  id: 'tfjs-node',
  async open (options): Promise<OpenRuntime> {
    if (options.backend !== undefined && options.backend !== 'tensorflow') {
      throw new VerificationUnavailableError(`SavedModels run on the 'tensorflow' backend (${TFJS_NODE}), not '${options.backend}'`, { backend: options.backend })
    }
    const tf = await importTfjsNode()
    return {
      backend: 'tensorflow',
      version: typeof tf.version?.tfjs === 'string' ? tf.version.tfjs : tf.version_core,
      async load (model, read): Promise<LoadedModel> {
        const sm = decodePlain(SavedModelProto, await read(model.path)) as unknown as SavedModel
        const primary = primaryMetaGraph(sm)
        const contract = contractOf(primary)
        if (contract === null) throw new InvalidModelError(`${model.path} has no '${SERVING_SIGNATURE}' signature with known ranks: mvc does not know what to feed it`, { path: model.path })
        const tmp = await mkdtemp(join(tmpdir(), 'mvc-savedmodel-'))
        let handle: SavedModelHandle
        try {
          const dir = model.path.slice(0, model.path.length - 'saved_model.pb'.length)
          for (const f of await modelFiles(model.path, sm, read)) {
            const target = join(tmp, f.slice(dir.length))
            await mkdir(dirname(target), { recursive: true })
            await writeFile(target, await read(f))
          }
          handle = await tf.node.loadSavedModel(tmp, primary.meta_info_def?.tags ?? ['serve'], SERVING_SIGNATURE)
        } catch (e) {
          await rm(tmp, { recursive: true, force: true })
          if (isMvcError(e)) throw e
          throw new InvalidModelError(`${TFJS_NODE} could not load ${model.path}: ${messageOf(e)}`, { path: model.path }, { cause: e })
        }
        const inputs: InputSpec[] = contract.inputs.map(i => ({ name: i.name, shape: [...i.shape], dtype: i.dtype }))
        return {
          inputs,
          async run (given): Promise<TensorData[]> {
            const bound = bindInputs(inputs, given)
            const feed: TF.NamedTensorMap = {}
            let out: TF.Tensor | TF.Tensor[] | TF.NamedTensorMap | undefined
            try {
              for (const t of bound) feed[t.name] = tensorOf(tf, t)
              out = handle.predict(feed)
              const named = out instanceof tf.Tensor ? { [contract.outputs[0]?.name ?? 'output_0']: out } : Array.isArray(out) ? Object.fromEntries(out.map((t, i) => [contract.outputs[i]?.name ?? `#${i}`, t])) : out
              const result: TensorData[] = []
              for (const o of contract.outputs) {
                const t = named[o.name]
                if (t === undefined) throw new InvalidModelError(`${model.path}: the serving signature produced no output ${JSON.stringify(o.name)}`, { path: model.path, output: o.name })
                result.push(await encodeTensor(o.name, t))
              }
              return result
            } finally {
              tf.dispose(Object.values(feed))
              if (out !== undefined) tf.dispose(out instanceof tf.Tensor ? out : Array.isArray(out) ? out : Object.values(out))
            }
          },
          dispose (): void {
            handle.dispose()
            void rm(tmp, { recursive: true, force: true })
          }
        }
      }
    }
  }
}
