/**
 * Signed versions (docs/design.md, "`mvc/signature`" and "Trust"): keys, signing a commit, checking
 * signatures, and the trust policy that checkout, pull, clone and `verify --signature` apply.
 *
 * A signature covers the commit CID, which covers every byte of the version by hash (manifest, files,
 * chunks, models, tensors, lineage, verification record), so signing costs one signature whatever the
 * size of the model. It is a DSSE envelope over an in-toto Statement v1 whose subject is the commit
 * block (its `sha256` digest is the commit CID's digest), stored as an `mvc/signature` object and named
 * by `refs/signatures/<commit>/<key fingerprint>`, so push, fetch, clone and CAR export carry it.
 *
 * Keys are PEM files in the formats OpenSSL, Python's `cryptography` and `model_signing` use: PKCS#8
 * private keys (optionally encrypted; SEC1 "EC PRIVATE KEY" too) and SPKI public keys. Algorithms:
 * ed25519 and ECDSA P-256 with SHA-256 (DER signatures), all through Node's crypto.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { decodeObject } from '../content/block.js'
import { InvalidArgumentError, SignatureInvalidError, SignatureMissingError, isMvcError } from '../errors.js'
import { META, signatureRef, signaturesOf, parseSignatureRef, trustedKeyKey, utf8 } from '../format/keys.js'
import { parseSignature, type SignatureAlgorithm, type SignatureObject } from '../format/objects.js'
import type { ObjectStore } from '../store/interface.js'
import { readCommit, writeObject } from './objects.js'
import { resolveRev } from './refs.js'

/** DSSE payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json'
export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1'
/** Predicate type of mvc's commit signatures. */
export const MVC_SIGNATURE_PREDICATE = 'urn:mvc:signature:v1'

// ------------------------------------------------------------------------------------------- keys

export interface PublicKeyInfo {
  readonly key: KeyObject
  readonly algorithm: SignatureAlgorithm | 'ecdsa-p384' | 'ecdsa-p521'
  /** Lowercase hex SHA-256 of the SPKI DER encoding. */
  readonly fingerprint: string
  readonly der: Uint8Array
  /** SPKI PEM as Node (and Python's cryptography) write it. */
  readonly pem: string
}

export interface SigningKey extends PublicKeyInfo {
  readonly privateKey: KeyObject
}

export interface GeneratedKey {
  readonly algorithm: SignatureAlgorithm
  /** PKCS#8 PEM. */
  readonly privateKey: string
  /** SPKI PEM. */
  readonly publicKey: string
  readonly fingerprint: string
}

const CURVES: Readonly<Record<string, PublicKeyInfo['algorithm']>> = { prime256v1: 'ecdsa-p256', secp384r1: 'ecdsa-p384', secp521r1: 'ecdsa-p521' }
/** The hash ECDSA uses with each curve (as sigstore and model_signing do). */
export const ECDSA_HASH: Readonly<Record<string, string>> = { 'ecdsa-p256': 'sha256', 'ecdsa-p384': 'sha384', 'ecdsa-p521': 'sha512' }

function toBytes (b: Buffer): Uint8Array { return new Uint8Array(b.buffer, b.byteOffset, b.byteLength) }

function describePublic (key: KeyObject, source: string): PublicKeyInfo {
  let algorithm: PublicKeyInfo['algorithm'] | undefined
  if (key.asymmetricKeyType === 'ed25519') algorithm = 'ed25519'
  else if (key.asymmetricKeyType === 'ec') algorithm = CURVES[key.asymmetricKeyDetails?.namedCurve ?? '']
  if (algorithm === undefined) {
    const what = key.asymmetricKeyType === 'ec' ? `an EC key on curve ${key.asymmetricKeyDetails?.namedCurve ?? '?'}` : `a ${key.asymmetricKeyType ?? 'symmetric'} key`
    throw new InvalidArgumentError(`${source} is ${what}; mvc signs with ed25519 or ECDSA P-256 keys (\`mvc keygen\` makes one)`, { source })
  }
  const der = toBytes(key.export({ type: 'spki', format: 'der' }))
  return { key, algorithm, der, fingerprint: createHash('sha256').update(der).digest('hex'), pem: key.export({ type: 'spki', format: 'pem' }).toString() }
}

/** A public key from PEM (an SPKI public key, or a private key whose public half is taken). */
export function loadPublicKey (pem: string | Uint8Array, source: string): PublicKeyInfo {
  let key: KeyObject
  try {
    key = createPublicKey({ key: Buffer.from(pem), format: 'pem' })
  } catch (e) {
    throw new InvalidArgumentError(`${source} is not a PEM public key (${(e as Error).message}); give the .pub file \`mvc keygen\` wrote, or an SPKI "BEGIN PUBLIC KEY" file`, { source })
  }
  return describePublic(key, source)
}

/** A private key from PEM (PKCS#8 or SEC1; `password` for an encrypted one). */
export function loadSigningKey (pem: string | Uint8Array, source: string, password?: string): SigningKey {
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey({ key: Buffer.from(pem), format: 'pem', ...(password !== undefined ? { passphrase: password } : {}) })
  } catch (e) {
    const msg = (e as Error).message
    const hint = /passphrase|decrypt|bad decrypt/i.test(msg) ? ' (encrypted: give its password with --password or MVC_KEY_PASSWORD)' : ''
    throw new InvalidArgumentError(`${source} is not a usable PEM private key${hint}: ${msg}`, { source })
  }
  return { ...describePublic(createPublicKey(privateKey), source), privateKey }
}

/** A new key pair: ed25519 (mvc's default) or ECDSA P-256 (what OpenSSF model signing's `key` method uses). */
export function generateKey (algorithm: SignatureAlgorithm = 'ed25519'): GeneratedKey {
  const pair = algorithm === 'ed25519'
    ? generateKeyPairSync('ed25519')
    : generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const info = describePublic(pair.publicKey, 'the new key')
  return {
    algorithm,
    privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: info.pem,
    fingerprint: info.fingerprint
  }
}

/** DSSE's pre-authentication encoding: `DSSEv1 <len(type)> <type> <len(payload)> <payload>` (lengths in bytes). */
export function pae (payloadType: string, payload: Uint8Array): Uint8Array {
  const type = utf8.encode(payloadType)
  const head = utf8.encode(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `)
  const out = new Uint8Array(head.length + payload.length)
  out.set(head, 0)
  out.set(payload, head.length)
  return out
}

/** Signs bytes: ed25519, or ECDSA with the curve's hash (DER-encoded signature). */
export function signBytes (key: SigningKey, data: Uint8Array): Uint8Array {
  const hash = key.algorithm === 'ed25519' ? null : ECDSA_HASH[key.algorithm]!
  return toBytes(cryptoSign(hash, data, key.privateKey))
}

export function verifyBytes (key: PublicKeyInfo, data: Uint8Array, sig: Uint8Array): boolean {
  const hash = key.algorithm === 'ed25519' ? null : ECDSA_HASH[key.algorithm]!
  try { return cryptoVerify(hash, data, key.key, sig) } catch { return false }
}

// ----------------------------------------------------------------------------------------- signing

export interface SignOperation {
  readonly store: ObjectStore
  readonly rev: string
  readonly key: SigningKey
  /** Milliseconds since the epoch, recorded as the statement's `signedAt`. */
  readonly timestamp: number
  /** Replace an existing signature by the same key (default: keep it). */
  readonly force?: boolean
}

export interface SignResult {
  readonly cid: CID
  readonly version: number
  readonly signature: CID
  readonly fingerprint: string
  readonly algorithm: string
  readonly ref: string
  /** False when this key had already signed the commit (and `force` was not given). */
  readonly created: boolean
}

/** The in-toto statement an mvc signature signs (compact JSON, key order as written here). */
export function commitStatement (commit: CID, version: number, path: string, timestamp: number): Uint8Array {
  const statement = {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: [{ name: commit.toString(), digest: { sha256: Buffer.from(commit.multihash.digest).toString('hex') } }],
    predicateType: MVC_SIGNATURE_PREDICATE,
    predicate: { commit: commit.toString(), version, path, signedAt: new Date(timestamp).toISOString() }
  }
  return utf8.encode(JSON.stringify(statement))
}

export async function signCommit (options: SignOperation): Promise<SignResult> {
  const { store, key } = options
  const algorithm = key.algorithm
  if (algorithm !== 'ed25519' && algorithm !== 'ecdsa-p256') {
    throw new InvalidArgumentError(`mvc signs with ed25519 or ECDSA P-256 keys; this key is ${algorithm}`, { algorithm })
  }
  const cid = await resolveRev(store, options.rev)
  const commit = await readCommit(store, cid)
  const ref = signatureRef(cid.toString(), key.fingerprint)
  const existing = await store.readRef(ref)
  if (existing !== undefined && options.force !== true) {
    return { cid, version: commit.version, signature: CID.parse(existing), fingerprint: key.fingerprint, algorithm, ref, created: false }
  }
  const payload = commitStatement(cid, commit.version, commit.paths.map(p => p.path).join(','), options.timestamp)
  const sig = signBytes(key, pae(IN_TOTO_PAYLOAD_TYPE, payload))
  const value = {
    type: 'mvc/signature',
    commit: cid,
    key: { algorithm, publicKey: key.der },
    envelope: { payloadType: IN_TOTO_PAYLOAD_TYPE, payload, signatures: [{ keyid: key.fingerprint, sig }] }
  }
  const tx = await store.transaction()
  try {
    const block = await writeObject(tx, value)
    tx.setRef({ name: ref, value: block.cid.toString(), expect: existing ?? null })
    await tx.commit()
    return { cid, version: commit.version, signature: block.cid, fingerprint: key.fingerprint, algorithm, ref, created: true }
  } catch (err) { await tx.abort(); throw err }
}

// ------------------------------------------------------------------------------------ verification

export interface SignatureCheck {
  readonly ref: string
  readonly signature: string
  readonly fingerprint: string
  readonly algorithm: string
  /** The signature verifies and its statement names this commit. */
  readonly valid: boolean
  /** Why not, when not valid. */
  readonly problem?: string
  /** Its key is among the trusted keys given. */
  readonly trusted: boolean
  readonly signedAt?: string
}

/** Checks one `mvc/signature` object against the commit it should sign. Never throws for a bad signature: reports it. */
export function checkSignatureObject (sig: SignatureObject, commit: CID, fingerprint?: string): { valid: boolean, problem?: string, key?: PublicKeyInfo, signedAt?: string } {
  let key: PublicKeyInfo
  try {
    key = describePublic(createPublicKey({ key: Buffer.from(sig.key.publicKey), format: 'der', type: 'spki' }), 'the signature\'s key')
  } catch (e) { return { valid: false, problem: `its public key is unusable: ${(e as Error).message}` } }
  if (key.algorithm !== sig.key.algorithm) return { valid: false, problem: `its key is ${key.algorithm} but it says ${sig.key.algorithm}`, key }
  if (fingerprint !== undefined && key.fingerprint !== fingerprint) return { valid: false, problem: `its key ${key.fingerprint.slice(0, 16)}… is not the one its ref names (${fingerprint.slice(0, 16)}…)`, key }
  if (sig.commit.toString() !== commit.toString()) return { valid: false, problem: `it signs ${sig.commit.toString()}, not ${commit.toString()}`, key }
  if (sig.envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) return { valid: false, problem: `payload type ${sig.envelope.payloadType} is not ${IN_TOTO_PAYLOAD_TYPE}`, key }
  const data = pae(sig.envelope.payloadType, sig.envelope.payload)
  if (!sig.envelope.signatures.some(s => verifyBytes(key, data, s.sig))) return { valid: false, problem: 'the signature does not verify with its key (the statement or the signature was altered)', key }
  let statement: { _type?: unknown, subject?: Array<{ name?: unknown, digest?: { sha256?: unknown } }>, predicateType?: unknown, predicate?: { commit?: unknown, signedAt?: unknown } }
  try { statement = JSON.parse(utf8.decode(sig.envelope.payload)) } catch { return { valid: false, problem: 'its statement is not JSON', key } }
  const digest = Buffer.from(commit.multihash.digest).toString('hex')
  if (statement._type !== IN_TOTO_STATEMENT_TYPE || statement.predicateType !== MVC_SIGNATURE_PREDICATE) return { valid: false, problem: 'its statement is not an mvc commit signature', key }
  const subject = Array.isArray(statement.subject) ? statement.subject : []
  if (subject.length !== 1 || subject[0]?.digest?.sha256 !== digest || statement.predicate?.commit !== commit.toString()) {
    return { valid: false, problem: `its statement names another commit than ${commit.toString()}`, key }
  }
  return { valid: true, key, signedAt: typeof statement.predicate?.signedAt === 'string' ? statement.predicate.signedAt : undefined }
}

/** Every signature of a commit, checked, with `trusted` set for keys among `trusted`. */
export async function listSignatures (store: ObjectStore, commit: CID, trusted: readonly PublicKeyInfo[] = []): Promise<SignatureCheck[]> {
  const trustedFps = new Set(trusted.map(k => k.fingerprint))
  const out: SignatureCheck[] = []
  for (const [ref, value] of await store.listRefs(signaturesOf(commit.toString()))) {
    const parsed = parseSignatureRef(ref)
    if (parsed === undefined) continue
    let sigObj: SignatureObject
    try {
      const cid = CID.parse(value)
      sigObj = parseSignature(decodeObject(cid, await store.get(cid), `signature ${value}`))
    } catch (err) {
      if (!isMvcError(err)) throw err
      out.push({ ref, signature: value, fingerprint: parsed.fingerprint, algorithm: 'unknown', valid: false, problem: err.message, trusted: trustedFps.has(parsed.fingerprint) })
      continue
    }
    const r = checkSignatureObject(sigObj, commit, parsed.fingerprint)
    out.push({
      ref,
      signature: value,
      fingerprint: parsed.fingerprint,
      algorithm: sigObj.key.algorithm,
      valid: r.valid,
      ...(r.problem !== undefined ? { problem: r.problem } : {}),
      ...(r.signedAt !== undefined ? { signedAt: r.signedAt } : {}),
      trusted: trustedFps.has(parsed.fingerprint) && r.valid
    })
  }
  return out
}

/** A revision's signatures, checked against the repository's trusted keys and `extra` ones (PEM). */
export async function signaturesOfRev (store: ObjectStore, rev: string, extra: readonly string[] = []): Promise<{ cid: CID, version: number, signatures: SignatureCheck[] }> {
  const cid = await resolveRev(store, rev)
  const { version } = await readCommit(store, cid)
  return { cid, version, signatures: await listSignatures(store, cid, await trustedKeys(store, extra)) }
}

/** `requireSigned` for a revision, with the repository's trusted keys and `extra` ones (PEM). */
export async function requireSignedRev (store: ObjectStore, rev: string, extra: readonly string[] = []): Promise<SignedResult> {
  return await requireSigned(store, await resolveRev(store, rev), await trustedKeys(store, extra))
}

export interface SignedResult {
  readonly cid: CID
  readonly version: number
  /** The valid signatures by trusted keys (at least one). */
  readonly trustedBy: SignatureCheck[]
  readonly signatures: SignatureCheck[]
}

/**
 * The trust policy: the commit must carry a valid signature by one of `trusted`. SIGNATURE_MISSING when
 * it is unsigned or signed only by other keys; SIGNATURE_INVALID when a trusted key's signature does
 * not verify (and no other trusted signature does).
 */
export async function requireSigned (store: ObjectStore, commit: CID, trusted: readonly PublicKeyInfo[]): Promise<SignedResult> {
  const version = (await readCommit(store, commit)).version
  if (trusted.length === 0) {
    throw new InvalidArgumentError('no trusted keys: add one with `mvc trust add <key.pub>` or give --trusted-key <key.pub>', {})
  }
  const signatures = await listSignatures(store, commit, trusted)
  const trustedBy = signatures.filter(s => s.trusted)
  if (trustedBy.length > 0) return { cid: commit, version, trustedBy, signatures }
  const trustedFps = new Set(trusted.map(k => k.fingerprint))
  const broken = signatures.find(s => trustedFps.has(s.fingerprint) && !s.valid)
  if (broken !== undefined) {
    throw new SignatureInvalidError(`v${version} (${commit.toString()}): the signature by trusted key ${broken.fingerprint.slice(0, 16)}… is invalid: ${broken.problem ?? ''}. Do not use this version; fetch it again from a source you trust.`,
      { cid: commit.toString(), version, fingerprint: broken.fingerprint, problem: broken.problem })
  }
  const others = signatures.map(s => s.fingerprint.slice(0, 16) + '…')
  throw new SignatureMissingError(signatures.length === 0
    ? `v${version} (${commit.toString()}) is not signed; a trusted key must sign it (\`mvc sign v${version} --key <key>\`)`
    : `v${version} (${commit.toString()}) is signed only by keys that are not trusted (${others.join(', ')}); \`mvc trust add <key.pub>\` if you trust one of them`,
  { cid: commit.toString(), version, signers: signatures.map(s => s.fingerprint) })
}

// ------------------------------------------------------------------------------------- trust store

export interface TrustedKey {
  readonly fingerprint: string
  readonly name: string
  readonly algorithm: string
  readonly publicKey: string
  readonly added: number
}

export async function listTrustedKeys (store: ObjectStore): Promise<TrustedKey[]> {
  const out: TrustedKey[] = []
  for (const [k, v] of await store.listMeta(META.trustedKey)) {
    try {
      const j = JSON.parse(utf8.decode(v)) as { name?: unknown, publicKey?: unknown, added?: unknown }
      if (typeof j.publicKey !== 'string') continue
      const info = loadPublicKey(j.publicKey, `trusted key ${k}`)
      out.push({ fingerprint: info.fingerprint, name: typeof j.name === 'string' ? j.name : '', algorithm: info.algorithm, publicKey: info.pem, added: typeof j.added === 'number' ? j.added : 0 })
    } catch { /* an unreadable entry is no trust */ }
  }
  return out
}

export async function addTrustedKey (store: ObjectStore, pem: string, name: string, timestamp: number): Promise<TrustedKey> {
  const info = loadPublicKey(pem, name === '' ? 'the key' : name)
  const entry: TrustedKey = { fingerprint: info.fingerprint, name, algorithm: info.algorithm, publicKey: info.pem, added: timestamp }
  const tx = await store.transaction()
  try {
    tx.setMeta(trustedKeyKey(info.fingerprint), utf8.encode(JSON.stringify({ name, publicKey: info.pem, added: timestamp })))
    await tx.commit()
  } catch (err) { await tx.abort(); throw err }
  return entry
}

/** Removes a trusted key named by its name or a fingerprint prefix (≥ 8 hex digits). */
export async function removeTrustedKey (store: ObjectStore, id: string): Promise<TrustedKey> {
  const keys = await listTrustedKeys(store)
  const matches = keys.filter(k => k.name === id || (id.length >= 8 && k.fingerprint.startsWith(id.toLowerCase())))
  if (matches.length !== 1) {
    throw new InvalidArgumentError(matches.length === 0
      ? `no trusted key named ${JSON.stringify(id)} or with a fingerprint starting with it (\`mvc trust\` lists them)`
      : `${JSON.stringify(id)} matches ${matches.length} trusted keys; give more of the fingerprint`, { id })
  }
  const tx = await store.transaction()
  try {
    tx.setMeta(trustedKeyKey(matches[0]!.fingerprint), null)
    await tx.commit()
  } catch (err) { await tx.abort(); throw err }
  return matches[0]!
}

export async function requireSignedSetting (store: ObjectStore): Promise<boolean> {
  const v = await store.readMeta(META.requireSigned)
  return v !== undefined && utf8.decode(v) === '1'
}

export async function setRequireSigned (store: ObjectStore, on: boolean): Promise<void> {
  const tx = await store.transaction()
  try {
    tx.setMeta(META.requireSigned, on ? utf8.encode('1') : null)
    await tx.commit()
  } catch (err) { await tx.abort(); throw err }
}

/** What a command that takes a version applies: trusted keys (the repository's plus extra ones) and whether to require a signature. */
export interface TrustPolicy {
  /** Extra trusted public keys (PEM), besides the repository's. */
  readonly trustedKeys?: readonly string[]
  /** Require a trusted signature; undefined: the repository's `require-signed` setting. */
  readonly requireSigned?: boolean
}

/** The keys a policy trusts: the repository's trusted keys and the extra ones. */
export async function trustedKeys (store: ObjectStore, extra: readonly string[] = []): Promise<PublicKeyInfo[]> {
  const keys = (await listTrustedKeys(store)).map(k => loadPublicKey(k.publicKey, `trusted key ${k.name}`))
  extra.forEach((pem, i) => keys.push(loadPublicKey(pem, `trusted key #${i + 1}`)))
  return keys
}

/** Applies a trust policy to a commit before it is used: nothing when no signature is required. */
export async function enforcePolicy (store: ObjectStore, commit: CID, policy: TrustPolicy | undefined): Promise<SignedResult | undefined> {
  const required = policy?.requireSigned ?? await requireSignedSetting(store)
  if (!required) return undefined
  return await requireSigned(store, commit, await trustedKeys(store, policy?.trustedKeys ?? []))
}

/** Resolves a revision and applies the policy (checkout). */
export async function enforcePolicyForRev (store: ObjectStore, rev: string, policy: TrustPolicy | undefined): Promise<SignedResult | undefined> {
  const required = policy?.requireSigned ?? await requireSignedSetting(store)
  if (!required) return undefined
  return await enforcePolicy(store, await resolveRev(store, rev), { ...policy, requireSigned: true })
}
