/**
 * The stat cache: for each path mvc has hashed, the stat fields it saw and the resulting file object
 * CID, so that an unchanged file costs one `lstat` instead of a read. Kept under `m/stat/<path>` in the
 * index (JSON: it is a cache, never hashed, and can be dropped at any time).
 *
 * Racy files (modified within RACY_MS of being hashed) are never trusted: a write in the same clock
 * tick as the hash would otherwise go unnoticed, the "racy git" problem.
 */
import type { Stats, BigIntStats } from 'node:fs'
import type { ObjectStore, Transaction } from '../store/interface.js'

import { META } from '../format/keys.js'

const PREFIX = META.stat
const MODEL_PREFIX = META.modelCache
export const RACY_MS = 2000

export interface StatEntry {
  readonly size: number
  readonly mtimeNs: string
  readonly ctimeNs: string
  readonly ino: string
  readonly mode: number
  /** File object CID. */
  readonly file: string
  /** When the entry was recorded, ms since epoch. */
  readonly at: number
}

export type FileStat = Pick<BigIntStats, 'size' | 'mtimeNs' | 'ctimeNs' | 'ino' | 'mode' | 'mtimeMs'>

export function statKey (stats: FileStat): Omit<StatEntry, 'file' | 'at'> {
  return { size: Number(stats.size), mtimeNs: stats.mtimeNs.toString(), ctimeNs: stats.ctimeNs.toString(), ino: stats.ino.toString(), mode: Number(stats.mode) & 0o777 }
}

export class StatCache {
  private readonly updates = new Map<string, StatEntry>()
  /** Paths whose stored entry was trusted by lookup, with its file CID: re-recording them changes nothing. */
  private readonly trusted = new Map<string, string>()
  private readonly models = new Map<string, string>()
  private constructor (private readonly store: ObjectStore, private readonly scope: string) {}

  /** Opens the cache for files under one repository-relative path (its key scope). */
  static for (store: ObjectStore, scope: string): StatCache {
    return new StatCache(store, scope)
  }

  private key (rel: string): string { return PREFIX + this.scope + '\0' + rel }

  /** The cached file CID when the file's stat still matches and the entry is not racy. */
  async lookup (rel: string, stats: FileStat): Promise<string | undefined> {
    const raw = await this.store.readMeta(this.key(rel))
    if (raw === undefined) return undefined
    let e: StatEntry
    try { e = JSON.parse(new TextDecoder().decode(raw)) as StatEntry } catch { return undefined }
    const k = statKey(stats)
    if (e.size !== k.size || e.mtimeNs !== k.mtimeNs || e.ctimeNs !== k.ctimeNs || e.ino !== k.ino || e.mode !== k.mode) return undefined
    if (Number(stats.mtimeMs) >= e.at - RACY_MS) return undefined
    this.trusted.set(rel, e.file)
    return e.file
  }

  record (rel: string, stats: FileStat | Stats, file: string, at = Date.now()): void {
    if (this.trusted.get(rel) === file) return // the stored entry is current: no write
    const s = stats as FileStat
    this.updates.set(rel, { ...statKey(s), file, at })
  }

  /** Model object CID for a model JSON + shard file CIDs combination (see core/models.ts). */
  async lookupModel (key: string): Promise<string | undefined> {
    const raw = await this.store.readMeta(MODEL_PREFIX + key)
    return raw === undefined ? undefined : new TextDecoder().decode(raw)
  }

  recordModel (key: string, model: string): void {
    this.models.set(key, model)
  }

  get pending (): number { return this.updates.size + this.models.size }

  /** Adds the recorded entries to a transaction. */
  flush (tx: Transaction): void {
    const enc = new TextEncoder()
    for (const [rel, e] of this.updates) tx.setMeta(this.key(rel), enc.encode(JSON.stringify(e)))
    this.updates.clear()
    for (const [k, m] of this.models) tx.setMeta(MODEL_PREFIX + k, enc.encode(m))
    this.models.clear()
  }
}
