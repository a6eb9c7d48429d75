/**
 * What the UI shows of the history: the version list with its graph, one version in full, and the
 * metrics and params of every version as columns. Reads only.
 *
 * Commits are immutable, so they are kept in memory once read (a few hundred bytes each: 10,000
 * versions are a few MB); refs are read again for every answer, since names move.
 */
import { versionFiles } from '../version.js'
import { CID } from 'multiformats/cid'
import { decodeObject } from '../../content/block.js'
import { isMvcError, ObjectNotFoundError } from '../../errors.js'
import type { CommitObject, TensorContract } from '../../format/objects.js'
import { parseTensor } from '../../format/objects.js'
import type { ModelFormat } from '../../formats/interface.js'
import { META } from '../../format/keys.js'
import type { ObjectStore } from '../../store/interface.js'
import { namesByCommit } from '../history.js'
import { readCommit } from '../objects.js'
import { ALIASES, HEADS, TAGS, VERSIONS, headBranch, resolveRev } from '../refs.js'
import { modelSummaries } from '../show.js'
import { mvcVersion } from '../lineage/environment.js'
import { GraphLayout } from './graph.js'
import type { VersionRef } from './storage.js'
import type {
  GraphEdge, MetricsResponse, RecordedTensor, Scalar, SummaryResponse, TensorContractJson, VerificationJson, VersionDetail, VersionRow, VersionsPage
} from './types.js'

export const MAX_PAGE = 500

function notFound (err: unknown): boolean {
  return isMvcError(err) && err.code === ObjectNotFoundError.code
}

function scalars (r: Readonly<Record<string, unknown>>): Record<string, Scalar> {
  const out: Record<string, Scalar> = {}
  for (const [k, v] of Object.entries(r)) {
    out[k] = v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v)
  }
  return out
}

function contractJson (t: TensorContract): TensorContractJson {
  return { name: t.name, dtype: t.dtype, shape: [...t.shape] }
}

function verificationState (c: CommitObject): VersionRow['verification'] {
  const v = c.verification
  if (v === null || v.models.length === 0) return 'none'
  const recorded = v.models.filter(m => m.status === 'recorded').length
  return recorded === v.models.length ? 'recorded' : recorded === 0 ? 'skipped' : 'partial'
}

/** Commits read at once when many are needed (LevelDB answers them on its thread pool). */
const READ_BATCH = 64

export class HistoryView {
  private readonly commits = new Map<string, CommitObject>()
  /** Parsing a CID string costs ~30 µs: 10,000 versions would cost 0.3 s per request. */
  private readonly parsed = new Map<string, CID>()
  /**
   * The version list of each opened store. While the UI has the store open no other process can
   * write to it (LevelDB's lock), so the list cannot change until the store is closed and opened again.
   */
  private readonly listed = new WeakMap<ObjectStore, VersionRef[]>()
  private layout: { key: string, graph: GraphLayout, order: VersionRef[] } | undefined
  private names: { key: string, metrics: Array<{ name: string, numeric: number }>, params: Array<{ name: string, numeric: number }> } | undefined

  constructor (private readonly root: string, private readonly formats: readonly ModelFormat[]) {}

  private cid (s: string): CID {
    let c = this.parsed.get(s)
    if (c === undefined) { c = CID.parse(s); this.parsed.set(s, c) }
    return c
  }

  /** Every version, ascending. */
  async versions (store: ObjectStore): Promise<VersionRef[]> {
    const known = this.listed.get(store)
    if (known !== undefined) return known
    const refs = await store.listRefs(VERSIONS)
    const out = refs.map(([name, v]) => ({ version: Number(name.slice(VERSIONS.length)), cid: this.cid(v) }))
      .sort((a, b) => a.version - b.version)
    this.listed.set(store, out)
    return out
  }

  /** Identifies a version list: versions are written once and only added, so count and ends suffice. */
  private static key (versions: readonly VersionRef[]): string {
    return `${versions.length}:${versions[0]?.cid.toString() ?? ''}:${versions[versions.length - 1]?.cid.toString() ?? ''}`
  }

  async commit (store: ObjectStore, cid: CID): Promise<CommitObject> {
    const key = cid.toString()
    let c = this.commits.get(key)
    if (c === undefined) {
      c = await readCommit(store, cid)
      this.commits.set(key, c)
    }
    return c
  }

  private async all (store: ObjectStore, versions: readonly VersionRef[]): Promise<CommitObject[]> {
    const missing = versions.filter(v => !this.commits.has(v.cid.toString()))
    for (let i = 0; i < missing.length; i += READ_BATCH) {
      await Promise.all(missing.slice(i, i + READ_BATCH).map(async v => await this.commit(store, v.cid)))
    }
    return versions.map(v => this.commits.get(v.cid.toString())!)
  }

  async summary (store: ObjectStore): Promise<SummaryResponse> {
    const versions = await this.versions(store)
    const key = HistoryView.key(versions)
    if (this.names?.key !== key) {
      const commits = await this.all(store, versions)
      const count = (field: 'metrics' | 'params'): Array<{ name: string, numeric: number }> => {
        const n = new Map<string, number>()
        for (const c of commits) {
          for (const [k, v] of Object.entries(c[field])) n.set(k, (n.get(k) ?? 0) + (typeof v === 'number' ? 1 : 0))
        }
        return [...n].map(([name, numeric]) => ({ name, numeric })).sort((a, b) => a.name.localeCompare(b.name))
      }
      this.names = { key, metrics: count('metrics'), params: count('params') }
    }
    const { metrics, params } = this.names
    const head = (await headBranch(store)).slice(HEADS.length)
    const named = async (prefix: string): Promise<Array<{ name: string, cid: string, version: number }>> => {
      const out = []
      for (const [ref, value] of await store.listRefs(prefix)) {
        out.push({ name: ref.slice(prefix.length), cid: value, version: (await this.commit(store, this.cid(value))).version })
      }
      return out.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))
    }
    return {
      root: this.root,
      versions: versions.length,
      head,
      branches: (await named(HEADS)).map(b => ({ ...b, current: b.name === head })),
      tags: await named(TAGS),
      aliases: await named(ALIASES),
      metrics,
      params,
      partial: (await store.readMeta(META.partial)) !== undefined,
      mvc: mvcVersion()
    }
  }

  /** The graph laid out down to row `rows` (newest first); kept while the versions stay the same. */
  private async graphTo (store: ObjectStore, versions: readonly VersionRef[], rows: number): Promise<{ graph: GraphLayout, order: VersionRef[] }> {
    const key = HistoryView.key(versions)
    if (this.layout?.key !== key) {
      const known = new Set(versions.map(v => v.cid.toString()))
      this.layout = { key, graph: new GraphLayout(id => known.has(id)), order: [...versions].reverse() }
    }
    const l = this.layout
    const upTo = Math.min(rows, l.order.length)
    if (l.graph.cells.length < upTo) {
      const next = l.order.slice(l.graph.cells.length, upTo)
      const commits = await this.all(store, next)
      next.forEach((v, i) => { l.graph.add({ id: v.cid.toString(), parents: commits[i]!.parents.map(p => p.toString()) }) })
    }
    return { graph: l.graph, order: l.order }
  }

  async versionsPage (store: ObjectStore, offset: number, limit: number): Promise<VersionsPage> {
    const versions = await this.versions(store)
    const total = versions.length
    const from = Math.min(offset, total)
    const to = Math.min(from + limit, total)
    const { graph, order } = await this.graphTo(store, versions, to)
    const names = await namesByCommit(store)
    const versionOf = new Map(versions.map(v => [v.cid.toString(), v.version]))
    const rows: VersionRow[] = []
    let lanes = 0
    for (let i = from; i < to; i++) {
      const v = order[i]!
      const c = await this.commit(store, v.cid)
      const cell = graph.cells[i]!
      lanes = Math.max(lanes, cell.lane + 1, ...cell.down.map(([a, b]) => Math.max(a, b) + 1))
      rows.push({
        version: c.version,
        cid: v.cid.toString(),
        parents: c.parents.map(p => versionOf.get(p.toString()) ?? 0),
        title: c.message.split('\n')[0] ?? '',
        author: c.author.name,
        timestamp: c.timestamp,
        path: c.paths.map(p => p.path).join(', '),
        names: names.get(v.cid.toString()) ?? [],
        metrics: scalars(c.metrics),
        params: scalars(c.params),
        verification: verificationState(c),
        graph: cell
      })
    }
    const incoming: GraphEdge[] = from > 0 && from <= graph.cells.length ? [...graph.cells[from - 1]!.down] : []
    for (const [a, b] of incoming) lanes = Math.max(lanes, a + 1, b + 1)
    return { total, offset: from, limit, rows, incoming, lanes }
  }

  async detail (store: ObjectStore, rev: string): Promise<VersionDetail> {
    const cid = await resolveRev(store, rev)
    const c = await this.commit(store, cid)
    const versions = await this.versions(store)
    const commits = await this.all(store, versions)
    const key = cid.toString()
    const children = versions.filter((_, i) => commits[i]!.parents.some(p => p.toString() === key)).map(v => ({ version: v.version, cid: v.cid.toString() }))
    const parents = []
    for (const p of c.parents) parents.push({ version: (await this.commit(store, p)).version, cid: p.toString() })
    const names = (await namesByCommit(store)).get(key) ?? []

    let files: VersionDetail['files'] = null
    let models: VersionDetail['models'] = null
    let missing: string | null = null
    let bytes = 0
    try {
      const manifest = (await versionFiles(store, c)).manifest
      files = manifest.entries.map(e => ({ path: e.path, mode: e.mode, size: e.size, cid: e.file.toString() }))
      bytes = manifest.entries.reduce((n, e) => n + e.size, 0)
      models = (await modelSummaries(store, this.formats, manifest)).map(m => ({
        path: m.path,
        format: m.format,
        cid: m.model.toString(),
        tensors: m.tensors,
        runnable: m.runnable,
        contract: m.contract === null ? null : { inputs: m.contract.inputs.map(contractJson), outputs: m.contract.outputs.map(contractJson) },
        customObjects: [...m.customObjects]
      }))
    } catch (err) {
      if (!notFound(err)) throw err
      missing = `the content of v${c.version} is not in this repository (a partial clone fetches it on first use: \`mvc show v${c.version}\` or \`mvc checkout v${c.version}\`)`
    }

    let verification: VerificationJson | null = null
    if (c.verification !== null) {
      const tensors = async (cids: readonly CID[]): Promise<RecordedTensor[]> => {
        const out: RecordedTensor[] = []
        for (const t of cids) {
          try {
            const o = parseTensor(decodeObject(t, await store.get(t), `tensor ${t.toString()}`))
            out.push({ name: o.name, dtype: o.dtype, shape: [...o.shape], cid: t.toString() })
          } catch (err) {
            if (!notFound(err)) throw err
            out.push({ name: '(not in this repository)', dtype: '', shape: [], cid: t.toString() })
          }
        }
        return out
      }
      const ms: Array<VerificationJson['models'][number]> = []
      for (const m of c.verification.models) {
        if (m.status === 'skipped') ms.push({ path: m.path, status: 'skipped', reason: m.reason })
        else {
          // Generated reference inputs are not stored: the record keeps their generator, seed and specs.
          const generated: RecordedTensor[] = (m.reference?.generated?.specs ?? []).map(s => ({ name: s.name, dtype: s.dtype, shape: [...s.shape], cid: null }))
          ms.push({ path: m.path, status: 'recorded', runtime: m.runtime ?? null, inputs: [...await tensors(m.inputs), ...generated], outputs: await tensors(m.outputs) })
        }
      }
      const v = c.verification
      verification = { backend: v.backend, tfjsVersion: v.tfjsVersion, tolerance: { ...v.tolerance }, models: ms }
    }

    return {
      version: c.version,
      cid: key,
      parents,
      children,
      names,
      message: c.message,
      author: { ...c.author },
      timestamp: c.timestamp,
      path: c.paths.map(p => p.path).join(', '),
      manifest: c.paths.map(p => p.manifest.toString()).join(', '),
      data: c.data === null ? null : c.data.kind === 'ref' ? { kind: 'ref', ref: c.data.ref } : { ...c.data, manifest: c.data.manifest.toString() },
      code: c.code === null ? null : c.code.kind === 'none' ? { ...c.code } : { ...c.code, dirtyPaths: [...c.code.dirtyPaths] },
      params: scalars(c.params),
      metrics: scalars(c.metrics),
      environment: c.environment === null ? null : { ...c.environment },
      verification,
      inputs: c.inputs === undefined ? null : c.inputs.map(contractJson),
      files,
      models,
      missing,
      bytes
    }
  }

  /** Metrics and params of every version (or of those `rev` descends from), ascending. */
  async metrics (store: ObjectStore, rev?: string): Promise<MetricsResponse> {
    let versions = await this.versions(store)
    if (rev !== undefined) {
      const reach = new Set<string>()
      const stack = [await resolveRev(store, rev)]
      while (stack.length > 0) {
        const cid = stack.pop()!
        const k = cid.toString()
        if (reach.has(k)) continue
        reach.add(k)
        stack.push(...(await this.commit(store, cid)).parents)
      }
      versions = versions.filter(v => reach.has(v.cid.toString()))
    }
    const commits = await this.all(store, versions)
    const columns = (field: 'metrics' | 'params'): Record<string, Scalar[]> => {
      const names = new Set<string>()
      for (const c of commits) for (const k of Object.keys(c[field])) names.add(k)
      const out: Record<string, Scalar[]> = {}
      for (const n of [...names].sort()) {
        out[n] = commits.map(c => {
          const v = c[field][n]
          return v === undefined ? null : v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : JSON.stringify(v)
        })
      }
      return out
    }
    return {
      versions: versions.map(v => v.version),
      titles: commits.map(c => c.message.split('\n')[0] ?? ''),
      metrics: columns('metrics'),
      params: columns('params')
    }
  }
}
