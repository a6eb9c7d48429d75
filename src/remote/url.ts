/**
 * Remote URLs (docs/remotes.md, "URL forms"): which transport a URL needs, and the form it is stored in.
 *
 * - `file:///abs/path` — stored as given;
 * - a plain path — resolved against the current folder, stored absolute;
 * - `http://host:port/…`, `https://…` — stored as given (the server is `mvc serve`);
 * - `s3://bucket/prefix` — stored as given;
 * - `memory://name` — an in-memory remote (memory.ts): stored as given, but it exists only inside the
 *   process that created it, so it is used as an open `transport` and never opened by URL.
 */
import { isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { InvalidArgumentError } from '../errors.js'

export type RemoteScheme = 'folder' | 'http' | 's3' | 'memory'

/** Which transport a URL needs. */
export function remoteScheme (url: string): RemoteScheme {
  if (/^https?:\/\//i.test(url)) return 'http'
  if (/^s3:\/\//i.test(url)) return 's3'
  if (/^memory:\/\//i.test(url)) return 'memory'
  return 'folder'
}

/** Local folder of a `file://` URL or a plain path. */
export function folderPath (url: string, cwd = process.cwd()): string {
  if (/^file:/i.test(url)) {
    try { return fileURLToPath(url) } catch (e) {
      throw new InvalidArgumentError(`${url} is not a valid file URL (use file:///absolute/path): ${(e as Error).message}`, { url })
    }
  }
  return isAbsolute(url) ? url : resolve(cwd, url)
}

/** The form a URL is stored in: plain paths absolute, everything else as given (after a syntax check). */
export function normalizeRemoteUrl (url: string, cwd = process.cwd()): string {
  if (typeof url !== 'string' || url.trim() === '') throw new InvalidArgumentError('a remote URL cannot be empty', { url })
  const scheme = remoteScheme(url)
  if (scheme === 'http' || scheme === 's3' || scheme === 'memory') {
    let u: URL
    try { u = new URL(url) } catch {
      throw new InvalidArgumentError(`${url} is not a valid URL`, { url })
    }
    if (u.hostname === '') throw new InvalidArgumentError(`${url} names no ${scheme === 's3' ? 'bucket' : scheme === 'memory' ? 'remote' : 'host'}`, { url })
    return url
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !/^file:/i.test(url)) {
    throw new InvalidArgumentError(`unsupported remote URL ${url}: use a path, file:///path, http(s)://host:port/ or s3://bucket/prefix`, { url })
  }
  if (/^file:/i.test(url)) { folderPath(url); return url }
  return resolve(cwd, url)
}
