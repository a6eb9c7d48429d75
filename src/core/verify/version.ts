/**
 * Verifying a version: from the store (`mvc verify`) or from the files a checkout just wrote.
 */
import { join, dirname } from 'node:path'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import type { CID } from 'multiformats/cid'
import { InvalidArgumentError, VerificationFailedError, VerificationUnavailableError } from '../../errors.js'
import { decodeObject } from '../../content/block.js'
import type { Manifest } from '../../format/objects.js'
import type { Tolerance, VerificationRecord } from '../../format/verification.js'
import { adapterFor } from '../../formats/index.js'
import type { ModelFormat } from '../../formats/interface.js'
import type { ObjectStore } from '../../store/interface.js'
import { readCommit, readFileBytes, readManifest } from '../objects.js'
import { resolveRev } from '../refs.js'
import { materialize } from '../materialize.js'
import { checkVerification, type VerificationReport } from './check.js'
import { diskRanges, storeRanges } from './files.js'
import type { VerifyProgress } from './record.js'

export interface CheckSettings {
  /** Runtime backend; default: the runtime's best available. */
  readonly backend?: string
  /** Overrides the tolerance recorded at commit. */
  readonly tolerance?: Tolerance
  /** Run with this runtime when it can; default: the one that recorded each model's outputs. */
  readonly runtime?: string
  /** The Python interpreter for the Python runtime. */
  readonly python?: string
  /** Files registering custom classes. */
  readonly customObjects?: readonly string[]
  /** Called as each model is loaded and run. */
  readonly onProgress?: (p: VerifyProgress) => void
}

function settingsOf (s: CheckSettings): CheckSettings {
  return { backend: s.backend, tolerance: s.tolerance, runtime: s.runtime, python: s.python, customObjects: s.customObjects, onProgress: s.onProgress }
}

/** The format and adapter of each model of a manifest, by main file path. */
export async function modelsOf (store: ObjectStore, manifest: Manifest, formats: readonly ModelFormat[]): Promise<Map<string, { format: string, adapter: ModelFormat }>> {
  const out = new Map<string, { format: string, adapter: ModelFormat }>()
  for (const m of manifest.models) {
    const value = decodeObject(m.model, await store.get(m.model), `model ${m.model.toString()}`) as { format?: unknown }
    const format = typeof value?.format === 'string' ? value.format : ''
    const adapter = adapterFor(formats, format)
    if (adapter !== undefined) out.set(m.path, { format, adapter })
  }
  return out
}

/** Throws VERIFICATION_FAILED (carrying the report) when some output differs beyond the tolerance. */
export function failIfFailed (report: VerificationReport, what: string): void {
  if (report.pass) return
  const worst = report.models.flatMap(m => m.outputs.filter(o => !o.pass).map(o =>
    `${m.path} output ${o.name}: ${o.missing !== undefined ? `missing in ${o.missing === 'actual' ? 'the model now' : 'the record'}` : o.shapeMismatch !== undefined ? `shape [${o.shapeMismatch.actual.join(',')}], recorded [${o.shapeMismatch.expected.join(',')}]` : `max_abs_diff ${o.maxAbsDiff.toExponential(3)} (${o.rule}, atol ${o.atol}, rtol ${o.rtol})${o.note !== undefined ? `: ${o.note}` : ''}`}`))
  throw new VerificationFailedError(
    `${what} does not behave as recorded (backend ${report.backend}, recorded on ${report.recordedBackend}): ${worst.join('; ')}`,
    { report })
}

/** Checks the files a checkout wrote (`target`) against a commit's record; throws on failure. */
export async function verifyCheckout (options: CheckSettings & { store: ObjectStore, record: VerificationRecord, manifest: Manifest, target: string, version: number, formats: readonly ModelFormat[] }): Promise<VerificationReport> {
  const base = options.manifest.kind === 'file' ? dirname(options.target) : options.target
  const report = await checkVerification({
    ...settingsOf(options),
    store: options.store,
    record: options.record,
    models: await modelsOf(options.store, options.manifest, options.formats),
    readFile: async rel => await readFile(join(base, rel)),
    dir: async () => base,
    files: diskRanges(base)
  })
  failIfFailed(report, `v${options.version}`)
  return report
}

/** Loads a version's models from the store (not the working folder), runs the recorded inputs and compares outputs. */
export async function verifyVersion (options: CheckSettings & { store: ObjectStore, rev: string, formats: readonly ModelFormat[] }): Promise<VerificationReport & { cid: CID, version: number }> {
  const { store } = options
  const cid = await resolveRev(store, options.rev)
  const commit = await readCommit(store, cid)
  const manifest = await readManifest(store, commit.model)
  const record = commit.verification
  if (record === null) {
    throw new VerificationUnavailableError(`v${commit.version} has no verification record (it holds no TF.js model, or was committed with verification off)`, { version: commit.version })
  }
  const files = new Map(manifest.entries.map(e => [e.path, e.file]))
  // Runtimes that load from a folder (another process) get the version rebuilt in a temporary one.
  let temp: string | undefined
  try {
    const report = await checkVerification({
      ...settingsOf(options),
      store,
      record,
      models: await modelsOf(store, manifest, options.formats),
      readFile: async rel => {
        const f = files.get(rel)
        if (f === undefined) throw new InvalidArgumentError(`v${commit.version} has no file ${rel}`, { path: rel })
        return await readFileBytes(store, f)
      },
      files: storeRanges(store, files, `v${commit.version}`),
      dir: async () => {
        if (temp === undefined) {
          temp = await mkdtemp(join(tmpdir(), 'mvc-verify-'))
          await materialize({ store, manifest, target: manifest.kind === 'file' ? join(temp, manifest.entries[0]!.path) : join(temp, 'v') })
        }
        return manifest.kind === 'file' ? temp : join(temp, 'v')
      }
    })
    failIfFailed(report, `v${commit.version}`)
    if (!report.verified) {
      const why = report.models.map(m => `${m.path}: ${m.reason ?? 'nothing recorded'}`)
      throw new VerificationUnavailableError(
        `v${commit.version} could not be verified: ${why.length > 0 ? why.join('; ') : 'no model with recorded outputs'}`,
        { report: { ...report, cid: cid.toString(), version: commit.version } })
    }
    return { ...report, cid, version: commit.version }
  } finally {
    if (temp !== undefined) await rm(temp, { recursive: true, force: true })
  }
}
