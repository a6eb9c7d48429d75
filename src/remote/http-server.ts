/**
 * The HTTP server behind `mvc serve` (protocol: docs/protocol.md). It serves one open `ObjectStore`,
 * which the caller opens, passes in and closes: `startServer` never closes it.
 *
 *   const server = await startServer({ store, tokens, host: '127.0.0.1', port: 0 })
 *   console.log(server.url)   // http://127.0.0.1:41234/
 *   await server.close()      // stop accepting, finish in-flight requests, then close the store yourself
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import type { CID } from 'multiformats/cid'
import { tryParseCid } from '../content/block.js'
import {
  AuthError, CorruptObjectError, InputNotFoundError, InvalidArgumentError, InvalidObjectError, ObjectNotFoundError,
  RefConflictError, isMvcError
} from '../errors.js'
import type { ObjectStore } from '../store/interface.js'
import { FORMAT_VERSION } from '../store/open.js'
import { ByteBudget } from '../store/async.js'
import { BatchWriter } from '../store/batch.js'
import { ALIASES, ALIAS_LOG, HEADS, META, utf8 } from '../format/keys.js'
import {
  API_PREFIX, FEATURES, GC_FEATURE, joinChunks, MAX_HAS_BATCH, MAX_HAS_BODY_BYTES, MAX_OBJECT_BYTES, MAX_REF_BODY_BYTES, PROTOCOL_VERSION,
  ProtocolCode, REPOSITORY_HEADER, REPOSITORY_ID_KEY, decodeRefPath, parseObjectCid, refPrefixProblem,
  refValueProblem, TOKEN_PATTERN, type InfoBody, type TokenAccess
} from './http-protocol.js'
import { ClosureKeeper, aliasMoveIn, formatRaise, isAncestorIn, isEarlierMoveIn } from './closure.js'
import type { RemoteGcRequest } from './interface.js'

export type { Access, TokenAccess } from './http-protocol.js'
type Access = TokenAccess
const MiB = 1024 * 1024

export interface ServerOptions {
  readonly store: ObjectStore
  /** token → access; `null` serves without authentication (`--no-auth`): every request may write. */
  readonly tokens: ReadonlyMap<string, Access> | null
  /**
   * Append-only serving (`--append-only`): every token that may write may only add — objects, new refs,
   * branches moved forward — never delete or rewrite a ref (as `append` tokens always are).
   */
  readonly appendOnly?: boolean
  readonly host?: string
  /** 0 picks a free port; `RunningServer.port` tells which. Default 8080. */
  readonly port?: number
  /** Where notable events go (5xx errors, forced shutdown). Default: nowhere. */
  readonly log?: (line: string) => void
  /** How long `close()` lets in-flight requests run before cutting connections (ms, default 10 000). */
  readonly shutdownTimeoutMs?: number
  /** Upload bytes held in memory across all requests (default 256 MiB); further PUTs wait. */
  readonly uploadBudgetBytes?: number
  /**
   * Upload bytes one client (one token; one address with `--no-auth`) may hold at once (default 64 MiB,
   * the largest object): its further PUTs wait for its own earlier ones, not for other clients'.
   */
  readonly clientUploadBytes?: number
  /** A request body that makes no progress for this long is answered 408 and its connection closed (ms, default 30 000). */
  readonly idleTimeoutMs?: number
  /**
   * TEST ONLY: when it returns true for a CID, `GET /v1/objects/<cid>` sends the object with one byte
   * flipped, so client-side verification can be tested. Never set by the CLI.
   */
  readonly tamper?: (cid: CID) => boolean
  /**
   * Runs gc on the served store (`POST /v1/gc`, write tokens that are not append-only): the caller
   * passes the core's gc, so this transport stays below the core. Absent: the endpoint answers 404.
   */
  readonly gc?: (request: RemoteGcRequest) => Promise<unknown>
}

export interface RunningServer {
  /** `http://<host>:<port>/` */
  readonly url: string
  readonly host: string
  readonly port: number
  /** The store's repository id (`/v1/info`, `Mvc-Repository`). */
  readonly repositoryId: string
  /** Stops accepting connections and waits for in-flight requests (bounded); does not close the store. */
  close (): Promise<void>
  /** Cuts every connection now (a second Ctrl-C); `close()` still resolves once handlers finish. */
  terminate (): void
}

// ---------------------------------------------------------------------------------------------------
// Opening what to serve, tokens, repository id

/**
 * Parses a tokens file: one `<token> read|write|append` per line, `#` starts a comment, blank lines are
 * ignored. Messages name the line, never the token (it is a secret).
 */
export function parseTokens (text: string, source: string): Map<string, Access> {
  const tokens = new Map<string, Access>()
  const lineOf = new Map<string, number>()
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1
    const fields = lines[i]!.replace(/#.*$/, '').trim().split(/\s+/).filter(f => f !== '')
    if (fields.length === 0) continue
    const bad = (why: string): InvalidArgumentError =>
      new InvalidArgumentError(`line ${n} of the tokens file ${source} is malformed: ${why}. Each line is "<token> read|write|append".`, { file: source, line: n })
    if (fields.length !== 2) throw bad(`expected 2 fields, found ${fields.length}`)
    const [token, access] = fields as [string, string]
    if (!TOKEN_PATTERN.test(token)) throw bad('the token has characters outside A-Z a-z 0-9 - . _ ~ + / (and trailing =)')
    if (access !== 'read' && access !== 'write' && access !== 'append') throw bad(`access must be read, write or append, not ${JSON.stringify(access)}`)
    const first = lineOf.get(token)
    if (first !== undefined) throw bad(`the token is already listed on line ${first}`)
    lineOf.set(token, n)
    tokens.set(token, access)
  }
  if (tokens.size === 0) throw new InvalidArgumentError(`the tokens file ${source} lists no tokens; add lines "<token> read|write|append"`, { file: source })
  return tokens
}

/** Reads and parses a tokens file; `warn` hears when other users can read it. */
export async function loadTokens (file: string, warn: (line: string) => void = () => {}): Promise<Map<string, Access>> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new InputNotFoundError(`cannot read the tokens file ${file}: ${(err as Error).message}`, { path: file }, { cause: err })
  }
  const tokens = parseTokens(text, file)
  const mode = (await stat(file)).mode
  if ((mode & 0o044) !== 0 && process.platform !== 'win32') {
    warn(`warning: the tokens file ${file} is readable by other users (mode ${(mode & 0o777).toString(8)}); consider chmod 600`)
  }
  return tokens
}

/** The store's repository id, created (32 random hex digits in `m/repo-id`) when it has none. */
export async function ensureRepositoryId (store: ObjectStore): Promise<string> {
  const read = async (): Promise<string | undefined> => {
    const v = await store.readMeta(REPOSITORY_ID_KEY)
    return v === undefined ? undefined : new TextDecoder().decode(v)
  }
  const found = await read()
  if (found !== undefined) return found
  const tx = await store.transaction()
  try {
    // Transactions are serialised: re-reading under ours means two servers can't both create one.
    const raced = await read()
    if (raced !== undefined) { await tx.abort(); return raced }
    const id = randomBytes(16).toString('hex')
    tx.setMeta(REPOSITORY_ID_KEY, new TextEncoder().encode(id))
    await tx.commit()
    return id
  } catch (err) {
    await tx.abort()
    throw err
  }
}

// ---------------------------------------------------------------------------------------------------
// Plumbing

/** An error answered with an HTTP status and a protocol error code. */
class HttpFailure extends Error {
  constructor (readonly status: number, readonly code: string, message: string,
    readonly data: Record<string, unknown> = {}, readonly headers: Record<string, string> = {}) {
    super(message)
  }
}

const badRequest = (message: string, data: Record<string, unknown> = {}): HttpFailure => new HttpFailure(400, InvalidArgumentError.code, message, data)

function contentLength (req: IncomingMessage): number | undefined {
  const h = req.headers['content-length']
  if (h === undefined) return undefined
  const n = Number(h)
  if (!/^\d+$/.test(h) || !Number.isSafeInteger(n)) throw badRequest(`Content-Length ${JSON.stringify(h)} is not a number`)
  return n
}

/**
 * Reads a request body into memory, refusing (413) more than `limit` bytes. On overflow it stops reading
 * without destroying the socket, so the 413 can still be sent (with `Connection: close`).
 */
async function readBody (req: IncomingMessage, limit: number, what: string, idleMs: number): Promise<Uint8Array> {
  const declared = contentLength(req)
  const tooLarge = (): HttpFailure => new HttpFailure(413, ProtocolCode.tooLarge, `${what} is larger than the limit of ${limit} bytes`, { limit })
  if (declared !== undefined && declared > limit) throw tooLarge()
  return await new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Buffer[] = []
    let total = 0
    // A body that stops arriving holds its upload budget and a connection: cut it after `idleMs`.
    let timer: NodeJS.Timeout | undefined
    const idle = (): void => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        done()
        req.pause()
        reject(new HttpFailure(408, ProtocolCode.timeout, `${what} stopped arriving: no bytes for ${idleMs / 1000} s (${total} of ${declared ?? '?'} received)`, { received: total }, { Connection: 'close' }))
      }, idleMs)
      timer.unref()
    }
    const done = (): void => {
      clearTimeout(timer)
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onCut)
      req.off('close', onCut)
    }
    const onData = (chunk: Buffer): void => {
      idle()
      total += chunk.length
      if (total <= limit) { chunks.push(chunk); return }
      done()
      req.pause()
      reject(tooLarge())
    }
    const onEnd = (): void => {
      done()
      resolve(joinChunks(chunks, total))
    }
    const onCut = (): void => {
      done()
      reject(badRequest(`${what} was cut short`))
    }
    idle()
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onCut)
    req.on('close', onCut)
  })
}

async function readJson (req: IncomingMessage, limit: number, what: string, idleMs: number): Promise<unknown> {
  const body = await readBody(req, limit, what, idleMs)
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) as unknown
  } catch {
    throw badRequest(`${what} is not valid JSON`)
  }
}

function sha256hex (s: string): string {
  return createHash('sha256').update(s).digest('hex')
}

function errorCode (err: unknown): string | undefined {
  return isMvcError(err) ? err.code : undefined
}

// ---------------------------------------------------------------------------------------------------
// The server

/**
 * Starts serving `store` over HTTP; resolves once it accepts connections. Listening failures (port in
 * use, not allowed, unknown host) are INVALID_ARGUMENT naming the address.
 */
export async function startServer (options: ServerOptions): Promise<RunningServer> {
  const { store, tamper } = options
  const host = options.host ?? '127.0.0.1'
  const log = options.log ?? (() => {})
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000
  // Tokens are looked up by their hash, so the lookup's timing says nothing about a token's prefix.
  const tokens = options.tokens === null ? null : new Map([...options.tokens].map(([t, a]) => [sha256hex(t), a]))
  const repositoryId = await ensureRepositoryId(store)
  // Group commit: PUTs that arrive while a transaction commits go into the next one together. Each PUT
  // is answered after its transaction commits, so an acknowledged object is durable and visible, and
  // objects sent bottom-up become visible bottom-up (invariant I1).
  const writer = new BatchWriter(store, { source: 'the request body', durable: true })
  // Completeness (closure.ts): `has` answers for whole closures, refs move only to complete commits.
  const keeper = new ClosureKeeper(store, writer, 'the request body', { committedOnly: true })
  const budget = new ByteBudget(options.uploadBudgetBytes ?? 256 * MiB)
  const clientBytes = Math.max(options.clientUploadBytes ?? MAX_OBJECT_BYTES, 1)
  const idleMs = options.idleTimeoutMs ?? 30_000
  /** Per-client upload budgets, dropped when no request of that client holds or waits for one. */
  const clients = new Map<string, { budget: ByteBudget, users: number }>()
  const acquireUpload = async (client: string, bytes: number): Promise<() => void> => {
    let c = clients.get(client)
    if (c === undefined) { c = { budget: new ByteBudget(clientBytes), users: 0 }; clients.set(client, c) }
    c.users++
    const entry = c
    let releaseClient: (() => void) | undefined
    let releaseAll: (() => void) | undefined
    const release = (): void => {
      releaseAll?.()
      releaseClient?.()
      if (--entry.users === 0 && clients.get(client) === entry) clients.delete(client)
    }
    try {
      // Its own budget first: a client's stalled uploads make only its own later uploads wait.
      releaseClient = await entry.budget.acquire(bytes)
      releaseAll = await budget.acquire(bytes)
    } catch (err) { release(); throw err }
    let done = false
    return () => { if (!done) { done = true; release() } }
  }
  const inflight = new Set<Promise<void>>()
  let closing = false

  // --- endpoints ---

  // The store's own format (1; 2 once it holds versions of several paths; 3 once gc removed a deleted
  // version's content), read for each request: a push or a gc in this process may raise it.
  const storeFormat = async (): Promise<number> => {
    const stored = await store.readMeta('format')
    return stored === undefined ? FORMAT_VERSION : Number(new TextDecoder().decode(stored))
  }
  const appendOnly = (access: Access): boolean => access === 'append' || (access === 'write' && options.appendOnly === true)
  const info = async (access: Access): Promise<InfoBody> => ({
    mvc: PROTOCOL_VERSION,
    format: await storeFormat(),
    repository: repositoryId,
    // `append` is reported as `write` (with appendOnly): clients that predate it still push.
    access: access === 'read' ? 'read' : 'write',
    limits: { maxObjectBytes: MAX_OBJECT_BYTES, maxHasBatch: MAX_HAS_BATCH },
    features: [...FEATURES, ...(options.gc !== undefined ? [GC_FEATURE] : [])],
    ...(access !== 'read' && appendOnly(access) ? { appendOnly: true } : {})
  })

  async function has (req: IncomingMessage): Promise<boolean[]> {
    const list = await readJson(req, MAX_HAS_BODY_BYTES, 'the has request', idleMs)
    if (!Array.isArray(list)) throw badRequest('the has request must be a JSON array of CID strings')
    if (list.length > MAX_HAS_BATCH) throw new HttpFailure(413, ProtocolCode.tooLarge, `at most ${MAX_HAS_BATCH} CIDs per has request, got ${list.length}`, { limit: MAX_HAS_BATCH })
    const cids = list.map((s: unknown, i) => {
      const cid = typeof s === 'string' ? tryParseCid(s) : undefined
      if (cid === undefined) throw badRequest(`entry ${i} of the has request is not a CID: ${JSON.stringify(s)}`, { index: i })
      return cid
    })
    // Committed and complete objects only: an object whose PUT is still committing is not acknowledged
    // yet, and one whose closure is incomplete must be sent again with what it links.
    return await keeper.hasMany(cids)
  }

  async function getObject (req: IncomingMessage, res: ServerResponse, cid: CID): Promise<void> {
    let bytes: Uint8Array
    try {
      bytes = await store.get(cid)
    } catch (err) {
      if (errorCode(err) === ObjectNotFoundError.code) throw new HttpFailure(404, ObjectNotFoundError.code, `object ${cid.toString()} is not stored here`, { cid: cid.toString() })
      if (errorCode(err) === CorruptObjectError.code) {
        log(`mvc serve: the stored copy of ${cid.toString()} is corrupt: ${(err as Error).message}`)
        throw new HttpFailure(500, CorruptObjectError.code, `the server's copy of object ${cid.toString()} is corrupt`, { cid: cid.toString() })
      }
      throw err
    }
    if (tamper?.(cid) === true) {
      bytes = bytes.slice()
      if (bytes.length === 0) bytes = new Uint8Array([0])
      else bytes[bytes.length >> 1]! ^= 0x01
    }
    const range = parseRange(req.headers.range, bytes.length)
    if (range === 'unsatisfiable') {
      throw new HttpFailure(416, ProtocolCode.rangeNotSatisfiable, `object ${cid.toString()} has ${bytes.length} bytes; the range ${String(req.headers.range)} is outside it`,
        { cid: cid.toString(), size: bytes.length }, { 'Content-Range': `bytes */${bytes.length}` })
    }
    if (range !== undefined) {
      // A resumed download: the client re-hashes the whole object once it has every byte.
      const [start, end] = range
      res.writeHead(206, {
        'Content-Type': 'application/octet-stream', 'Content-Length': String(end - start + 1), 'Accept-Ranges': 'bytes',
        'Content-Range': `bytes ${start}-${end}/${bytes.length}`, ...closeHeader()
      })
      res.end(bytes.subarray(start, end + 1))
      return
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length), 'Accept-Ranges': 'bytes', ...closeHeader() })
    res.end(bytes)
  }

  async function putObject (req: IncomingMessage, res: ServerResponse, cid: CID, client: string): Promise<void> {
    const declared = contentLength(req)
    if (declared === undefined) throw new HttpFailure(411, ProtocolCode.lengthRequired, 'PUT needs a Content-Length header')
    if (declared > MAX_OBJECT_BYTES) throw new HttpFailure(413, ProtocolCode.tooLarge, `object ${cid.toString()} (${declared} bytes) is larger than the limit of ${MAX_OBJECT_BYTES} bytes`, { cid: cid.toString(), limit: MAX_OBJECT_BYTES })
    const release = await acquireUpload(client, declared)
    try {
      const bytes = await readBody(req, MAX_OBJECT_BYTES, `object ${cid.toString()}`, idleMs)
      let isNew: boolean
      try {
        // Re-hashed and (dag-cbor) decoded before anything is staged; completeness recorded; resolves once committed.
        isNew = await keeper.put(cid, bytes)
      } catch (err) {
        if (errorCode(err) === InvalidObjectError.code) {
          throw new HttpFailure(422, InvalidObjectError.code, (err as Error).message, { cid: cid.toString(), size: bytes.length })
        }
        if (errorCode(err) !== CorruptObjectError.code) throw err
        throw new HttpFailure(422, CorruptObjectError.code, `the ${bytes.length} bytes sent for object ${cid.toString()} hash to a different CID; nothing was stored`, { cid: cid.toString(), size: bytes.length })
      }
      sendJson(res, isNew ? 201 : 200, { cid: cid.toString(), stored: isNew })
    } finally {
      release()
    }
  }

  async function listRefs (query: URLSearchParams): Promise<Array<{ name: string, value: string }>> {
    const prefix = query.get('prefix') ?? ''
    const problem = refPrefixProblem(prefix)
    if (problem !== undefined) throw badRequest(`bad ref prefix ${JSON.stringify(prefix)}: ${problem}`, { prefix })
    return (await store.listRefs(prefix)).map(([name, value]) => ({ name, value }))
  }

  async function casRef (req: IncomingMessage, name: string, access: Access): Promise<{ name: string, value: string | null }> {
    const body = await readJson(req, MAX_REF_BODY_BYTES, 'the ref update', idleMs)
    if (body === null || typeof body !== 'object' || Array.isArray(body) || !('expect' in body) || !('value' in body)) {
      throw badRequest('the ref update must be a JSON object { "expect": string | null, "value": string | null }')
    }
    const { expect, value } = body as { expect: unknown, value: unknown }
    if (expect !== null && typeof expect !== 'string') throw badRequest('"expect" must be a string or null')
    if (value !== null && typeof value !== 'string') throw badRequest('"value" must be a string or null')
    if (value !== null) {
      const problem = refValueProblem(name, value)
      if (problem !== undefined) throw badRequest(`bad value for ref ${name}: ${problem}`, { name })
    }
    // Invariant I2, checked here rather than trusted to clients: a ref names an object whose whole
    // closure is stored (complete). What kind of object it is, is the reader's business (fetch checks
    // that branches, tags and versions name commits of the right version).
    const target = value === null ? undefined : tryParseCid(value)
    const gap = target === undefined ? undefined : await keeper.check(target)
    if (gap !== undefined) {
      const why = gap.missing === value
        ? 'this server does not have that object'
        : `its closure is incomplete here: object ${gap.missing}${gap.parent !== undefined ? ` (linked from ${gap.parent})` : ''} is not on this server`
      throw new HttpFailure(422, ProtocolCode.missingObject, `refusing to set ${name} to ${value ?? ''}: ${why}; push the objects first`, { name, value, missing: gap.missing })
    }
    // The alias-history namespace holds histories: `refs/alias-log/<a>` names a move of alias a.
    if (target !== undefined && name.startsWith(ALIAS_LOG)) {
      const move = await aliasMoveIn(store, target)
      const alias = name.slice(ALIAS_LOG.length)
      if (move === undefined || move.name !== alias) {
        throw badRequest(`bad value for ref ${name}: ${value ?? ''} is not ${move === undefined ? 'an mvc/alias-move object' : `a move of alias ${alias} (it moves ${move.name})`}`, { name, value })
      }
    }
    if (appendOnly(access)) {
      const problem = await appendOnlyProblem(name, expect, value)
      if (problem !== undefined) {
        throw new HttpFailure(403, ProtocolCode.appendOnly,
          `${options.appendOnly === true ? 'this server is append-only' : 'this token is append-only'}: it may add objects, create refs, move branches forward and add moves to alias histories, but ${problem}`,
          { name, expected: expect, value })
      }
    }
    const raise = target === undefined ? undefined : await formatRaise(store, target.toString())
    const tx = await store.transaction()
    try {
      tx.setRef({ name, value, expect })
      if (raise !== undefined) tx.setMeta(META.format, utf8.encode(String(raise)))
      await tx.commit()
    } catch (err) {
      await tx.abort()
      if (errorCode(err) !== RefConflictError.code) throw err
      const data = (err as RefConflictError).data
      throw new HttpFailure(409, RefConflictError.code, `ref ${name} is ${String(data.actual ?? 'absent')}, not ${expect ?? 'absent'} as expected`, { name, expected: expect, actual: data.actual ?? null })
    }
    return { name, value }
  }

  async function collect (req: IncomingMessage, access: Access): Promise<unknown> {
    if (appendOnly(access)) {
      throw new HttpFailure(403, ProtocolCode.appendOnly, `${options.appendOnly === true ? 'this server is append-only' : 'this token is append-only'}: gc deletes objects, which append-only access never does`, {})
    }
    const body = await readJson(req, MAX_REF_BODY_BYTES, 'the gc request', idleMs)
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the gc request must be a JSON object { dryRun?, prune?, pruneUnreferenced? }')
    const { dryRun, prune, pruneUnreferenced } = body as Record<string, unknown>
    if (dryRun !== undefined && typeof dryRun !== 'boolean') throw badRequest('"dryRun" must be true or false')
    if ((prune !== undefined && typeof prune !== 'string') || (pruneUnreferenced !== undefined && typeof pruneUnreferenced !== 'string')) throw badRequest('"prune" and "pruneUnreferenced" must be strings')
    try {
      return await options.gc!({ dryRun, prune, pruneUnreferenced } as RemoteGcRequest)
    } catch (err) {
      if (errorCode(err) === InvalidArgumentError.code) throw badRequest((err as Error).message)
      throw err
    }
  }

  /**
   * Why an append-only client may not make this update, or undefined: creating refs, branch
   * fast-forwards, alias histories that only gain moves, and an alias ref following its history.
   */
  async function appendOnlyProblem (name: string, expect: string | null, value: string | null): Promise<string | undefined> {
    if (value === expect) return undefined
    if (name.startsWith(ALIASES)) {
      // `refs/aliases/<a>` follows `refs/alias-log/<a>`: it may become what the newest move names (even null: a deletion is a move).
      const head = tryParseCid((await store.readRef(ALIAS_LOG + name.slice(ALIASES.length))) ?? '')
      const move = head === undefined ? undefined : await aliasMoveIn(store, head)
      if (move !== undefined && (move.to?.toString() ?? null) === value) return undefined
      if (expect !== null) return `moves ${name} only to what the newest move of its history (refs/alias-log/${name.slice(ALIASES.length)}) names`
    }
    if (value === null) return `never deletes refs (${name})`
    if (expect === null) return undefined // created; the compare-and-swap makes sure it was absent
    if (name.startsWith(HEADS)) {
      const from = tryParseCid(expect)
      const to = tryParseCid(value)
      if (from !== undefined && to !== undefined && await isAncestorIn(store, from, to)) return undefined
      return `moves branches only forward: ${expect} is not an ancestor of ${value} (a forced update)`
    }
    if (name.startsWith(ALIAS_LOG)) {
      const from = tryParseCid(expect)
      const to = tryParseCid(value)
      if (from !== undefined && to !== undefined && await isEarlierMoveIn(store, from, to)) return undefined
      return `changes alias histories only by adding moves: ${expect} is not in the history ending at ${value} (a forced push rewriting ${name})`
    }
    return `never rewrites ${name.startsWith('refs/') ? name.split('/').slice(0, 2).join('/') + ' refs' : name} (${name} is ${expect})`
  }

  // --- dispatch ---

  interface Route { readonly methods: readonly string[], readonly write: boolean, readonly run: () => Promise<void> }

  function route (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams, access: Access, client: string): Route | undefined {
    const rest = path.slice(API_PREFIX.length)
    if (rest === 'info') return { methods: ['GET'], write: false, run: async () => { sendJson(res, 200, await info(access)) } }
    if (rest === 'has') return { methods: ['POST'], write: false, run: async () => { sendJson(res, 200, await has(req)) } }
    if (rest === 'refs') return { methods: ['GET'], write: false, run: async () => { sendJson(res, 200, await listRefs(query)) } }
    if (rest === 'gc' && options.gc !== undefined) return { methods: ['POST'], write: true, run: async () => { sendJson(res, 200, await collect(req, access)) } }
    if (rest.startsWith('objects/')) {
      const param = rest.slice('objects/'.length)
      const cid = (): CID => {
        const c = parseObjectCid(param)
        if (typeof c === 'string') throw badRequest(`bad object id: ${c}`, { cid: param })
        return c
      }
      const write = req.method === 'PUT'
      return { methods: ['GET', 'PUT'], write, run: async () => { await (write ? putObject(req, res, cid(), client) : getObject(req, res, cid())) } }
    }
    if (rest.startsWith('refs/')) {
      const name = decodeRefPath(rest.slice('refs/'.length))
      return {
        methods: ['POST'],
        write: true,
        run: async () => {
          if (typeof name !== 'string') throw badRequest(`bad ref name ${JSON.stringify(rest.slice('refs/'.length))}: ${name.problem}`, { name: rest.slice('refs/'.length) })
          sendJson(res, 200, await casRef(req, name, access))
        }
      }
    }
    return undefined
  }

  /** The request's access and who it is (a token's hash; the peer address without auth), for per-client limits. */
  function authenticate (req: IncomingMessage): { access: Access, client: string } {
    if (tokens === null) return { access: 'write', client: `address:${req.socket.remoteAddress ?? ''}` }
    const m = /^Bearer +([^\s]+) *$/i.exec(req.headers.authorization ?? '')
    const unauthorized = (why: string): HttpFailure =>
      new HttpFailure(401, AuthError.code, why, {}, { 'WWW-Authenticate': 'Bearer realm="mvc"' })
    if (m === null) throw unauthorized('this server needs a token: send "Authorization: Bearer <token>" (mvc reads it from MVC_TOKEN)')
    const hash = sha256hex(m[1]!)
    const access = tokens.get(hash)
    if (access === undefined) throw unauthorized('the token is not accepted by this server')
    return { access, client: `token:${hash}` }
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (closing) throw new HttpFailure(503, ProtocolCode.unavailable, 'the server is shutting down')
      const url = req.url ?? '/'
      const q = url.indexOf('?')
      // Taken as sent: no percent-decoding or dot-segment normalisation (docs/protocol.md).
      const path = q < 0 ? url : url.slice(0, q)
      const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1))
      const { access, client } = authenticate(req)
      const r = path.startsWith(API_PREFIX) ? route(req, res, path, query, access, client) : undefined
      if (r === undefined) throw new HttpFailure(404, ProtocolCode.notFound, `no such endpoint: ${path}`)
      if (!r.methods.includes(req.method ?? '')) {
        throw new HttpFailure(405, ProtocolCode.methodNotAllowed, `${req.method ?? ''} is not allowed on ${path}`, {}, { Allow: r.methods.join(', ') })
      }
      if (r.write && access === 'read') throw new HttpFailure(403, AuthError.code, 'this token may only read; writing needs a token with write access')
      const pinned = req.headers[REPOSITORY_HEADER]
      if (typeof pinned === 'string' && pinned !== repositoryId) {
        throw new HttpFailure(412, ProtocolCode.wrongRepository, `this server serves repository ${repositoryId}, not ${pinned}`, { expected: pinned, actual: repositoryId })
      }
      await r.run()
    } catch (err) {
      fail(req, res, err)
    }
  }

  function closeHeader (): Record<string, string> {
    return closing ? { Connection: 'close' } : {}
  }

  function sendJson (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)), ...headers, ...closeHeader() })
    res.end(text)
  }

  function fail (req: IncomingMessage, res: ServerResponse, err: unknown): void {
    let f: HttpFailure
    if (err instanceof HttpFailure) f = err
    else {
      f = new HttpFailure(500, ProtocolCode.internal, 'internal server error')
      log(`mvc serve: ${req.method ?? ''} ${req.url ?? ''} failed: ${(err as Error)?.stack ?? String(err)}`)
    }
    if (res.headersSent || res.destroyed) { res.destroy(); return }
    const headers = { ...f.headers }
    // An unread body is drained by Node to keep the connection; a large or unknown one is not worth it.
    if (!req.complete && (req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > MiB)) headers.Connection = 'close'
    if (headers.Connection === 'close' && !req.complete) {
      // A body we stopped reading (too large, stalled): close the connection once the answer is out.
      res.once('finish', () => { req.socket.destroySoon() })
    }
    sendJson(res, f.status, { error: { code: f.code, message: f.message, data: f.data } }, headers)
  }

  // --- listening ---

  const server = createServer({ headersTimeout: 30_000, requestTimeout: 600_000 }, (req, res) => {
    const p = handle(req, res).finally(() => { inflight.delete(p) })
    inflight.add(p)
  })
  server.keepAliveTimeout = 5_000
  server.timeout = 120_000
  server.maxConnections = 512

  await new Promise<void>((resolvePromise, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const where = `${host}:${options.port ?? 8080}`
      const why = err.code === 'EADDRINUSE'
        ? 'the address is in use (choose another --port, or --port 0 for any free one)'
        : err.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : err.message
      reject(new InvalidArgumentError(`cannot listen on ${where}: ${why}`, { host, port: options.port ?? 8080, cause: err.code }, { cause: err }))
    }
    server.once('error', onError)
    server.listen(options.port ?? 8080, host, () => {
      server.off('error', onError)
      resolvePromise()
    })
  })
  server.on('error', err => { log(`mvc serve: server error: ${err.message}`) })

  const port = (server.address() as AddressInfo).port
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`

  let closed: Promise<void> | undefined
  return {
    url,
    host,
    port,
    repositoryId,
    terminate: () => { server.closeAllConnections() },
    close: async () => {
      closed ??= (async () => {
        closing = true
        // server.close() stops listening and closes idle keep-alive connections; busy ones close after
        // their response (they get `Connection: close`).
        const stopped = new Promise<void>(resolvePromise => server.close(() => { resolvePromise() }))
        let timer: NodeJS.Timeout | undefined
        const timedOut = new Promise<boolean>(resolvePromise => { timer = setTimeout(() => { resolvePromise(true) }, shutdownTimeoutMs) })
        if (await Promise.race([stopped.then(() => false), timedOut])) {
          log(`mvc serve: requests still running after ${shutdownTimeoutMs} ms; closing their connections`)
          server.closeAllConnections()
        }
        clearTimeout(timer)
        await stopped
        await Promise.allSettled([...inflight])
        await writer.close()
      })()
      await closed
    }
  }
}

/**
 * A single `Range: bytes=…` of an object of `size` bytes as [first, last] (inclusive), undefined to send
 * the whole object (no header, a form this server does not serve such as several ranges, or a range
 * covering everything), or 'unsatisfiable' (416).
 */
export function parseRange (header: string | undefined, size: number): [number, number] | undefined | 'unsatisfiable' {
  if (header === undefined) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m === null || (m[1] === '' && m[2] === '')) return undefined
  let start: number
  let end: number
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0) return 'unsatisfiable'
    start = Math.max(0, size - suffix)
    end = size - 1
  } else {
    start = Number(m[1])
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
    if (m[2] !== '' && Number(m[2]) < start) return undefined // syntactically invalid: ignored (RFC 9110)
  }
  if (!Number.isSafeInteger(start) || start >= size) return 'unsatisfiable'
  if (start === 0 && end === size - 1) return undefined
  return [start, end]
}
