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
import { requireContent } from './lifecycle.js'
import type { ProgressFn } from './transfer.js'

/**
 * Fetches what a version needs unless it is here; a complete repository returns at once. A deleted
 * version whose content gc removed is VERSION_DELETED (never fetched back behind gc's back).
 */
export async function ensureLocal (store: ObjectStore, rev: string, options: { onProgress?: ProgressFn, transport?: Remote } = {}): Promise<{ objects: number, bytes: number }> {
  const cid = await resolveRev(store, rev)
  await requireContent(store, cid, rev)
  const name = await partialRemote(store)
  if (name === undefined) return { objects: 0, bytes: 0 }
  if (await hasCommitContent(store, cid)) return { objects: 0, bytes: 0 }
  const c = await connect(store, { remote: name, transport: options.transport })
  try {
    const r = await fetchCommitContent(store, c.remote, cid, { onProgress: options.onProgress })
    return { objects: r.objects, bytes: r.bytes }
  } finally { await c.close() }
}
