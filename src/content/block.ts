/**
 * The one place that chooses codecs and hashes. Bytes and their CID are produced together, so the two
 * can never drift apart, and every read goes back through `verifyBlock`.
 *
 * - Raw chunks: CIDv1, codec `raw` (0x55), sha2-256.
 * - Structured objects: CIDv1, codec `dag-cbor` (0x71), sha2-256. dag-cbor is canonical (sorted map
 *   keys, shortest integer encodings), so equal values always have equal CIDs.
 */
import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import * as dagCbor from '@ipld/dag-cbor'
import { MAX_CBOR_DEPTH, cborDepth } from './bounded.js'
import { CorruptObjectError, InvalidObjectError } from '../errors.js'

export const RAW = 0x55
export const DAG_CBOR = 0x71
export const SHA2_256 = 0x12

export { CID }

export interface Block<T = unknown> {
  readonly cid: CID
  readonly bytes: Uint8Array
  readonly value: T
}

/** The hash of every CID mvc writes, by its node:crypto name (for code that hashes off the main thread). */
export const HASH_ALGORITHM = 'sha256'
export const DIGEST_BYTES = 32

export function sha256 (bytes: Uint8Array): Uint8Array {
  const h = createHash('sha256').update(bytes).digest()
  return new Uint8Array(h.buffer, h.byteOffset, h.byteLength)
}

function cidFor (codec: number, bytes: Uint8Array): CID {
  return CID.createV1(codec, Digest.create(SHA2_256, sha256(bytes)))
}

/** CID of a raw chunk. */
export function rawCid (bytes: Uint8Array): CID {
  return cidFor(RAW, bytes)
}

/** CID of a raw chunk whose SHA-256 digest was computed elsewhere (a hashing thread). */
export function rawCidFromDigest (digest: Uint8Array): CID {
  if (digest.length !== DIGEST_BYTES) throw new TypeError(`a sha2-256 digest has ${DIGEST_BYTES} bytes, got ${digest.length}`)
  return CID.createV1(RAW, Digest.create(SHA2_256, digest))
}

/** Encodes a structured value as dag-cbor and returns bytes and CID together. */
export function encodeObject<T> (value: T): Block<T> {
  const bytes = dagCbor.encode(value)
  return { cid: cidFor(DAG_CBOR, bytes), bytes, value }
}

/** Re-hashes bytes read back from anywhere; throws CorruptObjectError naming the CID and the source. */
export function verifyBlock (cid: CID, bytes: Uint8Array, source: string): void {
  checkCid(cid, source)
  verifyDigest(cid, sha256(bytes), bytes.length, source)
}

/** Refuses CIDs mvc does not store (InvalidObjectError): check before hashing anything. */
export function checkCid (cid: CID, source: string): void {
  if (cid.version !== 1 || cid.multihash.code !== SHA2_256 || (cid.code !== RAW && cid.code !== DAG_CBOR)) {
    throw new InvalidObjectError(`unsupported CID ${cid.toString()} (read from ${source}): mvc stores only CIDv1 sha2-256 raw or dag-cbor objects`, { cid: cid.toString(), source })
  }
}

/**
 * `verifyBlock` for bytes hashed elsewhere (a hashing thread): the SHA-256 `actual` digest of `length`
 * bytes read from `source` must be the CID's. Throws CorruptObjectError like verifyBlock.
 */
export function verifyDigest (cid: CID, actual: Uint8Array, length: number, source: string): void {
  checkCid(cid, source)
  if (!equalBytes(actual, cid.multihash.digest)) {
    throw new CorruptObjectError(
      `object ${cid.toString()} is corrupt: the ${length} bytes read from ${source} hash to a different value. ` +
      'Run `mvc fsck` to find other damage; restore the object from a remote or a backup.',
      { cid: cid.toString(), source, size: length })
  }
}

/** Decodes a verified dag-cbor object. */
export function decodeObject<T = unknown> (cid: CID, bytes: Uint8Array, source: string): T {
  verifyBlock(cid, bytes, source)
  if (cid.code !== DAG_CBOR) {
    throw new InvalidObjectError(`object ${cid.toString()} is a raw chunk, not a structured object`, { cid: cid.toString(), source })
  }
  return decodeCbor<T>(bytes, `object ${cid.toString()} (read from ${source})`)
}

/**
 * dag-cbor bytes → value, for bytes from anywhere: nesting past MAX_CBOR_DEPTH (which would overflow the
 * decoder's stack) and anything the decoder refuses are INVALID_OBJECT naming `what`.
 */
export function decodeCbor<T = unknown> (bytes: Uint8Array, what: string): T {
  const depth = cborDepth(bytes)
  if (depth > MAX_CBOR_DEPTH) {
    throw new InvalidObjectError(`${what} nests deeper than ${MAX_CBOR_DEPTH} levels; mvc never writes such objects (it is crafted or damaged)`, { depth: MAX_CBOR_DEPTH })
  }
  try {
    return dagCbor.decode<T>(bytes)
  } catch (err) {
    throw new InvalidObjectError(`${what} is not valid dag-cbor: ${(err as Error).message}`, {}, { cause: err })
  }
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

/** Parses a CID string, or returns undefined when it is not one. */
export function tryParseCid (s: string): CID | undefined {
  try { return CID.parse(s) } catch { return undefined }
}

export function asCid (v: unknown): CID | undefined {
  return CID.asCID(v) ?? undefined
}
