/**
 * The page's client of the `mvc ui` server: the token from the page's URL goes in a header; a
 * repository busy with another mvc command (503) is asked again a few times.
 */
import type { ErrorResponse } from '../core/ui/types.js'

const token = new URLSearchParams(location.search).get('token') ?? ''

export class ApiError extends Error {
  constructor (readonly status: number, readonly code: string, message: string) { super(message) }
}

let busyListener: (busy: string | null) => void = () => {}
export function onBusy (fn: (busy: string | null) => void): void { busyListener = fn }

export async function get<T> (path: string, params: Readonly<Record<string, string | number | undefined>> = {}): Promise<T> {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v))
  const url = `${path}${q.toString() !== '' ? `?${q.toString()}` : ''}`
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, { headers: { 'X-Mvc-Token': token } })
    if (res.status === 503 && attempt < 30) {
      busyListener('the repository is busy with another mvc command; waiting…')
      await new Promise(resolve => setTimeout(resolve, 1000))
      continue
    }
    busyListener(null)
    if (!res.ok) {
      const body = await res.json().catch(() => undefined) as ErrorResponse | undefined
      throw new ApiError(res.status, body?.error.code ?? 'HTTP', body?.error.message ?? `${res.status} ${res.statusText}`)
    }
    return await res.json() as T
  }
}
