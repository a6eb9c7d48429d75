/**
 * `mvc show`: one version — its commit, manifest, names, and each model as its format adapter reads it
 * (format, input/output contract, custom classes, whether it can run alone).
 */
import type { CID } from 'multiformats/cid'
import { decodeObject } from '../content/block.js'
import type { CommitObject, Manifest, ModelContract } from '../format/objects.js'
import { parseModel } from '../format/objects.js'
import { adapterFor } from '../formats/index.js'
import type { ModelFormat } from '../formats/interface.js'
import type { ObjectStore } from '../store/interface.js'
import { namesByCommit } from './history.js'
import { readCommit } from './objects.js'
import { versionFiles } from './version.js'
import { ensureLocal } from './partial.js'
import { resolveRev } from './refs.js'
import type { Repo } from './repo.js'

export interface ModelSummary {
  readonly path: string
  readonly format: string
  readonly model: CID
  readonly tensors: number
  readonly runnable: boolean
  readonly contract: ModelContract | null
  readonly customObjects: readonly string[]
}

export interface ShowResult {
  readonly cid: CID
  readonly commit: CommitObject
  readonly manifest: Manifest
  readonly names: string[]
  readonly models: readonly ModelSummary[]
}

export async function show (repo: Repo, rev: string): Promise<ShowResult> {
  const { store } = repo
  await ensureLocal(store, rev)
  const cid = await resolveRev(store, rev)
  const commit = await readCommit(store, cid)
  const manifest = (await versionFiles(store, commit)).manifest
  const names = (await namesByCommit(store)).get(cid.toString()) ?? []
  return { cid, commit, manifest, names, models: await modelSummaries(store, repo.formats, manifest) }
}

/** Each model of a manifest as its format adapter reads it. Reads only; fetches nothing. */
export async function modelSummaries (store: ObjectStore, formats: readonly ModelFormat[], manifest: Manifest): Promise<ModelSummary[]> {
  const models: ModelSummary[] = []
  for (const m of manifest.models) {
    const value = decodeObject(m.model, await store.get(m.model), `model ${m.model.toString()}`)
    const base = parseModel(value)
    const stored = adapterFor(formats, base.format)?.readModel(value)
    models.push({
      path: m.path,
      format: base.format,
      model: m.model,
      tensors: base.tensors.length,
      runnable: stored?.runnable ?? false,
      contract: stored?.contract ?? null,
      customObjects: stored?.customObjects ?? []
    })
  }
  return models
}
