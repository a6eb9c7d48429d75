import { openS3Remote } from './dist/src/remote/s3.js'
import { rawCid } from './dist/src/content/block.js'
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3'
import { randomBytes } from 'node:crypto'
const MiB = 1024 * 1024
const c = new S3Client({ forcePathStyle: true })
const pool = async (items, n, fn) => { let i = 0; await Promise.all(Array.from({ length: n }, async () => { while (i < items.length) await fn(items[i++]) })) }
const objs = Array.from({ length: 256 }, () => { const b = randomBytes(MiB); return { bytes: b, cid: rawCid(b) } })
for (const conc of (process.env.CONC ?? '16,8,32').split(',').map(Number)) {
  const B = `bench-${conc}-${Date.now()}`
  await c.send(new CreateBucketCommand({ Bucket: B }))
  const r = await openS3Remote(`s3://${B}/p`)
  let t = performance.now()
  await pool(objs, conc, o => r.put(o.cid, o.bytes))
  const put = (performance.now() - t) / 1000
  const { readFileSync } = await import('node:fs'); const rss = f => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${readFileSync(`/tmp/mvc-radosgw/run/${f}.pid`, 'utf8').trim()}/status`, 'utf8'))[1]) / 1024); console.log('after put: RSS osd', rss('osd.0'), 'rgw', rss('rgw'), 'mon', rss('mon.a'), 'MiB; node', Math.round(process.memoryUsage().rss / 1048576))
  t = performance.now()
  const has = await r.hasMany(objs.map(o => o.cid))
  const hasT = (performance.now() - t) / 1000
  t = performance.now()
  await pool(objs, conc, o => r.get(o.cid))
  const get = (performance.now() - t) / 1000
  t = performance.now()
  await pool(objs, conc, o => r.put(o.cid, o.bytes))
  const reput = (performance.now() - t) / 1000
  console.log(`concurrency ${conc}: put 256 MiB ${put.toFixed(2)} s = ${(256 / put).toFixed(0)} MiB/s; get ${get.toFixed(2)} s = ${(256 / get).toFixed(0)} MiB/s; hasMany(256) ${(hasT * 1000).toFixed(0)} ms all=${has.every(Boolean)}; re-put (412s) ${reput.toFixed(2)} s`)
  await r.close()
  const { execSync } = await import('node:child_process')
  const D = '/tmp/mvc-radosgw'
  execSync(`radosgw-admin -c ${D}/ceph.conf -n client.admin bucket rm --bucket=${B} --purge-objects`)
}
