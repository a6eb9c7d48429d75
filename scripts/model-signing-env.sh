#!/usr/bin/env bash
# Create (once) a small Python environment with OpenSSF model signing (`model-signing` 1.1.1 from PyPI,
# sigstore/model-transparency), which the tests and bench/sign-bench.ts run against mvc's bundles.
# mvc itself never needs it.
#
#   MS=$(bash scripts/model-signing-env.sh | tail -1)      # the model_signing CLI
#   "$MS" sign key --private_key key.pem --signature model.sig model/
#
# The venv lives outside the repository: $MVC_MODEL_SIGNING_ENV, default ~/.cache/mvc/model-signing-venv,
# built with $MVC_PYTHON_BASE (default python3, 3.10+) from the exact pins in
# fixtures/model-signing/requirements.txt, installed with --no-deps (the list is complete). A marker
# records the SHA-256 of the pins and the Python version; when it matches, the script only prints the
# path. Everything but that path goes to stderr.
# Exit status: 0 ok; 1 pip or the import check failed; 2 unusable Python.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
requirements="$repo/fixtures/model-signing/requirements.txt"
venv="${MVC_MODEL_SIGNING_ENV:-$HOME/.cache/mvc/model-signing-venv}"

say() { echo "model-signing-env: $*" >&2; }
die() { local code=$1; shift; echo "model-signing-env: ERROR: $*" >&2; exit "$code"; }

base_python="${MVC_PYTHON_BASE:-python3}"
command -v "$base_python" >/dev/null 2>&1 || die 2 "no '$base_python' on PATH; install Python 3.10+ or set MVC_PYTHON_BASE"
pyver=$("$base_python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])') || die 2 "'$base_python' does not run"
"$base_python" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 10) else 1)' ||
  die 2 "Python $pyver ($base_python): model-signing 1.1.1 needs Python 3.10 or later; set MVC_PYTHON_BASE"

want=$( { sha256sum "$requirements" | cut -d' ' -f1; echo "python $pyver"; } | sha256sum | cut -d' ' -f1)
marker="$venv/.mvc-env-ok"
cli="$venv/bin/model_signing"

if [[ -x "$cli" && -f "$marker" && "$(cat "$marker")" == "$want" ]]; then echo "$cli"; exit 0; fi

mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [[ -x "$cli" && -f "$marker" && "$(cat "$marker")" == "$want" ]]; then echo "$cli"; exit 0; fi

if [[ -e "$venv" && ! -f "$venv/pyvenv.cfg" ]] && [[ -n "$(ls -A "$venv" 2>/dev/null)" ]]; then
  die 2 "$venv exists and is not a Python venv; remove it or set MVC_MODEL_SIGNING_ENV elsewhere"
fi

say "creating $venv with Python $pyver from ${requirements#"$repo"/} (first run only)"
rm -f "$marker"
"$base_python" -m venv --clear "$venv" >&2 || die 1 "'$base_python -m venv' failed (on Debian: apt-get install python3-venv)"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --no-deps --no-input -r "$requirements" >&2 ||
  die 1 "pip could not install ${requirements#"$repo"/} into $venv (see pip's message above); nothing was marked done"
"$venv/bin/python" -m pip check >&2 || die 1 "pip check found inconsistent pins in ${requirements#"$repo"/}"
"$cli" --version >&2 || die 1 "the new environment cannot run model_signing"

echo "$want" >"$marker"
say "ready"
echo "$cli"
