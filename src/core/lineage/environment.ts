/**
 * Environment lineage: which mvc, Node and platform made a commit, and the TF.js version and backend
 * its verification ran on (from the commit's verification record; null when TF.js was not loaded).
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { EnvironmentLineage } from '../../format/lineage.js'
import type { VerificationRecord } from '../../format/verification.js'

let cachedVersion: string | undefined

/** mvc's version from its package.json (found by walking up from this module: src/ or dist/src/). */
export function mvcVersion (): string {
  if (cachedVersion !== undefined) return cachedVersion
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown, version?: unknown }
      if ((pkg.name === 'mvc-models' || pkg.name === 'mvc') && typeof pkg.version === 'string') return (cachedVersion = pkg.version)
    } catch { /* not here: keep walking up */ }
    const up = dirname(dir)
    if (up === dir) break
    dir = up
  }
  return (cachedVersion = 'unknown')
}

/** The environment of this process, with TF.js details taken from a verification record (if TF.js ran). */
export function environmentLineage (v: VerificationRecord | null): EnvironmentLineage {
  const ran = v !== null && v.backend !== 'none' && typeof v.tfjsVersion === 'string' && v.tfjsVersion !== 'none'
  return {
    mvc: mvcVersion(),
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    tfjs: ran ? v.tfjsVersion : null,
    backend: ran ? v.backend : null
  }
}
