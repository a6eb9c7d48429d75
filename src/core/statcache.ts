/**
 * The stat cache: for each path mvc has hashed, the stat fields it saw and the resulting file object
 * CID, so that an unchanged file costs one `lstat` instead of a read. Kept under `m/stat/<path>` in the
 * index (JSON: it is a cache, never hashed, and can be dropped at any time).
 *
 * Racy files (modified within RACY_MS of being hashed) are never trusted: a write in the same clock
 * tick as the hash would otherwise go unnoticed, the "racy git" problem. Checkout avoids the window for
 * the files it writes by giving them a modification time before it (`checkoutMtime`), so status right
 * after a checkout trusts every file without reading it; a file anyone writes later gets a current
 * modification time and no longer matches.
 */
import type { Stats, BigIntStats } from 'node:fs'
import type { ObjectStore, Transaction } from '../store/interface.js'

import { META } from '../format/keys.js'

const PREFIX = META.stat
const MODEL_PREFIX = META.modelCache
/** `m/model-cache/file/<file CID>` → the pieces that covered file was made of (JSON, a cache). */
const PIECES_PREFIX = META.modelCache + 'file/'
export const RACY_MS = 2000

/**
 * What a model's covered file was made of when it was stored: its tensor pieces (file offset, length,
 * chunk CID, offset in the chunk, the chunk's length) in file order, and the bytes between them (gap
 * ranges, and the chunks of their content-defined stream). Keyed by the file object's CID; while the
 * file is unchanged, every piece still says truly which bytes of which chunk it holds.
 */
export interface FilePieces {
  readonly pieces: ReadonlyArray<readonly [offset: number, length: number, chunk: string, inChunk: number, chunkLength: number]>
  readonly gaps: ReadonlyArray<readonly [offset: number, length: number]>
  readonly gapChunks: ReadonlyArray<readonly [chunk: string, length: number]>
}

function isFilePieces (v: unknown): v is FilePieces {
  if (v === null || typeof v !== 'object') return false
  const o = v as Record<string, unknown>
  const nums = (a: unknown, n: number, strAt = -1): boolean => Array.isArray(a) && a.length === n && a.every((x, i) => i === strAt ? typeof x === 'string' : Number.isSafeInteger(x) && (x as number) >= 0)
  return Array.isArray(o.pieces) && o.pieces.every(p => nums(p, 5, 2)) &&
    Array.isArray(o.gaps) && o.gaps.every(g => nums(g, 2)) &&
    Array.isArray(o.gapChunks) && o.gapChunks.every(c => nums(c, 2, 0))
}

/**
 * The modification time checkout gives the files it writes into the repository: far enough in the
 * past that an entry recorded right after is not racy. Safe because the files were written from
 * verified objects by this process, and any later write — whatever its clock tick — sets the
 * modification time to now, which differs from this one, so it is never mistaken for unchanged.
 */
export function checkoutMtime (now = Date.now()): number {
  return Math.floor((now - RACY_MS - 1000) / 1000) * 1000
}

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
  private readonly pieces = new Map<string, FilePieces>()
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

  /** The pieces a covered file object was made of (see FilePieces), when recorded. */
  async lookupPieces (fileCid: string): Promise<FilePieces | undefined> {
    const raw = await this.store.readMeta(PIECES_PREFIX + fileCid)
    if (raw === undefined) return undefined
    try {
      const v: unknown = JSON.parse(new TextDecoder().decode(raw))
      return isFilePieces(v) ? v : undefined
    } catch {
      return undefined
    }
  }

  recordPieces (fileCid: string, pieces: FilePieces): void {
    this.pieces.set(fileCid, pieces)
  }

  get pending (): number { return this.updates.size + this.models.size + this.pieces.size }

  /** Adds the recorded entries to a transaction. */
  flush (tx: Transaction): void {
    const enc = new TextEncoder()
    for (const [rel, e] of this.updates) tx.setMeta(this.key(rel), enc.encode(JSON.stringify(e)))
    this.updates.clear()
    for (const [k, m] of this.models) tx.setMeta(MODEL_PREFIX + k, enc.encode(m))
    this.models.clear()
    for (const [k, p] of this.pieces) tx.setMeta(PIECES_PREFIX + k, enc.encode(JSON.stringify(p)))
    this.pieces.clear()
  }
}
