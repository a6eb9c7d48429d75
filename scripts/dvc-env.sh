#!/usr/bin/env bash
# Create (once) a small Python environment with DVC (`dvc` 3.67.1 from PyPI) for bench/bench.ts, which
# compares `dvc add` / `dvc checkout` / `dvc push` (to a local remote) with mvc. mvc never needs it.
#
#   DVC=$(bash scripts/dvc-env.sh | tail -1)        # the dvc CLI
#
# The venv lives outside the repository: $MVC_DVC_ENV, default ~/.cache/mvc/dvc-venv, built with
# $MVC_PYTHON_BASE (default python3, 3.9+). DVC's own dependencies are resolved by pip. A marker records
# the pinned version and the Python version; when it matches, the script only prints the path.
# Everything but that path goes to stderr. Exit status: 0 ok; 1 pip or the check failed; 2 no Python.
set -euo pipefail

DVC_VERSION=3.67.1
venv="${MVC_DVC_ENV:-$HOME/.cache/mvc/dvc-venv}"
say() { echo "dvc-env: $*" >&2; }
die() { local code=$1; shift; echo "dvc-env: ERROR: $*" >&2; exit "$code"; }

base_python="${MVC_PYTHON_BASE:-python3}"
command -v "$base_python" >/dev/null 2>&1 || die 2 "no '$base_python' on PATH; install Python 3.9+ or set MVC_PYTHON_BASE"
pyver=$("$base_python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])') || die 2 "'$base_python' does not run"
want="dvc $DVC_VERSION python $pyver"
marker="$venv/.mvc-env-ok"
cli="$venv/bin/dvc"
if [[ -x "$cli" && -f "$marker" && "$(cat "$marker")" == "$want" ]]; then echo "$cli"; exit 0; fi

mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [[ -x "$cli" && -f "$marker" && "$(cat "$marker")" == "$want" ]]; then echo "$cli"; exit 0; fi

say "creating $venv with dvc $DVC_VERSION (Python $pyver); a minute or two"
rm -rf "$venv"
"$base_python" -m venv "$venv" >&2 || die 1 "python -m venv failed"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "dvc==$DVC_VERSION" >&2 || die 1 "pip install dvc==$DVC_VERSION failed"
got=$("$cli" --version 2>/dev/null) || die 1 "dvc does not run"
say "dvc $got"
echo "$want" > "$marker"
echo "$cli"
