/**
 * A small HTTP proxy for remote tests that fails on purpose, between a real client and a real server
 * (`mvc serve`, or an S3 server): it resets connections, answers 503 / 429 / 500 like a gateway, or
 * forwards a request and then drops the answer (the server applied it; the client never hears).
 * Requests are forwarded byte for byte, headers included (S3 signatures cover the Host header, which
 * names the proxy the client was pointed at).
 */
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ChildProcess } from 'node:child_process'
import { spawnMvc, type RunResult } from './helpers.js'

const HOST = '127.0.0.1'

/** `{ cutAfter: n }`: forward the answer's head and its first n body bytes, then cut the connection. */
export type Fault = 'pass' | 'reset' | 'lose-answer' | 503 | 429 | 500 | { readonly cutAfter: number }

export interface ProxyEntry {
  readonly key: string
  readonly attempt: number
  readonly fault: Fault
  /** The request's Range header, if any. */
  readonly range?: string
  /** Status the upstream answered (set once it answered). */
  status?: number
  /** Body bytes forwarded to the client. */
  bytes: number
}

export interface Proxy {
  readonly url: string
  readonly log: ProxyEntry[]
  /** Decides what happens to the `attempt`-th request with this method and path. */
  plan: (method: string, path: string, attempt: number) => Fault
  /** Runs after a 'lose-answer' request was answered by the server, before the answer is dropped. */
  beforeDrop: (key: string) => Promise<void>
  close: () => Promise<void>
}

export async function faultyProxy (upstream: string): Promise<Proxy> {
  const up = new URL(upstream)
  const seen = new Map<string, number>()
  const log: ProxyEntry[] = []
  const proxy: Proxy = {
    url: '',
    log,
    plan: () => 'pass',
    beforeDrop: async () => {},
    close: async () => {}
  }
  const server = createServer((req: IncomingMessage, res) => {
    const method = req.method ?? ''
    const path = req.url ?? ''
    const key = `${method} ${path}`
    const attempt = (seen.get(key) ?? 0) + 1
    seen.set(key, attempt)
    const fault = proxy.plan(method, path, attempt)
    const range = req.headers.range
    const entry: ProxyEntry = { key, attempt, fault, ...(range !== undefined ? { range } : {}), bytes: 0 }
    log.push(entry)
    if (fault === 'reset') { req.socket.destroy(); return }
    if (typeof fault === 'number') {
      // A gateway answering for the server, which never sees the request.
      req.resume()
      req.on('end', () => {
        const body = JSON.stringify({ error: { code: fault === 500 ? 'INTERNAL' : 'UNAVAILABLE', message: `proxy says ${fault}` } })
        res.writeHead(fault, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) })
        res.end(body)
      })
      return
    }
    const forward = request({ host: up.hostname, port: up.port, method, path, headers: req.headers }, upRes => {
      entry.status = upRes.statusCode
      if (fault === 'lose-answer') {
        upRes.resume()
        upRes.on('end', () => { void proxy.beforeDrop(key).finally(() => { req.socket.destroy() }) })
        return
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.headers)
      if (typeof fault === 'object') {
        // Forward the first `cutAfter` body bytes, then cut the connection mid-answer.
        upRes.on('data', (b: Buffer) => {
          const room = fault.cutAfter - entry.bytes
          if (room <= 0) return
          const part = b.length <= room ? b : b.subarray(0, room)
          entry.bytes += part.length
          res.write(part)
          if (entry.bytes >= fault.cutAfter) {
            upRes.destroy()
            // Let the bytes reach the client before the reset.
            setTimeout(() => { req.socket.destroy() }, 50)
          }
        })
        upRes.on('end', () => { res.end() })
        return
      }
      upRes.on('data', (b: Buffer) => { entry.bytes += b.length })
      upRes.pipe(res)
    })
    forward.on('error', () => { req.socket.destroy() })
    req.pipe(forward)
  })
  await new Promise<void>(resolve => server.listen(0, HOST, resolve))
  return Object.assign(proxy, {
    url: `http://${HOST}:${(server.address() as AddressInfo).port}/`,
    close: async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) }
  })
}

/** Entries of the log for one method + path. */
export function attemptsOf (p: Proxy, key: string): Fault[] {
  return p.log.filter(e => e.key === key).map(e => e.fault)
}

// ------------------------------------------------------------------------------ mvc serve, raw HTTP

export interface Served { readonly url: string, readonly child: ChildProcess, readonly done: Promise<RunResult> }

/** Starts `mvc serve --port 0 <args>` in a child process and resolves with the URL it prints. */
export async function serveCli (args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<Served> {
  const { child, done } = spawnMvc(['serve', '--port', '0', ...args], { cwd, env })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`mvc serve printed no URL in 30 s: ${out}`)) }, 30_000)
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString('utf8')
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m !== null) { clearTimeout(timer); resolve(m[1]!) }
    })
    void done.then(r => { clearTimeout(timer); reject(new Error(`mvc serve exited ${String(r.code)} before listening:\n${r.stdout}\n${r.stderr}`)) })
  })
  return { url, child, done }
}

export async function stopServed (s: Served | undefined): Promise<RunResult | undefined> {
  if (s === undefined) return undefined
  s.child.kill('SIGTERM')
  return await s.done
}

export interface Reply { readonly status: number, readonly headers: IncomingHttpHeaders, readonly body: Buffer, json: () => any } // eslint-disable-line @typescript-eslint/no-explicit-any

/** One request on its own connection; `path` is sent byte for byte. */
export async function rawHttp (base: string, method: string, path: string, options: { token?: string, body?: Uint8Array | string, headers?: Record<string, string> } = {}): Promise<Reply> {
  const u = new URL(base)
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`
  const body = typeof options.body === 'string' ? Buffer.from(options.body) : options.body
  if (body !== undefined && headers['Content-Length'] === undefined) headers['Content-Length'] = String(body.length)
  return await new Promise<Reply>((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers, agent: false }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const b = Buffer.concat(chunks)
        resolve({ status: res.statusCode!, headers: res.headers, body: b, json: () => JSON.parse(b.toString('utf8')) })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}
