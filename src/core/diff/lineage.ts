/**
 * Lineage diff between two commits: params, metrics, data and code.
 */
import type { ObjectStore } from '../../store/interface.js'
import type { CodeLineage, DataLineage } from '../../format/lineage.js'
import type { ChangedEntry, CodeDiff, DataDiff, LineageStatus, ValueEntry } from './types.js'
import { deepEqual } from './values.js'
import { readManifest } from '../objects.js'
import { compareManifests } from '../worktree.js'

// ---------------------------------------------------------------------------------------------------
// lineage

export function diffRecords (a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): { added: ValueEntry[], removed: ValueEntry[], changed: ChangedEntry[] } {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
  const added: ValueEntry[] = []
  const removed: ValueEntry[] = []
  const changedList: ChangedEntry[] = []
  for (const name of names) {
    const inA = Object.prototype.hasOwnProperty.call(a, name)
    const inB = Object.prototype.hasOwnProperty.call(b, name)
    if (inA && !inB) removed.push({ name, value: a[name] })
    else if (!inA && inB) added.push({ name, value: b[name] })
    else if (!deepEqual(a[name], b[name])) changedList.push({ name, a: a[name], b: b[name] })
  }
  return { added, removed, changed: changedList }
}

function lineageStatus (a: unknown, b: unknown, same: boolean): LineageStatus {
  const na = a === null || a === undefined
  const nb = b === null || b === undefined
  if (na && nb) return 'none'
  if (na) return 'added'
  if (nb) return 'removed'
  return same ? 'same' : 'changed'
}

export async function diffData (store: ObjectStore, a: DataLineage | null, b: DataLineage | null): Promise<DataDiff> {
  const pa = a
  const pb = b
  let same: boolean
  if (pa !== null && pb !== null) {
    same = pa.kind === 'snapshot' && pb.kind === 'snapshot' ? pa.manifest.equals(pb.manifest) : pa.kind === 'ref' && pb.kind === 'ref' ? pa.ref === pb.ref : false
  } else {
    same = deepEqual(a, b)
  }
  const status = lineageStatus(a, b, same)
  let files: DataDiff['files'] = null
  if (status === 'changed' && pa?.kind === 'snapshot' && pb?.kind === 'snapshot' && await store.has(pa.manifest) && await store.has(pb.manifest)) {
    files = compareManifests(await readManifest(store, pa.manifest), await readManifest(store, pb.manifest))
  }
  return { status, a: a ?? null, b: b ?? null, files }
}

export function diffCode (a: CodeLineage | null, b: CodeLineage | null): CodeDiff {
  const pa = a
  const pb = b
  const same = pa !== null && pb !== null && pa.kind === 'git' && pb.kind === 'git'
    ? pa.oid === pb.oid && pa.dirty === pb.dirty && deepEqual(pa.dirtyPaths, pb.dirtyPaths)
    : deepEqual(a, b)
  return { status: lineageStatus(a, b, same), a: a ?? null, b: b ?? null }
}
