/**
 * TensorFlow.js behaviour verification (see runtime.ts). Importing this module does not import
 * TF.js; `loadRuntime` does, on first use.
 *
 * Glossary:
 * - runtime: the imported TF.js module plus the selected backend (`LoadedRuntime`), one per process.
 * - backend: where kernels run: 'tensorflow' (tfjs-node, native libtensorflow, optional),
 *   'wasm' (@tensorflow/tfjs-backend-wasm, SIMD when available, single-threaded in Node), 'cpu'
 *   (plain JavaScript, always available).
 * - layers model / graph model: the two TF.js model formats, told apart by model.json's `format`
 *   ('layers-model' → tf.loadLayersModel, 'graph-model' → tf.loadGraphModel).
 * - signature: a model's inputs with names, shapes (null = unknown dimension) and dtypes (`InputSpec`).
 * - reference inputs: deterministic, seeded inputs built from the signature at commit time.
 * - TensorData: a tensor as name, dtype, shape and little-endian bytes (tf.io weight encoding), the
 *   form in which inputs and outputs are recorded.
 * - tolerance: allclose-style bounds, |actual - expected| <= atol + rtol * |expected| per element.
 */
export * from './runtime.js'
