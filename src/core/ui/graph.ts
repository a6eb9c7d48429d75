/**
 * Lanes of the version graph for the UI: the same walk as `mvc log --graph` (src/core/history.ts,
 * `graphRows`) but as numbers a page can draw, one row per version, newest first. Pure.
 *
 * Each row takes the lane that was waiting for it (or the leftmost free one); its first parent
 * continues that lane (a lane further right already waiting for that parent joins it, as `|/` does
 * in git), further parents take the lane already waiting for them or a free one. Freed lanes are
 * reused, so lines stay straight. `down` lists the lines from this row to the next: every lane
 * passing by, and this version to its parents.
 */
import type { GraphCell, GraphEdge } from './types.js'

export interface GraphInput {
  readonly id: string
  /** Parent ids; parents not among the nodes get no lane (nothing would end it). */
  readonly parents: readonly string[]
}

/** Lays out rows in the order given (every child before its parents). */
export class GraphLayout {
  private lanes: Array<string | null> = []
  readonly cells: GraphCell[] = []
  /** Lanes in use at the widest row so far. */
  width = 0

  constructor (private readonly known: (id: string) => boolean) {}

  /** Adds the next row. */
  add (node: GraphInput): GraphCell {
    let lane = this.lanes.indexOf(node.id)
    if (lane === -1) {
      lane = this.lanes.indexOf(null)
      if (lane === -1) { this.lanes.push(node.id); lane = this.lanes.length - 1 } else this.lanes[lane] = node.id
    }
    const before = [...this.lanes]
    // Other lanes waiting for this same version (a merge base reached along two lines) end here.
    const joining: number[] = []
    before.forEach((id, i) => { if (id === node.id && i !== lane) { joining.push(i); this.lanes[i] = null } })
    const parents = [...new Set(node.parents)].filter(p => this.known(p))
    this.lanes[lane] = null
    const targets: number[] = []
    /** Lanes passing this row that move left: a lane waiting for this version's first parent joins this lane. */
    const moved = new Map<number, number>()
    parents.forEach((p, k) => {
      const waiting = this.lanes.indexOf(p)
      if (waiting !== -1 && k === 0 && waiting > lane) {
        // Keep the line of first parents on the left, as `git log --graph` does (`|/`).
        this.lanes[waiting] = null
        this.lanes[lane] = p
        moved.set(waiting, lane)
        targets.push(lane)
        return
      }
      if (waiting !== -1) { targets.push(waiting); return }
      if (k === 0) { this.lanes[lane] = p; targets.push(lane); return }
      let free = this.lanes.indexOf(null)
      if (free === -1 || free === lane) {
        free = this.lanes.findIndex((x, i) => x === null && i !== lane)
        if (free === -1) { this.lanes.push(null); free = this.lanes.length - 1 }
      }
      this.lanes[free] = p
      targets.push(free)
    })
    while (this.lanes.length > 0 && this.lanes[this.lanes.length - 1] === null) this.lanes.pop()
    const down: GraphEdge[] = []
    before.forEach((id, i) => { if (id !== null && i !== lane && !joining.includes(i)) down.push([i, moved.get(i) ?? i]) })
    for (const t of targets) down.push([lane, t])
    const cell: GraphCell = { lane, down }
    this.cells.push(cell)
    this.width = Math.max(this.width, before.length, this.lanes.length, lane + 1)
    return cell
  }
}
