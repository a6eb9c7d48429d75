#!/usr/bin/env python3
"""Independent cross-check of the golden vectors: a second implementation of the mvc format, written
from docs/design.md in plain Python 3 (standard library only), sharing no code with mvc.

    python3 test/golden/crosscheck.py            # from the repository root

It checks, and exits non-zero on the first difference:
  * chunker.json   - the gear table and masks, and every vector's stream (sha256) and chunk lengths;
  * objects.json   - every value encodes (with the canonical dag-cbor encoder below) to the recorded hex,
                     the hex decodes (strictly) back to the value, and the CID is sha2-256 of the hex;
  * model-commit.json - builds the golden model commit from test/golden/model and the generated files
                     (walk, model detection, tensor layout, row-aligned chunks, shard extents, FastCDC,
                     file objects, topology, model objects, manifest, commit) and compares every CID.

It is not part of `npm test` (the vectors are literals there); it is how they were checked before being
checked in, and how a format change can be checked against the spec again.
"""
import base64
import hashlib
import json
import math
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_SAFE = 2 ** 53 - 1


def fail(msg):
    print('MISMATCH: ' + msg)
    sys.exit(1)


# ------------------------------------------------------------------------------------ streams

def mulberry32(seed):
    a = seed & 0xFFFFFFFF

    def imul(x, y):
        return (x * y) & 0xFFFFFFFF

    def nxt():
        nonlocal a
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = a
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        return (t ^ (t >> 14)) & 0xFFFFFFFF
    return nxt


def stream(seed, n):
    nxt = mulberry32(seed)
    words = (n + 3) // 4
    return struct.pack('<%dI' % words, *[nxt() for _ in range(words)])[:n]


# ------------------------------------------------------------------------------------ FastCDC

GEAR = [int.from_bytes(hashlib.sha256(('mvc-fastcdc-gear-v1:' + str(i)).encode()).digest()[:4], 'big') for i in range(256)]


def masks(avg):
    b = avg.bit_length() - 1
    top = lambda bits: (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
    return top(b + 2), top(b - 2)


def cut(data, start, n, mn, avg, mx):
    """Length of the chunk starting at `start` when n bytes remain (docs/design.md, "Chunking")."""
    if n <= mn:
        return n
    end = min(n, mx)
    normal = min(end, avg)
    mask_s, mask_l = masks(avg)
    fp = 0
    g = GEAR
    i = mn
    while i < normal:
        fp = ((fp << 1) + g[data[start + i]]) & 0xFFFFFFFF
        if fp & mask_s == 0:
            return i
        i += 1
    while i < end:
        fp = ((fp << 1) + g[data[start + i]]) & 0xFFFFFFFF
        if fp & mask_l == 0:
            return i
        i += 1
    return end


def chunk_lengths(data, mn, avg, mx):
    out, at = [], 0
    while at < len(data):
        c = cut(data, at, len(data) - at, mn, avg, mx)
        out.append(c)
        at += c
    return out


# ------------------------------------------------------------------------------------ dag-cbor

class CID:
    def __init__(self, codec, digest):
        self.codec, self.digest = codec, digest

    @property
    def bytes(self):
        return bytes([0x01, self.codec, 0x12, 0x20]) + self.digest

    def __str__(self):
        return 'b' + base64.b32encode(self.bytes).decode().lower().rstrip('=')

    def __eq__(self, o):
        return isinstance(o, CID) and o.bytes == self.bytes

    @staticmethod
    def parse(s):
        assert s[0] == 'b'
        raw = base64.b32decode(s[1:].upper() + '=' * (-len(s[1:]) % 8))
        assert raw[0] == 1 and raw[2] == 0x12 and raw[3] == 0x20 and len(raw) == 36, s
        return CID(raw[1], raw[4:])


def raw_cid(b):
    return CID(0x55, hashlib.sha256(b).digest())


def dag_cid(b):
    return CID(0x71, hashlib.sha256(b).digest())


def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | extra]) + n.to_bytes(size, 'big')
    raise ValueError(n)


def js_number(x):
    """A JavaScript number: integers (safe, no fraction) are CBOR integers, everything else float64."""
    if isinstance(x, bool):
        return x
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        raise ValueError('NaN and Infinity cannot be encoded')
    if float(x).is_integer() and abs(x) <= MAX_SAFE:
        return int(x)
    return float(x)


def encode(v):
    if v is None:
        return b'\xf6'
    if v is True:
        return b'\xf5'
    if v is False:
        return b'\xf4'
    if isinstance(v, CID):
        return b'\xd8\x2a' + head(2, 37) + b'\x00' + v.bytes
    if isinstance(v, (int, float)):
        v = js_number(v)
        if isinstance(v, int):
            return head(0, v) if v >= 0 else head(1, -1 - v)
        return b'\xfb' + struct.pack('>d', v)
    if isinstance(v, str):
        b = v.encode('utf-8')
        return head(3, len(b)) + b
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, list):
        return head(4, len(v)) + b''.join(encode(x) for x in v)
    if isinstance(v, dict):
        keys = sorted(v.keys(), key=lambda k: (len(k.encode()), k.encode()))
        return head(5, len(v)) + b''.join(encode(k) + encode(v[k]) for k in keys)
    raise TypeError(type(v))


def decode(b):
    """Strict decoder: shortest heads, sorted unique map keys, float64 only, tag 42 only."""
    def arg(pos):
        ib = b[pos]
        major, info = ib >> 5, ib & 31
        if info < 24:
            return major, info, info, pos + 1
        size = {24: 1, 25: 2, 26: 4, 27: 8}.get(info)
        if size is None:
            fail('indefinite or reserved length at %d' % pos)
        n = int.from_bytes(b[pos + 1:pos + 1 + size], 'big')
        if major != 7 and head(major, n) != b[pos:pos + 1 + size]:
            fail('non-minimal integer encoding at %d' % pos)
        return major, info, n, pos + 1 + size

    def item(pos):
        major, info, n, pos = arg(pos)
        if major == 0:
            return n, pos
        if major == 1:
            return -1 - n, pos
        if major == 2:
            return b[pos:pos + n], pos + n
        if major == 3:
            return b[pos:pos + n].decode('utf-8'), pos + n
        if major == 4:
            out = []
            for _ in range(n):
                x, pos = item(pos)
                out.append(x)
            return out, pos
        if major == 5:
            out, last = {}, None
            for _ in range(n):
                k, pos = item(pos)
                if not isinstance(k, str):
                    fail('non-string map key')
                kk = (len(k.encode()), k.encode())
                if last is not None and kk <= last:
                    fail('map keys out of order or duplicated: %r' % k)
                last = kk
                out[k], pos = item(pos)
            return out, pos
        if major == 6:
            if n != 42:
                fail('tag %d' % n)
            x, pos = item(pos)
            if not isinstance(x, bytes) or x[0] != 0:
                fail('tag 42 without a 0x00-prefixed byte string')
            return CID(x[2], x[5:]) if x[1] == 1 else fail('CIDv0'), pos
        if major == 7:
            if info == 20:
                return False, pos
            if info == 21:
                return True, pos
            if info == 22:
                return None, pos
            if info == 27:
                x = struct.unpack('>d', b[pos - 8:pos])[0]
                if math.isnan(x) or math.isinf(x) or (x.is_integer() and abs(x) <= MAX_SAFE):
                    fail('float64 %r is not allowed (NaN, Infinity or a safe integer)' % x)
                return x, pos
            fail('simple value or short float %d' % info)
    v, end = item(0)
    if end != len(b):
        fail('trailing bytes')
    return v


def from_dag_json(v):
    if isinstance(v, list):
        return [from_dag_json(x) for x in v]
    if isinstance(v, dict):
        if list(v.keys()) == ['/'] and isinstance(v['/'], str):
            return CID.parse(v['/'])
        return {k: from_dag_json(x) for k, x in v.items()}
    return v


def same(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return js_number(a) == js_number(b) and type(js_number(a)) is type(js_number(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


# ------------------------------------------------------------------------------------ JSON as JavaScript reads it

def js_json(text):
    """JSON.parse: every number is a double. Then JSON.parse(JSON.stringify(x)): ±Infinity → null, -0 → 0."""
    def norm(v):
        if isinstance(v, float):
            if math.isinf(v):
                return None
            return js_number(v)
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        return v
    return norm(json.loads(text, parse_int=float))


# ------------------------------------------------------------------------------------ the golden model commit

DTYPE = {'float32': 4, 'int32': 4, 'bool': 1, 'complex64': 8, 'uint8': 1, 'uint16': 2, 'float16': 2}
TENSOR_CHUNK_TARGET = 1 << 20


def walk(root):
    files, dirs = [], []

    def visit(d, rel):
        any_ = False
        for name in os.listdir(d):
            if name == '.mvc':
                continue
            p, r = os.path.join(d, name), (rel + '/' + name if rel else name)
            if os.path.isdir(p):
                if not visit(p, r):
                    dirs.append(r)
                any_ = True
            else:
                files.append(r)
                any_ = True
        return any_
    visit(root, '')
    key = lambda p: p.encode('utf-8')
    return sorted(files, key=key), sorted(dirs, key=key)


def store_file(data):
    extents = [[raw_cid(data[a:a + n]), n] for a, n in _offsets(chunk_lengths(data, 262144, 1048576, 4194304))]
    return {'type': 'mvc/file', 'size': len(data), 'extents': extents}


def _offsets(lengths):
    at = 0
    for n in lengths:
        yield at, n
        at += n


def model_descriptor(rel, data):
    try:
        j = js_json(data.decode('utf-8'))
    except ValueError:
        return None
    d = rel.rsplit('/', 1)[0] if '/' in rel else ''
    if isinstance(j, list):
        fmt, topology, groups, meta = 'weights-manifest', None, j, {}
    elif isinstance(j, dict) and j.get('modelTopology') is not None and j.get('format') in (None, 'layers-model'):
        fmt, topology, groups = 'layers-model', j['modelTopology'], j.get('weightsManifest') or []
        meta = {k: v for k, v in j.items() if k not in ('modelTopology', 'weightsManifest')}
    else:
        return None  # (graph models and the other cases of docs/design.md are not in the fixture)
    shards = [(d + '/' + p) if d else p for g in groups for p in g['paths']]
    return fmt, topology, groups, meta, shards


def tensor_chunk_bytes(size, row):
    if size <= TENSOR_CHUNK_TARGET:
        return max(1, size)
    if row <= 0 or row >= TENSOR_CHUNK_TARGET:
        return TENSOR_CHUNK_TARGET
    return (TENSOR_CHUNK_TARGET // row) * row


def store_model(rel, desc, read, objects):
    fmt, topology, groups, meta, shards = desc
    shard_extents = {s: [] for s in shards}
    tensors, si = [], 0
    for gi, g in enumerate(groups):
        names = shards[si:si + len(g['paths'])]
        si += len(g['paths'])
        blob = b''.join(read(s) for s in names)
        starts, at = [], 0
        for s in names:
            starts.append(at)
            at += len(read(s))
        off = 0
        for w in g['weights']:
            count = 1
            for x in w['shape']:
                count *= x
            q = w.get('quantization')
            if q is not None:
                size = count * DTYPE[q['dtype']]
            elif w['dtype'] == 'string':
                size = 0
                for _ in range(count):
                    size += 4 + struct.unpack('<I', blob[off + size:off + size + 4])[0]
            else:
                size = count * DTYPE[w['dtype']]
            rows = w['shape'][0] if w['shape'] else 0
            row = size // rows if (w['dtype'] != 'string' or q is not None) and rows > 0 else size
            step = tensor_chunk_bytes(size, row)
            chunks, t = [], 0
            while True:
                n = min(step, size - t)
                piece = blob[off + t:off + t + n]
                cid = raw_cid(piece)
                chunks.append([cid, n])
                # slices of this chunk, per shard
                a = off + t
                while a < off + t + n:
                    k = max(i for i in range(len(names)) if starts[i] <= a and (a < starts[i] + len(read(names[i]))))
                    take = min(off + t + n, starts[k] + len(read(names[k]))) - a
                    inchunk = a - (off + t)
                    shard_extents[names[k]].append([cid, take] if inchunk == 0 else [cid, take, inchunk])
                    a += take
                t += n
                if t >= size:
                    break
            tobj = {'type': 'mvc/tensor', 'name': w['name'], 'dtype': w['dtype'], 'shape': list(w['shape']),
                    'quantization': q, 'size': size, 'chunks': chunks}
            tb = encode(tobj)
            objects[str(dag_cid(tb))] = tb
            tensors.append({'group': gi, 'tensor': dag_cid(tb)})
            off += size
    shard_files = {}
    for s in shards:
        fo = {'type': 'mvc/file', 'size': sum(e[1] for e in shard_extents[s]), 'extents': shard_extents[s]}
        shard_files[s] = dag_cid(encode(fo))
    topo = None
    if topology is not None:
        tb = encode({'type': 'mvc/topology', 'format': fmt, 'topology': topology, 'meta': meta})
        topo = dag_cid(tb)
        objects[str(topo)] = tb
    mb = encode({'type': 'mvc/model', 'format': fmt, 'path': rel, 'topology': topo,
                 'groups': [list(g['paths']) for g in groups], 'shards': shards, 'tensors': tensors})
    objects[str(dag_cid(mb))] = mb
    return dag_cid(mb), shard_files


def flatten(v, key=''):
    out = {}
    if isinstance(v, dict):
        if not v and key:
            out[key] = None
        for k, x in v.items():
            out.update(flatten(x, k if not key else key + '.' + k))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out.update(flatten(x, key + '.' + str(i)))
    else:
        out[key] = v
    return out


def golden_commit(root, env):
    files, dirs = walk(root)
    cache = {}

    def read(rel):
        if rel not in cache:
            with open(os.path.join(root, rel), 'rb') as f:
                cache[rel] = f.read()
        return cache[rel]
    objects, models, shard_files = {}, [], {}
    for rel in files:
        if rel.lower().endswith('.json'):
            desc = model_descriptor(rel, read(rel))
            if desc is not None:
                cid, sf = store_model(rel, desc, read, objects)
                models.append({'path': rel, 'model': cid})
                for s, c in sf.items():
                    shard_files.setdefault(s, c)
    entries, file_cids = [], {}
    for rel in files:
        cid = shard_files.get(rel) or dag_cid(encode(store_file(read(rel))))
        file_cids[rel] = cid
        entries.append({'path': rel, 'mode': 0o644, 'size': len(read(rel)), 'file': cid})
    models.sort(key=lambda m: m['path'].encode())
    manifest = dag_cid(encode({'type': 'mvc/manifest', 'kind': 'dir', 'entries': entries, 'dirs': dirs, 'models': models}))
    meta = js_json(read('metadata.json').decode())
    params = {**flatten(meta.get('hyperparameters') or {}), **flatten(meta.get('params') or {})}
    metrics = flatten(meta.get('metrics') or {})
    commit = {'type': 'mvc/commit', 'version': 1, 'parents': [], 'model': manifest, 'path': 'model', 'message': 'golden model',
              'author': {'name': 'Test', 'email': 'test@example.com'}, 'timestamp': 1767225600000,
              'data': None, 'code': None, 'params': params, 'metrics': metrics, 'environment': env, 'verification': None}
    return dag_cid(encode(commit)), manifest, file_cids, models, objects


# ------------------------------------------------------------------------------------ checks

def main():
    ck = json.load(open(os.path.join(HERE, 'chunker.json')))
    if ['0x%08x' % GEAR[int(i)] for i in ck['gear']['entries']] != list(ck['gear']['entries'].values()):
        fail('gear entries')
    if hashlib.sha256(b''.join(g.to_bytes(4, 'big') for g in GEAR)).hexdigest() != ck['gear']['tableSha256']:
        fail('gear table')
    for name, m in ck['masks'].items():
        s, l = masks(m['avg'])
        if ('0x%08x' % s, '0x%08x' % l) != (m['maskS'], m['maskL']):
            fail('masks ' + name)
    streams = {}
    for v in ck['vectors']:
        i, p = v['input'], v['params']
        data = bytes(i['length']) if 'fill' in i else stream(int(i['seed'], 16), i['length'])
        if hashlib.sha256(data).hexdigest() != i['sha256']:
            fail('stream of ' + v['name'])
        streams[v['name']] = data
        if chunk_lengths(data, p['min'], p['avg'], p['max']) != v['lengths']:
            fail('chunk lengths of ' + v['name'])
    print('chunker.json: %d vectors ok' % len(ck['vectors']))

    ob = json.load(open(os.path.join(HERE, 'objects.json')))
    for v in ob['vectors']:
        value = from_dag_json(v['value'])
        b = bytes.fromhex(v['hex'])
        if encode(value) != b:
            fail('encoding of ' + v['name'])
        if not same(decode(b), value):
            fail('decoding of ' + v['name'])
        if str(dag_cid(b)) != v['cid']:
            fail('CID of ' + v['name'])
    print('objects.json: %d vectors ok' % len(ob['vectors']))

    mc = json.load(open(os.path.join(HERE, 'model-commit.json')))
    import shutil
    import tempfile
    tmp = tempfile.mkdtemp()
    try:
        root = os.path.join(tmp, 'model')
        shutil.copytree(os.path.join(HERE, 'model'), root)
        os.makedirs(os.path.join(root, 'assets'))
        big = stream(0x6D766333, 2400000)
        open(os.path.join(root, 'big', 'big-1.bin'), 'wb').write(big[:1000000])
        open(os.path.join(root, 'big', 'big-2.bin'), 'wb').write(big[1000000:])
        open(os.path.join(root, 'data.bin'), 'wb').write(streams['default'])
        commit, manifest, files, models, objects = golden_commit(root, mc['environment'])
    finally:
        shutil.rmtree(tmp)
    if {k: str(c) for k, c in files.items()} != mc['files']:
        fail('file CIDs: %r' % {k: str(c) for k, c in files.items()})
    if {m['path']: str(m['model']) for m in models} != {k: m['model'] for k, m in mc['models'].items()}:
        fail('model CIDs')
    for path, m in mc['models'].items():
        for t in m['tensors']:
            if t['tensor'] not in objects:
                fail('tensor %s of %s' % (t['name'], path))
        if m['topology'] is not None and m['topology'] not in objects:
            fail('topology of ' + path)
    if str(manifest) != mc['manifest']:
        fail('manifest CID %s' % manifest)
    if str(commit) != mc['commit']:
        fail('commit CID %s' % commit)
    print('model-commit.json: commit %s, manifest, %d files, %d models ok' % (commit, len(files), len(models)))


if __name__ == '__main__':
    main()
