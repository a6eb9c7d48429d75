/**
 * Model formats: one adapter per family of model files, behind one interface (interface.ts).
 *
 * Glossary:
 * - adapter (`ModelFormat`): recognises its models among a snapshot's files, lays each out as tensors
 *   (byte ranges in files) plus topology, reads back what it stored, and offers runtimes.
 * - layout (`ModelLayout`): one recognised model: its tensors, the files they cover, its topology.
 * - runtime (`ModelRuntime`): something that can load and run a format's models (TF.js in process).
 * - TensorData: a tensor as name, dtype, shape and little-endian bytes: how inputs and outputs travel.
 *
 * Adding a format: a folder here with an adapter implementing `ModelFormat`, added to
 * `DEFAULT_FORMATS`. Nothing else in mvc needs to change.
 */
import type { ModelFormat } from './interface.js'
import { tfjsFormat } from './tfjs/index.js'
import { savedModelFormat } from './saved-model/index.js'
import { tfCheckpointFormat } from './tf-checkpoint/index.js'
import { kerasH5Format } from './keras-h5/index.js'
import { kerasV3Format } from './keras-v3/index.js'

export type * from './interface.js'
export type { TensorData, TensorDType, InputSpec } from './tensor-data.js'

/**
 * The adapters mvc uses unless told otherwise, in detection order. SavedModels come before
 * checkpoints: a SavedModel claims its `variables/` checkpoint, which is then not detected again.
 * A folder may hold several formats at once (a `.h5` next to its TF.js conversion).
 */
export const DEFAULT_FORMATS: readonly ModelFormat[] = [tfjsFormat, kerasH5Format, kerasV3Format, savedModelFormat, tfCheckpointFormat]

/** The adapter that writes `mvc/model` objects with this `format` value. */
export function adapterFor (formats: readonly ModelFormat[], format: string): ModelFormat | undefined {
  return formats.find(f => f.formats.includes(format))
}
