/**
 * Diff of two versions, or of a version and the working folder.
 *
 * Sections: models (by JSON path), topology (layers or graph nodes by name, shapes, top-level fields),
 * tensors (by weight name, with numeric statistics for changed values), other files, params, metrics,
 * data and code lineage.
 *
 * Cost: equal model CIDs are never opened further, equal tensor CIDs are never read, and inside a
 * changed tensor a chunk with the same CID at the same offset on both sides is skipped (its difference
 * is zero). Tensor bytes are streamed one chunk per side at a time through a `TensorSource`: from the
 * store by chunk CID, or from the working folder's files by the spans of the layout its format adapter computed.
 *
 * The working folder is snapshotted like `status` does: chunks go nowhere (the DRY_RUN behaviour), and
 * only the small structured objects (manifest, file, model, tensor and topology objects) are kept in
 * memory, so its tensors have chunk CIDs to compare without anything being stored.
 */
import type { ObjectStore } from '../../store/interface.js'
import type { ModelFormat } from '../../formats/interface.js'
import { compareManifests } from '../worktree.js'
import { diffSides, type Side } from './sides.js'
import { readCommit } from '../objects.js'
import { resolveRev } from '../refs.js'
import { diffModelTensors, loadModels, readTopology } from './tensors.js'
import { diffTopology } from './topology.js'
import { diffContract } from './contract.js'
import type { ModelContract } from '../../format/objects.js'
import { diffCode, diffData, diffRecords } from './lineage.js'
import { deepEqual } from './values.js'
import type {
  CodeDiff, ContractDiff, DataDiff, DiffCounters, DiffOptions, DiffResult, DiffSummary, FilesDiff, LineageStatus, MetricsDiff,
  ModelDiff, ModelStatus, ModelTopologyDiff, ParamsDiff, TensorDiff
} from './types.js'

export type * from './types.js'
export { deepEqual } from './values.js'
export { diffTopology } from './topology.js'
export { storeTensorSource, type TensorHandle, type TensorSource } from './sources.js'

// ---------------------------------------------------------------------------------------------------
// the diff

export async function diff (options: DiffOptions): Promise<DiffResult> {
  const { repo } = options
  const { a, b } = await diffSides(repo, options.a, options.b, options.paths)
  try {
    return await compareSides(repo.store, repo.formats, a, b, options.exactNorm === true)
  } finally {
    await a.tensors.close()
    await b.tensors.close()
  }
}

async function compareSides (store: ObjectStore, formats: readonly ModelFormat[], a: Side, b: Side, exactNorm: boolean): Promise<DiffResult> {
  const counters: DiffCounters = { tensorsCompared: 0, chunksRead: 0, bytesRead: 0, chunksSkipped: 0, normChunksRead: 0 }
  const modelsA = await loadModels(a, formats)
  const modelsB = await loadModels(b, formats)
  const fileA = new Map(a.manifest.entries.map(e => [e.path, e]))
  const fileB = new Map(b.manifest.entries.map(e => [e.path, e]))
  const paths = [...new Set([...modelsA.keys(), ...modelsB.keys()])].sort()

  const models: ModelDiff[] = []
  const topology: ModelTopologyDiff[] = []
  const tensors: TensorDiff[] = []
  const contracts: ContractDiff[] = []
  let unchangedTensors = 0
  const modelFiles = new Set<string>()
  for (const path of paths) {
    const ma = modelsA.get(path)
    const mb = modelsB.get(path)
    modelFiles.add(path)
    for (const s of [...(ma?.model.files ?? []), ...(mb?.model.files ?? [])]) modelFiles.add(s)
    const jsonA = fileA.get(path)
    const jsonB = fileB.get(path)
    const jsonChanged = ma !== undefined && mb !== undefined && !(jsonA !== undefined && jsonB !== undefined && jsonA.file.equals(jsonB.file))
    const sameModel = ma !== undefined && mb !== undefined && ma.cid.equals(mb.cid)
    const status: ModelStatus = ma === undefined ? 'added' : mb === undefined ? 'removed' : sameModel && !jsonChanged ? 'unchanged' : 'modified'
    const shardsDiffer = ma !== undefined && mb !== undefined && !deepEqual(ma.model.files, mb.model.files)
    models.push({
      path,
      status,
      format: { a: ma?.model.format ?? null, b: mb?.model.format ?? null },
      a: ma?.cid ?? null,
      b: mb?.cid ?? null,
      shards: shardsDiffer ? { a: [...ma.model.files], b: [...mb.model.files] } : null,
      jsonChanged
    })
    const contract = diffContract(path, ma?.model.contract ?? null, mb?.model.contract ?? null)
    if (contract !== null && ma !== undefined && mb !== undefined) contracts.push(contract)
    if (sameModel) { unchangedTensors += mb.model.tensors.length; continue }
    const t = await diffModelTensors(path, a, b, ma?.model ?? null, mb?.model ?? null, counters, exactNorm)
    tensors.push(...t.tensors)
    unchangedTensors += t.unchanged
    if (ma !== undefined && mb !== undefined) {
      const ca = ma.model.topology
      const cb = mb.model.topology
      const changes = ca !== null && cb !== null && ca.equals(cb)
        ? []
        : diffTopology(await readTopology(a, ca), await readTopology(b, cb))
      if (ma.model.format !== mb.model.format && !changes.some(c => c.kind === 'format-changed')) {
        changes.unshift({ kind: 'format-changed', name: null, type: null, fields: ['format'], shapes: [] })
      }
      changes.push(...t.shapeChanges)
      if (changes.length > 0) topology.push({ model: path, changes })
    }
  }

  // Other files.
  const d = compareManifests(
    { ...a.manifest, entries: a.manifest.entries.filter(e => !modelFiles.has(e.path)) },
    { ...b.manifest, entries: b.manifest.entries.filter(e => !modelFiles.has(e.path)) })
  const files: FilesDiff = {
    added: d.added,
    removed: d.removed,
    modified: d.modified.map(p => {
      const x = fileA.get(p)!
      const y = fileB.get(p)!
      return { path: p, content: !x.file.equals(y.file), mode: x.mode === y.mode ? null : { a: x.mode, b: y.mode } }
    }),
    dirsAdded: b.manifest.dirs.filter(x => !a.manifest.dirs.includes(x)),
    dirsRemoved: a.manifest.dirs.filter(x => !b.manifest.dirs.includes(x))
  }

  // Lineage: only between two commits.
  let params: ParamsDiff | null = null
  let metrics: MetricsDiff | null = null
  let data: DataDiff | null = null
  let code: CodeDiff | null = null
  if (a.commit !== null && b.commit !== null) {
    params = diffRecords(a.commit.params, b.commit.params)
    const m = diffRecords(a.commit.metrics, b.commit.metrics)
    metrics = {
      added: m.added,
      removed: m.removed,
      changed: m.changed.map(c => ({ ...c, delta: typeof c.a === 'number' && typeof c.b === 'number' ? c.b - c.a : null }))
    }
    data = await diffData(store, a.commit.data, b.commit.data)
    code = diffCode(a.commit.code, b.commit.code)
    const declared = (c: typeof a.commit): ModelContract | null => c.inputs === undefined ? null : { inputs: c.inputs, outputs: [] }
    const d = diffContract('metadata.json', declared(a.commit), declared(b.commit))
    if (d !== null) contracts.push(d)
  }

  const count = <T>(xs: readonly T[], f: (x: T) => boolean): number => xs.reduce((n, x) => n + (f(x) ? 1 : 0), 0)
  const allChanges = topology.flatMap(t => t.changes)
  const summary: DiffSummary = {
    models: {
      added: count(models, m => m.status === 'added'),
      removed: count(models, m => m.status === 'removed'),
      modified: count(models, m => m.status === 'modified'),
      unchanged: count(models, m => m.status === 'unchanged')
    },
    topology: {
      added: count(allChanges, c => c.kind === 'layer-added' || c.kind === 'node-added'),
      removed: count(allChanges, c => c.kind === 'layer-removed' || c.kind === 'node-removed'),
      changed: count(allChanges, c => c.kind === 'layer-changed' || c.kind === 'node-changed'),
      shapes: allChanges.reduce((n, c) => n + c.shapes.length, 0)
    },
    tensors: {
      changed: count(tensors, t => t.status === 'changed'),
      added: count(tensors, t => t.status === 'added'),
      removed: count(tensors, t => t.status === 'removed'),
      unchanged: unchangedTensors
    },
    files: { added: files.added.length, removed: files.removed.length, modified: files.modified.length },
    params: params === null ? null : { added: params.added.length, removed: params.removed.length, changed: params.changed.length },
    metrics: metrics === null ? null : { added: metrics.added.length, removed: metrics.removed.length, changed: metrics.changed.length },
    data: data?.status ?? null,
    code: code?.status ?? null
  }
  const lineageDiffers = (s: LineageStatus | null): boolean => s !== null && s !== 'none' && s !== 'same'
  const identical =
    models.every(m => m.status === 'unchanged') && topology.length === 0 && tensors.length === 0 && contracts.length === 0 &&
    files.added.length + files.removed.length + files.modified.length + files.dirsAdded.length + files.dirsRemoved.length === 0 &&
    (summary.params === null || summary.params.added + summary.params.removed + summary.params.changed === 0) &&
    (summary.metrics === null || summary.metrics.added + summary.metrics.removed + summary.metrics.changed === 0) &&
    !lineageDiffers(summary.data) && !lineageDiffers(summary.code) &&
    (a.endpoint.exists === b.endpoint.exists) && a.manifest.kind === b.manifest.kind
  return { a: a.endpoint, b: b.endpoint, identical, models, topology, tensors, contracts, files, params, metrics, data, code, summary, stats: counters }
}
