/**
 * Checks a LayersModel topology's graph before TF.js sees it. TF.js builds a functional model by
 * processing each layer's inbound nodes until none is left (tfjs-layers, `Container.fromConfig`): a node
 * whose input layer does not exist, or names a node that will never be made (a cycle, an index past the
 * layer's nodes), is put back forever — `loadLayersModel` never returns, and mvc hung on such files at
 * commit, clone and verify. The same processing is simulated here, pass by pass; a pass that makes no
 * progress is refused as INVALID_MODEL naming the layer and the input. Pure; no tfjs import.
 */
import { InvalidModelError } from '../../errors.js'

type Json = Record<string, unknown>
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Classes whose instances have one inbound node as soon as they exist (an input layer; a nested model). */
const BORN_WITH_A_NODE = new Set(['InputLayer', 'Model', 'Functional', 'Sequential'])

/** [layer name, node index] of each input of an inbound node, in the TF.js (Keras 2) config layout. */
function nodeInputs (node: unknown, where: string): Array<[string, number]> {
  if (!Array.isArray(node)) throw new InvalidModelError(`${where}: an inbound node must be a list of inputs`, { where })
  return node.map((input: unknown) => {
    if (!Array.isArray(input) || typeof input[0] !== 'string') throw new InvalidModelError(`${where}: an inbound node input must be [layer name, node index, tensor index, kwargs]`, { where })
    const index = input[1] ?? 0
    if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) throw new InvalidModelError(`${where}: node index ${JSON.stringify(index)} of input ${JSON.stringify(input[0])} is not a non-negative integer`, { where })
    return [input[0], index]
  })
}

/** Throws InvalidModelError when TF.js could never finish building this functional model's graph. */
function checkFunctional (config: Json, where: string): void {
  const layers = config.layers
  if (!Array.isArray(layers)) return
  const nodes = new Map<string, number>() // inbound nodes made so far, by layer
  const ownNames = new Set<string>()
  const pending: Array<{ layer: string, inputs: Array<[string, number]> }> = []
  for (const l of layers) {
    if (!isRecord(l)) throw new InvalidModelError(`${where}: a layer must be an object`, { where })
    // TF.js keys the layers it created by this field, and its queue of nodes by the layer's own name
    // (config.name): both must be there and unique, or nodes wait for a layer that never comes.
    const name = l.name
    if (typeof name !== 'string') throw new InvalidModelError(`${where}: a layer of a functional model has no "name"`, { where })
    if (nodes.has(name)) throw new InvalidModelError(`${where}: two layers are named ${JSON.stringify(name)}`, { where, layer: name })
    const own = isRecord(l.config) && typeof l.config.name === 'string' ? l.config.name : name
    if (ownNames.has(own)) throw new InvalidModelError(`${where}: two layers have the name ${JSON.stringify(own)} in their config`, { where, layer: own })
    ownNames.add(own)
    nodes.set(name, BORN_WITH_A_NODE.has(String(l.class_name)) ? 1 : 0)
    const inbound = l.inbound_nodes ?? []
    if (!Array.isArray(inbound)) throw new InvalidModelError(`${where}: inbound_nodes of layer ${JSON.stringify(name)} must be a list`, { where, layer: name })
    for (const node of inbound) pending.push({ layer: name, inputs: nodeInputs(node, `${where}: layer ${JSON.stringify(name)}`) })
    if (isRecord(l.config) && Array.isArray(l.config.layers)) checkGraph(l.config, `${where}: layer ${JSON.stringify(name)}`)
  }
  for (const p of pending) {
    for (const [input] of p.inputs) {
      if (!nodes.has(input)) throw new InvalidModelError(`${where}: layer ${JSON.stringify(p.layer)} takes its input from layer ${JSON.stringify(input)}, which the model does not have; TensorFlow.js would never finish loading it`, { where, layer: p.layer, input })
    }
  }
  for (const key of ['input_layers', 'output_layers']) {
    const list = config[key]
    if (list === undefined) continue
    if (!Array.isArray(list)) throw new InvalidModelError(`${where}: ${key} must be a list`, { where })
    for (const e of list) {
      const name = Array.isArray(e) ? e[0] : undefined
      if (typeof name !== 'string' || !nodes.has(name)) throw new InvalidModelError(`${where}: ${key} names ${JSON.stringify(name)}, which is not a layer of the model`, { where, field: key })
    }
  }
  // TF.js's loop, simulated: a node is processed once every input layer has the node it names.
  let left = pending
  while (left.length > 0) {
    const next: typeof pending = []
    for (const p of left) {
      if (p.inputs.every(([input, index]) => nodes.get(input)! > index)) nodes.set(p.layer, nodes.get(p.layer)! + 1)
      else next.push(p)
    }
    if (next.length === left.length) {
      const p = next[0]!
      const [input, index] = p.inputs.find(([i, n]) => nodes.get(i)! <= n)!
      throw new InvalidModelError(`${where}: layer ${JSON.stringify(p.layer)} takes node ${index} of layer ${JSON.stringify(input)}, which is never made (a cycle, or a node index past the layer's calls); TensorFlow.js would never finish loading the model`, { where, layer: p.layer, input, index })
    }
    left = next
  }
}

function checkGraph (config: Json, where: string): void {
  if (config.input_layers !== undefined || config.output_layers !== undefined) checkFunctional(config, where)
  else if (Array.isArray(config.layers)) {
    for (const l of config.layers) if (isRecord(l) && isRecord(l.config) && Array.isArray(l.config.layers)) checkGraph(l.config, where)
  }
}

/** Checks the layer graph of a LayersModel `modelTopology` (or its `model_config`); see the module comment. */
export function checkLayersTopology (topology: unknown, jsonPath: string): void {
  if (!isRecord(topology)) return
  const model = isRecord(topology.model_config) ? topology.model_config : topology
  if (isRecord(model.config)) checkGraph(model.config, jsonPath)
}
