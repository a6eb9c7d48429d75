"""mvc's optional Python runtime: load a model with real TensorFlow/Keras and run it.

mvc spawns `<python> python/mvc_tf_runtime.py`, writes ONE JSON request to stdin and reads ONE JSON
response from stdout; with `--lines`, one request per line and one response per line until stdin
closes, models staying loaded between requests (what mvc uses). Nothing else is ever written to stdout (TensorFlow's and Keras's messages, and
anything a custom-objects file prints, go to stderr). The process exits 0 whenever it wrote a response,
ok or not; any other exit means it crashed before answering.

Requests
  {"op": "probe"}
      -> {"ok": true, "python": "3.11.7", "tensorflow": "2.21.0", "keras": "3.15.1", "tf_keras": "2.21.0" | null}
  {"op": "signature", "format": F, "path": P, "custom_objects": ["file.py", ...]}
      -> {"ok": true, "inputs": [{"name", "dtype", "shape": [null, 8]}], "outputs": [...]}
  {"op": "run", "format": F, "path": P, "custom_objects": [...],
   "inputs": [{"name", "dtype", "shape", "data": "<base64>"}]}
      -> {"ok": true, "runtime": {"name": "python-tensorflow", "tensorflow", "keras", "tf_keras", "loader"},
          "outputs": [{"name", "dtype", "shape", "data": "<base64>"}]}

F: "keras-h5" (a Keras 2 file, keras_version 2.x, loads with tf_keras when installed, else with Keras 3's
legacy loader; a Keras 3 .h5 with Keras 3), "keras-v3" (.keras), "saved-model" (the serving_default
signature; outputs sorted by name), "tfjs-layers" (model.json + shards, rebuilt with tf_keras).
Tensor bytes are those of TF.js: numbers little-endian, bool one byte, strings as uint32-LE length +
UTF-8 bytes per element. Models are loaded with compile=False: running needs no optimizer or loss.

Errors: {"ok": false, "code": C, "message": "...", "missing": [...], "detail": "<traceback>"} with C one of
BAD_REQUEST (malformed request, unknown op/format/dtype, bad tensor bytes, a custom-objects file that
does not import), MISSING_CUSTOM_OBJECTS (the model names classes nobody registered; "missing" lists
them, e.g. "Course>ScaledDense"), LOAD_FAILED, RUN_FAILED.
"""

from __future__ import annotations

import base64
import importlib.util
import inspect
import json
import os
import platform
import re
import sys
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

FORMATS = ("keras-h5", "keras-v3", "saved-model", "tfjs-layers")

# dtype name -> (numpy dtype string, bytes per element); "string" is handled apart
DTYPES = {"float32": ("<f4", 4), "float16": ("<f2", 2), "float64": ("<f8", 8), "int32": ("<i4", 4),
          "int64": ("<i8", 8), "int16": ("<i2", 2), "int8": ("i1", 1), "uint8": ("u1", 1), "bool": ("?", 1)}


class RuntimeFailure(Exception):
    def __init__(self, code: str, message: str, missing: list[str] | None = None, detail: str | None = None):
        super().__init__(message)
        self.code, self.message, self.missing, self.detail = code, message, missing, detail


# ---------------------------------------------------------------------------------------------------
# tensors <-> TF.js bytes


def decode_tensor(spec: dict):
    import numpy as np

    for key in ("name", "dtype", "shape", "data"):
        if key not in spec:
            raise RuntimeFailure("BAD_REQUEST", f"input tensor without '{key}'")
    dtype, shape = spec["dtype"], spec["shape"]
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise RuntimeFailure("BAD_REQUEST", f"input '{spec['name']}': shape must be a list of sizes, got {shape!r}")
    try:
        raw = base64.b64decode(spec["data"], validate=True)
    except (ValueError, TypeError) as err:
        raise RuntimeFailure("BAD_REQUEST", f"input '{spec['name']}': data is not base64 ({err})") from None
    count = 1
    for d in shape:
        count *= d
    if dtype == "string":
        values, pos = [], 0
        for _ in range(count):
            if pos + 4 > len(raw):
                raise RuntimeFailure("BAD_REQUEST", f"input '{spec['name']}': string data ends early")
            n = int.from_bytes(raw[pos:pos + 4], "little")
            pos += 4
            values.append(raw[pos:pos + n])
            pos += n
        if pos != len(raw):
            raise RuntimeFailure("BAD_REQUEST", f"input '{spec['name']}': {len(raw) - pos} bytes after the strings")
        return np.array(values, dtype=object).reshape(shape)
    if dtype not in DTYPES:
        raise RuntimeFailure("BAD_REQUEST", f"input '{spec['name']}': unsupported dtype '{dtype}' "
                                            f"(one of {', '.join(list(DTYPES) + ['string'])})")
    np_dtype, size = DTYPES[dtype]
    if len(raw) != count * size:
        raise RuntimeFailure("BAD_REQUEST", f"input '{spec['name']}': {len(raw)} bytes for {dtype} {shape} "
                                            f"(expected {count * size})")
    return np.frombuffer(raw, dtype=np_dtype).reshape(shape)


def encode_tensor(name: str, value) -> dict:
    import numpy as np

    arr = np.asarray(value)
    if arr.dtype.kind in ("O", "S", "U"):
        parts = []
        for v in arr.reshape(-1):
            b = v.encode("utf-8") if isinstance(v, str) else bytes(v)
            parts.append(len(b).to_bytes(4, "little") + b)
        return {"name": name, "dtype": "string", "shape": list(arr.shape),
                "data": base64.b64encode(b"".join(parts)).decode("ascii")}
    for dtype, (np_dtype, _size) in DTYPES.items():
        if arr.dtype == np.dtype(np_dtype):
            data = np.ascontiguousarray(arr, dtype=np.dtype(np_dtype)).tobytes()
            return {"name": name, "dtype": dtype, "shape": list(arr.shape),
                    "data": base64.b64encode(data).decode("ascii")}
    raise RuntimeFailure("RUN_FAILED", f"output '{name}' has dtype {arr.dtype}, which has no TF.js encoding here")


def dtype_name(dtype) -> str:
    import tensorflow as tf

    d = tf.as_dtype(dtype)
    return "string" if d == tf.string else d.name


def shape_list(shape) -> list | None:
    try:
        dims = list(shape)
    except (TypeError, ValueError):  # unknown rank
        return None
    return [None if d is None else int(d) for d in dims]


# ---------------------------------------------------------------------------------------------------
# custom objects


def load_custom_objects(paths: list) -> dict:
    """Import each file (it registers its classes); return every class or function it defines."""
    found: dict = {}
    for i, path in enumerate(paths):
        if not isinstance(path, str) or not path.endswith(".py"):
            raise RuntimeFailure("BAD_REQUEST", f"custom_objects entries must be paths to .py files, got {path!r}")
        if not os.path.isfile(path):
            raise RuntimeFailure("BAD_REQUEST", f"custom objects file not found: {path}")
        stem = os.path.splitext(os.path.basename(path))[0]
        # Keras 3 configs record the defining module by name: import the file under its own name
        # unless that would shadow a module already loaded
        mod_name = stem if stem.isidentifier() and stem not in sys.modules else f"mvc_custom_objects_{i}"
        folder = os.path.dirname(os.path.abspath(path))
        if folder not in sys.path:
            sys.path.insert(0, folder)
        try:
            spec = importlib.util.spec_from_file_location(mod_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            spec.loader.exec_module(module)
        except BaseException as err:  # noqa: BLE001 - any failure of user code is reported, not raised
            sys.modules.pop(mod_name, None)
            raise RuntimeFailure("BAD_REQUEST", f"custom objects file {path} failed to import: "
                                                f"{type(err).__name__}: {err}",
                                 detail=traceback.format_exc()) from None
        for attr, value in vars(module).items():
            if attr.startswith("__"):
                continue
            if (inspect.isclass(value) or inspect.isfunction(value)) and getattr(value, "__module__", None) == mod_name:
                found.setdefault(attr, []).append(value)
    return found


def framework_of(obj) -> str | None:
    if not inspect.isclass(obj):
        return None
    for base in obj.__mro__:
        mod = getattr(base, "__module__", "") or ""
        if mod == "tf_keras" or mod.startswith("tf_keras."):
            return "tf_keras"
        if mod == "keras" or mod.startswith("keras."):
            return "keras"
    return None


def custom_objects_for(found: dict, framework: str) -> dict:
    """{name: object} for one framework: classes of the other framework are left out; each class is
    offered under its attribute name, its class name and its registered name ("Package>Name")."""
    out: dict = {}
    for attr, values in found.items():
        for obj in values:
            fw = framework_of(obj)
            if fw is not None and fw != framework:
                continue
            names = {attr, getattr(obj, "__name__", attr)}
            try:
                if framework == "tf_keras":
                    import tf_keras
                    names.add(tf_keras.saving.get_registered_name(obj))
                else:
                    import keras
                    names.add(keras.saving.get_registered_name(obj))
            except Exception:  # noqa: BLE001
                pass
            for n in names:
                # the class made for this framework wins over a framework-less helper of the same name
                if n not in out or framework_of(out[n]) is None:
                    out[n] = obj
    return out


# ---------------------------------------------------------------------------------------------------
# missing custom objects: name them from the model's config and from Keras's error


def registered_names_in(config) -> set:
    names: set = set()

    def walk(node):
        if isinstance(node, dict):
            for key in ("registered_name", "class_name"):
                v = node.get(key)
                if isinstance(v, str) and ">" in v:
                    names.add(v)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(config)
    return names


MISSING_PATTERNS = [
    # tf_keras: "Unknown layer: 'Course>ScaledDense'. Please ensure ..."
    re.compile(r"Unknown (?:layer|loss|metric|activation|initializer|regularizer|constraint|optimizer|"
               r"object|config_item|function)(?: type)?:\s*'?([A-Za-z_][\w>.]*)'?"),
    # Keras 3: "Could not locate class 'ScaledDense'. ... Full object config: {...}" (the config dump
    # names every class of the model, so only the class it could not locate is taken; the config scan
    # supplies its registered name "Course>ScaledDense")
    re.compile(r"Could not locate (?:class|function) '([^']+)'"),
    re.compile(r"Could not deserialize class '([^']+)'"),
]


def missing_from_error(err: BaseException) -> list[str]:
    text = "".join(traceback.format_exception_only(type(err), err))
    cause = err.__cause__ or err.__context__
    while cause is not None:
        text += "\n" + "".join(traceback.format_exception_only(type(cause), cause))
        cause = cause.__cause__ or cause.__context__
    found: list[str] = []
    for pat in MISSING_PATTERNS:
        for m in pat.finditer(text):
            name = m.group(1)
            if name not in found:
                found.append(name)
    # prefer registered names: drop a bare class name when "Package>Name" is also there
    return [n for n in found if not any(o != n and o.endswith(">" + n) for o in found)]


def unresolved(names: set, framework: str, custom: dict) -> list[str]:
    out = []
    for n in sorted(names):
        if n in custom:
            continue
        if framework == "tf_keras":
            import tf_keras
            ok = tf_keras.saving.get_registered_object(n) is not None
        else:
            import keras
            ok = keras.saving.get_registered_object(n) is not None
        if not ok:
            out.append(n)
    return out


def load_failure(err: BaseException, what: str, config_names: set, framework: str, custom: dict,
                 given: list) -> RuntimeFailure:
    missing = missing_from_error(err)
    # name a bare class by its registered name when the config has exactly one such
    for i, m in enumerate(missing):
        if ">" not in m:
            regs = [n for n in config_names if n.endswith(">" + m)]
            if len(regs) == 1:
                missing[i] = regs[0]
    if missing or (config_names and unresolved(config_names, framework, custom)):
        for n in unresolved(config_names, framework, custom):
            if n not in missing and not any(n.endswith(">" + m) for m in missing):
                missing.append(n)
        missing = [m for m in missing if not any(o != m and o.endswith(">" + m) for o in missing)]
        hint = ("the file(s) passed with --custom-objects (" + ", ".join(given) + ") do not register them"
                if given else "pass the Python file that defines and registers them: --custom-objects <file.py>")
        return RuntimeFailure("MISSING_CUSTOM_OBJECTS",
                              f"{what} uses custom objects that are not registered: {', '.join(missing)}; {hint}",
                              missing=missing, detail=traceback.format_exc())
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return RuntimeFailure("LOAD_FAILED", f"could not load {what}: {type(err).__name__}: {first[:500]}",
                          detail=traceback.format_exc())


# ---------------------------------------------------------------------------------------------------
# loaders: each returns a Model-like adapter with .inputs(), .outputs(), .run(feeds)


class KerasModel:
    def __init__(self, model, loader: str):
        self.model, self.loader = model, loader

    def _names(self, tensors, fallback_names):
        names = []
        for i, t in enumerate(tensors):
            n = fallback_names[i] if fallback_names and i < len(fallback_names) else None
            if not n:
                n = getattr(t, "name", None) or f"output_{i}"
                n = n.split(":")[0]
            names.append(n)
        return names

    def input_names(self):
        m = self.model
        names = list(getattr(m, "input_names", None) or [])
        if not names:
            names = [getattr(t, "name", f"input_{i}").split(":")[0] for i, t in enumerate(m.inputs)]
        return names

    def output_names(self):
        m = self.model
        names = list(getattr(m, "output_names", None) or [])
        return self._names(m.outputs, names)

    def inputs(self):
        return [{"name": n, "dtype": dtype_name(t.dtype), "shape": shape_list(t.shape)}
                for n, t in zip(self.input_names(), self.model.inputs)]

    def outputs(self):
        return [{"name": n, "dtype": dtype_name(t.dtype), "shape": shape_list(t.shape)}
                for n, t in zip(self.output_names(), self.model.outputs)]

    def run(self, feeds: dict) -> list:
        import tensorflow as tf

        names = self.input_names()
        args = [tf.constant(feeds[n]) for n in names]
        result = self.model(args[0] if len(args) == 1 else args, training=False)
        if isinstance(result, dict):
            return sorted(((k, v) for k, v in result.items()), key=lambda kv: kv[0])
        if not isinstance(result, (list, tuple)):
            result = [result]
        return list(zip(self.output_names(), result))


class SavedModel:
    def __init__(self, loaded, signature, key: str):
        self.loaded, self.sig, self.key = loaded, signature, key
        self.loader = f"tf.saved_model.load + signatures['{key}']"

    def inputs(self):
        _args, kwargs = self.sig.structured_input_signature
        return [{"name": n, "dtype": dtype_name(s.dtype), "shape": shape_list(s.shape)}
                for n, s in sorted(kwargs.items())]

    def outputs(self):
        outs = self.sig.structured_outputs
        return [{"name": n, "dtype": dtype_name(s.dtype), "shape": shape_list(s.shape)}
                for n, s in sorted(outs.items())]

    def input_names(self):
        return [i["name"] for i in self.inputs()]

    def run(self, feeds: dict) -> list:
        import tensorflow as tf

        _args, kwargs = self.sig.structured_input_signature
        call = {n: tf.constant(feeds[n], dtype=kwargs[n].dtype) for n in kwargs}
        result = self.sig(**call)
        return sorted(result.items(), key=lambda kv: kv[0])


def h5_keras_version(path: str) -> tuple[str | None, dict | None]:
    import h5py

    with h5py.File(path, "r") as f:
        def text(v):
            return v.decode("utf-8") if isinstance(v, bytes) else (None if v is None else str(v))

        version = text(f.attrs.get("keras_version"))
        config = f.attrs.get("model_config")
        return version, (json.loads(text(config)) if config is not None else None)


def load_keras_h5(path: str, found: dict, given: list):
    try:
        version, config = h5_keras_version(path)
    except Exception as err:  # noqa: BLE001
        raise RuntimeFailure("LOAD_FAILED", f"{path} is not a readable HDF5 file: {type(err).__name__}: {err}",
                             detail=traceback.format_exc()) from None
    if config is None:
        raise RuntimeFailure("LOAD_FAILED", f"{path} has no model_config attribute: a weights-only file "
                                            "(save_weights) cannot be run without its model")
    names = registered_names_in(config)
    use_tf_keras = version is not None and version.startswith("2.")
    if use_tf_keras:
        try:
            import tf_keras
        except ImportError:
            use_tf_keras = False
    if use_tf_keras:
        custom = custom_objects_for(found, "tf_keras")
        try:
            model = tf_keras.models.load_model(path, custom_objects=custom, compile=False)
        except Exception as err:  # noqa: BLE001
            raise load_failure(err, path, names, "tf_keras", custom, given) from None
        return KerasModel(model, f"tf_keras {tf_keras.__version__} load_model (keras_version {version})")
    import keras

    custom = custom_objects_for(found, "keras")
    try:
        model = keras.saving.load_model(path, custom_objects=custom, compile=False)
    except Exception as err:  # noqa: BLE001
        raise load_failure(err, path, names, "keras", custom, given) from None
    return KerasModel(model, f"keras {keras.__version__} load_model (keras_version {version})")


def load_keras_v3(path: str, found: dict, given: list):
    import zipfile

    import keras

    names: set = set()
    try:
        with zipfile.ZipFile(path) as z:
            # the model's own config: compile_config (loss, metrics) is not needed with compile=False
            names = registered_names_in(json.loads(z.read("config.json")).get("config"))
    except Exception:  # noqa: BLE001 - Keras will say what is wrong with the file
        pass
    custom = custom_objects_for(found, "keras")
    try:
        model = keras.saving.load_model(path, custom_objects=custom, compile=False)
    except Exception as err:  # noqa: BLE001
        raise load_failure(err, path, names, "keras", custom, given) from None
    return KerasModel(model, f"keras {keras.__version__} load_model")


def load_saved_model(path: str):
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(path)
    except Exception as err:  # noqa: BLE001
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RuntimeFailure("LOAD_FAILED", f"could not load the SavedModel {path}: {type(err).__name__}: "
                                            f"{first[:500]}", detail=traceback.format_exc()) from None
    sigs = dict(loaded.signatures)
    key = "serving_default" if "serving_default" in sigs else (next(iter(sigs)) if len(sigs) == 1 else None)
    if key is None:
        raise RuntimeFailure("LOAD_FAILED", f"the SavedModel {path} has no serving_default signature "
                                            f"(signatures: {sorted(sigs) or 'none'})")
    return SavedModel(loaded, sigs[key], key)


def load_tfjs_layers(path: str, found: dict, given: list):
    import numpy as np

    model_json = path if path.endswith(".json") else os.path.join(path, "model.json")
    try:
        with open(model_json) as f:
            artifacts = json.load(f)
        topology = artifacts["modelTopology"]
        config = topology.get("model_config", topology)
    except Exception as err:  # noqa: BLE001
        raise RuntimeFailure("LOAD_FAILED", f"{model_json} is not a TF.js layers model.json: "
                                            f"{type(err).__name__}: {err}", detail=traceback.format_exc()) from None
    import tf_keras

    names = registered_names_in(config)
    custom = custom_objects_for(found, "tf_keras")
    try:
        model = tf_keras.models.model_from_json(json.dumps(config), custom_objects=custom)
    except Exception as err:  # noqa: BLE001
        raise load_failure(err, model_json, names, "tf_keras", custom, given) from None
    folder = os.path.dirname(model_json)
    by_name = {w.name.split(":")[0]: w for w in model.weights}
    assigned = set()
    try:
        for group in artifacts["weightsManifest"]:
            blob = b"".join(open(os.path.join(folder, p), "rb").read() for p in group["paths"])
            pos = 0
            for spec in group["weights"]:
                if "quantization" in spec:
                    raise ValueError(f"{spec['name']}: quantized weights are not supported here")
                np_dtype, size = DTYPES[spec["dtype"]]
                count = int(np.prod(spec["shape"])) if spec["shape"] else 1
                arr = np.frombuffer(blob[pos:pos + count * size], dtype=np_dtype).reshape(spec["shape"])
                pos += count * size
                if spec["name"] not in by_name:
                    raise ValueError(f"weight '{spec['name']}' is not a weight of the model")
                by_name[spec["name"]].assign(arr)
                assigned.add(spec["name"])
        unset = sorted(set(by_name) - assigned)
        if unset:
            raise ValueError(f"no values for {', '.join(unset)}")
    except Exception as err:  # noqa: BLE001
        raise RuntimeFailure("LOAD_FAILED", f"could not load the weights of {model_json}: {err}",
                             detail=traceback.format_exc()) from None
    return KerasModel(model, f"tf_keras {tf_keras.__version__} model_from_json + TF.js weights")


_LOADED: dict = {}


def load(req: dict):
    """The model a request names, loaded once per process (--lines mode serves several requests)."""
    key = json.dumps([req.get("format"), req.get("path"), req.get("custom_objects") or []])
    if key not in _LOADED:
        _LOADED[key] = _load(req)
    return _LOADED[key]


def _load(req: dict):
    fmt, path = req.get("format"), req.get("path")
    if fmt not in FORMATS:
        raise RuntimeFailure("BAD_REQUEST", f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    if not isinstance(path, str) or not path:
        raise RuntimeFailure("BAD_REQUEST", "'path' must be a non-empty string")
    if not os.path.exists(path):
        raise RuntimeFailure("LOAD_FAILED", f"no such file or folder: {path}")
    given = req.get("custom_objects") or []
    if not isinstance(given, list):
        raise RuntimeFailure("BAD_REQUEST", "'custom_objects' must be a list of paths")
    import tensorflow  # noqa: F401 - before user code, which may import it anyway

    found = load_custom_objects(given)
    if fmt == "keras-h5":
        return load_keras_h5(path, found, given)
    if fmt == "keras-v3":
        return load_keras_v3(path, found, given)
    if fmt == "saved-model":
        return load_saved_model(path)
    return load_tfjs_layers(path, found, given)


# ---------------------------------------------------------------------------------------------------
# ops


def versions() -> dict:
    import keras
    import tensorflow as tf

    try:
        import tf_keras
        tfk = tf_keras.__version__
    except ImportError:
        tfk = None
    return {"tensorflow": tf.__version__, "keras": keras.__version__, "tf_keras": tfk}


def op_probe(_req: dict) -> dict:
    return {"ok": True, "python": platform.python_version(), **versions()}


def op_signature(req: dict) -> dict:
    model = load(req)
    return {"ok": True, "inputs": model.inputs(), "outputs": model.outputs()}


def op_run(req: dict) -> dict:
    specs = req.get("inputs")
    if not isinstance(specs, list) or not specs:
        raise RuntimeFailure("BAD_REQUEST", "'inputs' must be a non-empty list of tensors")
    tensors = [decode_tensor(s) for s in specs]
    model = load(req)
    names = model.input_names()
    given = [s["name"] for s in specs]
    if len(names) == 1 and len(tensors) == 1:
        feeds = {names[0]: tensors[0]}  # one input: its name may differ (TF.js may suffix it)
    else:
        unknown = [n for n in given if n not in names]
        absent = [n for n in names if n not in given]
        if unknown or absent:
            raise RuntimeFailure("BAD_REQUEST", f"inputs do not match the model's: expected {names}, got {given}")
        feeds = dict(zip(given, tensors))
    try:
        results = model.run(feeds)
    except RuntimeFailure:
        raise
    except Exception as err:  # noqa: BLE001
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RuntimeFailure("RUN_FAILED", f"running the model failed: {type(err).__name__}: {first[:500]}",
                             detail=traceback.format_exc()) from None
    outputs = [encode_tensor(n, v.numpy() if hasattr(v, "numpy") else v) for n, v in results]
    return {"ok": True, "runtime": {"name": "python-tensorflow", **versions(), "loader": model.loader},
            "outputs": outputs}


OPS = {"probe": op_probe, "signature": op_signature, "run": op_run}


def handle(text: str) -> dict:
    try:
        req = json.loads(text)
    except ValueError as err:
        return {"ok": False, "code": "BAD_REQUEST", "message": f"the request is not JSON: {err}"}
    if not isinstance(req, dict) or req.get("op") not in OPS:
        op = req.get("op") if isinstance(req, dict) else None
        return {"ok": False, "code": "BAD_REQUEST",
                "message": f"unknown op {op!r} (one of {', '.join(OPS)})"}
    try:
        return OPS[req["op"]](req)
    except RuntimeFailure as f:
        out = {"ok": False, "code": f.code, "message": f.message}
        if f.missing is not None:
            out["missing"] = f.missing
        if f.detail:
            out["detail"] = f.detail
        return out
    except Exception as err:  # noqa: BLE001 - the caller gets JSON, never a bare traceback
        code = "RUN_FAILED" if req["op"] == "run" else "LOAD_FAILED"
        return {"ok": False, "code": code, "message": f"{type(err).__name__}: {str(err)[:500]}",
                "detail": traceback.format_exc()}


def main() -> int:
    # Keep stdout for the one response: everything else that writes to fd 1 (TensorFlow's C++ logs,
    # Keras's progress, print() in user code) goes to stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if "--lines" in sys.argv[1:]:
        # One request per line, one response per line, until stdin closes; models stay loaded.
        for line in sys.stdin:
            if not line.strip():
                continue
            out.write(json.dumps(handle(line)))
            out.write("\n")
            out.flush()
        return 0
    response = handle(sys.stdin.read())
    out.write(json.dumps(response))
    out.write("\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
