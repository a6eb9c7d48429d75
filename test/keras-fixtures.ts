/**
 * Real TensorFlow/Keras files for the Keras and HDF5 suites, made when the tests run: the project's
 * Python environment (scripts/python-env.sh, created on first use — TensorFlow is a large download, so
 * the first run takes minutes) runs fixtures/tf/make_fixtures.py once per version of the fixture
 * scripts; the result is cached under fixtures/generated/ (gitignored). No environment, no fixtures:
 * the suites fail rather than skip.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO_ROOT } from './helpers.js'

/** Runs a command to completion; rejects with its output when it fails. */
export async function run (cmd: string, args: readonly string[], options: { cwd?: string, env?: NodeJS.ProcessEnv } = {}): Promise<{ stdout: string, stderr: string }> {
  return await new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd ?? REPO_ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', code => {
      const stdout = Buffer.concat(out).toString('utf8')
      const stderr = Buffer.concat(err).toString('utf8')
      if (code === 0) resolve({ stdout, stderr })
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${String(code)}\n${stderr.slice(-4000)}`))
    })
  })
}

let python: Promise<string> | undefined

/** The interpreter of the project's TensorFlow venv (created on first use). */
export async function pythonEnv (): Promise<string> {
  python ??= (async () => {
    const { stdout } = await run('bash', [join(REPO_ROOT, 'scripts', 'python-env.sh')])
    const py = stdout.trim().split('\n').pop() ?? ''
    if (py === '') throw new Error('scripts/python-env.sh printed no interpreter')
    return py
  })()
  return await python
}

const INPUTS = ['make_fixtures.py', 'custom_objects.py', 'h5_rewrite.py', 'requirements.txt', 'requirements-h5py-alt.txt']

async function exists (p: string): Promise<boolean> {
  try { await stat(p); return true } catch { return false }
}

let fixtures: Promise<string> | undefined

/** A folder holding the output of fixtures/tf/make_fixtures.py (fixtures.json, reference/, one folder per fixture). */
export async function kerasFixtures (): Promise<string> {
  fixtures ??= (async () => {
    const h = createHash('sha256')
    for (const f of INPUTS) h.update(f).update('\0').update(await readFile(join(REPO_ROOT, 'fixtures', 'tf', f)))
    const key = h.digest('hex').slice(0, 16)
    const root = join(REPO_ROOT, 'fixtures', 'generated', 'keras-tests')
    const dir = join(root, key)
    if (await exists(join(dir, 'fixtures.json'))) return dir
    const py = await pythonEnv()
    await mkdir(root, { recursive: true })
    const tmp = join(root, `${key}.tmp-${process.pid}`)
    await rm(tmp, { recursive: true, force: true })
    await run(py, [join(REPO_ROOT, 'fixtures', 'tf', 'make_fixtures.py'), tmp])
    try {
      await rename(tmp, dir)
    } catch (e) {
      // Another test process made them first: use theirs.
      await rm(tmp, { recursive: true, force: true })
      if (!(await exists(join(dir, 'fixtures.json')))) throw e
    }
    return dir
  })()
  return await fixtures
}

/** A .npy file (little-endian float32, C order) as its shape and values. */
export async function readNpy (path: string): Promise<{ shape: number[], data: Float32Array }> {
  const b = await readFile(path)
  if (b.subarray(0, 6).toString('latin1') !== '\x93NUMPY') throw new Error(`${path} is not a .npy file`)
  const major = b[6]!
  const headerLength = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8)
  const start = major === 1 ? 10 : 12
  const header = b.subarray(start, start + headerLength).toString('latin1')
  if (!header.includes("'descr': '<f4'") || header.includes("'fortran_order': True")) throw new Error(`${path}: only little-endian float32 in C order is read here (${header})`)
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').map(s => s.trim()).filter(s => s !== '').map(Number)
  const raw = b.subarray(start + headerLength)
  const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength))
  return { shape, data }
}
