/**
 * `StoreRemote`: the `Remote` contract over an mvc object store. The folder remote (folder.ts) and the
 * in-memory remote (memory.ts) are `StoreRemote`s; they differ only in where the store lives.
 *
 * Puts go through a `BatchWriter` (src/store/batch.ts): verified (re-hashed) before anything is
 * staged, then staged in one store transaction that is committed every `flushBytes` (default 64 MiB),
 * on `flush()`, before any ref moves and on `close()`. Staged objects count as present for `hasMany`
 * and `get`. Senders put objects bottom-up, so every committed state of the store is closed under
 * links (invariant I1, docs/design.md) even when a transfer stops half-way — and since a client may not
 * be honest, the remote keeps closures itself (closure.ts): `hasMany` is true only for complete objects,
 * and a ref moves only to a complete commit.
 */
import { CID } from 'multiformats/cid'
import { InvalidArgumentError, RemoteError } from '../errors.js'
import type { LevelObjectStore } from '../store/level-store.js'
import { BatchWriter, FLUSH_BYTES } from '../store/batch.js'
import { HEAD, META, refNameProblem, utf8 } from '../format/keys.js'
import type { Remote, RemoteRef } from './interface.js'
import { ClosureKeeper, formatRaise } from './closure.js'

export { FLUSH_BYTES }

/** Names a remote accepts in `casRef`: the one rule of src/format/keys.ts. */
export function checkRefName (name: string): void {
  const problem = refNameProblem(name)
  if (problem !== undefined) throw new InvalidArgumentError(`invalid ref name ${JSON.stringify(name)}: ${problem}`, { name })
}

export interface StoreRemoteOptions {
  /** Commit staged puts once this many bytes are staged (default 64 MiB). */
  readonly flushBytes?: number
  /** Close the store when the remote is closed (default true). */
  readonly ownsStore?: boolean
}

/** A `Remote` over an object store. */
export class StoreRemote implements Remote {
  private open: { store: LevelObjectStore, writer: BatchWriter, keeper: ClosureKeeper } | undefined

  constructor (store: LevelObjectStore | undefined, readonly url: string, private readonly options: StoreRemoteOptions = {}) {
    if (store !== undefined) this.open = this.attach(store)
  }

  private attach (store: LevelObjectStore): { store: LevelObjectStore, writer: BatchWriter, keeper: ClosureKeeper } {
    const source = `an object sent to ${this.url}`
    const writer = new BatchWriter(store, { source, flushBytes: this.options.flushBytes ?? FLUSH_BYTES })
    return { store, writer, keeper: new ClosureKeeper(store, writer, source) }
  }

  private async opened (): Promise<{ store: LevelObjectStore, writer: BatchWriter, keeper: ClosureKeeper }> {
    this.open ??= this.attach(await this.reopen())
    return this.open
  }

  /** The underlying store (tests use it to damage objects). Reopens a closed folder remote. */
  async store (): Promise<LevelObjectStore> {
    return (await this.opened()).store
  }

  /** Reopens the store after `close()`; only folder remotes can. */
  protected async reopen (): Promise<LevelObjectStore> {
    throw new RemoteError(`the remote ${this.url} is closed`, { url: this.url })
  }

  /** Stored (or staged) with its whole closure: an incomplete object counts as missing. */
  async hasMany (cids: readonly CID[]): Promise<boolean[]> {
    return await (await this.opened()).keeper.hasMany(cids)
  }

  async keepsClosures (): Promise<boolean> {
    return true
  }

  async get (cid: CID): Promise<Uint8Array> {
    // The store re-hashes what it reads: CORRUPT_OBJECT names the CID and the pack it came from.
    return await (await this.opened()).writer.get(cid)
  }

  async put (cid: CID, bytes: Uint8Array): Promise<void> {
    // Verified (and dag-cbor decoded) before anything is staged: wrong bytes are rejected
    // (CORRUPT_OBJECT, INVALID_OBJECT), never stored; completeness is recorded.
    await (await this.opened()).keeper.put(cid, bytes)
  }

  async flush (): Promise<void> {
    await this.open?.writer.flush()
  }

  async listRefs (prefix: string): Promise<RemoteRef[]> {
    const refs = await (await this.opened()).store.listRefs(prefix)
    return refs.map(([name, value]) => ({ name, value }))
  }

  async casRef (name: string, expect: string | null, value: string | null): Promise<void> {
    checkRefName(name)
    const { store, writer, keeper } = await this.opened()
    if (value !== null && name !== HEAD) {
      // A ref moves only to an object whose whole closure is here (git's connectivity check). Objects
      // are never removed, so a closure found complete stays complete until the ref moves below.
      let cid: CID
      try { cid = CID.parse(value) } catch {
        throw new InvalidArgumentError(`ref ${name}: ${JSON.stringify(value)} is not a CID`, { name, value })
      }
      await writer.flush()
      const gap = await keeper.check(cid)
      if (gap !== undefined) {
        const what = gap.missing === value
          ? 'the remote does not have that object'
          : `its closure is incomplete on the remote: object ${gap.missing}${gap.parent !== undefined ? ` (linked from ${gap.parent})` : ''} is missing`
        throw new RemoteError(`refusing to set ${name} on ${this.url} to ${value}: ${what}; push the objects first`, { url: this.url, name, value, missing: gap.missing })
      }
    }
    // A version of several paths raises the format this store declares (pushes set a version ref for
    // every version they bring, so each commit passes here).
    const raise = value !== null && name !== HEAD ? await formatRaise(store, value) : undefined
    await writer.flushed(async () => {
      const tx = await store.transaction()
      tx.setRef({ name, value, expect })
      if (raise !== undefined) tx.setMeta(META.format, utf8.encode(String(raise)))
      await tx.commit() // RefConflictError when the ref moved
    })
  }

  async close (): Promise<void> {
    const open = this.open
    if (open === undefined) return
    await open.writer.close(async () => {
      if (this.open === open) this.open = undefined
      if (this.options.ownsStore !== false) await open.store.close()
    })
  }
}

