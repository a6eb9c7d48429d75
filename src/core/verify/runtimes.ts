/**
 * Choosing and opening the runtimes that run a version's models. Each model's adapter lists the
 * runtimes that can run its format, best first; a runtime is opened once per operation and closed at
 * the end. When the user's preferred runtime (or the one that recorded the outputs) cannot run here,
 * the next one is tried and the report says which ran.
 */
import { VerificationUnavailableError, isMvcError } from '../../errors.js'
import type { LoadedModel, ModelFormat, ModelRuntime, OpenRuntime, RuntimeOptions, SnapshotRanges } from '../../formats/interface.js'

function reasonOf (e: unknown): string {
  return isMvcError(e) || e instanceof Error ? e.message : String(e)
}

export interface Loaded {
  readonly runtime: ModelRuntime
  readonly open: OpenRuntime
  readonly model: LoadedModel
}

export class Runtimes {
  private readonly opened = new Map<ModelRuntime, Promise<OpenRuntime>>()

  constructor (private readonly options: RuntimeOptions) {}

  private async open (rt: ModelRuntime): Promise<OpenRuntime> {
    let p = this.opened.get(rt)
    if (p === undefined) {
      p = rt.open(this.options)
      this.opened.set(rt, p)
    }
    return await p
  }

  /**
   * Loads a model with the first runtime that can, trying `prefer` (an id) first. Throws
   * VerificationUnavailableError listing why each runtime could not, when none can; other errors (a
   * model the runtime rejects as malformed) are thrown as they are.
   */
  async load (adapter: ModelFormat, model: { format: string, path: string }, read: (path: string) => Promise<Uint8Array>, dir: () => Promise<string | undefined>, prefer?: string, files?: SnapshotRanges): Promise<Loaded> {
    const order = [...adapter.runtimes].sort((a, b) => (a.id === prefer ? -1 : 0) - (b.id === prefer ? -1 : 0))
    if (order.length === 0) throw new VerificationUnavailableError(`no runtime can run ${adapter.id} models`, { format: adapter.id })
    const reasons: string[] = []
    for (const runtime of order) {
      try {
        const open = await this.open(runtime)
        const where = { ...(runtime.needsDirectory === true ? { dir: await dir() } : {}), ...(files !== undefined ? { files } : {}) }
        const loaded = await open.load(model, read, where)
        return { runtime, open, model: loaded }
      } catch (e) {
        if (!(e instanceof VerificationUnavailableError)) throw e
        reasons.push(`${runtime.id}: ${reasonOf(e)}`)
      }
    }
    throw new VerificationUnavailableError(reasons.length === 1 ? reasons[0]! : `no runtime could run ${model.path}: ${reasons.join('; ')}`, { path: model.path, reasons })
  }

  async close (): Promise<void> {
    for (const p of this.opened.values()) {
      const open = await p.catch(() => undefined)
      await open?.close?.()
    }
    this.opened.clear()
  }
}
