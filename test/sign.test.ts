/**
 * Signed versions, through the real CLI: keys from `mvc keygen` (and from OpenSSL, when it is there),
 * signatures that travel with push, fetch and clone, the trust policy on verify, checkout, pull and
 * clone, forged and untrusted signatures refused with exit 12, and interop with the real OpenSSF
 * `model_signing` 1.1.1 from PyPI (scripts/model-signing-env.sh builds its venv once): bundles mvc
 * writes are accepted by `model_signing verify key`, bundles `model_signing sign key` writes are
 * accepted by `mvc verify --bundle`, and an extra, missing, renamed or changed file is refused by both.
 */
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { cp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CID } from 'multiformats/cid'
import * as dagCbor from '@ipld/dag-cbor'
import { openDiskStore } from '../src/store/open.js'
import { encodeObject } from '../src/content/block.js'
import { REPO_ROOT, jsonError, mvcJson, mvcOk, newRepo, put, removeDir, runMvc, writeRandomFile } from './helpers.js'

const run = promisify(execFile)
const dirs: string[] = []
after(async () => { for (const d of dirs) await removeDir(d) })

/** A committed folder model/ with nested files whose names sort differently by bytes and by path parts. */
async function repoWithVersion (): Promise<{ base: string, root: string }> {
  const r = await newRepo(dirs)
  await put(join(r.root, 'model', 'config.json'), '{"layers":3}\n')
  await writeRandomFile(join(r.root, 'model', 'weights.bin'), 3 << 20, 'sign-weights')
  await put(join(r.root, 'model', 'sub', 'a-b'), 'dash\n')
  await put(join(r.root, 'model', 'sub', 'a', 'c'), 'nested\n')
  await put(join(r.root, 'model', 'é.txt'), 'unicode name\n')
  await mvcOk(['commit', 'model', '-m', 'one', '--no-verify', '--no-code'], { cwd: r.root })
  return r
}

async function keygen (dir: string, name: string, type: 'ed25519' | 'ecdsa-p256'): Promise<{ priv: string, pub: string, fingerprint: string }> {
  const j = await mvcJson<{ privateKey: string, publicKey: string, fingerprint: string }>(['keygen', name, '--type', type], { cwd: dir })
  return { priv: j.privateKey, pub: j.publicKey, fingerprint: j.fingerprint }
}

test('keygen writes PEM keys Node and OpenSSL read, the private one 0600, and never overwrites without --force', async () => {
  const r = await newRepo(dirs)
  const k = await keygen(r.base, 'ed', 'ed25519')
  assert.equal((await stat(k.priv)).mode & 0o777, 0o600)
  assert.match(await readFile(k.priv, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/)
  assert.match(await readFile(k.pub, 'utf8'), /^-----BEGIN PUBLIC KEY-----\n/)
  // The fingerprint is the SHA-256 of the SPKI DER, as `openssl pkey -pubin -outform DER | sha256sum` computes it.
  const openssl = await run('openssl', ['pkey', '-pubin', '-in', k.pub, '-outform', 'DER'], { encoding: 'buffer' }).catch(() => undefined)
  if (openssl !== undefined) {
    const { createHash } = await import('node:crypto')
    assert.equal(createHash('sha256').update(openssl.stdout).digest('hex'), k.fingerprint)
  }
  const again = await runMvc(['keygen', 'ed', '--json'], { cwd: r.base })
  assert.equal(again.code, 7)
  assert.equal(jsonError(again).code, 'REF_EXISTS')
})

test('sign, then verify --signature: unsigned and untrusted are SIGNATURE_MISSING, a trusted key passes; a second sign by the same key is a no-op', async () => {
  const { base, root } = await repoWithVersion()
  const ed = await keygen(base, 'ed', 'ed25519')
  const other = await keygen(base, 'other', 'ed25519')
  const unsigned = await runMvc(['verify', 'v1', '--signature', '--trusted-key', ed.pub, '--json'], { cwd: root })
  assert.equal(unsigned.code, 12)
  assert.equal(jsonError(unsigned).code, 'SIGNATURE_MISSING')

  const s = await mvcJson<{ created: boolean, fingerprint: string, ref: string, signature: string, cid: string }>(['sign', 'v1', '--key', ed.priv], { cwd: root })
  assert.equal(s.created, true)
  assert.equal(s.fingerprint, ed.fingerprint)
  assert.equal(s.ref, `refs/signatures/${s.cid}/${ed.fingerprint}`)
  const again = await mvcJson<{ created: boolean, signature: string }>(['sign', 'v1', '--key', ed.priv], { cwd: root })
  assert.deepEqual([again.created, again.signature], [false, s.signature])

  const untrusted = await runMvc(['verify', 'v1', '--signature', '--trusted-key', other.pub, '--json'], { cwd: root })
  assert.equal(untrusted.code, 12)
  assert.equal(jsonError(untrusted).code, 'SIGNATURE_MISSING')
  assert.match(jsonError(untrusted).message, /signed only by keys that are not trusted/)

  const ok = await mvcJson<{ trustedBy: Array<{ fingerprint: string, valid: boolean }> }>(['verify', 'v1', '--signature', '--trusted-key', ed.pub], { cwd: root })
  assert.deepEqual(ok.trustedBy.map(t => [t.fingerprint, t.valid]), [[ed.fingerprint, true]])
  // Trusted through the repository's trust store instead of the flag.
  await mvcOk(['trust', 'add', ed.pub], { cwd: root })
  await mvcOk(['verify', 'v1', '--signature'], { cwd: root })
  await mvcOk(['trust', 'remove', 'ed'], { cwd: root })
  assert.equal((await runMvc(['verify', 'v1', '--signature'], { cwd: root })).code, 8) // no trusted keys left: INVALID_ARGUMENT
})

test('a forged signature by a trusted key is SIGNATURE_INVALID, and an ECDSA key from OpenSSL signs too', async () => {
  const { base, root } = await repoWithVersion()
  const ed = await keygen(base, 'ed', 'ed25519')
  const s = await mvcJson<{ signature: string, cid: string, ref: string }>(['sign', 'v1', '--key', ed.priv], { cwd: root })
  // Rewrite the signature object with a statement naming another version number, keeping the old signature bytes.
  const store = await openDiskStore(join(root, '.mvc'))
  try {
    const old = dagCbor.decode<Record<string, any>>(await store.get(CID.parse(s.signature))) // eslint-disable-line @typescript-eslint/no-explicit-any
    const payload = JSON.parse(new TextDecoder().decode(old.envelope.payload))
    payload.predicate.version = 99
    const forged = encodeObject({ ...old, envelope: { ...old.envelope, payload: new TextEncoder().encode(JSON.stringify(payload)) } })
    const tx = await store.transaction()
    await tx.putObject(forged.cid, forged.bytes)
    tx.setRef({ name: s.ref, value: forged.cid.toString(), expect: s.signature })
    await tx.commit()
  } finally { await store.close() }
  const r = await runMvc(['verify', 'v1', '--signature', '--trusted-key', ed.pub, '--json'], { cwd: root })
  assert.equal(r.code, 12)
  assert.equal(jsonError(r).code, 'SIGNATURE_INVALID')
  assert.match(jsonError(r).message, /does not verify/)
  const listed = await mvcJson<{ signatures: Array<{ valid: boolean }> }>(['sign', '--list', 'v1'], { cwd: root })
  assert.deepEqual(listed.signatures.map(x => x.valid), [false])

  // A P-256 key made by OpenSSL (SEC1 "EC PRIVATE KEY" PEM) signs, and its public key verifies.
  const pem = join(base, 'ossl.pem')
  try {
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', pem])
    await run('openssl', ['ec', '-in', pem, '-pubout', '-out', pem + '.pub'])
  } catch { return } // no openssl here: the mvc-made keys above cover signing
  await mvcOk(['sign', 'v1', '--key', pem], { cwd: root })
  await mvcOk(['verify', 'v1', '--signature', '--trusted-key', pem + '.pub'], { cwd: root })
})

test('checkout --require-signed refuses an unsigned version before writing anything; `trust require on` makes it the default', async () => {
  const { base, root } = await repoWithVersion()
  const ed = await keygen(base, 'ed', 'ed25519')
  await writeFile(join(root, 'model', 'config.json'), '{"layers":4}\n')
  await mvcOk(['commit', '-m', 'two', '--no-verify', '--no-code'], { cwd: root })
  const target = join(base, 'out')
  const r = await runMvc(['checkout', 'v1', '--to', target, '--require-signed', '--trusted-key', ed.pub, '--no-verify', '--json'], { cwd: root })
  assert.equal(r.code, 12)
  assert.equal(jsonError(r).code, 'SIGNATURE_MISSING')
  await assert.rejects(stat(target), { code: 'ENOENT' })
  await mvcOk(['sign', 'v1', '--key', ed.priv], { cwd: root })
  await mvcOk(['checkout', 'v1', '--to', target, '--require-signed', '--trusted-key', ed.pub, '--no-verify'], { cwd: root })
  assert.equal(await readFile(join(target, 'config.json'), 'utf8'), '{"layers":3}\n')

  await mvcOk(['trust', 'add', ed.pub], { cwd: root })
  await mvcOk(['trust', 'require', 'on'], { cwd: root })
  const refused = await runMvc(['checkout', 'v2', '--to', join(base, 'out2'), '--no-verify', '--json'], { cwd: root })
  assert.equal(refused.code, 12)
  await mvcOk(['checkout', 'v1', '--to', join(base, 'out3'), '--no-verify'], { cwd: root })
  await mvcOk(['checkout', 'v2', '--to', join(base, 'out2'), '--no-verify', '--no-require-signed'], { cwd: root })
})

test('signatures travel with push, fetch and clone; clone and pull --require-signed refuse unsigned versions', async () => {
  const { base, root } = await repoWithVersion()
  const ed = await keygen(base, 'ed', 'ed25519')
  const s = await mvcJson<{ ref: string, signature: string }>(['sign', 'v1', '--key', ed.priv], { cwd: root })
  const remote = join(base, 'remote')
  await mvcOk(['remote', 'add', 'origin', remote], { cwd: root })
  const pushed = await mvcJson<{ signatures?: number }>(['push'], { cwd: root })
  assert.equal(pushed.signatures, 1)

  // A clone that requires a trusted signature gets one, with the signature ref.
  const c1 = join(base, 'c1')
  await mvcOk(['clone', remote, c1, '--require-signed', '--trusted-key', ed.pub, '--no-verify'], { cwd: base })
  const refs = await mvcJson<{ signatures: Array<{ ref: string, signature: string, valid: boolean }> }>(['sign', '--list', 'v1'], { cwd: c1 })
  assert.deepEqual(refs.signatures.map(x => [x.ref, x.signature, x.valid]), [[s.ref, s.signature, true]])

  // v2, unsigned, pushed: a clone requiring signatures leaves nothing behind; a pull requiring them leaves the branch.
  await writeFile(join(root, 'model', 'config.json'), '{"layers":5}\n')
  await mvcOk(['commit', '-m', 'two', '--no-verify', '--no-code'], { cwd: root })
  await mvcOk(['push'], { cwd: root })
  const c2 = join(base, 'c2')
  const refused = await runMvc(['clone', remote, c2, '--require-signed', '--trusted-key', ed.pub, '--no-verify', '--json'], { cwd: base })
  assert.equal(refused.code, 12)
  await assert.rejects(stat(c2), { code: 'ENOENT' })
  const pulled = await runMvc(['pull', '--require-signed', '--trusted-key', ed.pub, '--no-verify', '--json'], { cwd: c1 })
  assert.equal(pulled.code, 12)
  const log = await mvcJson<Array<{ version: number }>>(['log'], { cwd: c1 })
  assert.deepEqual(log.map(e => e.version), [1])
  // Signed and pushed again: the signature alone moves, and the pull goes through.
  await mvcOk(['sign', 'v2', '--key', ed.priv], { cwd: root })
  assert.equal((await mvcJson<{ signatures?: number }>(['push'], { cwd: root })).signatures, 1)
  await mvcOk(['pull', '--require-signed', '--trusted-key', ed.pub, '--no-verify'], { cwd: c1 })
  assert.equal(await readFile(join(c1, 'model', 'config.json'), 'utf8'), '{"layers":5}\n')
})

// ------------------------------------------------------------------------ OpenSSF model signing

let modelSigning: string | undefined
before(async () => {
  if (process.env.MVC_SKIP_MODEL_SIGNING === '1') return
  const { stdout } = await run('bash', [join(REPO_ROOT, 'scripts', 'model-signing-env.sh')], { maxBuffer: 16 << 20, timeout: 600_000 })
  modelSigning = stdout.trim().split('\n').pop()
})
const skip = (): string | false => process.env.MVC_SKIP_MODEL_SIGNING === '1' ? 'MVC_SKIP_MODEL_SIGNING=1' : false

async function ms (args: string[]): Promise<{ code: number, out: string }> {
  try {
    const r = await run(modelSigning!, args, { maxBuffer: 16 << 20 })
    return { code: 0, out: r.stdout + r.stderr }
  } catch (e) {
    const err = e as { code?: number, stdout?: string, stderr?: string }
    return { code: err.code ?? -1, out: (err.stdout ?? '') + (err.stderr ?? '') }
  }
}

interface Statement { subject: Array<{ name: string, digest: { sha256: string } }>, predicate: { resources: Array<{ name: string, digest: string, algorithm: string }>, serialization: Record<string, unknown> } }
function statementOf (bundle: string): Statement {
  return JSON.parse(Buffer.from(JSON.parse(bundle).dsseEnvelope.payload, 'base64').toString('utf8')) as Statement
}

test('OpenSSF: model_signing verify key accepts the bundle mvc writes for a checked-out version, and its statement is the one model_signing writes', { skip: skip() }, async () => {
  const { base, root } = await repoWithVersion()
  const ec = await keygen(base, 'ec', 'ecdsa-p256')
  const sig = join(base, 'v1.sig')
  const first = await mvcJson<{ openssf: { files: number, stats: { hashedBytes: number, cachedFiles: number } } }>(['sign', 'v1', '--key', ec.priv, '--openssf', sig], { cwd: root })
  assert.equal(first.openssf.files, 5)
  assert.equal(first.openssf.stats.cachedFiles, 0)
  const out = join(base, 'model')
  await mvcOk(['checkout', 'v1', '--to', out, '--no-verify'], { cwd: root })
  const v = await ms(['verify', 'key', '--signature', sig, '--public_key', ec.pub, out])
  assert.equal(v.code, 0, v.out)
  assert.match(v.out, /Verification succeeded/)

  // model_signing signs the same folder: same subject, same resources in the same order, same serialization.
  const theirs = join(base, 'theirs.sig')
  const s = await ms(['sign', 'key', '--private_key', ec.priv, '--signature', theirs, out])
  assert.equal(s.code, 0, s.out)
  const [a, b] = [statementOf(await readFile(sig, 'utf8')), statementOf(await readFile(theirs, 'utf8'))]
  assert.deepEqual(a.subject, b.subject)
  assert.deepEqual(a.predicate.resources, b.predicate.resources)
  assert.deepEqual(a.predicate.resources.map(r => r.name), ['config.json', 'sub/a/c', 'sub/a-b', 'weights.bin', 'é.txt'])
  const sorted = (x: Record<string, unknown>): Record<string, unknown> => ({ ...x, ignore_paths: [...(x.ignore_paths as string[])].sort() })
  assert.deepEqual(sorted(a.predicate.serialization), sorted(b.predicate.serialization))
  // The bundle's own fields, in model_signing's order (key hint, empty tlog, DSSE envelope).
  const [ja, jb] = [JSON.parse(await readFile(sig, 'utf8')), JSON.parse(await readFile(theirs, 'utf8'))]
  assert.deepEqual(Object.keys(ja), Object.keys(jb))
  assert.deepEqual(ja.verificationMaterial, jb.verificationMaterial)
  assert.deepEqual(Object.keys(ja.dsseEnvelope), Object.keys(jb.dsseEnvelope))

  // The digests are cached: a second bundle hashes nothing.
  const second = await mvcJson<{ openssf: { stats: { hashedBytes: number, cachedFiles: number } } }>(['sign', 'v1', '--key', ec.priv, '--openssf', sig], { cwd: root })
  assert.deepEqual(second.openssf.stats, { ...second.openssf.stats, hashedBytes: 0, cachedFiles: 5 })
  // An ed25519 key cannot make a bundle model_signing verifies.
  const ed = await keygen(base, 'ed', 'ed25519')
  const r = await runMvc(['sign', 'v1', '--key', ed.priv, '--openssf', join(base, 'x.sig'), '--json'], { cwd: root })
  assert.equal(r.code, 8)
  assert.match(jsonError(r).message, /ECDSA/)
})

test('OpenSSF: mvc verify --bundle accepts what model_signing sign key wrote, for the version and for the folder; extra, missing, renamed and changed files are refused by both', { skip: skip() }, async () => {
  const { base, root } = await repoWithVersion()
  const ec = await keygen(base, 'ec', 'ecdsa-p256')
  const out = join(base, 'model')
  await mvcOk(['checkout', 'v1', '--to', out, '--no-verify'], { cwd: root })
  const sig = join(base, 'ms.sig')
  assert.equal((await ms(['sign', 'key', '--private_key', ec.priv, '--signature', sig, out])).code, 0)
  const ok = await mvcJson<{ files: number, version: number }>(['verify', 'v1', '--bundle', sig, '--trusted-key', ec.pub], { cwd: root })
  assert.deepEqual([ok.files, ok.version], [5, 1])
  await mvcOk(['verify', '--bundle', sig, '--trusted-key', ec.pub, '--path', out], { cwd: root })
  // Signed by another key: refused by both.
  const other = await keygen(base, 'other', 'ecdsa-p256')
  assert.equal((await runMvc(['verify', '--bundle', sig, '--trusted-key', other.pub, '--path', out], { cwd: root })).code, 12)
  assert.notEqual((await ms(['verify', 'key', '--signature', sig, '--public_key', other.pub, out])).code, 0)

  const damage: Array<[string, () => Promise<void>, RegExp, () => Promise<void>]> = [
    ['extra', async () => { await writeFile(join(out, 'extra.txt'), 'x') }, /extra file extra\.txt/, async () => { await rm(join(out, 'extra.txt')) }],
    ['missing', async () => { await rm(join(out, 'config.json')) }, /missing file config\.json/, async () => { await writeFile(join(out, 'config.json'), '{"layers":3}\n') }],
    ['renamed', async () => { await rename(join(out, 'sub', 'a-b'), join(out, 'sub', 'a-c')) }, /renamed sub\/a-b → sub\/a-c/, async () => { await rename(join(out, 'sub', 'a-c'), join(out, 'sub', 'a-b')) }],
    ['changed', async () => { await writeFile(join(out, 'config.json'), '{"layers":4}\n') }, /changed file config\.json/, async () => { await writeFile(join(out, 'config.json'), '{"layers":3}\n') }]
  ]
  for (const [what, breakIt, message, repair] of damage) {
    await breakIt()
    const r = await runMvc(['verify', '--bundle', sig, '--trusted-key', ec.pub, '--path', out, '--json'], { cwd: root })
    assert.equal(r.code, 12, what)
    assert.equal(jsonError(r).code, 'SIGNATURE_INVALID', what)
    assert.match(jsonError(r).message, message, what)
    const m = await ms(['verify', 'key', '--signature', sig, '--public_key', ec.pub, out])
    assert.notEqual(m.code, 0, `model_signing accepted the ${what} file`)
    assert.match(m.out, /Signature mismatch|Verification failed/, what)
    await repair()
  }
  await mvcOk(['verify', '--bundle', sig, '--trusted-key', ec.pub, '--path', out], { cwd: root })

  // The next version differs from what model_signing signed: mvc names the changed file.
  await cp(out, join(root, 'model'), { recursive: true, force: true })
  await writeFile(join(root, 'model', 'config.json'), '{"layers":7}\n')
  await mvcOk(['commit', 'model', '-m', 'two', '--no-verify', '--no-code'], { cwd: root })
  const r = await runMvc(['verify', 'v2', '--bundle', sig, '--trusted-key', ec.pub, '--json'], { cwd: root })
  assert.equal(r.code, 12)
  assert.deepEqual(jsonError(r).data.changed, ['config.json'])
})
