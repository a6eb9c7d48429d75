/**
 * Verifying a version: from the store (`mvc verify`) or from the files a checkout just wrote.
 */
import { join } from 'node:path'
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
import { readCommit, readFileBytes } from '../objects.js'
import { versionFiles } from '../version.js'
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

/**
 * A version's record, split by tracked path: for a version of several paths, models are named by
 * repository-relative paths (`model/model.json`); each part gets its own models, named relative to it.
 */
function splitRecord (record: VerificationRecord, parts: ReadonlyArray<{ path: string, manifest: Manifest }>, prefixed: boolean): VerificationRecord[] {
  if (!prefixed) return [record]
  return parts.map(part => {
    const within = (p: string): string | undefined => part.manifest.kind === 'file'
      ? (p === part.path ? part.manifest.entries[0]!.path : undefined)
      : (p.startsWith(part.path + '/') ? p.slice(part.path.length + 1) : undefined)
    const models = record.models.flatMap(m => { const r = within(m.path); return r === undefined ? [] : [{ ...m, path: r }] })
    return { ...record, models }
  })
}

/** The reports of several parts as one, models named by repository-relative path again. */
function mergeReports (reports: ReadonlyArray<{ report: VerificationReport, part: { path: string, manifest: Manifest } }>, prefixed: boolean): VerificationReport {
  if (!prefixed) return reports[0]!.report
  const name = (part: { path: string, manifest: Manifest }, p: string): string => part.manifest.kind === 'file' ? part.path : `${part.path}/${p}`
  const models = reports.flatMap(r => r.report.models.map(m => ({ ...m, path: name(r.part, m.path) })))
  const ran = reports.find(r => r.report.backend !== 'none')
  return {
    backend: ran?.report.backend ?? 'none',
    recordedBackend: reports[0]!.report.recordedBackend,
    tolerance: reports[0]!.report.tolerance,
    pass: reports.every(r => r.report.pass),
    verified: reports.some(r => r.report.verified),
    models
  }
}

export interface CheckedPart {
  readonly path: string
  readonly manifest: Manifest
  /** The folder holding the part's files on disk (a checkout's staging folder). */
  readonly dir: string
}

/** Checks the files a checkout staged against a commit's record; throws VERIFICATION_FAILED on a difference. */
export async function verifyCheckout (options: CheckSettings & { store: ObjectStore, record: VerificationRecord, parts: readonly CheckedPart[], prefixed: boolean, version: number, formats: readonly ModelFormat[] }): Promise<VerificationReport> {
  const records = splitRecord(options.record, options.parts, options.prefixed)
  const reports: Array<{ report: VerificationReport, part: CheckedPart }> = []
  for (const [i, part] of options.parts.entries()) {
    const record = records[i]!
    if (options.prefixed && record.models.length === 0) continue
    const report = await checkVerification({
      ...settingsOf(options),
      store: options.store,
      record,
      models: await modelsOf(options.store, part.manifest, options.formats),
      readFile: async rel => await readFile(join(part.dir, rel)),
      dir: async () => part.dir,
      files: diskRanges(part.dir)
    })
    reports.push({ report, part })
  }
  const report = reports.length === 0
    ? { backend: 'none', recordedBackend: options.record.backend, tolerance: options.tolerance ?? options.record.tolerance, pass: true, verified: false, models: [] }
    : mergeReports(reports, options.prefixed)
  failIfFailed(report, `v${options.version}`)
  return report
}

/** Loads a version's models from the store (not the working folder), runs the recorded inputs and compares outputs. */
export async function verifyVersion (options: CheckSettings & { store: ObjectStore, rev: string, formats: readonly ModelFormat[] }): Promise<VerificationReport & { cid: CID, version: number }> {
  const { store } = options
  const cid = await resolveRev(store, options.rev)
  const commit = await readCommit(store, cid)
  const record = commit.verification
  if (record === null) {
    throw new VerificationUnavailableError(`v${commit.version} has no verification record (it holds no TF.js model, or was committed with verification off)`, { version: commit.version })
  }
  const version = await versionFiles(store, commit)
  const records = splitRecord(record, version.parts, version.prefixed)
  // Runtimes that load from a folder (another process) get the part rebuilt in a temporary one.
  const temps: string[] = []
  try {
    const reports: Array<{ report: VerificationReport, part: { path: string, manifest: Manifest } }> = []
    for (const [i, part] of version.parts.entries()) {
      const partRecord = records[i]!
      if (version.prefixed && partRecord.models.length === 0) continue
      const manifest = part.manifest
      const files = new Map(manifest.entries.map(e => [e.path, e.file]))
      let dir: string | undefined
      const report = await checkVerification({
        ...settingsOf(options),
        store,
        record: partRecord,
        models: await modelsOf(store, manifest, options.formats),
        readFile: async rel => {
          const f = files.get(rel)
          if (f === undefined) throw new InvalidArgumentError(`v${commit.version} has no file ${rel}`, { path: rel })
          return await readFileBytes(store, f)
        },
        files: storeRanges(store, files, `v${commit.version}`),
        dir: async () => {
          if (dir === undefined) {
            const temp = await mkdtemp(join(tmpdir(), 'mvc-verify-'))
            temps.push(temp)
            await materialize({ store, manifest, target: manifest.kind === 'file' ? join(temp, manifest.entries[0]!.path) : join(temp, 'v') })
            dir = manifest.kind === 'file' ? temp : join(temp, 'v')
          }
          return dir
        }
      })
      reports.push({ report, part })
    }
    const report: VerificationReport = reports.length === 0
      ? { backend: 'none', recordedBackend: record.backend, tolerance: options.tolerance ?? record.tolerance, pass: true, verified: false, models: [] }
      : mergeReports(reports, version.prefixed)
    failIfFailed(report, `v${commit.version}`)
    if (!report.verified) {
      const why = report.models.map(m => `${m.path}: ${m.reason ?? 'nothing recorded'}`)
      throw new VerificationUnavailableError(
        `v${commit.version} could not be verified: ${why.length > 0 ? why.join('; ') : 'no model with recorded outputs'}`,
        { report: { ...report, cid: cid.toString(), version: commit.version } })
    }
    return { ...report, cid, version: commit.version }
  } finally {
    for (const t of temps) await rm(t, { recursive: true, force: true })
  }
}
