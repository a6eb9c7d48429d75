"""Write HDF5 files that exercise mvc's HDF5 structure reader, and print what h5py says about them.

    python test/hdf5_cases.py OUTDIR [FILE.h5 ...]

Writes OUTDIR/*.h5 (with the h5py/HDF5 running this script), then prints one JSON object:
{ "<file>": { "datasets": { "<path>": { offset, storage_size, dtype, shape, chunks, compression,
  sha256 (of the elements as h5py reads them, C order, little-endian) } }, "attrs": { "<group>@<name>": value } } }
for every file written and every extra FILE given. `offset` is h5py's `dataset.id.get_offset()`
(None when the dataset has no single byte range). test/hdf5.test.ts compares mvc's reader with it.
"""

import hashlib
import json
import sys
from pathlib import Path

import h5py
import numpy as np


def cases(out: Path) -> list[Path]:
    rng = np.random.RandomState(7)
    files = []

    # libver latest, many links and attributes: dense groups (fractal heap + v2 B-tree) and dense attributes
    p = out / "dense.h5"
    with h5py.File(p, "w", libver="latest") as f:
        g = f.create_group("layers")
        for i in range(40):
            d = g.create_dataset(f"w{i:02d}", data=rng.standard_normal((i % 5 + 1, 3)).astype("<f4"))
            d.attrs["index"] = i
        for i in range(30):
            f.attrs[f"attr{i:02d}"] = f"value {i}"
        f.attrs["big"] = "x" * 5000
        f.attrs["utf8"] = "déjà vu ✓"
    files.append(p)

    # every layout and a variety of types, in the default (earliest) format
    p = out / "layouts.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("contiguous", data=rng.standard_normal((6, 4)).astype("<f4"))
        f.create_dataset("chunked", data=rng.standard_normal((64, 8)).astype("<f4"), chunks=(16, 8))
        f.create_dataset("deflate", data=rng.standard_normal((64, 8)).astype("<f4"), chunks=(16, 8), compression="gzip", shuffle=True)
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        data = rng.standard_normal((5,)).astype("<f8")
        sid = h5py.h5s.create_simple((5,))
        dset = h5py.h5d.create(f.id, b"compact", h5py.h5t.IEEE_F64LE, sid, dcpl=dcpl)
        dset.write(h5py.h5s.ALL, h5py.h5s.ALL, data)
        f.create_dataset("empty", shape=(0, 3), dtype="<f4")
        f.create_dataset("unwritten", shape=(4,), dtype="<f4")
        f.create_dataset("scalar_i64", data=np.int64(-5))
        f.create_dataset("f16", data=rng.standard_normal((3, 2)).astype("<f2"))
        f.create_dataset("u8", data=np.arange(10, dtype="u1"))
        f.create_dataset("bool", data=np.array([True, False, True]))
        f.create_dataset("c64", data=(rng.standard_normal(4) + 1j * rng.standard_normal(4)).astype("<c8"))
        f.create_dataset("big_endian", data=np.arange(6, dtype=">i4"))
        f.create_dataset("strings", data=np.array([b"ab", b"cde"]))
        f["named_type"] = np.dtype("<f4")
        f.create_dataset("committed", data=np.ones(3, dtype="<f4"), dtype=f["named_type"])
        f["soft"] = h5py.SoftLink("/contiguous")
        f["hard_again"] = f["contiguous"]
        f.attrs["fixed"] = np.array([b"one", b"two", b"three"])
        f.attrs["vlen_list"] = ["alpha", "beta"]
        f.attrs["ints"] = np.array([1, 2, 3], dtype="<i8")
        f.attrs["floats"] = np.array([0.5, 1.5], dtype="<f4")
        f.attrs["flag"] = np.bool_(True)
        f.attrs["space_padded"] = np.array(b"pad  ", dtype="S5")
        f.create_group("a/b/c/d")
        f["a/b/c/d"].attrs["deep"] = "yes"
    files.append(p)

    # a user block before the superblock: addresses are relative to the superblock
    p = out / "userblock.h5"
    with h5py.File(p, "w", userblock_size=1024) as f:
        f.create_dataset("x", data=np.arange(12, dtype="<f4").reshape(3, 4))
        f.attrs["note"] = "after a user block"
    files.append(p)

    # a deep chain of groups and more datasets than fit one symbol table node
    p = out / "wide.h5"
    with h5py.File(p, "w") as f:
        g = f
        for i in range(20):
            g = g.create_group(f"g{i}")
        g.create_dataset("leaf", data=np.arange(3, dtype="<i4"))
        w = f.create_group("wide")
        for i in range(300):
            w.create_dataset(f"d{i:03d}", data=np.full((2,), i, dtype="<i2"))
    files.append(p)
    return files


def describe(path: Path) -> dict:
    datasets = {}
    attrs = {}

    def value(v):
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
        if isinstance(v, np.ndarray):
            return [value(x) for x in v.tolist()]
        if isinstance(v, (list, tuple)):
            return [value(x) for x in v]
        if isinstance(v, (np.generic,)):
            return value(v.item())
        return v

    def visit(name, obj):
        for k in obj.attrs:
            try:
                attrs[f"{name}@{k}"] = value(obj.attrs[k])
            except Exception as err:  # noqa: BLE001 - unreadable attribute types are reported, not fatal
                attrs[f"{name}@{k}"] = {"error": str(err)}
        if isinstance(obj, h5py.Dataset):
            arr = obj[()]
            if isinstance(arr, np.ndarray) and arr.dtype.kind in "fiuc" and arr.dtype.byteorder == ">":
                le = None  # big-endian: mvc leaves these out
            else:
                le = np.ascontiguousarray(arr).tobytes() if not isinstance(arr, bytes) else arr
            datasets[name] = {
                "offset": obj.id.get_offset(),
                "storage_size": obj.id.get_storage_size(),
                "dtype": obj.dtype.str,
                "shape": list(obj.shape),
                "chunks": list(obj.chunks) if obj.chunks else None,
                "compression": obj.compression,
                "sha256": hashlib.sha256(le).hexdigest() if le is not None else None,
            }

    with h5py.File(path, "r") as f:
        for k in f.attrs:
            attrs[f"@{k}"] = value(f.attrs[k])
        f.visititems(visit)
    return {"datasets": datasets, "attrs": attrs, "h5py": h5py.version.version, "hdf5": h5py.version.hdf5_version}


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    files = cases(out) + [Path(p) for p in sys.argv[2:]]
    json.dump({str(p): describe(p) for p in files}, sys.stdout)


if __name__ == "__main__":
    main()
