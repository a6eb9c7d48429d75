/**
 * Contract diff: a model's declared inputs and outputs (from its format — signatures, input layers —
 * or from metadata.json's `input_signature`). Any change to what a model takes or gives is breaking
 * for the code that calls it: an input added, removed or renamed, a dtype or rank changed, a fixed
 * dimension changed; an output removed or changed. Widening a fixed dimension to any size (null) is not.
 */
import type { ModelContract, TensorContract } from '../../format/objects.js'
import type { ContractDiff } from './types.js'

function fmt (t: TensorContract): string {
  return `${t.name} ${t.dtype}[${t.shape.map(d => d ?? '?').join(',')}]`
}

function compareList (what: 'input' | 'output', a: readonly TensorContract[], b: readonly TensorContract[], changes: string[]): boolean {
  let breaking = false
  const byName = new Map(b.map(t => [t.name, t]))
  for (const x of a) {
    const y = byName.get(x.name)
    if (y === undefined) { changes.push(`${what} removed: ${fmt(x)}`); breaking = true; continue }
    if (x.dtype !== y.dtype) { changes.push(`${what} ${x.name}: dtype ${x.dtype} → ${y.dtype}`); breaking = true }
    if (x.shape.length !== y.shape.length) { changes.push(`${what} ${x.name}: rank ${x.shape.length} → ${y.shape.length}`); breaking = true; continue }
    x.shape.forEach((d, i) => {
      const e = y.shape[i] ?? null
      if (d === e) return
      changes.push(`${what} ${x.name}: dimension ${i} ${d ?? '?'} → ${e ?? '?'}`)
      // Accepting any size where one was fixed keeps old callers working; anything else does not.
      if (!(what === 'input' && e === null)) breaking = true
    })
  }
  const names = new Set(a.map(t => t.name))
  for (const y of b) {
    if (names.has(y.name)) continue
    changes.push(`${what} added: ${fmt(y)}`)
    if (what === 'input') breaking = true
  }
  return breaking
}

/** The differences between two contracts (null when equal or both absent). */
export function diffContract (model: string, a: ModelContract | null, b: ModelContract | null): ContractDiff | null {
  if (a === null && b === null) return null
  if (a === null || b === null) {
    return { model, a, b, breaking: false, changes: [a === null ? 'contract recorded (none before)' : 'contract no longer recorded'] }
  }
  const changes: string[] = []
  const inputs = compareList('input', a.inputs, b.inputs, changes)
  const outputs = compareList('output', a.outputs, b.outputs, changes)
  const breaking = inputs || outputs
  return changes.length === 0 ? null : { model, a, b, breaking, changes }
}
