/**
 * `mvc config`: settings at two levels, as git has them — the repository's (`.mvc/config.json`) and the
 * user's (`$MVC_CONFIG_GLOBAL`, else `$XDG_CONFIG_HOME/mvc/config.json`, else `~/.config/mvc/config.json`).
 * The repository's wins. Both are small JSON objects of `"section.key": value`, written atomically
 * (temporary file, then rename); neither is part of the repository format (never hashed, never pushed),
 * and neither needs the store's lock, so reading settings never waits for another mvc process.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { InvalidArgumentError } from '../errors.js'
import { MVC_DIR } from '../format/paths.js'
import { DURATION_SYNTAX, pruneCutoff } from '../format/lifecycle.js'

export type ConfigValue = string | number | boolean

interface KeySpec {
  readonly type: 'string' | 'number' | 'boolean'
  readonly describe: string
  readonly choices?: readonly string[]
}

/** Every setting mvc reads. Unknown keys are refused, so a typo is caught when it is set. */
export const CONFIG_KEYS: Readonly<Record<string, KeySpec>> = {
  'user.name': { type: 'string', describe: 'author name of commits (default: git config user.name, else the login name)' },
  'user.email': { type: 'string', describe: 'author email of commits (default: git config user.email, else login@host)' },
  'remote.default': { type: 'string', describe: 'the remote push, fetch and pull use when none is named (default origin)' },
  'verify.enabled': { type: 'boolean', describe: 'record and check behaviour by default (default true; --no-verify / --verify override)' },
  'verify.backend': { type: 'string', describe: 'TF.js backend (tensorflow, wasm, cpu)', choices: ['tensorflow', 'wasm', 'cpu'] },
  'verify.runtime': { type: 'string', describe: 'preferred runtime (tfjs, python-tensorflow)', choices: ['tfjs', 'python-tensorflow'] },
  'verify.python': { type: 'string', describe: 'Python interpreter with TensorFlow for the python-tensorflow runtime' },
  'verify.atol': { type: 'number', describe: 'absolute tolerance recorded at commit' },
  'verify.rtol': { type: 'number', describe: 'relative tolerance recorded at commit' },
  'core.gitignore': { type: 'boolean', describe: 'add .mvc/ and committed paths to the git work tree\'s .gitignore (default true)' },
  'color.ui': { type: 'string', describe: 'colour in terminal output: auto, always, never (default auto; NO_COLOR turns it off)', choices: ['auto', 'always', 'never'] },
  'gc.prune': { type: 'string', describe: 'how long deleted versions stay restorable and unreferenced objects are kept: now, never, 30m, 12h, 3d, 2w, an ISO date (default 2w)' },
  'gc.pruneUnreferenced': { type: 'string', describe: 'minimum age of an object nothing references before gc removes it, even with --prune=now (default 1h: a push in flight)' },
  'core.pager': { type: 'string', describe: 'pager for long output on a terminal (default: MVC_PAGER, PAGER, else less -FRX); empty to disable' }
}

export type ConfigLevel = 'repository' | 'user'

export function userConfigPath (env: NodeJS.ProcessEnv = process.env): string {
  if (env.MVC_CONFIG_GLOBAL !== undefined && env.MVC_CONFIG_GLOBAL !== '') return env.MVC_CONFIG_GLOBAL
  const base = env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(homedir(), '.config')
  return join(base, 'mvc', 'config.json')
}

export function repoConfigPath (root: string): string {
  return join(root, MVC_DIR, 'config.json')
}

async function readLevel (file: string): Promise<Record<string, ConfigValue>> {
  let text: string
  try { text = await readFile(file, 'utf8') } catch { return {} }
  let v: unknown
  try { v = JSON.parse(text) } catch (e) {
    throw new InvalidArgumentError(`${file} is not valid JSON (${(e as Error).message}); fix it or delete it`, { path: file })
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidArgumentError(`${file} must hold a JSON object of "section.key": value`, { path: file })
  const out: Record<string, ConfigValue> = {}
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out[k] = x
  }
  return out
}

async function writeLevel (file: string, values: Record<string, ConfigValue>): Promise<void> {
  await mkdir(dirname(file), { recursive: true })
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  await writeFile(tmp, JSON.stringify(values, Object.keys(values).sort(), 2) + '\n', { mode: 0o644 })
  await rename(tmp, file)
}

/** A value as the key's type wants it; InvalidArgumentError naming the key when it does not fit. */
export function parseConfigValue (key: string, raw: string | ConfigValue): ConfigValue {
  const spec = CONFIG_KEYS[key]
  if (spec === undefined) {
    throw new InvalidArgumentError(`unknown setting ${JSON.stringify(key)}; settings: ${Object.keys(CONFIG_KEYS).join(', ')}`, { key })
  }
  let v: ConfigValue = raw
  if (spec.type === 'boolean' && typeof raw === 'string') {
    if (/^(true|yes|on|1)$/i.test(raw)) v = true
    else if (/^(false|no|off|0)$/i.test(raw)) v = false
    else throw new InvalidArgumentError(`${key} takes true or false, not ${JSON.stringify(raw)}`, { key, value: raw })
  }
  if (spec.type === 'number' && typeof raw === 'string') {
    v = Number(raw)
    if (!Number.isFinite(v)) throw new InvalidArgumentError(`${key} takes a number, not ${JSON.stringify(raw)}`, { key, value: raw })
  }
  if (typeof v !== spec.type) throw new InvalidArgumentError(`${key} takes a ${spec.type}`, { key, value: raw })
  if ((key === 'gc.prune' || key === 'gc.pruneUnreferenced') && pruneCutoff(String(v), Date.now()) === undefined) {
    throw new InvalidArgumentError(`${key} takes ${DURATION_SYNTAX}, not ${JSON.stringify(v)}`, { key, value: v })
  }
  if (spec.choices !== undefined && !spec.choices.includes(String(v))) {
    throw new InvalidArgumentError(`${key} is one of ${spec.choices.join(', ')}, not ${JSON.stringify(v)}`, { key, value: v })
  }
  return v
}

export interface ConfigEntry { readonly key: string, readonly value: ConfigValue, readonly level: ConfigLevel }

/** The effective settings: the repository's over the user's (root undefined: the user's only). */
export class Config {
  private constructor (private readonly repo: Record<string, ConfigValue>, private readonly user: Record<string, ConfigValue>) {}

  static async load (root: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
    return new Config(root === undefined ? {} : await readLevel(repoConfigPath(root)), await readLevel(userConfigPath(env)))
  }

  get (key: string): ConfigValue | undefined {
    return this.repo[key] ?? this.user[key]
  }

  string (key: string): string | undefined {
    const v = this.get(key)
    return typeof v === 'string' ? v : undefined
  }

  number (key: string): number | undefined {
    const v = this.get(key)
    return typeof v === 'number' ? v : undefined
  }

  boolean (key: string): boolean | undefined {
    const v = this.get(key)
    return typeof v === 'boolean' ? v : undefined
  }

  list (): ConfigEntry[] {
    const out: ConfigEntry[] = []
    for (const [key, value] of Object.entries(this.user)) if (!(key in this.repo)) out.push({ key, value, level: 'user' })
    for (const [key, value] of Object.entries(this.repo)) out.push({ key, value, level: 'repository' })
    return out.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  }
}

/** Sets (or with `value` undefined, unsets) a key at one level. Returns the value stored. */
export async function setConfig (options: { level: ConfigLevel, root?: string, key: string, value: string | ConfigValue | undefined, env?: NodeJS.ProcessEnv }): Promise<ConfigValue | undefined> {
  const file = options.level === 'user' ? userConfigPath(options.env) : repoConfigPath(options.root ?? '')
  if (options.level === 'repository' && options.root === undefined) throw new TypeError('setConfig: the repository level needs root')
  const values = await readLevel(file)
  if (options.value === undefined) {
    if (!(options.key in values)) throw new InvalidArgumentError(`${options.key} is not set in the ${options.level} settings (${file})`, { key: options.key })
    delete values[options.key]
    await writeLevel(file, values)
    return undefined
  }
  const v = parseConfigValue(options.key, options.value)
  values[options.key] = v
  await writeLevel(file, values)
  return v
}
