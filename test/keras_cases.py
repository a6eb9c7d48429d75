"""Write the Keras files test/keras-formats.test.ts needs beyond fixtures/tf/make_fixtures.py.

    python test/keras_cases.py OUTDIR FIXTURES

OUTDIR/big/: a 1.6 MB tf_keras MLP, so that storage figures are not dominated by metadata:
  v1/model.h5, v2/model.h5 (v1 with only the `out` layer changed), v1/model.keras, v2/model.keras
  (the same weights in Keras 3), tfjs/ (v1/model.h5 converted to a TF.js layers model by
  make_fixtures.h5_to_tfjs_layers), zip64/model.keras (v1/model.keras rewritten with ZIP64 local headers
  and a ZIP64 end of central directory, as zipfile writes for archives past 4 GiB).
OUTDIR/tfjs-lacks/model.keras: a Keras 3 model with a GroupNormalization layer, which TF.js does not implement.
OUTDIR/plain/data.h5: an HDF5 file that is not a model (a dataset of numbers).
OUTDIR/bad/: deflated.keras (FIXTURES/mlp-keras/model.keras re-zipped with ZIP_DEFLATED),
  bad_config.keras (config.json is not JSON), no_config.keras (no config.json).
Prints JSON: the weight bytes of the big model, the bytes of the weights that differ between v1 and v2
(computed here with numpy), and each big file's dataset offsets as h5py reports them.
"""

import io
import json
import os
import sys
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "fixtures" / "tf"))

import make_fixtures as mf  # noqa: E402  (imports TensorFlow, Keras 3 and tf_keras, seeds nothing itself)
import numpy as np  # noqa: E402


def build(k):
    inp = k.Input(shape=(256,), name="x")
    h = k.layers.Dense(512, activation="relu", name="wide1")(inp)
    h = k.layers.Dense(512, activation="relu", name="wide2")(h)
    out = k.layers.Dense(10, activation="softmax", name="out")(h)
    return k.Model(inp, out, name="big")


def zip64(src: Path, dst: Path) -> None:
    """`src` rewritten with ZIP64 local headers (force_zip64) and ZIP64 end records (which zipfile only
    writes past 4 GiB or 65535 members, so they are added by hand: APPNOTE 4.3.14-4.3.16)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(src) as z:
        members = [(i, z.read(i.filename)) for i in z.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for info, data in members:
            with z.open(info, "w", force_zip64=True) as w:
                w.write(data)
    raw = buf.getvalue()
    eocd = raw.rindex(b"PK\x05\x06")
    count = int.from_bytes(raw[eocd + 10:eocd + 12], "little")
    size = int.from_bytes(raw[eocd + 12:eocd + 16], "little")
    offset = int.from_bytes(raw[eocd + 16:eocd + 20], "little")
    rec = (b"PK\x06\x06" + (44).to_bytes(8, "little") + (45).to_bytes(2, "little") + (45).to_bytes(2, "little")
           + (0).to_bytes(4, "little") + (0).to_bytes(4, "little") + count.to_bytes(8, "little") + count.to_bytes(8, "little")
           + size.to_bytes(8, "little") + offset.to_bytes(8, "little"))
    loc = b"PK\x06\x07" + (0).to_bytes(4, "little") + eocd.to_bytes(8, "little") + (1).to_bytes(4, "little")
    end = b"PK\x05\x06" + bytes(4) + b"\xff\xff" * 2 + b"\xff" * 8 + bytes(2)
    dst.write_bytes(raw[:eocd] + rec + loc + end)
    with zipfile.ZipFile(dst) as z:  # Python reads it back as the same archive
        assert [(i.filename, z.read(i.filename)) for i in z.infolist()] == [(i.filename, d) for i, d in members]


def main():
    out = Path(sys.argv[1])
    fixtures = Path(sys.argv[2])
    mf.set_seed(12345)
    k2 = build(mf.tf_keras)
    w1 = k2.get_weights()
    w2 = [w.copy() for w in w1]
    w2[4] += 0.01  # out/kernel
    w2[5] += 0.01  # out/bias
    big = out / "big"
    for name, weights in (("v1", w1), ("v2", w2)):
        d = big / name
        d.mkdir(parents=True, exist_ok=True)
        mf.clone_with(build, mf.tf_keras, weights).save(d / "model.h5")
        mf.clone_with(build, mf.keras, weights).save(d / "model.keras")
    mf.h5_to_tfjs_layers(big / "v1" / "model.h5", big / "tfjs")
    zip64(big / "v1" / "model.keras", big / "zip64" / "model.keras")

    inp = mf.keras.Input(shape=(4,), name="x")
    gn = mf.keras.layers.GroupNormalization(groups=1, name="gn")(mf.keras.layers.Dense(3, name="d")(inp))
    (out / "tfjs-lacks").mkdir(parents=True, exist_ok=True)
    mf.keras.Model(inp, gn).save(out / "tfjs-lacks" / "model.keras")

    import h5py
    (out / "plain").mkdir(parents=True, exist_ok=True)
    with h5py.File(out / "plain" / "data.h5", "w") as f:
        f.create_dataset("samples", data=np.arange(1000, dtype="<f4").reshape(100, 10))
        f.attrs["source"] = "not a model"

    bad = out / "bad"
    bad.mkdir(parents=True, exist_ok=True)
    src = fixtures / "mlp-keras" / "model.keras"
    with zipfile.ZipFile(src) as z:
        members = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(bad / "deflated.keras", "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)
    with zipfile.ZipFile(bad / "bad_config.keras", "w") as z:
        for name, data in members:
            z.writestr(name, b"{not json" if name == "config.json" else data)
    with zipfile.ZipFile(bad / "no_config.keras", "w") as z:
        for name, data in members:
            if name != "config.json":
                z.writestr(name, data)

    def offsets(path):
        import h5py
        found = {}
        if path.suffix == ".keras":
            with zipfile.ZipFile(path) as z:
                info = z.getinfo("model.weights.h5")
                with open(path, "rb") as f:
                    f.seek(info.header_offset + 26)
                    n, e = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
                base = info.header_offset + 30 + n + e
                data = z.read("model.weights.h5")
            h = h5py.File(io.BytesIO(data), "r")
        else:
            base, h = 0, h5py.File(path, "r")
        h.visititems(lambda name, o: found.__setitem__(name, base + o.id.get_offset()) if isinstance(o, h5py.Dataset) else None)
        return found

    changed = sum(a.nbytes for a, b in zip(w1, w2) if not np.array_equal(a, b))
    json.dump({"weight_bytes": int(sum(w.nbytes for w in w1)), "changed_bytes": int(changed),
               "offsets": {str(p.relative_to(out)): offsets(p) for p in sorted([*big.glob("v*/model.*"), big / "zip64" / "model.keras"])}}, sys.stdout)


if __name__ == "__main__":
    main()
