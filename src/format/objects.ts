/**
 * The structured objects of the repository format (docs/design.md, "Objects"), their parsers and
 * builders. Pure: no I/O. Every object is a dag-cbor map with a `type` string; parsers check the shape
 * of what was decoded and throw InvalidObjectError, because bytes that hash correctly can still be
 * something other than what a link promised.
 */
import { CID } from 'multiformats/cid'
import { InvalidObjectError } from '../errors.js'
import { DAG_CBOR, RAW } from '../content/block.js'
import { parseCodeLineage, parseDataLineage, parseEnvironmentLineage, type CodeLineage, type DataLineage, type EnvironmentLineage } from './lineage.js'
import { parseVerificationRecord, type VerificationRecord } from './verification.js'

/** A run of bytes of a raw chunk: [chunk, length] or [chunk, length, offset-in-chunk]. */
export type Extent = readonly [CID, number] | readonly [CID, number, number]

/** `mvc/file`: a file's bytes as the concatenation of extents of raw chunks. */
export interface FileObject {
  readonly type: 'mvc/file'
  readonly size: number
  readonly extents: readonly Extent[]
}

export interface ManifestEntry {
  readonly path: string
  /** Permission bits (mode & 0o777). */
  readonly mode: number
  readonly size: number
  readonly file: CID
}

/** A model found in the snapshot by a format adapter (empty for plain files). */
export interface ManifestModel {
  /** Path of the model's main file, relative to the snapshot root. */
  readonly path: string
  /** The `mvc/model` object. */
  readonly model: CID
}

/** `mvc/manifest`: everything needed to rebuild the committed path, byte for byte. */
export interface Manifest {
  readonly type: 'mvc/manifest'
  /** 'dir' when a folder was committed; 'file' when a single file was (one entry, its basename). */
  readonly kind: 'dir' | 'file'
  /** Files, sorted by path (byte order of UTF-8). */
  readonly entries: readonly ManifestEntry[]
  /** Empty folders, sorted; folders with files are implied by the paths. */
  readonly dirs: readonly string[]
  readonly models: readonly ManifestModel[]
}

/** `mvc/tensor`: one weight (or a recorded input/output), its bytes as row-aligned raw chunks. */
export interface TensorObject {
  readonly type: 'mvc/tensor'
  readonly name: string
  readonly dtype: string
  readonly shape: readonly number[]
  /** TF.js quantization record as it was in the manifest, or null. */
  readonly quantization: unknown
  readonly size: number
  readonly chunks: ReadonlyArray<readonly [CID, number]>
}

/** `mvc/topology`: the model's topology as canonical dag-cbor (for diff), with the other top-level JSON fields. */
export interface TopologyObject {
  readonly type: 'mvc/topology'
  readonly format: string
  readonly topology: unknown
  readonly meta: Readonly<Record<string, unknown>>
}

/**
 * `mvc/model`: a model inside a manifest, written by its format adapter (src/formats/). Every adapter
 * writes these fields; each may add its own (TF.js: `groups` and `shards`), which only it reads.
 */
export interface ModelObject {
  readonly type: 'mvc/model'
  /** Names the adapter and the format: 'layers-model', 'graph-model', 'weights-manifest', … */
  readonly format: string
  /** Path of the model's main file (model.json, the .h5…) relative to the snapshot root. */
  readonly path: string
  readonly topology: CID | null
  /** Tensors in the format's order. `group`: the adapter's grouping (TF.js: the weights manifest group). */
  readonly tensors: ReadonlyArray<{ readonly group: number, readonly tensor: CID }>
  /** The decoded object, for the adapter's own fields. */
  readonly fields: Readonly<Record<string, unknown>>
}

/** A model's inputs or outputs as its format declares them (null: a dimension of any size). */
export interface TensorContract {
  readonly name: string
  readonly dtype: string
  readonly shape: ReadonlyArray<number | null>
}

/** What a model takes and gives: recorded at commit, shown by `show`, compared by `diff` (a change is breaking). */
export interface ModelContract {
  readonly inputs: readonly TensorContract[]
  readonly outputs: readonly TensorContract[]
}

export interface Author { readonly name: string, readonly email: string }

/** One tracked path of a version: a folder or file relative to the repository root, and its manifest. */
export interface VersionPath {
  readonly path: string
  readonly manifest: CID
}

/**
 * `mvc/commit`: one version — a snapshot of every tracked path. Lineage fields are null until something
 * records them. On disk, a version of one path has `model` (its manifest) and `path` (format 1); a
 * version of several has `paths: [{ path, manifest }]`, sorted by path (format 2). Parsed, both give
 * `paths`.
 */
export interface CommitObject {
  readonly type: 'mvc/commit'
  readonly version: number
  readonly parents: readonly CID[]
  /** The tracked paths and their `mvc/manifest`s, sorted by path (one for a single-path version). */
  readonly paths: readonly VersionPath[]
  /** A single-path version's manifest and path (= paths[0]); absent for a version of several paths. */
  readonly model?: CID
  readonly path?: string
  readonly message: string
  readonly author: Author
  /** Milliseconds since the Unix epoch. */
  readonly timestamp: number
  /** What the model was trained on (src/format/lineage.ts). */
  readonly data: DataLineage | null
  /** The git commit of the training code. */
  readonly code: CodeLineage | null
  readonly params: Readonly<Record<string, unknown>>
  readonly metrics: Readonly<Record<string, unknown>>
  readonly environment: EnvironmentLineage | null
  /** Reference inputs and outputs (src/format/verification.ts). */
  readonly verification: VerificationRecord | null
  /** The inputs the model declares (metadata.json `input_signature`); absent when none was declared. */
  readonly inputs?: readonly TensorContract[]
}

export function fail (what: string, why: string): never {
  throw new InvalidObjectError(`invalid ${what} object: ${why}`, { what, why })
}

export function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && CID.asCID(v) === null
}

export function isCount (v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

/** A link of the kind its position requires: raw chunks for bytes, dag-cbor objects for structure. */
function link (v: unknown, what: string, field: string, codec: number = DAG_CBOR): CID {
  const c = CID.asCID(v)
  if (c === null) fail(what, `${field} is not a link`)
  if (c.code !== codec) fail(what, `${field} ${c.toString()} is a ${c.code === RAW ? 'raw chunk' : c.code === DAG_CBOR ? 'structured object' : `codec 0x${c.code.toString(16)} object`}, where a ${codec === RAW ? 'raw chunk' : 'structured object'} belongs`)
  return c
}

export function parseFile (v: unknown): FileObject {
  if (!isRecord(v) || v.type !== 'mvc/file') fail('file', 'type is not mvc/file')
  if (!isCount(v.size) || !Array.isArray(v.extents)) fail('file', 'size or extents missing')
  let total = 0
  const extents = v.extents.map((e: unknown): Extent => {
    if (!Array.isArray(e) || (e.length !== 2 && e.length !== 3)) fail('file', 'extent is not [cid, length, offset?]')
    const cid = link(e[0], 'file', 'extent chunk', RAW)
    if (!isCount(e[1]) || (e.length === 3 && !isCount(e[2]))) fail('file', 'extent length or offset is not a count')
    total += e[1] as number
    return e.length === 3 ? [cid, e[1] as number, e[2] as number] : [cid, e[1] as number]
  })
  if (total !== v.size) fail('file', `extents add up to ${total} bytes, size says ${String(v.size)}`)
  return { type: 'mvc/file', size: v.size, extents }
}

export function parseManifest (v: unknown): Manifest {
  if (!isRecord(v) || v.type !== 'mvc/manifest') fail('manifest', 'type is not mvc/manifest')
  if (v.kind !== 'dir' && v.kind !== 'file') fail('manifest', 'kind is neither dir nor file')
  if (!Array.isArray(v.entries) || !Array.isArray(v.dirs) || !Array.isArray(v.models)) fail('manifest', 'entries, dirs or models missing')
  const entries = v.entries.map((e: unknown): ManifestEntry => {
    if (!isRecord(e) || typeof e.path !== 'string' || !isCount(e.mode) || !isCount(e.size)) fail('manifest', 'entry needs path, mode and size')
    return { path: e.path, mode: e.mode, size: e.size, file: link(e.file, 'manifest', 'entry file') }
  })
  const dirs = v.dirs.map((d: unknown): string => typeof d === 'string' ? d : fail('manifest', 'dir is not a string'))
  const models = v.models.map((m: unknown): ManifestModel => {
    if (!isRecord(m) || typeof m.path !== 'string') fail('manifest', 'model needs a path')
    return { path: m.path, model: link(m.model, 'manifest', 'model') }
  })
  if (v.kind === 'file' && (entries.length !== 1 || dirs.length !== 0)) fail('manifest', 'a file manifest has exactly one entry')
  return { type: 'mvc/manifest', kind: v.kind, entries, dirs, models }
}

export function parseCommit (v: unknown): CommitObject {
  if (!isRecord(v) || v.type !== 'mvc/commit') fail('commit', 'type is not mvc/commit')
  if (!isCount(v.version) || v.version < 1) fail('commit', 'version is not a positive integer')
  if (!Array.isArray(v.parents)) fail('commit', 'parents missing')
  if (typeof v.message !== 'string' || !isCount(v.timestamp)) fail('commit', 'message or timestamp missing')
  let paths: VersionPath[]
  if (Array.isArray(v.paths)) {
    if (v.model !== undefined || v.path !== undefined) fail('commit', 'has both paths and model/path')
    paths = v.paths.map((e: unknown): VersionPath => {
      if (!isRecord(e) || typeof e.path !== 'string') fail('commit', 'a paths entry needs path and manifest')
      return { path: e.path, manifest: link(e.manifest, 'commit', 'paths manifest') }
    })
    if (paths.length < 2) fail('commit', 'paths lists fewer than two paths (one path is written as model and path)')
    for (let i = 1; i < paths.length; i++) {
      if (comparePaths(paths[i - 1]!.path, paths[i]!.path) >= 0) fail('commit', 'paths are not sorted and unique')
      if (paths[i]!.path.startsWith(paths[i - 1]!.path + '/')) fail('commit', `path ${paths[i]!.path} lies inside ${paths[i - 1]!.path}`)
    }
  } else {
    if (typeof v.path !== 'string') fail('commit', 'path missing')
    paths = [{ path: v.path, manifest: link(v.model, 'commit', 'model') }]
  }
  const a = v.author
  if (!isRecord(a) || typeof a.name !== 'string' || typeof a.email !== 'string') fail('commit', 'author needs name and email')
  const params = v.params ?? {}
  const metrics = v.metrics ?? {}
  if (!isRecord(params) || !isRecord(metrics)) fail('commit', 'params and metrics are maps')
  return {
    type: 'mvc/commit',
    version: v.version,
    parents: v.parents.map((p: unknown) => link(p, 'commit', 'parent')),
    paths,
    ...(paths.length === 1 ? { model: paths[0]!.manifest, path: paths[0]!.path } : {}),
    message: v.message,
    author: { name: a.name, email: a.email },
    timestamp: v.timestamp,
    data: parseDataLineage(v.data),
    code: parseCodeLineage(v.code),
    params,
    metrics,
    environment: parseEnvironmentLineage(v.environment),
    verification: parseVerificationRecord(v.verification),
    ...(Array.isArray(v.inputs) ? { inputs: v.inputs.filter(isContractTensor) } : {})
  }
}

function isContractTensor (v: unknown): v is TensorContract {
  return isRecord(v) && typeof v.name === 'string' && typeof v.dtype === 'string' && Array.isArray(v.shape) && v.shape.every(d => d === null || isCount(d))
}

/** A model object's or commit's contract field, or null when absent or not understood. */
export function parseContract (v: unknown): ModelContract | null {
  if (!isRecord(v) || !Array.isArray(v.inputs) || !Array.isArray(v.outputs)) return null
  if (!v.inputs.every(isContractTensor) || !v.outputs.every(isContractTensor)) return null
  return { inputs: v.inputs, outputs: v.outputs }
}

export function parseTensor (v: unknown): TensorObject {
  if (!isRecord(v) || v.type !== 'mvc/tensor') fail('tensor', 'type is not mvc/tensor')
  if (typeof v.name !== 'string' || typeof v.dtype !== 'string' || !Array.isArray(v.shape) || !v.shape.every(isCount) || !isCount(v.size) || !Array.isArray(v.chunks)) {
    fail('tensor', 'needs name, dtype, shape, size and chunks')
  }
  let total = 0
  const chunks = v.chunks.map((c: unknown): readonly [CID, number] => {
    if (!Array.isArray(c) || c.length !== 2 || !isCount(c[1])) fail('tensor', 'chunk is not [cid, length]')
    total += c[1] as number
    return [link(c[0], 'tensor', 'chunk', RAW), c[1] as number]
  })
  if (total !== v.size) fail('tensor', `chunks add up to ${total} bytes, size says ${String(v.size)}`)
  return { type: 'mvc/tensor', name: v.name, dtype: v.dtype, shape: v.shape as number[], quantization: v.quantization ?? null, size: v.size, chunks }
}

export function parseTopology (v: unknown): TopologyObject {
  if (!isRecord(v) || v.type !== 'mvc/topology' || typeof v.format !== 'string') fail('topology', 'type is not mvc/topology')
  return { type: 'mvc/topology', format: v.format, topology: v.topology ?? null, meta: isRecord(v.meta) ? v.meta : {} }
}

/** The fields every `mvc/model` has; adapters check their own (src/formats/<format>/). */
export function parseModel (v: unknown): ModelObject {
  if (!isRecord(v) || v.type !== 'mvc/model') fail('model', 'type is not mvc/model')
  if (typeof v.format !== 'string' || typeof v.path !== 'string' || !Array.isArray(v.tensors)) fail('model', 'needs format, path and tensors')
  return {
    type: 'mvc/model',
    format: v.format,
    path: v.path,
    topology: v.topology === null || v.topology === undefined ? null : link(v.topology, 'model', 'topology'),
    tensors: v.tensors.map((t: unknown) => {
      if (!isRecord(t) || !isCount(t.group)) fail('model', 'tensor entry needs group and tensor')
      return { group: t.group, tensor: link(t.tensor, 'model', 'tensor') }
    }),
    fields: v
  }
}

/** Sorts by the UTF-8 bytes of the path, the order manifests are written in. */
export function comparePaths (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

/** A DSSE envelope (github.com/secure-systems-lab/dsse), with its bytes as bytes. */
export interface DsseEnvelope {
  readonly payloadType: string
  readonly payload: Uint8Array
  readonly signatures: ReadonlyArray<{ readonly keyid: string, readonly sig: Uint8Array }>
}

/** Signature algorithms mvc signs and verifies with (docs/design.md, "`mvc/signature`"). */
export type SignatureAlgorithm = 'ed25519' | 'ecdsa-p256'
export const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = ['ed25519', 'ecdsa-p256']

/**
 * `mvc/signature`: a signature over one commit. `envelope` is a DSSE envelope whose payload is an
 * in-toto Statement naming the commit (src/core/sign.ts); `key` is the signer's public key (SPKI DER),
 * so anyone can check the signature and a trust policy decides whether the key counts.
 */
export interface SignatureObject {
  readonly type: 'mvc/signature'
  readonly commit: CID
  readonly key: { readonly algorithm: SignatureAlgorithm, readonly publicKey: Uint8Array }
  readonly envelope: DsseEnvelope
}

export function parseSignature (v: unknown): SignatureObject {
  if (!isRecord(v) || v.type !== 'mvc/signature') fail('signature', 'type is not mvc/signature')
  const commit = link(v.commit, 'signature', 'commit')
  const k = v.key
  if (!isRecord(k) || typeof k.algorithm !== 'string' || !(SIGNATURE_ALGORITHMS as readonly string[]).includes(k.algorithm) || !(k.publicKey instanceof Uint8Array)) {
    fail('signature', `key needs an algorithm (${SIGNATURE_ALGORITHMS.join(', ')}) and publicKey bytes`)
  }
  const e = v.envelope
  if (!isRecord(e) || typeof e.payloadType !== 'string' || !(e.payload instanceof Uint8Array) || !Array.isArray(e.signatures) || e.signatures.length === 0) {
    fail('signature', 'envelope needs payloadType, payload bytes and at least one signature')
  }
  const signatures = e.signatures.map((s: unknown) => {
    if (!isRecord(s) || typeof s.keyid !== 'string' || !(s.sig instanceof Uint8Array)) fail('signature', 'envelope signature needs keyid and sig bytes')
    return { keyid: s.keyid, sig: s.sig }
  })
  return {
    type: 'mvc/signature',
    commit,
    key: { algorithm: k.algorithm as SignatureAlgorithm, publicKey: k.publicKey },
    envelope: { payloadType: e.payloadType, payload: e.payload, signatures }
  }
}

/**
 * `mvc/alias-move`: one move of an alias — created (`from` null), re-pointed, or deleted (`to` null) —
 * linking the move before it (`prev`), so an alias's history is a chain of objects that travels with
 * the alias and is verified by its hash (docs/design.md, "`mvc/alias-move`"). Every field is written;
 * `message` is null when none was given.
 */
export interface AliasMove {
  readonly type: 'mvc/alias-move'
  /** The alias's name (`production`). Every move of a chain has the same name. */
  readonly name: string
  /** The commit the alias named before the move; null when it was created. */
  readonly from: CID | null
  /** The commit it names after the move; null when it was deleted. */
  readonly to: CID | null
  /** Milliseconds since the Unix epoch. */
  readonly at: number
  readonly by: Author
  readonly message: string | null
  /** The alias's previous move; null for the first. */
  readonly prev: CID | null
}

/** The value of an alias move with every field present, ready to encode. */
export function aliasMoveValue (m: Omit<AliasMove, 'type'>): AliasMove {
  return {
    type: 'mvc/alias-move',
    name: m.name,
    from: m.from,
    to: m.to,
    at: m.at,
    by: { name: m.by.name, email: m.by.email },
    message: m.message,
    prev: m.prev
  }
}

export function parseAliasMove (v: unknown): AliasMove {
  if (!isRecord(v) || v.type !== 'mvc/alias-move') fail('alias move', 'type is not mvc/alias-move')
  if (typeof v.name !== 'string' || v.name === '') fail('alias move', 'name is not a non-empty string')
  if (!isCount(v.at)) fail('alias move', 'at is not a timestamp (ms, a non-negative integer)')
  const b = v.by
  if (!isRecord(b) || typeof b.name !== 'string' || typeof b.email !== 'string') fail('alias move', 'by needs name and email')
  const message = v.message ?? null
  if (message !== null && typeof message !== 'string') fail('alias move', 'message is neither a string nor null')
  const optional = (x: unknown, field: string): CID | null => x === null || x === undefined ? null : link(x, 'alias move', field)
  const from = optional(v.from, 'from')
  const to = optional(v.to, 'to')
  if (from === null && to === null) fail('alias move', 'from and to are both null (a move goes somewhere or comes from somewhere)')
  return { type: 'mvc/alias-move', name: v.name, from, to, at: v.at, by: { name: b.name, email: b.email }, message, prev: optional(v.prev, 'prev') }
}

/**
 * The store format a commit needs (docs/design.md, "Format versions"): 2 for a version of several
 * paths (the commit field `paths`), 1 otherwise. A store that receives such a commit — by commit,
 * fetch, clone or push — raises its `m/format` to at least this in the batch that moves a ref to it.
 */
export function formatNeededBy (commit: CommitObject): number {
  return commit.paths.length > 1 ? 2 : 1
}
