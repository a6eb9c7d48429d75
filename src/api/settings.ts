/**
 * Settings the CLI needs before a command runs (colour, pager): read from `mvc config` without opening
 * the store, so they cost a few file reads.
 */
import { Config } from '../core/config.js'
import { findRoot } from '../core/repo.js'

export async function outputSettings (dir: string): Promise<{ color?: string, pager?: string }> {
  const root = await findRoot(dir).catch(() => undefined)
  const c = await Config.load(root).catch(() => undefined)
  if (c === undefined) return {}
  const color = c.string('color.ui')
  const pager = c.string('core.pager')
  return { ...(color !== undefined ? { color } : {}), ...(pager !== undefined ? { pager } : {}) }
}
