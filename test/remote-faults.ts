/**
 * A small HTTP proxy for remote tests that fails on purpose, between a real client and a real server
 * (`mvc serve`, or an S3 server): it resets connections, answers 503 / 429 / 500 like a gateway, or
 * forwards a request and then drops the answer (the server applied it; the client never hears).
 * Requests are forwarded byte for byte, headers included (S3 signatures cover the Host header, which
 * names the proxy the client was pointed at).
 */
import { createServer, request, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'

const HOST = '127.0.0.1'

export type Fault = 'pass' | 'reset' | 'lose-answer' | 503 | 429 | 500

export interface ProxyEntry { readonly key: string, readonly attempt: number, readonly fault: Fault }

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
    log.push({ key, attempt, fault })
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
      if (fault === 'lose-answer') {
        upRes.resume()
        upRes.on('end', () => { void proxy.beforeDrop(key).finally(() => { req.socket.destroy() }) })
        return
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.headers)
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
