/**
 * A version as one CAR file (docs/design.md, "CAR files"): `mvc export` writes a CARv1 whose root is
 * the commit and whose blocks are every object the version needs — and, with `history`, its ancestors'
 * — plus the signatures of the commits it holds; `mvc import` reads one back.
 *
 * Export streams: blocks are read from the store one at a time (each re-hashed by the store) and
 * written in depth-first order from the commit (commit, manifest, file, its chunks, next file, …), so a
 * reader can walk the DAG as it streams; memory holds the set of CIDs written and the walk's stack,
 * never the content.
 *
 * Import is all or nothing: every block is re-hashed and staged in one store transaction (chunks go
 * to the transaction's pack file as they arrive); then the closure of each root is checked — every
 * link must be a block of the file or an object already stored (a commit's parents may be absent:
 * the commit is then imported "shallow") — and only then are refs set and the transaction committed.
 * A CAR that is corrupt, truncated or incomplete aborts the transaction: no object or ref becomes
 * visible (sealed packs of an aborted transaction stay as unreferenced files, as for any aborted
 * transaction; `mvc fsck` lists them).
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { rename, rm, stat } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { randomBytes } from 'node:crypto'
import type { CarBlockIterator } from '@ipld/car'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { DAG_CBOR, RAW, verifyBlock } from '../content/block.js'
import { CorruptObjectError, InputNotFoundError, InvalidObjectError, ObjectNotFoundError, isMvcError } from '../errors.js'
import { HEAD, importRef, shallowKey, signatureRef, signaturesOf, symbolicTarget, utf8, versionRef } from '../format/keys.js'
import { objectLinks, type LinkKind } from '../format/links.js'
import { parseCommit, parseSignature } from '../format/objects.js'
import type { ObjectStore } from '../store/interface.js'
import { nextVersion, resolveRev, setNextVersion } from './refs.js'
import { requireContent } from './lifecycle.js'
import { checkSignatureObject } from './sign.js'

export type CarProgress = (p: { readonly blocks: number, readonly bytes: number }) => void

// ----------------------------------------------------------------------------------------- export

export interface ExportOperation {
  readonly store: ObjectStore
  readonly rev: string
  /** Absolute path of the CAR file to write (written to a temporary name, then renamed). */
  readonly out: string
  /** Include every ancestor commit and its content. */
  readonly history?: boolean
  /** Include the commits' signatures (default true). */
  readonly signatures?: boolean
  readonly onProgress?: CarProgress
}

export interface ExportResult {
  readonly cid: CID
  readonly version: number
  readonly out: string
  readonly blocks: number
  /** Bytes of block data (without CAR framing). */
  readonly bytes: number
  /** Size of the file written. */
  readonly fileBytes: number
  readonly commits: number
  readonly signatures: number
}

interface WalkItem { readonly cid: CID, readonly kind: LinkKind }

export async function exportCar (options: ExportOperation): Promise<ExportResult> {
  const { store } = options
  const root = await resolveRev(store, options.rev)
  const rootCommit = parseCommit(dagCbor.decode(await store.get(root)))
  const history = options.history === true
  const tmp = join(dirname(options.out), `.${basename(options.out)}.mvc-tmp-${randomBytes(4).toString('hex')}`)
  const { CarWriter } = await import('@ipld/car') // loaded only by export and import
  const { writer, out } = CarWriter.create([root])
  const sink = pipeline(Readable.from(out), createWriteStream(tmp, { flags: 'wx' }))
  sink.catch(() => {}) // awaited below; an early failure must not be unhandled
  let blocks = 0
  let bytes = 0
  let commits = 0
  let signatures = 0
  /** CIDs written; `expanded` for those whose links were followed (a data manifest is written but not descended into). */
  const written = new Map<string, { expanded: boolean }>()
  const commitKeys: CID[] = []
  try {
    const put = async (cid: CID, b: Uint8Array): Promise<void> => {
      await writer.put({ cid, bytes: b })
      blocks++
      bytes += b.length
      options.onProgress?.({ blocks, bytes })
    }
    // Depth-first, parents before children; children in link order.
    const stack: WalkItem[] = [{ cid: root, kind: 'parent' }]
    while (stack.length > 0) {
      const { cid, kind } = stack.pop()!
      const key = cid.toString()
      const seen = written.get(key)
      const descend = kind !== 'data'
      if (seen !== undefined && (seen.expanded || !descend)) continue
      let b: Uint8Array | undefined
      if (seen === undefined) {
        b = await store.get(cid)
        await put(cid, b)
        written.set(key, { expanded: false })
      }
      if (!descend || cid.code !== DAG_CBOR) continue
      b ??= await store.get(cid)
      written.get(key)!.expanded = true
      const value = dagCbor.decode<unknown>(b)
      if ((value as { type?: unknown }).type === 'mvc/commit') {
        // A version whose content gc removed cannot be exported whole: say so rather than OBJECT_NOT_FOUND.
        await requireContent(store, cid, cid.equals(root) ? options.rev : cid.toString())
        commits++
        commitKeys.push(cid)
      }
      const children = objectLinks(value).filter(l => l.kind !== 'parent' || history)
      for (let i = children.length - 1; i >= 0; i--) stack.push({ cid: children[i]!.cid, kind: children[i]!.kind })
    }
    if (options.signatures !== false) {
      for (const c of commitKeys) {
        for (const [, v] of await store.listRefs(signaturesOf(c.toString()))) {
          const sig = CID.parse(v)
          if (written.has(v)) continue
          await put(sig, await store.get(sig))
          written.set(v, { expanded: true })
          signatures++
        }
      }
    }
    await writer.close()
    await sink
    await rename(tmp, options.out)
  } catch (err) {
    await writer.close().catch(() => {})
    await sink.catch(() => {})
    await rm(tmp, { force: true })
    throw err
  }
  const fileBytes = (await stat(options.out)).size
  return { cid: root, version: rootCommit.version, out: options.out, blocks, bytes, fileBytes, commits, signatures }
}

// ----------------------------------------------------------------------------------------- import

export interface ImportOperation {
  readonly store: ObjectStore
  /** Absolute path of the CAR file. */
  readonly file: string
  readonly onProgress?: CarProgress
}

export interface ImportedCommit {
  readonly cid: CID
  readonly version: number
  /** The ref it is known by: `refs/versions/<n>`, or `refs/imports/<cid>` when its number could not be used. */
  readonly ref: string
  /** Its parents are not in this repository (imported without `--history`). */
  readonly shallow: boolean
}

export interface ImportResult {
  readonly roots: CID[]
  readonly blocks: number
  readonly bytes: number
  /** Blocks new to this repository. */
  readonly newBlocks: number
  readonly commits: ImportedCommit[]
  readonly signatures: number
  /** Blocks of the file that no root reaches (stored anyway: they were verified). */
  readonly unreachable: number
  /** The branch set to the imported root, when the current branch had no commits. */
  readonly branch?: string
}

function importError (file: string, why: string, data: Record<string, unknown> = {}): InvalidObjectError {
  return new InvalidObjectError(`cannot import ${file}: ${why}; nothing was imported`, { file, ...data })
}

export async function importCar (options: ImportOperation): Promise<ImportResult> {
  const { store, file } = options
  const st = await stat(file).catch(() => undefined)
  if (st === undefined || !st.isFile()) throw new InputNotFoundError(`${file} is not a file`, { path: file })
  const tx = await store.transaction()
  try {
    // 1. Every block: re-hashed, staged. Structured blocks' links are kept for the closure check.
    let iter: CarBlockIterator
    try {
      const { CarBlockIterator } = await import('@ipld/car')
      iter = await CarBlockIterator.fromIterable(createReadStream(file, { highWaterMark: 1 << 20 }))
    } catch (e) { throw importError(file, `it is not a CAR file (${(e as Error).message})`) }
    const roots = await iter.getRoots()
    if (roots.length === 0) throw importError(file, 'its header names no root')
    const inFile = new Map<string, { links?: Array<{ cid: CID, kind: LinkKind }>, value?: unknown }>()
    let blocks = 0
    let bytes = 0
    let newBlocks = 0
    try {
      for await (const { cid: rawCid, bytes: b } of iter) {
        const cid = CID.asCID(rawCid) ?? CID.decode(rawCid.bytes)
        try { verifyBlock(cid, b, file) } catch (e) {
          if (isMvcError(e) && e.code === 'CORRUPT_OBJECT') throw new CorruptObjectError(`cannot import ${file}: block ${cid.toString()} (${b.length} bytes) does not hash to its CID; the file is damaged, nothing was imported`, { file, cid: cid.toString() })
          throw e
        }
        const key = cid.toString()
        blocks++
        bytes += b.length
        if (cid.code === RAW) {
          if (await tx.putRaw(cid, b)) newBlocks++
          inFile.set(key, {})
        } else {
          const value = dagCbor.decode<unknown>(b)
          if (await tx.putObject(cid, b)) newBlocks++
          // Only commits and signatures are looked at again; other objects keep just their links.
          const type = (value as { type?: unknown } | null)?.type
          const keep = type === 'mvc/commit' || type === 'mvc/signature'
          inFile.set(key, { links: objectLinks(value).map(l => ({ cid: l.cid, kind: l.kind })), ...(keep ? { value } : { value: { type } }) })
        }
        options.onProgress?.({ blocks, bytes })
      }
    } catch (e) {
      if (isMvcError(e)) throw e
      throw importError(file, `it is truncated or malformed after ${blocks} blocks (${(e as Error).message})`, { blocks })
    }

    // 2. The closure of every root, and of every signature of a commit in it.
    const reached = new Set<string>()
    const expanded = new Set<string>()
    const shallowCommits = new Set<string>()
    const commitsFound = new Map<string, number>()
    const have = async (cid: CID): Promise<boolean> => inFile.has(cid.toString()) || await store.has(cid)
    const walk = async (start: CID): Promise<void> => {
      const stack: Array<{ cid: CID, kind: LinkKind, from: string }> = [{ cid: start, kind: 'parent', from: 'the header' }]
      while (stack.length > 0) {
        const { cid, kind, from } = stack.pop()!
        const key = cid.toString()
        if (expanded.has(key) || (kind === 'data' && reached.has(key))) continue
        const entry = inFile.get(key)
        if (entry === undefined) {
          // Stored already: by I1 its closure is stored too.
          if (await store.has(cid)) { reached.add(key); continue }
          if (kind === 'parent' && from !== 'the header') { shallowCommits.add(from); continue }
          throw importError(file, `object ${key} (linked from ${from}) is neither in the file nor in this repository`, { missing: key, from })
        }
        reached.add(key)
        if (kind === 'data' || entry.links === undefined) continue // a data manifest's files are never stored
        expanded.add(key)
        const v = entry.value as { type?: unknown } | undefined
        if (v?.type === 'mvc/commit') commitsFound.set(key, parseCommit(v).version)
        for (const l of entry.links) stack.push({ cid: l.cid, kind: l.kind, from: key })
      }
    }
    for (const r of roots) {
      if (r.code !== DAG_CBOR || !inFile.has(r.toString())) throw importError(file, `its root ${r.toString()} is not a structured block of the file`)
      const v = inFile.get(r.toString())!.value as { type?: unknown }
      if (v.type !== 'mvc/commit') throw importError(file, `its root ${r.toString()} is a ${String(v.type)}, not an mvc/commit`)
      await walk(r)
    }
    // Signatures: blocks of the file that sign a commit the file brings.
    const sigs: Array<{ ref: string, cid: string }> = []
    for (const [key, entry] of inFile) {
      const v = entry.value as { type?: unknown } | undefined
      if (v?.type !== 'mvc/signature') continue
      const sig = parseSignature(v)
      if (!commitsFound.has(sig.commit.toString()) && !(await have(sig.commit))) continue
      const check = checkSignatureObject(sig, sig.commit)
      if (!check.valid || check.key === undefined) throw importError(file, `signature ${key} is invalid: ${check.problem ?? ''}`, { signature: key })
      reached.add(key)
      sigs.push({ ref: signatureRef(sig.commit.toString(), check.key.fingerprint), cid: key })
    }
    const unreachable = [...inFile.keys()].filter(k => !reached.has(k)).length

    // 3. Refs: a version number where history allows, else refs/imports/<cid>.
    const commits: ImportedCommit[] = []
    const byVersion = [...commitsFound].sort((a, b) => a[1] - b[1])
    const numbered = new Set<string>()
    let maxVersion = 0
    for (const [key, version] of byVersion) {
      const cid = CID.parse(key)
      const commit = parseCommit(inFile.get(key)!.value)
      const shallow = shallowCommits.has(key)
      const existing = await store.readRef(versionRef(version))
      // The number fits when it is free (or already this commit) and every parent is numbered the same way here.
      let parentsOk = !shallow
      for (const p of commit.parents) {
        if (!parentsOk) break
        const pk = p.toString()
        if (numbered.has(pk)) continue
        if (inFile.has(pk)) { parentsOk = false; break }
        const pv = parseCommit(dagCbor.decode(await store.get(p))).version
        parentsOk = (await store.readRef(versionRef(pv))) === pk
      }
      if (existing === key) {
        numbered.add(key)
        commits.push({ cid, version, ref: versionRef(version), shallow })
      } else if (existing === undefined && parentsOk) {
        tx.setRef({ name: versionRef(version), value: key, expect: null })
        numbered.add(key)
        if (version > maxVersion) maxVersion = version
        commits.push({ cid, version, ref: versionRef(version), shallow })
      } else {
        const ref = importRef(key)
        const old = await store.readRef(ref)
        if (old === undefined) tx.setRef({ name: ref, value: key, expect: null })
        commits.push({ cid, version, ref, shallow })
      }
      if (shallow) tx.setMeta(shallowKey(key), utf8.encode('1'))
    }
    if (maxVersion + 1 > await nextVersion(store)) setNextVersion(tx, maxVersion + 1)
    let newSignatures = 0
    for (const s of sigs) {
      if (await store.readRef(s.ref) !== undefined) continue
      tx.setRef({ name: s.ref, value: s.cid, expect: null })
      newSignatures++
    }
    // A repository whose current branch has no commits gets the imported root, as a clone would.
    let branch: string | undefined
    const head = await store.readRef(HEAD)
    const current = head === undefined ? undefined : symbolicTarget(head)
    const rootKey = roots[0]!.toString()
    if (current !== undefined && (await store.readRef(current)) === undefined && numbered.has(rootKey)) {
      tx.setRef({ name: current, value: rootKey, expect: null })
      branch = current
    }
    await tx.commit()
    return { roots, blocks, bytes, newBlocks, commits, signatures: newSignatures, unreachable, ...(branch !== undefined ? { branch } : {}) }
  } catch (err) {
    await tx.abort()
    if (isMvcError(err) && err.code === 'OBJECT_NOT_FOUND') throw new ObjectNotFoundError(`cannot import ${file}: ${err.message}; nothing was imported`, err.data)
    throw err
  }
}

