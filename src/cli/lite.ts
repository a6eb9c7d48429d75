/**
 * The quick parser: runs one command without loading yargs, for arguments it fully understands.
 *
 * yargs and its text layout take longer to load than Node takes to start, which every `mvc status`
 * or `mvc commit` paid. Here the command's own builder runs against a recorder (the same `.option`,
 * `.positional`, `.conflicts` declarations yargs reads), the arguments are parsed by yargs-parser —
 * the parser yargs itself uses, with the configuration yargs gives it — and the handler is called
 * with what yargs would have passed. Anything this does not model (help, an unknown option, a missing
 * required option, a value outside `choices`, conflicting options, extra arguments, a builder using
 * another yargs feature) returns undefined and main.ts hands the arguments to yargs, which gives its
 * usual answer or error. So the quick path changes only how fast a valid command starts.
 */
import Parser from 'yargs-parser'
import type { GlobalArgs, Io } from './output.js'
import { COMMANDS } from './commands/index.js'
import { InputNotFoundError } from '../api/errors.js'

interface OptionSpec {
  readonly type?: 'string' | 'boolean' | 'number'
  readonly alias?: string | readonly string[]
  readonly default?: unknown
  readonly demandOption?: boolean | string
  readonly choices?: readonly unknown[]
  readonly array?: boolean
  readonly nargs?: number
  readonly describe?: string
}

const KNOWN_KEYS = new Set(['type', 'alias', 'default', 'demandOption', 'choices', 'array', 'nargs', 'describe'])

/** The global options main's yargs declares (full.ts), plus what yargs adds itself. */
const GLOBAL: ReadonlyArray<[string, OptionSpec]> = [
  ['C', { type: 'string' }],
  ['json', { type: 'boolean' }],
  ['color', { type: 'boolean' }],
  ['pager', { type: 'boolean' }]
]

class Unsupported extends Error {}

/** Records what a builder declares; any other yargs method makes the command go to yargs. */
function recorder (): { argv: unknown, options: Map<string, OptionSpec>, positionals: Map<string, OptionSpec>, conflicts: Array<[string, string]> } {
  const options = new Map<string, OptionSpec>()
  const positionals = new Map<string, OptionSpec>()
  const conflicts: Array<[string, string]> = []
  const check = (o: OptionSpec | undefined): OptionSpec => {
    const spec = o ?? {}
    for (const k of Object.keys(spec)) if (!KNOWN_KEYS.has(k)) throw new Unsupported(k)
    return spec
  }
  const target: Record<string, unknown> = {
    option: (name: string, o?: OptionSpec) => { options.set(name, check(o)); return argv },
    positional: (name: string, o?: OptionSpec) => { positionals.set(name, check(o)); return argv },
    example: () => argv,
    epilogue: () => argv,
    conflicts: (a: string | Record<string, string>, b?: string) => {
      if (typeof a !== 'string' || typeof b !== 'string') throw new Unsupported('conflicts')
      conflicts.push([a, b])
      return argv
    }
  }
  const argv: unknown = new Proxy(target, {
    get: (t, p) => {
      if (typeof p === 'string' && p in t) return t[p]
      throw new Unsupported(String(p))
    }
  })
  return { argv, options, positionals, conflicts }
}

function aliasesOf (spec: OptionSpec): string[] {
  return spec.alias === undefined ? [] : typeof spec.alias === 'string' ? [spec.alias] : [...spec.alias]
}

function camel (s: string): string {
  return s.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())
}

/**
 * Runs the command when the arguments are within what this parser models; returns false (nothing
 * run, nothing printed) otherwise.
 */
export async function runLite (argv: readonly string[], io: Io): Promise<boolean> {
  const name = argv.find((a, i) => !a.startsWith('-') && argv[i - 1] !== '-C')
  const entry = COMMANDS.find(c => c.name === name)
  if (entry === undefined) return false
  if (argv.some(a => a === '--' || a === '-h' || a === '--help' || a === '--version' || a.startsWith('--help=') || a === 'help')) return false
  const command = (await entry.load())(io)
  const rec = recorder()
  const words = String(command.command).split(' ')
  if (words[0] !== name || typeof command.handler !== 'function') return false
  try {
    if (typeof command.builder === 'function') (command.builder as (y: unknown) => unknown)(rec.argv)
    else if (command.builder !== undefined) return false
  } catch (err) {
    if (err instanceof Unsupported) return false
    throw err
  }
  // Positionals as the command string declares them: <required> and [optional], no variadics.
  const declared: Array<{ name: string, required: boolean }> = []
  for (const w of words.slice(1)) {
    const m = /^([<[])([\w-]+)([>\]])$/.exec(w)
    if (m === null) return false
    declared.push({ name: m[2]!, required: m[1] === '<' })
  }
  const all = new Map<string, OptionSpec>([...GLOBAL, ...rec.options])
  const config: Parser.Options = { alias: {}, boolean: [], string: [], number: [], array: [], narg: {}, default: {}, configuration: { 'parse-positional-numbers': false, 'populate--': true } }
  for (const [key, spec] of all) {
    const al = aliasesOf(spec)
    if (al.length > 0) config.alias![key] = al
    if (spec.type === 'boolean') (config.boolean as string[]).push(key)
    if (spec.type === 'string') (config.string as string[]).push(key)
    if (spec.type === 'number') (config.number as string[]).push(key)
    if (spec.array === true) (config.array as string[]).push(key)
    if (spec.nargs !== undefined) config.narg![key] = spec.nargs
    if (spec.default !== undefined) config.default![key] = spec.default
  }
  const parsed = Parser.detailed([...argv], config)
  if (parsed.error !== null && parsed.error !== undefined) return false
  const args = parsed.argv as Record<string, unknown> & { _: Array<string | number>, '--'?: unknown[] }
  if (Array.isArray(args['--']) && args['--'].length > 0) return false
  // Strict: every key given must be declared (under its name, an alias, or their camelCase forms).
  const allowed = new Set<string>(['_', '--', '$0'])
  for (const [key, spec] of all) for (const k of [key, ...aliasesOf(spec)]) { allowed.add(k); allowed.add(camel(k)) }
  for (const k of Object.keys(args)) if (!allowed.has(k)) return false
  for (const [key, spec] of all) {
    const v = args[key]
    if (spec.demandOption !== undefined && spec.demandOption !== false && v === undefined) return false
    if (spec.choices !== undefined && v !== undefined && ![v].flat().every(x => spec.choices!.includes(x))) return false
    if (spec.type === 'number' && v !== undefined && [v].flat().some(x => typeof x !== 'number' || Number.isNaN(x))) return false
    if (spec.type === 'string' && spec.array !== true && Array.isArray(v)) return false // given twice: yargs decides
  }
  // The command word, then its positionals.
  const rest = args._.map(String)
  if (rest[0] !== name) return false
  const given = rest.slice(1)
  if (given.length > declared.length) return false
  for (const [i, d] of declared.entries()) {
    const v = given[i]
    const spec = rec.positionals.get(d.name)
    if (v === undefined) {
      if (d.required) return false
      if (spec?.default !== undefined) { args[d.name] = spec.default; args[camel(d.name)] = spec.default }
      continue
    }
    if (spec?.type !== undefined && spec.type !== 'string') return false
    if (spec?.choices !== undefined && !spec.choices.includes(v)) return false
    args[d.name] = v
    args[camel(d.name)] = v
  }
  // Two options that exclude each other, both present (given or defaulted): yargs decides.
  for (const [a, b] of rec.conflicts) if (args[a] !== undefined && args[b] !== undefined) return false
  args._ = [name]
  args.$0 = 'mvc'
  delete args['--']
  // Like git -C (full.ts's middleware): relative paths are then relative to that folder.
  if (typeof args.C === 'string') {
    try { process.chdir(args.C) } catch (e) {
      throw new InputNotFoundError(`-C ${args.C}: ${(e as Error).message}`, { path: args.C })
    }
    args.C = undefined
  }
  await (command.handler as (a: GlobalArgs) => unknown)(args as unknown as GlobalArgs)
  return true
}
