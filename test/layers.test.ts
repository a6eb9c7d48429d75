/**
 * The architecture, checked: every import in src/ points down the layers of docs/architecture.md, and
 * no module imports itself back through others. Reads the sources as text (import and export-from
 * statements, dynamic import() with a literal), so it needs no build of its own.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { REPO_ROOT } from './helpers.js'

const SRC = join(REPO_ROOT, 'src')

/** Layer of each top-level part of src/, lowest first. Equal numbers are peers that must not import each other. */
const LAYERS: ReadonlyArray<readonly [string, number]> = [
  ['errors.ts', 0],
  ['content', 1],
  ['format', 2],
  ['store', 3],
  ['formats', 4],
  ['remote', 4],
  ['core', 5],
  ['api', 6],
  ['cli', 7],
  ['index.ts', 8],
  // The browser page of `mvc ui`: bundled apart (scripts/build-ui.mjs), never imported by Node code.
  ['ui', 9]
]

function partOf (file: string): string {
  return relative(SRC, file).split('/')[0]!
}

function layerOf (file: string): number {
  const part = partOf(file)
  const l = LAYERS.find(([p]) => p === part)
  assert.ok(l !== undefined, `${relative(REPO_ROOT, file)} is in ${part}, which docs/architecture.md gives no layer`)
  return l[1]
}

async function sources (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...await sources(p))
    else if (e.name.endsWith('.ts')) out.push(p)
  }
  return out
}

/** Relative imports of a module, resolved to .ts source paths. */
function importsOf (file: string, text: string): string[] {
  const specs: string[] = []
  // Strip comments so that examples in doc comments don't count.
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1')
  for (const m of code.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*'([^']+)'/g)) specs.push(m[1]!)
  for (const m of code.matchAll(/import\(\s*'([^']+)'\s*\)/g)) specs.push(m[1]!)
  return specs.filter(s => s.startsWith('.')).map(s => resolve(dirname(file), s).replace(/\.js$/, '.ts'))
}

const files = await sources(SRC)
const graph = new Map<string, string[]>()
for (const f of files) graph.set(f, importsOf(f, await readFile(f, 'utf8')))

test('layers: every import in src/ points to a lower layer or the same folder', () => {
  const upward: string[] = []
  for (const [from, tos] of graph) {
    for (const to of tos) {
      if (partOf(from) === partOf(to)) continue
      if (layerOf(to) >= layerOf(from)) upward.push(`${relative(SRC, from)} → ${relative(SRC, to)}`)
    }
  }
  assert.deepEqual(upward, [], 'imports that point up or sideways (layers: ' + LAYERS.map(([p, n]) => `${p}=${n}`).join(' ') + ')')
})

test('layers: the CLI imports only the API (and its own modules)', () => {
  const bad: string[] = []
  for (const [from, tos] of graph) {
    if (partOf(from) !== 'cli') continue
    for (const to of tos) if (partOf(to) !== 'cli' && partOf(to) !== 'api') bad.push(`${relative(SRC, from)} → ${relative(SRC, to)}`)
  }
  assert.deepEqual(bad, [])
})

test('layers: the browser page (src/ui/) imports only types from the Node side, and only the UI server\'s', async () => {
  const bad: string[] = []
  for (const [from, tos] of graph) {
    if (partOf(from) !== 'ui') continue
    const code = (await readFile(from, 'utf8')).replace(/\/\*[\s\S]*?\*\//g, '')
    for (const m of code.matchAll(/(?:^|\n)\s*(import|export)(\s+type)?\s[^'"]*?from\s*'([^']+)'/g)) {
      const spec = m[3]!
      if (!spec.startsWith('.')) continue
      const to = resolve(dirname(from), spec).replace(/\.js$/, '.ts')
      if (partOf(to) === 'ui') continue
      if (m[2] === undefined || to !== join(SRC, 'core', 'ui', 'types.ts')) bad.push(`${relative(SRC, from)} → ${relative(SRC, to)}${m[2] === undefined ? ' (not import type)' : ''}`)
    }
    assert.ok(tos.length >= 0)
  }
  assert.deepEqual(bad, [])
  assert.ok(graph.has(join(SRC, 'ui', 'main.ts')), 'the check sees the browser code')
})

test('layers: no import cycle between modules', () => {
  const cycles: string[] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (f: string): void => {
    state.set(f, 'open')
    stack.push(f)
    for (const to of graph.get(f) ?? []) {
      if (!graph.has(to)) continue
      const s = state.get(to)
      if (s === 'open') cycles.push(stack.slice(stack.indexOf(to)).concat(to).map(x => relative(SRC, x)).join(' → '))
      else if (s === undefined) visit(to)
    }
    stack.pop()
    state.set(f, 'done')
  }
  for (const f of graph.keys()) if (!state.has(f)) visit(f)
  assert.deepEqual(cycles, [])
})

test('layers: the check sees imports (it can fail)', () => {
  // A module known to import down: if the parser stopped seeing imports, every other test here would pass vacuously.
  const commit = graph.get(join(SRC, 'core', 'commit.ts')) ?? []
  assert.ok(commit.some(t => partOf(t) === 'format'), 'core/commit.ts imports the format layer')
  assert.ok(commit.length >= 10)
})
