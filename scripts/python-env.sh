#!/usr/bin/env bash
# Create (once) the optional Python environment that mvc uses to verify models with real TensorFlow
# and to regenerate the TF/Keras fixtures. mvc itself never needs it: `npm ci` alone installs mvc.
#
#   PY=$(bash scripts/python-env.sh | tail -1)             # the TensorFlow venv's interpreter
#   PY=$(bash scripts/python-env.sh --h5py-alt | tail -1)  # tiny venv with an older h5py/HDF5
#
# The venv lives outside the repository (~1.5 GB): $MVC_PYTHON_ENV, default ~/.cache/mvc/tf-venv
# (--h5py-alt: $MVC_PYTHON_ENV_H5PY_ALT, default ~/.cache/mvc/h5py-alt-venv). It is built with the
# Python named by $MVC_PYTHON_BASE (default python3) from the exact pins in fixtures/tf/requirements*.txt,
# installed with --no-deps (the pin list is complete). A marker file records the SHA-256 of the
# requirements file and the Python version; when it matches, the script only prints the path, so a
# second run takes milliseconds. The marker is written last, so an interrupted build is redone.
#
# Everything but the interpreter path goes to stderr, so stdout is exactly one line.
# Exit status: 0 ok; 1 pip or the import check failed; 2 usage or unusable Python.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
requirements="$repo/fixtures/tf/requirements.txt"
venv="${MVC_PYTHON_ENV:-$HOME/.cache/mvc/tf-venv}"
check_imports="import tensorflow, keras, tf_keras, h5py, numpy"
case "${1:-}" in
  "") ;;
  --h5py-alt)
    requirements="$repo/fixtures/tf/requirements-h5py-alt.txt"
    venv="${MVC_PYTHON_ENV_H5PY_ALT:-$HOME/.cache/mvc/h5py-alt-venv}"
    check_imports="import h5py, numpy"
    ;;
  *) echo "usage: bash scripts/python-env.sh [--h5py-alt]" >&2; exit 2 ;;
esac

say() { echo "python-env: $*" >&2; }
die() { local code=$1; shift; echo "python-env: ERROR: $*" >&2; exit "$code"; }

base_python="${MVC_PYTHON_BASE:-python3}"
command -v "$base_python" >/dev/null 2>&1 ||
  die 2 "no '$base_python' on PATH; install Python 3.10-3.13 or set MVC_PYTHON_BASE to one"
pyver=$("$base_python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])') ||
  die 2 "'$base_python' does not run"
"$base_python" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)' ||
  die 2 "Python $pyver ($base_python): TensorFlow 2.21 needs Python 3.10-3.13; set MVC_PYTHON_BASE"

want=$( { sha256sum "$requirements" | cut -d' ' -f1; echo "python $pyver"; } | sha256sum | cut -d' ' -f1)
marker="$venv/.mvc-env-ok"
py="$venv/bin/python"

if [[ -x "$py" && -f "$marker" && "$(cat "$marker")" == "$want" ]]; then
  echo "$py"
  exit 0
fi

mkdir -p "$(dirname "$venv")"
# Two test processes may ask at once: the second waits for the first instead of racing it.
exec 9>"$venv.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [[ -x "$py" && -f "$marker" && "$(cat "$marker")" == "$want" ]]; then
  echo "$py"
  exit 0
fi

# Never wipe a folder that is not a venv (MVC_PYTHON_ENV pointing at the wrong place).
if [[ -e "$venv" && ! -f "$venv/pyvenv.cfg" ]] && [[ -n "$(ls -A "$venv" 2>/dev/null)" ]]; then
  die 2 "$venv exists and is not a Python venv; remove it or set MVC_PYTHON_ENV elsewhere"
fi

say "creating $venv with Python $pyver from ${requirements#"$repo"/} (first run only; TensorFlow is a large download)"
rm -f "$marker"
"$base_python" -m venv --clear "$venv" >&2 ||
  die 1 "'$base_python -m venv' failed (on Debian: apt-get install python3-venv)"

if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "$py" -m pip install --no-deps --no-input \
     -r "$requirements" >&2; then
  die 1 "pip could not install ${requirements#"$repo"/} into $venv (see pip's message above).
  Check that PyPI is reachable and that wheels exist for Python $pyver on $(uname -m); nothing was marked done."
fi

# pip check: tf_keras names the 'tensorflow' distribution; tensorflow-cpu provides the same package.
if ! problems=$("$py" -m pip check 2>&1); then
  problems=$(grep -v "requires tensorflow, which is not installed" <<<"$problems" || true)
  if [[ -n "$problems" ]]; then
    echo "$problems" >&2
    die 1 "pip check found inconsistent pins in ${requirements#"$repo"/}"
  fi
fi

TF_CPP_MIN_LOG_LEVEL=2 "$py" -c "$check_imports" >&2 ||
  die 1 "the new environment cannot import its packages ($check_imports)"

echo "$want" >"$marker"
say "ready"
echo "$py"
