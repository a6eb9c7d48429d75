/**
 * Interop with OpenSSF model signing (sigstore/model-transparency, `model_signing` 1.1.1): the
 * signature bundle its `key` method writes and reads (docs/design.md, "OpenSSF model signing bundles").
 *
 * A bundle is a Sigstore bundle v0.3 (JSON) holding a DSSE envelope over an in-toto Statement v1 whose
 * predicate (`https://model_signing/signature/v1.0`) lists every file of the model folder with the
 * SHA-256 of its bytes, and whose one subject is the folder's name with the SHA-256 of the
 * concatenated file digests. The signature is ECDSA (P-256 with SHA-256, P-384/SHA-384, P-521/SHA-512)
 * over DSSE's PAE, DER-encoded; the bundle's `verificationMaterial.publicKey.hint` is the hex SHA-256
 * of the public key's SPKI PEM.
 *
 * mvc stores a file as chunks, so its SHA-256 is computed once from the store (on a worker thread while
 * the main thread re-hashes the chunks it reads) and cached under `m/sha256/<file object CID>`:
 * exporting or verifying a version again hashes only files not seen before.
 */
import { createHash } from 'node:crypto'
import { lstat, readdir } from 'node:fs/promises'
import { basename, join, relative, resolve, sep } from 'node:path'
import type { CID } from 'multiformats/cid'
import { InputNotFoundError, InvalidArgumentError, SignatureInvalidError, SymlinkRefusedError } from '../errors.js'
import { fileSha256Key, utf8 } from '../format/keys.js'
import type { Manifest } from '../format/objects.js'
import type { ObjectStore } from '../store/interface.js'
import { readCommit, readFileObject } from './objects.js'
import { versionFiles } from './version.js'
import { resolveRev } from './refs.js'
import { HashWorkers } from './sign-hash.js'
import { IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_TYPE, loadPublicKey, pae, signBytes, verifyBytes, type SigningKey } from './sign.js'

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json'
export const MODEL_SIGNING_PREDICATE = 'https://model_signing/signature/v1.0'
/** Paths `model_signing` ignores by default (`--ignore-git-paths`), relative to the model folder. */
export const GIT_PATHS: readonly string[] = ['.git', '.gitattributes', '.github', '.gitignore']

export interface FileDigest { readonly path: string, readonly sha256: string }

/**
 * model_signing's order: by path components (Python's PurePosixPath ordering), each compared by code
 * point, which is the order of their UTF-8 bytes. Not the manifest's order: `a/b` sorts before `a-b`.
 */
export function compareResourcePaths (a: string, b: string): number {
  const pa = a.split('/')
  const pb = b.split('/')
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const c = Buffer.compare(Buffer.from(pa[i]!), Buffer.from(pb[i]!))
    if (c !== 0) return c
  }
  return pa.length - pb.length
}

function isIgnored (path: string, ignore: readonly string[]): boolean {
  return ignore.some(p => path === p || path.startsWith(p + '/'))
}

/** JSON as Python's json.dumps(indent=2) writes it (protobuf's MessageToJson): non-ASCII escaped. */
function pythonJson (v: unknown): string {
  return JSON.stringify(v, null, 2).replace(/[\u007f-\uffff]/g, c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
}

/** The in-toto statement model_signing signs for these files (sorted here), as payload bytes. */
export function modelStatement (name: string, files: readonly FileDigest[], ignorePaths: readonly string[] = GIT_PATHS): Uint8Array {
  const sorted = [...files].sort((x, y) => compareResourcePaths(x.path, y.path))
  const root = createHash('sha256')
  for (const f of sorted) root.update(Buffer.from(f.sha256, 'hex'))
  const statement = {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: [{ name, digest: { sha256: root.digest('hex') } }],
    predicateType: MODEL_SIGNING_PREDICATE,
    predicate: {
      resources: sorted.map(f => ({ algorithm: 'sha256', digest: f.sha256, name: f.path })),
      serialization: { allow_symlinks: false, hash_type: 'sha256', ...(ignorePaths.length > 0 ? { ignore_paths: [...ignorePaths] } : {}), method: 'files' }
    }
  }
  return utf8.encode(pythonJson(statement))
}

/** The sha256 hint model_signing puts in a bundle: hex SHA-256 of the SPKI PEM. */
export function keyHint (pem: string): string {
  return createHash('sha256').update(pem).digest('hex')
}

/** Signs a statement into a Sigstore bundle (JSON text) as `model_signing sign key` writes it. */
export function createBundle (key: SigningKey, payload: Uint8Array): string {
  if (!key.algorithm.startsWith('ecdsa-')) {
    throw new InvalidArgumentError(`OpenSSF model signing verifies only ECDSA keys (P-256, P-384, P-521); this key is ${key.algorithm}. Make one with \`mvc keygen --type ecdsa-p256\``, { algorithm: key.algorithm })
  }
  const sig = signBytes(key, pae(IN_TOTO_PAYLOAD_TYPE, payload))
  return JSON.stringify({
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: keyHint(key.pem) }, tlogEntries: [] },
    dsseEnvelope: {
      payload: Buffer.from(payload).toString('base64'),
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: Buffer.from(sig).toString('base64'), keyid: '' }]
    }
  })
}

// ----------------------------------------------------------------------------------- file digests

export interface DigestStats {
  readonly files: number
  readonly bytes: number
  /** Bytes read and hashed now (files whose digest was not cached). */
  readonly hashedBytes: number
  readonly cachedFiles: number
}

/** SHA-256 of every file of a manifest (minus ignored paths), from the store, cached per file object. */
export async function manifestDigests (store: ObjectStore, manifest: Manifest, ignore: readonly string[]): Promise<{ files: FileDigest[], stats: DigestStats }> {
  // A single-file snapshot is one resource named '.', as model_signing names a model that is a file.
  const entries = manifest.kind === 'file'
    ? manifest.entries.map(e => ({ ...e, path: '.' }))
    : manifest.entries.filter(e => !isIgnored(e.path, ignore))
  const cached = await Promise.all(entries.map(async e => await store.readMeta(fileSha256Key(e.file.toString()))))
  const out: FileDigest[] = new Array(entries.length)
  const fresh: Array<[string, string]> = []
  let hashedBytes = 0
  let bytes = 0
  let cachedFiles = 0
  let workers: HashWorkers | undefined
  try {
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!
      bytes += e.size
      const c = cached[i]
      if (c !== undefined && /^[0-9a-f]{64}$/.test(utf8.decode(c))) {
        out[i] = { path: e.path, sha256: utf8.decode(c) }
        cachedFiles++
        continue
      }
      workers ??= new HashWorkers(1)
      const hex = await hashFileObject(store, e.file, workers)
      hashedBytes += e.size
      out[i] = { path: e.path, sha256: hex }
      fresh.push([e.file.toString(), hex])
    }
  } finally { await workers?.close() }
  if (fresh.length > 0) {
    const tx = await store.transaction()
    try {
      for (const [file, hex] of fresh) tx.setMeta(fileSha256Key(file), utf8.encode(hex))
      await tx.commit()
    } catch (err) { await tx.abort(); throw err }
  }
  return { files: out, stats: { files: entries.length, bytes, hashedBytes, cachedFiles } }
}

/** Streams a file object's chunks (each verified by the store) to a worker that hashes the whole file. */
async function hashFileObject (store: ObjectStore, fileCid: CID, workers: HashWorkers): Promise<string> {
  const file = await readFileObject(store, fileCid)
  const h = workers.stream()
  let lastKey: string | undefined
  let last: Uint8Array | undefined
  let pending: Promise<Uint8Array> | undefined
  let pendingKey: string | undefined
  for (let i = 0; i < file.extents.length; i++) {
    const [cid, length, offset = 0] = file.extents[i]!
    const key = cid.toString()
    let bytes: Uint8Array
    if (key === lastKey && last !== undefined) bytes = last
    else if (key === pendingKey && pending !== undefined) bytes = await pending
    else bytes = await store.get(cid)
    lastKey = key
    last = bytes
    const next = file.extents[i + 1]
    if (next !== undefined && next[0].toString() !== key) {
      pendingKey = next[0].toString()
      pending = store.get(next[0])
      pending.catch(() => {})
    }
    if (offset + length > bytes.length) throw new InvalidArgumentError(`file object ${fileCid.toString()}: extent runs past the end of chunk ${key}`, { cid: fileCid.toString() })
    await h.update(bytes.subarray(offset, offset + length))
  }
  return await h.digest()
}

/** SHA-256 of every regular file below a folder (or of one file), as `model_signing` lists them. Symbolic links are refused, as model_signing does by default. */
export async function folderDigests (path: string, ignore: readonly string[]): Promise<{ name: string, files: FileDigest[], stats: DigestStats }> {
  const root = resolve(path)
  const st = await lstat(root).catch(() => undefined)
  if (st === undefined) throw new InputNotFoundError(`${root} does not exist`, { path: root })
  const found: string[] = []
  if (st.isFile()) found.push('.')
  else if (st.isDirectory()) {
    const walk = async (dir: string): Promise<void> => {
      for (const d of await readdir(dir, { withFileTypes: true })) {
        const abs = join(dir, d.name)
        const rel = relative(root, abs).split(sep).join('/')
        if (isIgnored(rel, ignore)) continue
        if (d.isSymbolicLink()) throw new SymlinkRefusedError(`${abs} is a symbolic link; OpenSSF model signing refuses those (it hashes regular files only)`, { path: abs })
        if (d.isDirectory()) await walk(abs)
        else if (d.isFile()) found.push(rel)
        else throw new InvalidArgumentError(`${abs} is neither a file nor a folder`, { path: abs })
      }
    }
    await walk(root)
  } else throw new InvalidArgumentError(`${root} is neither a file nor a folder`, { path: root })
  const workers = new HashWorkers(2)
  try {
    let bytes = 0
    const files: FileDigest[] = new Array(found.length)
    // One file at a time per worker: memory stays at two read buffers whatever the folder holds.
    let next = 0
    await Promise.all([0, 1].map(async () => {
      while (next < found.length) {
        const i = next++
        const rel = found[i]!
        const r = await workers.file(rel === '.' ? root : join(root, ...rel.split('/')))
        bytes += r.size
        files[i] = { path: rel, sha256: r.hex }
      }
    }))
    return { name: basename(root), files, stats: { files: files.length, bytes, hashedBytes: bytes, cachedFiles: 0 } }
  } finally { await workers.close() }
}

// ----------------------------------------------------------------------------------------- export

export interface ExportBundleOperation {
  readonly store: ObjectStore
  readonly rev: string
  readonly key: SigningKey
}

export interface ExportBundleResult {
  readonly cid: CID
  readonly version: number
  /** The subject name: the committed folder's name. */
  readonly name: string
  readonly bundle: string
  readonly files: FileDigest[]
  readonly stats: DigestStats
}

/** A model_signing bundle for a version's files, as they are when checked out. */
export async function exportBundle (options: ExportBundleOperation): Promise<ExportBundleResult> {
  const { store } = options
  if (!options.key.algorithm.startsWith('ecdsa-')) createBundle(options.key, new Uint8Array()) // the clear error, before hashing
  const cid = await resolveRev(store, options.rev)
  const commit = await readCommit(store, cid)
  // A bundle describes one folder: a version of several paths is bundled as the repository root's view.
  const { manifest } = await versionFiles(store, commit)
  const { files, stats } = await manifestDigests(store, manifest, GIT_PATHS)
  const only = commit.paths.length === 1 ? commit.paths[0]!.path : '.'
  const name = only === '.' ? 'model' : only.split('/').at(-1)!
  const payload = modelStatement(name, files, GIT_PATHS)
  return { cid, version: commit.version, name, bundle: createBundle(options.key, payload), files, stats }
}

// ------------------------------------------------------------------------------------------ verify

export interface SignedManifest {
  readonly name: string
  /** path → hex SHA-256 */
  readonly resources: ReadonlyMap<string, string>
  readonly ignorePaths: readonly string[]
}

function bad (why: string, data: Record<string, unknown> = {}): never {
  throw new SignatureInvalidError(`the OpenSSF signature bundle is not valid: ${why}`, data)
}

/** Checks a bundle's signature with a public key and returns the files it lists. SIGNATURE_INVALID when anything is off. */
export function readBundle (bundleText: string, publicKeyPem: string): SignedManifest {
  const key = loadPublicKey(publicKeyPem, 'the public key')
  if (!key.algorithm.startsWith('ecdsa-')) throw new InvalidArgumentError(`OpenSSF model signing bundles are signed with ECDSA keys; this key is ${key.algorithm}`, {})
  let b: { mediaType?: unknown, verificationMaterial?: { publicKey?: { hint?: unknown } }, dsseEnvelope?: { payload?: unknown, payloadType?: unknown, signatures?: Array<{ sig?: unknown }> } }
  try { b = JSON.parse(bundleText) } catch { return bad('it is not JSON') }
  if (b.mediaType !== BUNDLE_MEDIA_TYPE) bad(`media type ${String(b.mediaType)} is not ${BUNDLE_MEDIA_TYPE}`)
  const hint = b.verificationMaterial?.publicKey?.hint
  if (typeof hint === 'string' && hint !== '' && hint !== keyHint(key.pem)) bad('it was signed with another key (its key hint does not match this public key)', { hint })
  const env = b.dsseEnvelope
  if (env === undefined || typeof env.payload !== 'string' || env.payloadType !== IN_TOTO_PAYLOAD_TYPE || !Array.isArray(env.signatures) || typeof env.signatures[0]?.sig !== 'string') {
    bad(`it has no DSSE envelope with an ${IN_TOTO_PAYLOAD_TYPE} payload and a signature`)
  }
  const payload = new Uint8Array(Buffer.from(env.payload, 'base64'))
  const sig = new Uint8Array(Buffer.from(env.signatures[0]!.sig as string, 'base64'))
  if (!verifyBytes(key, pae(IN_TOTO_PAYLOAD_TYPE, payload), sig)) bad('the signature does not verify with this public key (the bundle was altered, or signed with another key)')
  let st: { _type?: unknown, subject?: Array<{ name?: unknown, digest?: { sha256?: unknown } }>, predicateType?: unknown, predicate?: { resources?: Array<{ name?: unknown, algorithm?: unknown, digest?: unknown }>, serialization?: { method?: unknown, hash_type?: unknown, ignore_paths?: unknown } } }
  try { st = JSON.parse(utf8.decode(payload)) } catch { return bad('its statement is not JSON') }
  if (st._type !== IN_TOTO_STATEMENT_TYPE) bad(`statement type ${String(st._type)} is not ${IN_TOTO_STATEMENT_TYPE}`)
  if (st.predicateType !== MODEL_SIGNING_PREDICATE) bad(`predicate type ${String(st.predicateType)} is not ${MODEL_SIGNING_PREDICATE} (mvc reads model_signing v1.0 statements)`)
  const ser = st.predicate?.serialization
  if (ser?.method !== 'files' || ser.hash_type !== 'sha256') bad(`serialization ${JSON.stringify(ser)} is not supported: mvc checks {"method": "files", "hash_type": "sha256"} (model_signing's default)`)
  const subject = st.subject
  if (!Array.isArray(subject) || subject.length !== 1 || typeof subject[0]?.digest?.sha256 !== 'string') bad('it needs exactly one subject with a sha256 digest')
  const resources = new Map<string, string>()
  const root = createHash('sha256')
  for (const r of st.predicate?.resources ?? []) {
    if (typeof r.name !== 'string' || r.algorithm !== 'sha256' || typeof r.digest !== 'string' || !/^[0-9a-f]{64}$/.test(r.digest)) bad('a resource needs a name and a sha256 digest')
    root.update(Buffer.from(r.digest as string, 'hex'))
    resources.set(r.name as string, r.digest as string)
  }
  if (root.digest('hex') !== subject[0]!.digest!.sha256) bad('its resources do not hash to its subject digest')
  const ignorePaths = Array.isArray(ser.ignore_paths) ? ser.ignore_paths.filter((p): p is string => typeof p === 'string') : []
  return { name: typeof subject[0]!.name === 'string' ? subject[0]!.name : '', resources, ignorePaths }
}

export interface FileMismatch {
  readonly extra: string[]
  readonly missing: string[]
  readonly changed: string[]
  /** A file signed under one name and found under another with the same digest. */
  readonly renamed: Array<{ readonly from: string, readonly to: string }>
}

/** Compares signed and actual digests: extra, missing, renamed and changed files (model_signing's failure modes). */
export function compareDigests (signed: ReadonlyMap<string, string>, actual: readonly FileDigest[]): FileMismatch {
  const have = new Map(actual.map(f => [f.path, f.sha256]))
  let extra = [...have.keys()].filter(p => !signed.has(p)).sort(compareResourcePaths)
  let missing = [...signed.keys()].filter(p => !have.has(p)).sort(compareResourcePaths)
  const changed = [...have.keys()].filter(p => signed.has(p) && signed.get(p) !== have.get(p)).sort(compareResourcePaths)
  const renamed: Array<{ from: string, to: string }> = []
  for (const m of [...missing]) {
    const to = extra.find(e => have.get(e) === signed.get(m))
    if (to === undefined) continue
    renamed.push({ from: m, to })
    extra = extra.filter(e => e !== to)
    missing = missing.filter(x => x !== m)
  }
  return { extra, missing, changed, renamed }
}

export interface VerifyBundleOperation {
  readonly store?: ObjectStore
  /** A version to check (its files from the store), or… */
  readonly rev?: string
  /** …a folder (or file) on disk, as model_signing checks it. */
  readonly path?: string
  readonly bundle: string
  /** Where the bundle file is, so a bundle inside the folder is not counted as an extra file. */
  readonly bundlePath?: string
  readonly publicKey: string
}

export interface VerifyBundleResult {
  readonly name: string
  readonly files: number
  readonly stats: DigestStats
  readonly cid?: CID
  readonly version?: number
}

/** Verifies a model_signing bundle against a version or a folder; SIGNATURE_INVALID naming every extra, missing, renamed and changed file. */
export async function verifyBundle (options: VerifyBundleOperation): Promise<VerifyBundleResult> {
  const signed = readBundle(options.bundle, options.publicKey)
  const ignore = [...new Set([...signed.ignorePaths, ...GIT_PATHS])]
  let actual: FileDigest[]
  let stats: DigestStats
  let target: string
  let version: { cid: CID, version: number } | undefined
  if (options.path !== undefined) {
    const root = resolve(options.path)
    if (options.bundlePath !== undefined) {
      const rel = relative(root, resolve(options.bundlePath))
      if (rel !== '' && !rel.startsWith('..')) ignore.push(rel.split(sep).join('/'))
    }
    const r = await folderDigests(root, ignore)
    actual = r.files
    stats = r.stats
    target = root
  } else {
    if (options.store === undefined || options.rev === undefined) throw new TypeError('verifyBundle needs a path, or a store and a revision')
    const cid = await resolveRev(options.store, options.rev)
    const commit = await readCommit(options.store, cid)
    const r = await manifestDigests(options.store, (await versionFiles(options.store, commit)).manifest, ignore)
    actual = r.files
    stats = r.stats
    target = `v${commit.version}`
    version = { cid, version: commit.version }
  }
  const d = compareDigests(signed.resources, actual)
  const problems = [
    ...d.extra.map(p => `extra file ${p}`),
    ...d.missing.map(p => `missing file ${p}`),
    ...d.renamed.map(r => `renamed ${r.from} → ${r.to}`),
    ...d.changed.map(p => `changed file ${p}`)
  ]
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).join('; ') + (problems.length > 10 ? `; and ${problems.length - 10} more` : '')
    throw new SignatureInvalidError(`${target} does not match the signed files: ${shown}`, { ...d, target })
  }
  return { name: signed.name, files: actual.length, stats, ...(version !== undefined ? { cid: version.cid, version: version.version } : {}) }
}
