/**
 * `Remote` over the mvc HTTP protocol (docs/protocol.md), for `http://` and `https://` URLs: the client
 * side of `mvc serve`. Every object received is re-hashed; HTTP statuses become mvc errors with stable
 * codes (401/403 → AUTH_FAILED, 409 → REF_CONFLICT, 422 → CORRUPT_OBJECT, 404 → OBJECT_NOT_FOUND,
 * everything else and network failures → REMOTE_ERROR naming the URL, with the HTTP status in
 * `data.status` or the network error's code in `data.cause`).
 *
 * This is the transport alone: each operation is one attempt. Retries are a wrapper around it
 * (`RetryingRemote`, retry.ts), which `openRemote` (open.ts) adds.
 *
 *   const remote = await openHttpRemote('http://127.0.0.1:8080/', { token: process.env.MVC_TOKEN })
 *   const [has] = await remote.hasMany([cid])
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { verifyBlock } from '../content/block.js'
import {
  AuthError, CorruptObjectError, InvalidArgumentError, InvalidObjectError, ObjectNotFoundError, RefConflictError, RemoteError,
  UnsupportedFormatError, isMvcError
} from '../errors.js'
import { READABLE_FORMATS } from '../store/open.js'
import { pool } from '../store/async.js'
import type { Remote, RemoteGcRequest, RemoteRef } from './interface.js'
import {
  API_PREFIX, GC_FEATURE, joinChunks, MAX_HAS_BATCH, MAX_OBJECT_BYTES, PROTOCOL_VERSION, ProtocolCode, REPOSITORY_HEADER,
  REPOSITORY_PARAM, TOKEN_PATTERN, encodeRefPath, refNameProblem, refPrefixProblem, refValueProblem,
  type ErrorBody, type InfoBody
} from './http-protocol.js'

export interface HttpRemoteOptions {
  /** Bearer token; default: the MVC_TOKEN environment variable. An empty string sends none. */
  readonly token?: string
  /** Repository id the server must serve (docs/protocol.md, "Repository identity"); also `?repository=` in the URL. */
  readonly repository?: string
  /** The remote's stored configuration (`m/remote/<name>` options): `repository` pins as above. */
  readonly config?: Readonly<Record<string, unknown>>
  /**
   * Where the bytes of an object download cut off mid-answer are kept (`<dir>/<cid>.part`), so that the
   * next attempt — a retry, or the next command — asks only for the rest (HTTP Range). Without it they
   * are kept in memory for the retries of this process only.
   */
  readonly downloadDir?: string
}

/** Opens an HTTP remote (without retries). Nothing is sent until the first operation, which checks `/v1/info` first. */
export async function openHttpRemote (url: string, options: HttpRemoteOptions = {}): Promise<Remote> {
  const configured = options.config?.[REPOSITORY_PARAM]
  return new HttpRemote(url, options.token ?? process.env.MVC_TOKEN, options.repository ?? (typeof configured === 'string' ? configured : undefined), options.downloadDir)
}

const REQUEST_IDLE_TIMEOUT_MS = 120_000
const MAX_SOCKETS = 8
/** Bound on JSON responses (refs listings can be long; has answers are ≤ 10,000 booleans). */
const MAX_JSON_RESPONSE_BYTES = 64 * 1024 * 1024
const HAS_PARALLEL = 4
/** Partial downloads shorter than this are not worth keeping. */
const MIN_PARTIAL_BYTES = 16 * 1024

interface Response { readonly status: number, readonly headers: IncomingHttpHeaders, readonly body: Uint8Array }

/** A network failure after part of a successful answer's body arrived: what arrived. */
interface CutShort { readonly status: number, readonly headers: IncomingHttpHeaders, readonly body: Uint8Array }

interface RequestOptions {
  readonly body?: Uint8Array
  readonly headers?: Readonly<Record<string, string>>
  readonly contentType?: string
  readonly maxBytes: number
  /** What is being done, for messages: "storing object bafk…". */
  readonly what: string
}

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

export class HttpRemote implements Remote {
  readonly url: string
  private readonly base: URL
  private readonly pinned: string | undefined
  private readonly token: string | undefined
  private readonly agent: HttpAgent
  private readonly send: typeof httpRequest
  private handshake: Promise<InfoBody> | undefined
  /** Bytes of downloads cut short, by CID (also on disk under `downloadDir` when set). */
  private readonly partials = new Map<string, Uint8Array>()

  constructor (url: string, token: string | undefined, repository: string | undefined, private readonly downloadDir?: string) {
    let u: URL
    try { u = new URL(url) } catch { throw new InvalidArgumentError(`${url} is not a URL`, { url }) }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError(`${url} is not an http:// or https:// URL`, { url })
    if (u.username !== '' || u.password !== '') {
      throw new InvalidArgumentError(`${u.host}: put the token in MVC_TOKEN, not in the URL (URLs end up in configuration files and messages)`, { host: u.host })
    }
    if (token !== undefined && token !== '' && !TOKEN_PATTERN.test(token)) {
      throw new InvalidArgumentError('the token (MVC_TOKEN) has characters outside A-Z a-z 0-9 - . _ ~ + / (and trailing =)', {})
    }
    this.url = url
    const inUrl = u.searchParams.get(REPOSITORY_PARAM) ?? undefined
    if (inUrl !== undefined && repository !== undefined && inUrl !== repository) {
      throw new InvalidArgumentError(`${url} pins repository ${inUrl}, but the remote's configuration pins ${repository}`, { url, repository })
    }
    this.pinned = inUrl ?? repository
    this.base = new URL(u.origin + (u.pathname.endsWith('/') ? u.pathname : u.pathname + '/'))
    this.token = token === '' ? undefined : token
    const https = u.protocol === 'https:'
    this.agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }) : new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS })
    this.send = https ? httpsRequest : httpRequest
  }

  // --- Remote ---

  async hasMany (cids: readonly CID[]): Promise<boolean[]> {
    if (cids.length === 0) return []
    const info = await this.info()
    const size = Math.max(1, Math.min(MAX_HAS_BATCH, info.limits.maxHasBatch))
    const out = new Array<boolean>(cids.length)
    const starts: number[] = []
    for (let i = 0; i < cids.length; i += size) starts.push(i)
    await pool(starts, HAS_PARALLEL, async start => {
      const batch = cids.slice(start, start + size)
      const what = `asking which of ${batch.length} objects it has`
      const res = await this.request('POST', 'has', {
        body: utf8.encode(JSON.stringify(batch.map(c => c.toString()))), contentType: 'application/json', maxBytes: MAX_JSON_RESPONSE_BYTES, what
      })
      if (res.status !== 200) throw this.failure(res, what)
      const answer = this.json(res, what)
      if (!Array.isArray(answer) || answer.length !== batch.length || !answer.every(b => typeof b === 'boolean')) {
        throw this.protocolError(what, `expected ${batch.length} booleans`)
      }
      answer.forEach((b: boolean, i) => { out[start + i] = b })
    })
    return out
  }

  /**
   * The object's bytes, re-hashed. A download cut off mid-answer keeps what arrived (in memory, and under
   * `downloadDir` when set); the next `get` of that object — a retry, or the next process — asks only for
   * the rest (`Range: bytes=<n>-`). A 206 whose Content-Range starts where the kept bytes end resumes;
   * any other answer starts over. The whole object is re-hashed before it is returned, and a resumed one
   * that does not hash to its CID is downloaded once more from the start.
   */
  async get (cid: CID): Promise<Uint8Array> {
    const info = await this.info()
    const kept = await this.partial(cid)
    if (kept !== undefined && (info.features ?? []).includes('range')) {
      const resumed = await this.download(cid, info, kept)
      try {
        this.verify(cid, resumed)
        await this.dropPartial(cid)
        return resumed
      } catch (err) {
        // The kept bytes were wrong (damaged on disk, or another object's): start over, once.
        if (!isMvcError(err) || err.code !== CorruptObjectError.code) throw err
      }
    }
    await this.dropPartial(cid)
    const body = await this.download(cid, info, undefined)
    this.verify(cid, body)
    await this.dropPartial(cid)
    return body
  }

  async keepsClosures (): Promise<boolean> {
    return ((await this.info()).features ?? []).includes('complete-has')
  }

  private verify (cid: CID, body: Uint8Array): void {
    try {
      verifyBlock(cid, body, this.url)
    } catch (err) {
      if (!isMvcError(err) || err.code !== CorruptObjectError.code) throw err
      throw new CorruptObjectError(
        `object ${cid.toString()} received from ${this.url} is corrupt: its ${body.length} bytes hash to a different value. ` +
        'The remote\'s copy is damaged or was altered on the way; nothing was stored.', { cid: cid.toString(), source: this.url, size: body.length }, { cause: err })
    }
  }

  /** One GET of an object, from `kept.length` on when bytes are kept; keeps what arrives when it is cut short. */
  private async download (cid: CID, info: InfoBody, kept: Uint8Array | undefined): Promise<Uint8Array> {
    const what = `getting object ${cid.toString()}`
    const headers: Record<string, string> = kept !== undefined ? { Range: `bytes=${kept.length}-` } : {}
    let res: Response
    try {
      res = await this.request('GET', `objects/${cid.toString()}`, { maxBytes: info.limits.maxObjectBytes, what, headers })
    } catch (err) {
      const cut = (err as { cutShort?: CutShort }).cutShort
      if (cut !== undefined) await this.keep(cid, kept, cut)
      throw err
    }
    if (res.status === 206 && kept !== undefined && resumesAt(res.headers['content-range'], kept.length, res.body.length)) {
      const whole = new Uint8Array(kept.length + res.body.length)
      whole.set(kept, 0)
      whole.set(res.body, kept.length)
      return whole
    }
    if (res.status === 200) return res.body
    if (kept !== undefined && (res.status === 206 || res.status === 416)) {
      // Not the rest of what we kept: forget it and ask for the whole.
      await this.dropPartial(cid)
      return await this.download(cid, info, undefined)
    }
    throw this.failure(res, what, cid)
  }

  /** Bytes kept from an earlier, cut-short download of `cid`. */
  private async partial (cid: CID): Promise<Uint8Array | undefined> {
    const key = cid.toString()
    const inMemory = this.partials.get(key)
    if (inMemory !== undefined || this.downloadDir === undefined) return inMemory
    try {
      const bytes = new Uint8Array(await readFile(join(this.downloadDir, `${key}.part`)))
      return bytes.length > 0 ? bytes : undefined
    } catch { return undefined }
  }

  private async keep (cid: CID, kept: Uint8Array | undefined, cut: CutShort): Promise<void> {
    // Only the bytes of a whole answer (200) or of the rest we asked for (206 from the right place).
    let bytes: Uint8Array
    if (cut.status === 200) bytes = cut.body
    else if (cut.status === 206 && kept !== undefined && resumesAt(cut.headers['content-range'], kept.length, undefined)) {
      bytes = new Uint8Array(kept.length + cut.body.length)
      bytes.set(kept, 0)
      bytes.set(cut.body, kept.length)
    } else return
    if (bytes.length < MIN_PARTIAL_BYTES) return
    const key = cid.toString()
    this.partials.set(key, bytes)
    if (this.downloadDir === undefined) return
    try {
      await mkdir(this.downloadDir, { recursive: true })
      const tmp = join(this.downloadDir, `${key}.part.${process.pid}.tmp`)
      await writeFile(tmp, bytes)
      await rename(tmp, join(this.downloadDir, `${key}.part`))
    } catch { /* keeping partial bytes is an optimisation: never a reason to fail */ }
  }

  private async dropPartial (cid: CID): Promise<void> {
    const key = cid.toString()
    this.partials.delete(key)
    if (this.downloadDir !== undefined) await rm(join(this.downloadDir, `${key}.part`), { force: true }).catch(() => {})
  }

  async put (cid: CID, bytes: Uint8Array): Promise<void> {
    const info = await this.info()
    const what = `storing object ${cid.toString()}`
    this.requireWrite(info, what)
    if (bytes.length > info.limits.maxObjectBytes) {
      throw new RemoteError(`${this.url} accepts objects of at most ${info.limits.maxObjectBytes} bytes; object ${cid.toString()} has ${bytes.length}`,
        { url: this.url, cid: cid.toString(), size: bytes.length, limit: info.limits.maxObjectBytes })
    }
    const res = await this.request('PUT', `objects/${cid.toString()}`, { body: bytes, contentType: 'application/octet-stream', maxBytes: MAX_JSON_RESPONSE_BYTES, what })
    if (res.status !== 200 && res.status !== 201) throw this.failure(res, what, cid)
  }

  async listRefs (prefix: string): Promise<RemoteRef[]> {
    const problem = refPrefixProblem(prefix)
    if (problem !== undefined) throw new InvalidArgumentError(`bad ref prefix ${JSON.stringify(prefix)}: ${problem}`, { prefix })
    await this.info()
    const what = `listing refs under ${JSON.stringify(prefix)}`
    const res = await this.request('GET', `refs?prefix=${encodeURIComponent(prefix)}`, { maxBytes: MAX_JSON_RESPONSE_BYTES, what })
    if (res.status !== 200) throw this.failure(res, what)
    const refs = this.json(res, what)
    if (!Array.isArray(refs) || !refs.every(isRemoteRef)) throw this.protocolError(what, 'expected a list of { name, value }')
    return refs.map(r => ({ name: r.name, value: r.value }))
  }

  async casRef (name: string, expect: string | null, value: string | null): Promise<void> {
    const problem = refNameProblem(name) ?? (value === null ? undefined : refValueProblem(name, value))
    if (problem !== undefined) throw new InvalidArgumentError(`cannot set ref ${JSON.stringify(name)} on a remote: ${problem}`, { name, value })
    const info = await this.info()
    const what = `moving ref ${name}`
    this.requireWrite(info, what)
    const res = await this.request('POST', `refs/${encodeRefPath(name)}`, {
      body: utf8.encode(JSON.stringify({ expect, value })), contentType: 'application/json', maxBytes: MAX_JSON_RESPONSE_BYTES, what
    })
    if (res.status === 200) return
    throw this.failure(res, what)
  }

  /** Runs gc on the server (`POST /v1/gc`; feature `gc`, a write token that is not append-only). */
  async collectGarbage (request: RemoteGcRequest): Promise<unknown> {
    const info = await this.info()
    const what = 'collecting garbage'
    this.requireWrite(info, what)
    if (!(info.features ?? []).includes(GC_FEATURE)) {
      throw new RemoteError(`${this.url} cannot collect garbage (its mvc serve predates gc); upgrade mvc there, or run \`mvc gc\` where the repository is`, { url: this.url, reason: 'no-gc' })
    }
    const res = await this.request('POST', 'gc', { body: utf8.encode(JSON.stringify(request)), contentType: 'application/json', maxBytes: MAX_JSON_RESPONSE_BYTES, what })
    if (res.status === 400) {
      const e = this.errorBody(res)
      throw new InvalidArgumentError(`${this.url} refused the gc request: ${e?.message ?? 'bad request'}`, { url: this.url })
    }
    if (res.status !== 200) throw this.failure(res, what)
    return this.json(res, what)
  }

  async close (): Promise<void> {
    this.agent.destroy()
  }

  // --- protocol ---

  /** `/v1/info`, fetched once (again after a failure): protocol, format and repository checks. */
  private async info (): Promise<InfoBody> {
    this.handshake ??= this.fetchInfo().catch((err: unknown) => { this.handshake = undefined; throw err })
    return await this.handshake
  }

  private async fetchInfo (): Promise<InfoBody> {
    const what = 'connecting'
    const res = await this.request('GET', 'info', { maxBytes: MAX_JSON_RESPONSE_BYTES, what })
    if (res.status === 404) throw this.protocolError(what, 'it has no /v1/info: is this an mvc server (`mvc serve`)?')
    if (res.status !== 200) throw this.failure(res, what)
    const info = this.json(res, what) as Partial<InfoBody> | null
    if (info === null || typeof info !== 'object' || typeof info.mvc !== 'number') throw this.protocolError(what, 'its /v1/info is not an mvc info object: is this an mvc server?')
    if (info.mvc !== PROTOCOL_VERSION) {
      throw new RemoteError(`${this.url} speaks mvc protocol ${info.mvc}, but this mvc speaks only protocol ${PROTOCOL_VERSION}; use a matching version of mvc`,
        { url: this.url, protocol: info.mvc, supported: PROTOCOL_VERSION })
    }
    if (typeof info.format !== 'number' || !READABLE_FORMATS.includes(info.format)) {
      throw new UnsupportedFormatError(`${this.url} serves a repository of format ${String(info.format)}, but this mvc reads only formats ${READABLE_FORMATS.join(' and ')}; use a matching version of mvc`,
        { url: this.url, found: info.format, supported: READABLE_FORMATS })
    }
    if (typeof info.repository !== 'string' || (info.access !== 'read' && info.access !== 'write') || typeof info.limits?.maxObjectBytes !== 'number' || typeof info.limits.maxHasBatch !== 'number') {
      throw this.protocolError(what, 'its /v1/info lacks repository, access or limits')
    }
    if (this.pinned !== undefined && info.repository !== this.pinned) throw this.wrongRepository(this.pinned, info.repository)
    return { ...info, limits: { maxObjectBytes: Math.min(info.limits.maxObjectBytes, MAX_OBJECT_BYTES), maxHasBatch: info.limits.maxHasBatch } } as InfoBody
  }

  private requireWrite (info: InfoBody, what: string): void {
    if (info.access !== 'write') throw this.readOnly(what, { url: this.url, status: 403 })
  }

  private readOnly (what: string, data: Record<string, unknown>): AuthError {
    return new AuthError(`the token in MVC_TOKEN may only read from ${this.url}, and ${what} needs write access: set MVC_TOKEN to a token with write access`, data)
  }

  /** One request; network failures become RemoteError (`data.cause`: the error's code). */
  private async request (method: string, path: string, options: RequestOptions): Promise<Response> {
    try {
      return await this.once(method, path, options)
    } catch (err) {
      throw this.networkError(err, options.what)
    }
  }

  private async once (method: string, path: string, options: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json, application/octet-stream', ...options.headers }
    if (this.token !== undefined) headers.Authorization = `Bearer ${this.token}`
    if (this.pinned !== undefined) headers[REPOSITORY_HEADER] = this.pinned
    if (options.body !== undefined) {
      headers['Content-Type'] = options.contentType ?? 'application/octet-stream'
      headers['Content-Length'] = String(options.body.length)
    }
    const target = new URL(API_PREFIX.slice(1) + path, this.base)
    return await new Promise<Response>((resolve, reject) => {
      const req = this.send(target, { method, agent: this.agent, headers, timeout: REQUEST_IDLE_TIMEOUT_MS })
      req.on('timeout', () => {
        req.destroy(Object.assign(new Error(`no progress for ${REQUEST_IDLE_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' }))
      })
      req.on('error', reject)
      req.on('response', res => {
        const status = res.statusCode ?? 0
        const limit = status >= 200 && status < 300 ? options.maxBytes : MAX_JSON_RESPONSE_BYTES
        const tooLarge = (): RemoteError => this.protocolError(options.what, `the response is larger than ${limit} bytes`)
        if (Number(res.headers['content-length']) > limit) { res.destroy(); reject(tooLarge()); return }
        const chunks: Buffer[] = []
        let total = 0
        res.on('data', (chunk: Buffer) => {
          total += chunk.length
          if (total > limit) { res.destroy(); reject(tooLarge()); return }
          chunks.push(chunk)
        })
        const cutShort = (): CutShort => ({ status, headers: res.headers, body: joinChunks(chunks, total) })
        res.on('error', err => { reject(Object.assign(err, { cutShort: cutShort() })) })
        res.on('close', () => {
          if (!res.complete) reject(Object.assign(new Error('the connection closed before the response was complete'), { code: 'ECONNRESET', cutShort: cutShort() }))
        })
        res.on('end', () => { resolve({ status, headers: res.headers, body: joinChunks(chunks, total) }) })
      })
      req.end(options.body)
    })
  }

  private json (res: Response, what: string): unknown {
    try {
      return JSON.parse(fromUtf8.decode(res.body)) as unknown
    } catch {
      throw this.protocolError(what, 'the response is not JSON')
    }
  }

  private errorBody (res: Response): ErrorBody['error'] | undefined {
    try {
      const e = (JSON.parse(fromUtf8.decode(res.body)) as Partial<ErrorBody>).error
      return e !== undefined && typeof e.code === 'string' && typeof e.message === 'string' ? e : undefined
    } catch {
      return undefined
    }
  }

  /** The mvc error for a non-2xx response. */
  private failure (res: Response, what: string, cid?: CID): Error {
    const e = this.errorBody(res)
    const says = e?.message ?? `HTTP ${res.status}`
    const data = { url: this.url, status: res.status, serverCode: e?.code }
    switch (true) {
      case res.status === 401:
        return new AuthError(`${this.url} ${this.token === undefined ? 'needs a token' : 'did not accept the token'}: set MVC_TOKEN to a token listed in the server's tokens file (mvc serve --tokens <file>)`, data)
      case res.status === 403 && e?.code === ProtocolCode.appendOnly:
        return new AuthError(`${this.url} refused ${what}: ${says}`, { ...data, reason: 'append-only' })
      case res.status === 403:
        return this.readOnly(what, data)
      case res.status === 422 && e?.code === InvalidObjectError.code:
        return new InvalidObjectError(`${this.url} refused object ${cid?.toString() ?? ''}: ${says}`, { ...data, cid: cid?.toString() })
      case e?.code === RefConflictError.code:
        return new RefConflictError(`${this.url}: ${says}; fetch and try again`, { ...data, ref: e?.data?.name, expected: e?.data?.expected, actual: e?.data?.actual })
      case e?.code === CorruptObjectError.code:
        return new CorruptObjectError(res.status === 422
          ? `${this.url} rejected object ${cid?.toString() ?? ''}: the bytes sent hash to a different CID; nothing was stored`
          : `${this.url} could not send object ${cid?.toString() ?? ''}: ${says}`, { ...data, cid: cid?.toString(), source: this.url })
      case res.status === 404 && e?.code === ObjectNotFoundError.code:
        return new ObjectNotFoundError(`object ${cid?.toString() ?? ''} is not on the remote ${this.url}`, { ...data, cid: cid?.toString() })
      case e?.code === ProtocolCode.wrongRepository:
        return this.wrongRepository(String(e?.data?.expected), String(e?.data?.actual))
      default:
        return new RemoteError(`${this.url}: ${what} failed (HTTP ${res.status}${e === undefined ? '' : ` ${e.code}`}): ${says}`, data)
    }
  }

  private wrongRepository (expected: string, actual: string): RemoteError {
    return new RemoteError(`${this.url} serves repository ${actual}, but this remote is pinned to repository ${expected}; check the URL`,
      { url: this.url, reason: 'wrong-repository', expected, actual })
  }

  private protocolError (what: string, why: string): RemoteError {
    return new RemoteError(`${this.url}: unexpected answer while ${what}: ${why}`, { url: this.url })
  }

  private networkError (err: unknown, what: string): Error {
    if (isMvcError(err)) return err
    const e = err as NodeJS.ErrnoException & { cutShort?: CutShort }
    const why = e.code === 'ECONNREFUSED'
      ? 'connection refused (is `mvc serve` running there?)'
      : e.code === 'ENOTFOUND' ? 'unknown host' : e.message
    const wrapped = new RemoteError(`cannot reach ${this.url} while ${what}: ${why}`, { url: this.url, cause: e.code }, { cause: err })
    if (e.cutShort !== undefined) Object.defineProperty(wrapped, 'cutShort', { value: e.cutShort, enumerable: false })
    return wrapped
  }
}

function isRemoteRef (r: unknown): r is RemoteRef {
  return r !== null && typeof r === 'object' && typeof (r as RemoteRef).name === 'string' && typeof (r as RemoteRef).value === 'string'
}

/** True when a Content-Range header says the body starts at `start` (and, when given, has `length` bytes up to the end). */
function resumesAt (header: string | string[] | undefined, start: number, length: number | undefined): boolean {
  if (typeof header !== 'string') return false
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header.trim())
  if (m === null) return false
  const [first, last, total] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (first !== start || last !== total - 1) return false
  return length === undefined || last - first + 1 === length
}
