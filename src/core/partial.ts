/**
 * Partial clones (`clone --filter=commits`): a version's content is fetched from the remote it was
 * cloned from when it is first needed (checkout, show, verify, diff).
 */
import type { Remote } from '../remote/interface.js'
import type { ObjectStore } from '../store/interface.js'
import { connect } from './connect.js'
import { resolveRev } from './refs.js'
import { partialRemote } from './remotes.js'
import { fetchCommitContent, hasCommitContent } from './sync.js'
import type { ProgressFn } from './transfer.js'

/** Fetches what a version needs unless it is here; a complete repository returns at once. */
export async function ensureLocal (store: ObjectStore, rev: string, options: { onProgress?: ProgressFn, transport?: Remote } = {}): Promise<{ objects: number, bytes: number }> {
  const name = await partialRemote(store)
  if (name === undefined) return { objects: 0, bytes: 0 }
  const cid = await resolveRev(store, rev)
  if (await hasCommitContent(store, cid)) return { objects: 0, bytes: 0 }
  const c = await connect(store, { remote: name, transport: options.transport })
  try {
    const r = await fetchCommitContent(store, c.remote, cid, { onProgress: options.onProgress })
    return { objects: r.objects, bytes: r.bytes }
  } finally { await c.close() }
}
