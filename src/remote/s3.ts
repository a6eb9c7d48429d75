/**
 * `Remote` over S3 (AWS S3, Ceph radosgw, MinIO, …) for `s3://bucket/prefix` URLs, with the AWS SDK v3.
 * Layout, consistency and configuration are in docs/s3.md; in short:
 *
 *   <prefix>/objects/<cid>     one S3 object per mvc object, its bytes exactly
 *   <prefix>/HEAD              a ref: its value as UTF-8 text ("ref: refs/heads/main")
 *   <prefix>/refs/<…>          refs (refs/heads/main, refs/versions/3, …): the CID as text; 0 bytes = deleted
 *   <prefix>/mvc-format        format marker: {"format":"mvc-remote","version":1}
 *
 * - The marker is read once per remote before its first operation and written (If-None-Match: *) before
 *   its first write. A marker naming another format or version is UNSUPPORTED_FORMAT for every
 *   operation; a prefix without one (empty, or written by an mvc older than the marker) is read as
 *   version 1 and gets the marker on its first write.
 * - Objects are created with `If-None-Match: *`: a 412 means the object is already there, which for
 *   content-addressed objects is success (and nothing is rewritten). Uploads carry Content-MD5 (checked by
 *   every S3 server) and x-amz-checksum-sha256, which is the CID's own digest (checked by servers that
 *   know flexible checksums, so they refuse bytes that are not the object named). `put` also re-hashes.
 * - `get` re-hashes (CORRUPT_OBJECT naming the CID and the s3:// URL): S3 cannot check CIDs on upload.
 * - Refs move by compare-and-swap on the ref object's ETag: `If-Match: <etag>` to update, `If-None-Match: *`
 *   to create; 412 → REF_CONFLICT. Deleting a ref writes an empty object under `If-Match` (a tombstone),
 *   because servers ignore `If-Match` on DELETE (radosgw 16 does) and an unconditional DELETE could
 *   remove a value someone else just wrote.
 *
 * - Retries (docs/remotes.md, "Retries"): each request is retried by the AWS SDK's own standard strategy
 *   (3 attempts, exponential backoff with jitter, S3's throttling codes, clock-skew correction); `casRef`
 *   depends on it (radosgw's 500 on a conditional write that lost a race, an applied write whose answer
 *   was lost). What the SDK gives up on is retried as a whole operation by `RetryingRemote` (retry.ts),
 *   which `openRemote` wraps around this transport. The only loops here are S3 semantics, not transient
 *   failures: 409 ConditionalRequestConflict (another conditional write of the key is in flight) and the
 *   one-time switch to bare ETags in If-Match.
 *
 * Endpoint, region and credentials come from the options, else from the AWS SDK's usual sources
 * (AWS_ENDPOINT_URL[_S3], AWS_REGION, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE and
 * ~/.aws/config, …). With a custom endpoint requests are path-style (http://host:port/bucket/key).
 *
 *   const remote = await openS3Remote('s3://models/team-a', { endpoint: 'http://127.0.0.1:7480' })
 */
import { createHash } from 'node:crypto'
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client
} from '@aws-sdk/client-s3'
import { CID } from 'multiformats/cid'
import { verifyBlock } from '../content/block.js'
import {
  AuthError, CorruptObjectError, InvalidArgumentError, ObjectNotFoundError, RefConflictError, RemoteError, UnsupportedFormatError, isMvcError
} from '../errors.js'
import type { Remote, RemoteRef, StoredObject } from './interface.js'
import { refNameProblem } from '../format/keys.js'
import { pool } from '../store/async.js'

// The SDK warns (once per process, when a client is made) under Node 20 that its releases after January
// 2027 need Node 22; mvc pins the SDK in its lock file and supports Node 20, so on stderr it is only noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

export interface S3RemoteOptions {
  /** Endpoint URL (e.g. http://127.0.0.1:7480); default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the shared config, else AWS. */
  readonly endpoint?: string
  /** Default: AWS_REGION, the shared config, else us-east-1. */
  readonly region?: string
  /** Both or neither; default: the SDK's credential chain (environment, shared files, …). */
  readonly accessKeyId?: string
  readonly secretAccessKey?: string
  readonly sessionToken?: string
  /** Path-style requests; default: true when an endpoint is configured, false for AWS. */
  readonly forcePathStyle?: boolean
  /** HEAD requests in flight for `hasMany` (default 16). */
  readonly concurrency?: number
  /** @internal Keys per ListObjectsV2 page in `hasMany` (default: the server's, 1,000 on S3); tests make it small. */
  readonly listPageSize?: number
  /**
   * The remote's stored options (`m/remote/<name>`, see src/remote/config.ts): `endpoint`, `region` and
   * `forcePathStyle` are read from it. Credentials never are: they don't belong in a repository's config.
   */
  readonly config?: Readonly<Record<string, unknown>>
}

/** Bounded: requests beyond this wait for a socket instead of opening more connections. */
const MAX_SOCKETS = 32
const HEAD_CONCURRENCY = 16
const LIST_CONCURRENCY = 16
/** `hasMany` batches at least this large try ListObjectsV2 first (one listing answers up to 1,000 keys). */
const LIST_MIN_BATCH = 64
/** A listing page that answers fewer requested keys than this is not worth it: the rest go by HEAD. */
const LIST_MIN_HITS_PER_PAGE = 16
const CONNECT_TIMEOUT_MS = 10_000
const IDLE_TIMEOUT_MS = 120_000
/** Largest object `get` accepts (chunks are ≤ 4 MiB; structured objects are far smaller). */
const MAX_OBJECT_BYTES = 1024 * 1024 * 1024
const MAX_REF_BYTES = 64 * 1024
const PUT_CONFLICT_RETRIES = 4

/** The layout an S3 prefix holds (docs/s3.md, "Format marker"); a new layout or object format gets a new version. */
export const S3_FORMAT = 'mvc-remote'
export const S3_FORMAT_VERSION = 1
/** Key of the marker under the prefix, and its exact bytes as this version writes them. */
export const S3_FORMAT_KEY = 'mvc-format'
export const S3_FORMAT_MARKER = `{"format":"${S3_FORMAT}","version":${S3_FORMAT_VERSION}}`
const MAX_MARKER_BYTES = 64 * 1024

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

/** What `s3://bucket/prefix?endpoint=…&region=…&forcePathStyle=…` says. */
export interface S3Location {
  readonly bucket: string
  /** '' or ends with '/': every key starts with it. */
  readonly base: string
  readonly endpoint?: string
  readonly region?: string
  readonly forcePathStyle?: boolean
}

const QUERY_KEYS = new Set(['endpoint', 'region', 'forcePathStyle'])

/** Parses an s3:// URL (the bucket keeps its case; the URL class would lower-case it). */
export function parseS3Url (url: string): S3Location {
  const m = /^s3:\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?$/i.exec(url)
  if (m === null) throw new InvalidArgumentError(`${url} is not an S3 URL: use s3://bucket or s3://bucket/prefix`, { url })
  const bucket = m[1]!
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/.test(bucket)) {
    throw new InvalidArgumentError(`${url}: ${JSON.stringify(bucket)} is not a bucket name (letters, digits, ".", "-", "_")`, { url, bucket })
  }
  let prefix: string
  try { prefix = decodeURIComponent(m[2]!) } catch { throw new InvalidArgumentError(`${url}: the prefix is not valid percent-encoding`, { url }) }
  const parts = prefix.split('/').filter(p => p !== '')
  if (parts.some(p => p === '.' || p === '..') || /[\x00-\x1f\x7f\\]/.test(prefix)) { // eslint-disable-line no-control-regex
    throw new InvalidArgumentError(`${url}: the prefix may not contain ".", ".." or control characters`, { url })
  }
  const query = new URLSearchParams(m[3] ?? '')
  for (const k of query.keys()) {
    if (!QUERY_KEYS.has(k)) throw new InvalidArgumentError(`${url}: unknown parameter ${JSON.stringify(k)} (S3 URLs take endpoint, region and forcePathStyle)`, { url, parameter: k })
  }
  const pathStyle = query.get('forcePathStyle')
  if (pathStyle !== null && pathStyle !== 'true' && pathStyle !== 'false') {
    throw new InvalidArgumentError(`${url}: forcePathStyle must be true or false`, { url })
  }
  return {
    bucket,
    base: parts.length === 0 ? '' : parts.join('/') + '/',
    endpoint: query.get('endpoint') ?? undefined,
    region: query.get('region') ?? undefined,
    forcePathStyle: pathStyle === null ? undefined : pathStyle === 'true'
  }
}

function str (v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

/** Opens an S3 remote. Nothing is sent until the first operation. */
export async function openS3Remote (url: string, options: S3RemoteOptions = {}): Promise<Remote> {
  const loc = parseS3Url(url)
  const cfg = options.config ?? {}
  const envEndpoint = str(process.env.AWS_ENDPOINT_URL_S3) ?? str(process.env.AWS_ENDPOINT_URL)
  const endpoint = str(options.endpoint) ?? str(cfg.endpoint) ?? loc.endpoint
  if (endpoint !== undefined) {
    let u: URL
    try { u = new URL(endpoint) } catch { throw new InvalidArgumentError(`S3 endpoint ${endpoint} is not a URL (e.g. http://127.0.0.1:7480)`, { url, endpoint }) }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError(`S3 endpoint ${endpoint} must be http:// or https://`, { url, endpoint })
  }
  if ((options.accessKeyId === undefined) !== (options.secretAccessKey === undefined)) {
    throw new InvalidArgumentError('give both accessKeyId and secretAccessKey, or neither', { url })
  }
  const cfgPathStyle = typeof cfg.forcePathStyle === 'boolean' ? cfg.forcePathStyle : undefined
  const forcePathStyle = options.forcePathStyle ?? cfgPathStyle ?? loc.forcePathStyle ?? (endpoint !== undefined || envEndpoint !== undefined)
  const region = str(options.region) ?? str(cfg.region) ?? loc.region
  const concurrency = Math.max(1, Math.min(MAX_SOCKETS, options.concurrency ?? HEAD_CONCURRENCY))

  const make = (region: string | undefined): S3Client => new S3Client({
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(region !== undefined ? { region } : {}),
    ...(options.accessKeyId !== undefined && options.secretAccessKey !== undefined
      ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey, ...(options.sessionToken !== undefined ? { sessionToken: options.sessionToken } : {}) } }
      : {}),
    forcePathStyle,
    // Plain Content-Length uploads: with the SDK's default (WHEN_SUPPORTED) bodies go aws-chunked with
    // trailing checksums, which local servers store corrupted or refuse. We send our own checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
      connectionTimeout: CONNECT_TIMEOUT_MS,
      socketTimeout: IDLE_TIMEOUT_MS
    }
  })
  let client = make(region)
  if (region === undefined) {
    // The SDK reads AWS_REGION and the shared config; a bare endpoint (radosgw, MinIO) often has neither.
    try { await client.config.region() } catch { client.destroy(); client = make('us-east-1') }
  }
  const where = endpoint ?? envEndpoint ?? `AWS S3 (${await client.config.region().catch(() => 'us-east-1')})`
  return new S3Remote(url, loc, client, where, concurrency, options.listPageSize)
}

interface RefState {
  /** null: absent (no object, or a tombstone). */
  readonly value: string | null
  /** The ref object's ETag as the server sent it; undefined when there is no object at all. */
  readonly etag: string | undefined
}

interface SdkError {
  name?: string
  code?: string
  message?: string
  $metadata?: { httpStatusCode?: number, attempts?: number }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED'])
const AUTH_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired', 'AllAccessDisabled', 'InvalidSecurity'])

function statusOf (err: unknown): number | undefined {
  return (err as SdkError)?.$metadata?.httpStatusCode
}

function isStatus (err: unknown, ...statuses: number[]): boolean {
  const s = statusOf(err)
  return s !== undefined && statuses.includes(s)
}

/** Endpoints found to want bare ETags in If-Match (per process: every remote on them starts knowing). */
const UNQUOTED_ETAG_ENDPOINTS = new Set<string>()

function unquote (etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1')
}

class S3Remote implements Remote {
  private bucketChecked: Promise<void> | undefined
  /** The format marker, read once: true when present (and known), false when the prefix has none. */
  private formatRead: Promise<boolean> | undefined
  private formatWritten: Promise<void> | undefined
  /** radosgw 16 compares If-Match with the stored ETag literally, without quotes; learned on first use. */
  private unquotedEtags: boolean
  private closed = false

  constructor (
    readonly url: string,
    private readonly loc: S3Location,
    private readonly client: S3Client,
    /** The endpoint, for messages. */
    readonly endpoint: string,
    private readonly concurrency: number,
    private readonly listPageSize?: number
  ) {
    this.unquotedEtags = UNQUOTED_ETAG_ENDPOINTS.has(endpoint)
  }

  // --- keys

  objectKey (cid: CID): string { return `${this.loc.base}objects/${cid.toString()}` }
  private refKey (name: string): string { return this.loc.base + name }
  private s3Url (key: string): string { return `s3://${this.loc.bucket}/${key}` }

  // --- Remote

  async hasMany (cids: readonly CID[]): Promise<boolean[]> {
    this.open()
    if (cids.length === 0) return []
    // A HEAD of a missing key and a HEAD in a missing bucket both answer a bare 404: ask about the bucket once.
    await this.checkBucket()
    await this.checkFormat()
    const out = new Array<boolean | undefined>(cids.length)
    if (cids.length >= LIST_MIN_BATCH) await this.hasByListing(cids, out)
    const rest = [...out.keys()].filter(i => out[i] === undefined)
    await pool(rest, this.concurrency, async i => {
      out[i] = await this.exists(this.objectKey(cids[i]!), `checking for object ${cids[i]!.toString()}`)
    })
    return out as boolean[]
  }

  async get (cid: CID): Promise<Uint8Array> {
    this.open()
    await this.checkFormat()
    const key = this.objectKey(cid)
    const what = `getting object ${cid.toString()}`
    let bytes: Uint8Array
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.loc.bucket, Key: key }))
      if (res.ContentLength !== undefined && res.ContentLength > MAX_OBJECT_BYTES) {
        res.Body?.transformToWebStream().cancel().catch(() => {})
        throw new RemoteError(`${this.s3Url(key)} is ${res.ContentLength} bytes, more than any mvc object; is this an mvc remote?`, { url: this.url, cid: cid.toString(), size: res.ContentLength })
      }
      bytes = res.Body === undefined ? new Uint8Array(0) : await res.Body.transformToByteArray()
    } catch (err) {
      if (isStatus(err, 404) && (err as SdkError).name !== 'NoSuchBucket') {
        throw new ObjectNotFoundError(`object ${cid.toString()} is not on the remote ${this.url} (${this.s3Url(key)})`, { url: this.url, cid: cid.toString() })
      }
      throw this.failure(err, what)
    }
    const source = this.s3Url(key)
    try {
      verifyBlock(cid, bytes, source)
    } catch (err) {
      if (!isMvcError(err) || err.code !== CorruptObjectError.code) throw err
      throw new CorruptObjectError(
        `object ${cid.toString()} received from ${source} (${this.endpoint}) is corrupt: its ${bytes.length} bytes hash to a different value. ` +
        'The copy in the bucket is damaged or was altered on the way; nothing was stored.', { cid: cid.toString(), source, url: this.url, size: bytes.length }, { cause: err })
    }
    return bytes
  }

  async put (cid: CID, bytes: Uint8Array): Promise<void> {
    this.open()
    // S3 cannot check that bytes match a CID, so wrong bytes are refused here, before anything is sent.
    verifyBlock(cid, bytes, `an object sent to ${this.url}`)
    await this.ensureFormat()
    const key = this.objectKey(cid)
    const what = `storing object ${cid.toString()}`
    const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const input = {
      Bucket: this.loc.bucket,
      Key: key,
      Body: body,
      ContentLength: body.length,
      ContentType: 'application/octet-stream',
      ContentMD5: createHash('md5').update(body).digest('base64'),
      // sha2-256 of the bytes is the CID's digest (verifyBlock just checked): free, and lets servers that
      // support flexible checksums refuse bytes damaged on the way.
      ChecksumSHA256: Buffer.from(cid.multihash.digest).toString('base64'),
      IfNoneMatch: '*'
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(new PutObjectCommand(input))
        return
      } catch (err) {
        // 412: the key exists. Its content is this object (content-addressed; get re-hashes anyway).
        if (isStatus(err, 412)) return
        // 409: another conditional write of this key is in flight (AWS: ConditionalRequestConflict).
        if (isStatus(err, 409) && attempt < PUT_CONFLICT_RETRIES) { await sleep(50 * 2 ** attempt); continue }
        throw this.failure(err, what)
      }
    }
  }

  async listRefs (prefix: string): Promise<RemoteRef[]> {
    this.open()
    if (typeof prefix !== 'string') throw new InvalidArgumentError('a ref prefix must be a string', { prefix })
    const what = `listing refs under ${JSON.stringify(prefix)}`
    await this.checkFormat()
    // Refs are HEAD and refs/…; list only what can match, never objects/.
    const scans: string[] = []
    for (const root of ['HEAD', 'refs/']) {
      if (root.startsWith(prefix)) scans.push(root)
      else if (prefix.startsWith(root)) scans.push(prefix)
    }
    const names: string[] = []
    for (const scan of scans) {
      for (const { key, size } of await this.list(this.refKey(scan), what)) {
        const name = key.slice(this.loc.base.length)
        if (size === 0 || !name.startsWith(prefix) || refNameProblem(name) !== undefined) continue // tombstones, strays
        names.push(name)
      }
    }
    const refs: Array<RemoteRef | undefined> = new Array(names.length)
    await pool([...names.keys()], LIST_CONCURRENCY, async i => {
      const { value } = await this.readRef(names[i]!, what)
      if (value !== null) refs[i] = { name: names[i]!, value }
    })
    return refs.filter((r): r is RemoteRef => r !== undefined).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  }

  async casRef (name: string, expect: string | null, value: string | null): Promise<void> {
    this.open()
    const problem = refNameProblem(name)
    if (problem !== undefined) throw new InvalidArgumentError(`invalid ref name ${JSON.stringify(name)}: ${problem}`, { name })
    if (value !== null && (value === '' || utf8.encode(value).length > MAX_REF_BYTES || /[\x00-\x1f\x7f]/.test(value))) { // eslint-disable-line no-control-regex
      throw new InvalidArgumentError(`ref ${name}: ${JSON.stringify(value.slice(0, 100))} is not a ref value`, { name })
    }
    const what = `moving ref ${name}`
    await this.ensureFormat()
    if (value !== null && name !== 'HEAD') {
      // A ref moves only to an object the remote has (transfers put objects bottom-up, refs last).
      let cid: CID
      try { cid = CID.parse(value) } catch {
        throw new InvalidArgumentError(`ref ${name}: ${JSON.stringify(value)} is not a CID`, { name, value })
      }
      await this.checkBucket()
      if (!(await this.exists(this.objectKey(cid), what))) {
        throw new RemoteError(`refusing to set ${name} on ${this.url} to ${value}: the remote does not have that object`, { url: this.url, name, value })
      }
    }
    const current = await this.readRef(name, what)
    if (current.value !== expect) throw this.conflict(name, expect, current.value)
    if (value === expect) return
    for (let attempt = 0; ; attempt++) {
      const condition = current.etag === undefined
        ? { IfNoneMatch: '*' }
        : { IfMatch: this.unquotedEtags ? unquote(current.etag) : current.etag }
      try {
        await this.client.send(new PutObjectCommand({
          Bucket: this.loc.bucket,
          Key: this.refKey(name),
          Body: value === null ? Buffer.alloc(0) : Buffer.from(value, 'utf8'),
          ContentType: 'text/plain; charset=utf-8',
          ...condition
        }))
        return
      } catch (err) {
        // 412: the condition failed. 409: a concurrent conditional write (AWS). 500: radosgw 16 answers a
        // conditional write that lost a race at the RADOS level with 500 (ECANCELED); the SDK retries it
        // and the retry gets 412, unless the retries run out first.
        if (!isStatus(err, 412, 409, 500)) throw this.failure(err, what)
        const now = await this.readRef(name, what)
        // The SDK retried a write whose first attempt was applied (its answer was lost): done.
        if (((err as SdkError).$metadata?.attempts ?? 1) > 1 && now.value === value) return
        // A server that compares If-Match without the quotes refuses the ETag it sent us: try the bare form once.
        if (attempt === 0 && isStatus(err, 412) && current.etag !== undefined && !this.unquotedEtags &&
            now.etag !== undefined && unquote(now.etag) === unquote(current.etag)) {
          this.unquotedEtags = true
          UNQUOTED_ETAG_ENDPOINTS.add(this.endpoint)
          continue
        }
        if (isStatus(err, 500) && now.etag === current.etag) throw this.failure(err, what) // nothing moved: a real server error
        throw this.conflict(name, expect, now.value)
      }
    }
  }

  /**
   * Every object under `<prefix>/objects/` with its size and LastModified (when the upload finished):
   * gc's view of what is stored (docs/s3.md, "gc"). Keys that are not CIDs are skipped.
   */
  async * listObjects (): AsyncIterable<StoredObject> {
    await this.checkBucket()
    const prefix = `${this.loc.base}objects/`
    let token: string | undefined
    do {
      let res
      try {
        res = await this.client.send(new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: this.listPageSize }))
      } catch (err) {
        throw this.failure(err, 'listing objects')
      }
      for (const o of res.Contents ?? []) {
        if (o.Key === undefined) continue
        let cid: CID
        try { cid = CID.parse(o.Key.slice(prefix.length)) } catch { continue }
        yield { cid, size: o.Size ?? 0, storedAt: o.LastModified?.getTime() ?? Date.now() }
      }
      token = res.IsTruncated === true ? res.NextContinuationToken : undefined
    } while (token !== undefined)
  }

  /** Deletes objects (one request each: multi-object delete needs checksums some servers refuse). */
  async deleteObjects (cids: readonly CID[]): Promise<void> {
    this.open()
    await pool([...cids], this.concurrency, async cid => {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.loc.bucket, Key: this.objectKey(cid) }))
      } catch (err) {
        if (isStatus(err, 404) && (err as SdkError).name !== 'NoSuchBucket') return
        throw this.failure(err, `deleting object ${cid.toString()}`)
      }
    })
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.client.destroy()
  }

  // --- helpers

  private open (): void {
    if (this.closed) throw new RemoteError(`the remote ${this.url} is closed`, { url: this.url })
  }

  private async checkBucket (): Promise<void> {
    this.bucketChecked ??= (async () => {
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: this.loc.bucket }))
      } catch (err) {
        if (isStatus(err, 404)) throw this.noSuchBucket(err)
        throw this.failure(err, `checking bucket ${this.loc.bucket}`)
      }
    })().catch((err: unknown) => { this.bucketChecked = undefined; throw err })
    await this.bucketChecked
  }

  /**
   * Reads the format marker once (again after a failure). Refuses a marker naming another format or
   * version; a prefix without one (empty, or written before markers existed) is format version 1.
   */
  private async checkFormat (): Promise<boolean> {
    this.formatRead ??= this.readFormat().catch((err: unknown) => { this.formatRead = undefined; throw err })
    return await this.formatRead
  }

  /** Before the first write: the marker is there, or is created now (before any object or ref). */
  private async ensureFormat (): Promise<void> {
    if (await this.checkFormat()) return
    this.formatWritten ??= this.writeFormat().catch((err: unknown) => { this.formatWritten = undefined; throw err })
    await this.formatWritten
  }

  private async readFormat (): Promise<boolean> {
    const key = this.loc.base + S3_FORMAT_KEY
    const what = 'reading the format marker'
    let bytes: Uint8Array
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.loc.bucket, Key: key }))
      if (res.ContentLength !== undefined && res.ContentLength > MAX_MARKER_BYTES) {
        res.Body?.transformToWebStream().cancel().catch(() => {})
        throw this.unsupported(key, `${res.ContentLength} bytes`, undefined)
      }
      bytes = res.Body === undefined ? new Uint8Array(0) : await res.Body.transformToByteArray()
    } catch (err) {
      if (isStatus(err, 404) && (err as SdkError).name !== 'NoSuchBucket') return false
      throw this.failure(err, what)
    }
    let marker: unknown
    try { marker = JSON.parse(fromUtf8.decode(bytes)) } catch { throw this.unsupported(key, 'not JSON', undefined) }
    const m = marker as { format?: unknown, version?: unknown } | null
    if (typeof m !== 'object' || m === null || m.format !== S3_FORMAT) {
      throw this.unsupported(key, `format ${JSON.stringify(m?.format ?? null)}`, undefined)
    }
    if (m.version !== S3_FORMAT_VERSION) throw this.unsupported(key, `version ${JSON.stringify(m.version ?? null)}`, m.version)
    return true
  }

  private async writeFormat (): Promise<void> {
    const key = this.loc.base + S3_FORMAT_KEY
    const body = Buffer.from(S3_FORMAT_MARKER, 'utf8')
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(new PutObjectCommand({
          Bucket: this.loc.bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ContentType: 'application/json',
          ContentMD5: createHash('md5').update(body).digest('base64'),
          IfNoneMatch: '*'
        }))
        this.formatRead = Promise.resolve(true)
        return
      } catch (err) {
        // 412: another client wrote a marker first; it must be one this version reads. 409: still in flight.
        if (isStatus(err, 412) || (isStatus(err, 409) && attempt < PUT_CONFLICT_RETRIES)) {
          if (await this.readFormat()) { this.formatRead = Promise.resolve(true); return }
          await sleep(50 * 2 ** attempt)
          if (attempt < PUT_CONFLICT_RETRIES) continue
        }
        throw this.failure(err, 'writing the format marker')
      }
    }
  }

  private unsupported (key: string, found: string, version: unknown): UnsupportedFormatError {
    return new UnsupportedFormatError(
      `${this.s3Url(key)} says this prefix holds ${found}, but this mvc reads and writes only ${S3_FORMAT_MARKER} there; ` +
      'use a version of mvc that knows it, or another prefix', { url: this.url, found, version, supported: S3_FORMAT_VERSION })
  }

  /** HEAD: does the key exist? (Only after checkBucket: a 404 means the key is missing.) */
  private async exists (key: string, what: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.loc.bucket, Key: key }))
      return true
    } catch (err) {
      if (isStatus(err, 404)) return false
      throw this.failure(err, what)
    }
  }

  /**
   * Answers what it can of a large batch by listing `objects/` in key order from each unanswered CID:
   * one page answers every requested key up to its last key. When a page answers few (the remote holds
   * many objects between the requested ones), the rest is left to HEAD requests.
   */
  private async hasByListing (cids: readonly CID[], out: Array<boolean | undefined>): Promise<void> {
    const order = [...cids.keys()].map(i => ({ i, key: this.objectKey(cids[i]!) })).sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
    const prefix = `${this.loc.base}objects/`
    let at = 0
    while (at < order.length) {
      const first = order[at]!.key
      let res
      try {
        res = await this.client.send(new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: prefix, StartAfter: first.slice(0, -1), MaxKeys: this.listPageSize }))
      } catch (err) {
        throw this.failure(err, `listing objects to check ${cids.length} objects`)
      }
      const keys = new Set((res.Contents ?? []).map(o => o.Key))
      const last = res.IsTruncated === true ? res.Contents?.at(-1)?.Key : undefined
      if (res.IsTruncated === true && last === undefined) return // a server paging with no keys: use HEAD
      let answered = 0
      while (at < order.length && (last === undefined || order[at]!.key <= last)) {
        out[order[at]!.i] = keys.has(order[at]!.key)
        at++
        answered++
      }
      if (answered < LIST_MIN_HITS_PER_PAGE) return
    }
  }

  /** Every key under a prefix, with sizes. */
  private async list (prefix: string, what: string): Promise<Array<{ key: string, size: number }>> {
    const out: Array<{ key: string, size: number }> = []
    let token: string | undefined
    do {
      let res
      try {
        res = await this.client.send(new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: prefix, ContinuationToken: token }))
      } catch (err) {
        throw this.failure(err, what)
      }
      for (const o of res.Contents ?? []) if (o.Key !== undefined) out.push({ key: o.Key, size: o.Size ?? 0 })
      token = res.IsTruncated === true ? res.NextContinuationToken : undefined
    } while (token !== undefined)
    return out
  }

  private async readRef (name: string, what: string): Promise<RefState> {
    const key = this.refKey(name)
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.loc.bucket, Key: key }))
      if (res.ContentLength !== undefined && res.ContentLength > MAX_REF_BYTES) {
        res.Body?.transformToWebStream().cancel().catch(() => {})
        throw new RemoteError(`${this.s3Url(key)} is ${res.ContentLength} bytes: not an mvc ref`, { url: this.url, name })
      }
      const bytes = res.Body === undefined ? new Uint8Array(0) : await res.Body.transformToByteArray()
      let value: string
      try { value = fromUtf8.decode(bytes) } catch {
        throw new RemoteError(`${this.s3Url(key)} is not UTF-8 text: not an mvc ref`, { url: this.url, name })
      }
      return { value: value === '' ? null : value, etag: res.ETag }
    } catch (err) {
      if (isStatus(err, 404) && (err as SdkError).name !== 'NoSuchBucket') return { value: null, etag: undefined }
      throw this.failure(err, what)
    }
  }

  private conflict (name: string, expected: string | null, actual: string | null): RefConflictError {
    return new RefConflictError(
      `ref ${name} on ${this.url} is ${actual ?? 'absent'}, not ${expected ?? 'absent'} as expected (it moved); fetch and try again`,
      { url: this.url, name, ref: name, expected, actual })
  }

  private noSuchBucket (err: unknown): RemoteError {
    return new RemoteError(`bucket ${this.loc.bucket} does not exist on ${this.endpoint} (remote ${this.url}): create it first, or check the URL and AWS_ENDPOINT_URL`,
      { url: this.url, bucket: this.loc.bucket, endpoint: this.endpoint, reason: 'no-such-bucket' }, { cause: err })
  }

  /** The mvc error for an SDK or network failure. */
  private failure (err: unknown, what: string): Error {
    if (isMvcError(err)) return err
    const e = (err ?? {}) as SdkError & NodeJS.ErrnoException
    const status = statusOf(err)
    const name = e.name ?? ''
    const data = { url: this.url, endpoint: this.endpoint, status, s3Code: name }
    if (name === 'CredentialsProviderError' || /could not load credentials/i.test(e.message ?? '')) {
      return new AuthError(`no S3 credentials for ${this.url}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE / ~/.aws/credentials)`, data, { cause: err })
    }
    if (name === 'NoSuchBucket') return this.noSuchBucket(err)
    if (status === 401 || status === 403 || AUTH_CODES.has(name)) {
      const why = name === 'InvalidAccessKeyId'
        ? 'the access key (AWS_ACCESS_KEY_ID) is unknown to the server'
        : name === 'SignatureDoesNotMatch'
          ? 'the secret key (AWS_SECRET_ACCESS_KEY) does not match the access key'
          : name === 'ExpiredToken' || name === 'TokenRefreshRequired'
            ? 'the session token has expired'
            : 'access denied: the credentials may not do this (read-only?)'
      return new AuthError(`${this.endpoint} refused ${what} on ${this.url}: ${why}${name !== '' && name !== 'Unknown' ? ` (${name})` : ''}`, data, { cause: err })
    }
    const code = e.code ?? (e.cause as NodeJS.ErrnoException | undefined)?.code
    if (status === undefined && (name === 'TimeoutError' || (code !== undefined && NETWORK_CODES.has(code)))) {
      const why = code === 'ECONNREFUSED' ? 'connection refused (is the S3 server running there?)' : code === 'ENOTFOUND' ? 'unknown host' : (e.message ?? code ?? name)
      return new RemoteError(`cannot reach the S3 endpoint ${this.endpoint} while ${what} (${this.url}): ${why}`, { ...data, cause: code }, { cause: err })
    }
    const message = e.message !== undefined && e.message !== 'UnknownError' && e.message !== '' ? `: ${e.message}` : ''
    return new RemoteError(`${this.url} (${this.endpoint}): ${what} failed (${status !== undefined ? `HTTP ${status}` : 'no answer'}${name !== '' ? ` ${name}` : ''})${message}`, data, { cause: err })
  }
}
