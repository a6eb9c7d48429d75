/**
 * `mvc ui`, whole: a local, read-only HTTP server that answers the page (built assets, src/ui/) and
 * the JSON it asks for (types.ts), over the repository around a folder.
 *
 * Safety:
 * - every request needs the token (a random 128-bit value printed in the URL): `?token=` or the
 *   `X-Mvc-Token` header; none → 401, a wrong one → 403; compared in constant time;
 * - only GET and HEAD; nothing writes: no transaction is ever opened, and partial clones are not
 *   fetched into (what is missing is shown as missing);
 * - the store is opened per burst of requests and closed right after (lease.ts), so other mvc
 *   commands on the repository run while the UI is up;
 * - the page loads nothing from elsewhere (Content-Security-Policy `default-src 'self'`).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { InputNotFoundError, InvalidArgumentError, isMvcError, type MvcError } from '../../errors.js'
import { MVC_DIR } from '../../format/paths.js'
import type { ModelFormat } from '../../formats/interface.js'
import { DEFAULT_FORMATS } from '../../formats/index.js'
import { openDiskStore, PACKS_DIR } from '../../store/open.js'
import { findRoot } from '../repo.js'
import { resolveRev } from '../refs.js'
import { compareVersions } from './compare.js'
import { HistoryView, MAX_PAGE } from './history.js'
import { StoreLease } from './lease.js'
import { StorageIndex } from './storage.js'
import type { CompareResponse, ErrorResponse, StorageResponse } from './types.js'

export interface UiOptions {
  /** Any folder inside the repository. */
  readonly dir: string
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  /** Folder of the built page (index.html, app.js, app.css). */
  readonly assets: string
  /** The token; default 32 random hex digits. */
  readonly token?: string
  /** How long a request waits for another mvc command to release the repository (default 3000 ms). */
  readonly waitMs?: number
  /** How long the store stays open after a burst of requests (default 100 ms). */
  readonly lingerMs?: number
  readonly formats?: readonly ModelFormat[]
  /** Requests' errors and warnings (default: nowhere). */
  readonly log?: (line: string) => void
}

export interface UiServer {
  /** The page, token included: `http://127.0.0.1:<port>/?token=<token>`. */
  readonly url: string
  readonly host: string
  readonly port: number
  readonly token: string
  /** The repository's working root. */
  readonly root: string
  /** The store's lease (tests check it is closed between requests). */
  readonly lease: StoreLease
  /** Stops listening, finishes requests in flight and releases the store. */
  stop (): Promise<void>
  /** Cuts open connections short (a second Ctrl-C). */
  terminate (): void
}

const ASSET_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml'
}

const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

interface Asset { readonly type: string, readonly body: Buffer, readonly gzip: Buffer }

/** Loads the built page; a missing build is an error that says how to make it. */
async function loadAssets (dir: string, token: string): Promise<Map<string, Asset>> {
  const names = await readdir(dir).catch(() => [] as string[])
  if (!names.includes('index.html') || !names.includes('app.js')) {
    throw new InputNotFoundError(`the UI's page is not built (no index.html and app.js in ${dir}); run \`npm run build\` in mvc's folder (\`npm ci\` does it)`, { path: dir })
  }
  const out = new Map<string, Asset>()
  for (const name of names) {
    const ext = name.slice(name.lastIndexOf('.'))
    const type = ASSET_TYPES[ext]
    if (type === undefined) continue
    let body = await readFile(join(dir, name))
    if (name === 'index.html') body = Buffer.from(body.toString('utf8').replaceAll('__MVC_TOKEN__', token))
    out.set(name, { type, body, gzip: gzipSync(body) })
  }
  return out
}

/** Same length digests, so the comparison takes the same time whatever was sent. */
function tokenMatches (given: string, token: string): boolean {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(token).digest()
  return timingSafeEqual(a, b)
}

function statusFor (err: MvcError): number {
  switch (err.code) {
    case 'UNKNOWN_REVISION': case 'AMBIGUOUS_REVISION': case 'NO_COMMITS': case 'OBJECT_NOT_FOUND': return 404
    case 'INVALID_ARGUMENT': case 'USAGE': return 400
    case 'REPOSITORY_LOCKED': return 503
    default: return 500
  }
}

function integer (v: string | null, name: string, fallback: number, max: number): number {
  if (v === null || v === '') return fallback
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number ≥ 0, not ${JSON.stringify(v)}`, { [name]: v })
  return Math.min(n, max)
}

/** Bytes of the repository's pack files (what the chunks take on disk). */
async function packBytes (mvcDir: string): Promise<number> {
  const dir = join(mvcDir, PACKS_DIR)
  let total = 0
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const s = await stat(join(dir, name)).catch(() => undefined)
    if (s?.isFile() === true) total += s.size
  }
  return total
}

/** How long a storage request walks before answering with its progress. */
const STORAGE_ANSWER_MS = 2500

/** A small LRU of comparisons: both sides are commits, so a result never goes stale. */
class CompareCache {
  private readonly map = new Map<string, CompareResponse>()
  constructor (private readonly size: number) {}
  get (key: string): CompareResponse | undefined {
    const v = this.map.get(key)
    if (v !== undefined) { this.map.delete(key); this.map.set(key, v) }
    return v
  }

  set (key: string, v: CompareResponse): void {
    this.map.set(key, v)
    while (this.map.size > this.size) this.map.delete(this.map.keys().next().value!)
  }
}

/** Runs tasks one at a time (layouts and the storage walk are extended in place). */
class Serial {
  private tail: Promise<unknown> = Promise.resolve()
  async run<T> (fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn)
    this.tail = next.catch(() => {})
    return await next
  }
}

export async function startUi (options: UiOptions): Promise<UiServer> {
  const log = options.log ?? (() => {})
  const root = await findRoot(options.dir)
  const mvcDir = join(root, MVC_DIR)
  const token = options.token ?? randomBytes(16).toString('hex')
  if (!/^[A-Za-z0-9_-]{16,}$/.test(token)) throw new InvalidArgumentError('the UI token must be at least 16 letters, digits, - or _', {})
  const assets = await loadAssets(options.assets, token)
  const formats = options.formats ?? DEFAULT_FORMATS
  const waitMs = options.waitMs ?? 3000
  const lease = new StoreLease({ open: async wait => await openDiskStore(mvcDir, { lockTimeoutMs: wait }), waitMs, lingerMs: options.lingerMs ?? 100 })
  // Open once now: a folder that is not a repository, or a format this mvc cannot read, fails here.
  await lease.use(async () => {})
  const history = new HistoryView(root, formats)
  const storage = new StorageIndex()
  const compares = new CompareCache(16)
  const serial = new Serial()
  // Every commit seals a pack of its own, so a long history has thousands: stat them again only when versions were added.
  const packs = {
    key: '',
    value: 0,
    async bytes (key: string): Promise<number> {
      if (key !== this.key) { this.value = await packBytes(mvcDir); this.key = key }
      return this.value
    }
  }

  async function api (path: string, q: URLSearchParams): Promise<unknown> {
    switch (path) {
      case '/api/summary':
        return await lease.use(async store => await serial.run(async () => await history.summary(store)))
      case '/api/versions': {
        const offset = integer(q.get('offset'), 'offset', 0, Number.MAX_SAFE_INTEGER)
        const limit = Math.max(1, integer(q.get('limit'), 'limit', 100, MAX_PAGE))
        return await lease.use(async store => await serial.run(async () => await history.versionsPage(store, offset, limit)))
      }
      case '/api/version': {
        const rev = q.get('rev')
        if (rev === null || rev === '') throw new InvalidArgumentError('give a version: /api/version?rev=v3', {})
        return await lease.use(async store => await history.detail(store, rev))
      }
      case '/api/metrics': {
        const rev = q.get('rev')
        return await lease.use(async store => await serial.run(async () => await history.metrics(store, rev === null || rev === '' ? undefined : rev)))
      }
      case '/api/diff': {
        const a = q.get('a')
        const b = q.get('b')
        if (a === null || b === null || a === '' || b === '') throw new InvalidArgumentError('give two versions: /api/diff?a=v1&b=v2', {})
        return await lease.use(async store => {
          const key = `${(await resolveRev(store, a)).toString()}..${(await resolveRev(store, b)).toString()}`
          const cached = compares.get(key)
          if (cached !== undefined) return { ...cached, a: { ...cached.a, rev: a }, b: { ...cached.b, rev: b }, ms: 0 }
          const r = await compareVersions({ store, root, formats, a, b })
          compares.set(key, r)
          return r
        })
      }
      case '/api/storage': {
        const offset = integer(q.get('offset'), 'offset', 0, Number.MAX_SAFE_INTEGER)
        const limit = Math.max(1, integer(q.get('limit'), 'limit', 100, MAX_PAGE))
        const started = Date.now()
        // The walk may be long on a big history: it is done in slices of ≤ 400 ms, and the lease hands
        // the store over to waiting commands between them (lease.ts). After STORAGE_ANSWER_MS the
        // answer says how far it got (`complete: false`) and the page asks again.
        let complete = false
        let versions = 0
        while (!complete && Date.now() - started < STORAGE_ANSWER_MS) {
          complete = await lease.use(async store => await serial.run(async () => {
            const all = await history.versions(store)
            versions = all.length
            return await storage.update(store, all, 400)
          }))
        }
        const rows = complete ? storage.rows : []
        const total = rows.length
        const page = rows.slice(Math.max(0, total - offset - limit), Math.max(0, total - offset)).reverse()
        let logical = 0; let added = 0; let objects = 0
        for (const r of rows) { logical += r.logical; added += r.added; objects += r.objects }
        const response: StorageResponse = {
          complete,
          walked: storage.rows.length,
          versions,
          total,
          offset,
          limit,
          rows: page,
          chart: { versions: rows.map(r => r.version), added: rows.map(r => r.added), logical: rows.map(r => r.logical) },
          totals: { logical, added, saved: logical - added, objects, packBytes: await packs.bytes(`${total}:${rows[total - 1]?.cid ?? ''}`) },
          ms: Date.now() - started
        }
        return response
      }
      default:
        return undefined
    }
  }

  const send = (res: ServerResponse, req: IncomingMessage, status: number, type: string, body: Buffer, gzip?: Buffer, extra: Record<string, string> = {}): void => {
    const useGzip = gzip !== undefined && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) && body.length > 1024
    const payload = useGzip ? gzip : body
    res.writeHead(status, {
      'Content-Type': type,
      'Content-Length': String(payload.length),
      'Cache-Control': 'no-store',
      'Content-Security-Policy': CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      ...(useGzip ? { 'Content-Encoding': 'gzip' } : {}),
      Vary: 'Accept-Encoding',
      ...extra
    })
    res.end(req.method === 'HEAD' ? undefined : payload)
  }
  const sendJson = (res: ServerResponse, req: IncomingMessage, status: number, value: unknown, extra: Record<string, string> = {}): void => {
    const body = Buffer.from(JSON.stringify(value))
    send(res, req, status, 'application/json; charset=utf-8', body, body.length > 1024 ? gzipSync(body, { level: 1 }) : undefined, extra)
  }
  const fail = (res: ServerResponse, req: IncomingMessage, status: number, code: string, message: string, extra: Record<string, string> = {}): void => {
    const e: ErrorResponse = { error: { code, message } }
    sendJson(res, req, status, e, extra)
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://ui.invalid')
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      fail(res, req, 405, 'METHOD_NOT_ALLOWED', 'the UI is read-only: GET and HEAD only', { Allow: 'GET, HEAD' })
      return
    }
    const given = url.searchParams.get('token') ?? (typeof req.headers['x-mvc-token'] === 'string' ? req.headers['x-mvc-token'] : null)
    if (given === null || given === '') {
      fail(res, req, 401, 'TOKEN_REQUIRED', 'this page needs the token printed by `mvc ui` (open the URL it printed, with ?token=…)')
      return
    }
    if (!tokenMatches(given, token)) {
      fail(res, req, 403, 'TOKEN_REFUSED', 'wrong token: open the URL `mvc ui` printed')
      return
    }
    const started = process.hrtime.bigint()
    try {
      if (url.pathname === '/' || url.pathname === '/index.html') {
        const a = assets.get('index.html')!
        send(res, req, 200, a.type, a.body, a.gzip)
        return
      }
      if (url.pathname.startsWith('/assets/')) {
        const a = assets.get(url.pathname.slice('/assets/'.length))
        if (a === undefined) { fail(res, req, 404, 'NOT_FOUND', `no asset ${url.pathname}`); return }
        send(res, req, 200, a.type, a.body, a.gzip)
        return
      }
      const value = await api(url.pathname, url.searchParams)
      if (value === undefined) { fail(res, req, 404, 'NOT_FOUND', `no such page or API: ${url.pathname}`); return }
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      sendJson(res, req, 200, value, { 'Server-Timing': `app;dur=${ms.toFixed(1)}` })
    } catch (err) {
      if (isMvcError(err)) {
        const status = statusFor(err)
        if (status === 500) log(`mvc ui: ${url.pathname}: [${err.code}] ${err.message}`)
        fail(res, req, status, err.code, err.message, status === 503 ? { 'Retry-After': '1' } : {})
        return
      }
      const e = err as Error
      log(`mvc ui: ${url.pathname}: unexpected error: ${e?.stack ?? String(err)}`)
      if (!res.headersSent) fail(res, req, 500, 'INTERNAL', e?.message ?? String(err))
      else res.destroy()
    }
  }

  const inflight = new Set<Promise<void>>()
  const server = createServer({ headersTimeout: 30_000, requestTimeout: 600_000 }, (req, res) => {
    const p = handle(req, res).finally(() => { inflight.delete(p) })
    inflight.add(p)
  })
  server.keepAliveTimeout = 5_000
  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const where = `${options.host}:${options.port}`
        const why = err.code === 'EADDRINUSE'
          ? 'the address is in use (choose another --port, or --port 0 for any free one)'
          : err.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : err.message
        reject(new InvalidArgumentError(`cannot listen on ${where}: ${why}`, { host: options.host, port: options.port, cause: err.code }, { cause: err }))
      }
      server.once('error', onError)
      server.listen(options.port, options.host, () => { server.off('error', onError); resolve() })
    })
  } catch (err) {
    await lease.stop()
    throw err
  }
  server.on('error', err => { log(`mvc ui: server error: ${err.message}`) })
  const port = (server.address() as AddressInfo).port
  const hostPart = options.host.includes(':') ? `[${options.host}]` : options.host
  let stopped: Promise<void> | undefined
  return {
    url: `http://${hostPart}:${port}/?token=${token}`,
    host: options.host,
    port,
    token,
    root,
    lease,
    terminate: () => { server.closeAllConnections() },
    stop: async () => {
      stopped ??= (async () => {
        await new Promise<void>(resolve => {
          server.close(() => { resolve() })
          server.closeIdleConnections()
        })
        await Promise.allSettled([...inflight])
        await lease.stop()
      })()
      await stopped
    }
  }
}
