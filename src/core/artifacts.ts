/**
 * What the TF.js IOHandlers do (`repo.saveHandler`, `repo.loadHandler`): save a model's artifacts as a
 * folder and commit it; load a version's runnable TF.js model straight from the store (verified).
 */
import { mkdir, writeFile, rename, rm, lstat } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type * as TF from '@tensorflow/tfjs'
import { InvalidArgumentError, InvalidModelError } from '../errors.js'
import { decodeObject } from '../content/block.js'
import { adapterFor } from '../formats/index.js'
import { artifactsToFiles, loadArtifacts, saveResult } from '../formats/tfjs/index.js'
import type { Repo } from './repo.js'
import { commit, type CommitOptions, type CommitResult } from './commit.js'
import { readCommit, readFileBytes } from './objects.js'
import { versionFiles } from './version.js'
import { resolveRev } from './refs.js'
import { ensureLocal } from './partial.js'

/** Writes files into a fresh folder beside `target` and swaps it into place (previous content is removed only after). */
export async function writeFolder (target: string, files: Map<string, Uint8Array>): Promise<void> {
  const tag = randomBytes(4).toString('hex')
  const staging = join(dirname(target), `.${basename(target)}.mvc-new-${tag}`)
  const old = join(dirname(target), `.${basename(target)}.mvc-old-${tag}`)
  await mkdir(staging, { recursive: true })
  try {
    for (const [name, bytes] of files) await writeFile(join(staging, name), bytes, { mode: 0o644 })
  } catch (e) {
    await rm(staging, { recursive: true, force: true })
    throw e
  }
  const existed = await lstat(target).then(() => true, () => false)
  if (existed) await rename(target, old)
  await rename(staging, target)
  if (existed) await rm(old, { recursive: true, force: true })
}

/** Writes a model's artifacts to `path` (tfjs-node's file layout) and commits that folder. */
export async function saveArtifacts (options: Omit<CommitOptions, 'path'> & { path: string, artifacts: TF.io.ModelArtifacts }): Promise<{ result: CommitResult, save: TF.io.SaveResult }> {
  const files = artifactsToFiles(options.artifacts)
  await writeFolder(options.path, files)
  const result = await commit(options)
  return { result, save: saveResult(options.artifacts, files) }
}

/** The artifacts of a version's runnable TF.js model, read from the store. `model` picks one when there are several. */
export async function versionArtifacts (options: { repo: Repo, rev: string, model?: string }): Promise<TF.io.ModelArtifacts> {
  const { store, formats } = options.repo
  await ensureLocal(store, options.rev)
  const commitObj = await readCommit(store, await resolveRev(store, options.rev))
  const manifest = (await versionFiles(store, commitObj)).manifest
  const files = new Map(manifest.entries.map(e => [e.path, e.file]))
  const candidates = options.model !== undefined ? manifest.models.filter(m => m.path === options.model) : manifest.models
  const runnable: string[] = []
  for (const m of candidates) {
    const value = decodeObject(m.model, await store.get(m.model), `model ${m.model.toString()}`) as { format?: unknown }
    const adapter = adapterFor(formats, typeof value?.format === 'string' ? value.format : '')
    if (adapter?.id === 'tfjs' && adapter.readModel(value).runnable) runnable.push(m.path)
  }
  if (runnable.length !== 1) {
    throw new InvalidArgumentError(runnable.length === 0
      ? `v${commitObj.version} has no TF.js model${options.model !== undefined ? ` at ${options.model}` : ''}`
      : `v${commitObj.version} holds ${runnable.length} models (${runnable.join(', ')}); pass { model: <path> }`, { models: runnable })
  }
  const jsonPath = runnable[0]!
  return await loadArtifacts(jsonPath, async rel => {
    const f = files.get(rel)
    if (f === undefined) throw new InvalidModelError(`v${commitObj.version}: ${rel} is referenced by ${jsonPath} but not stored`, { path: rel })
    return await readFileBytes(store, f)
  })
}
