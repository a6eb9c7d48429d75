#!/usr/bin/env bash
# `npm test`: run every suite with Node's test runner against real servers and real TensorFlow.
# The S3 suites need an S3 endpoint. Unless one is configured (MVC_S3_TEST=1 with AWS_ENDPOINT_URL and
# keys) or explicitly skipped (MVC_SKIP_S3=1, reported as skipped), a throw-away Ceph radosgw is started
# on 127.0.0.1 (scripts/radosgw.sh; installs Debian's ceph packages on first use, needs root) and
# stopped on exit. If it cannot be started, the run fails: those tests are required.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${MVC_S3_TEST:-}" ] && [ -z "${MVC_SKIP_S3:-}" ]; then
  if bash scripts/radosgw.sh status >/dev/null 2>&1; then
    echo "using the radosgw that is already running"
  else
    trap 'bash scripts/radosgw.sh stop >/dev/null 2>&1 || true' EXIT
    bash scripts/radosgw.sh start
  fi
  eval "$(bash scripts/radosgw.sh env)"
fi
# The Python-TensorFlow runtime and the Keras/TensorFlow fixtures need a venv with pinned TensorFlow:
# scripts/python-env.sh builds it once outside the repository (~1.5 GB, a few minutes the first time)
# and prints its interpreter. MVC_PYTHON set by the caller is used as it is.
if [ -z "${MVC_PYTHON:-}" ]; then
  MVC_PYTHON=$(bash scripts/python-env.sh | tail -1)
  export MVC_PYTHON
fi
# The browser tests of `mvc ui` (test/ui.test.ts) drive Debian's Chromium: scripts/chromium.sh installs
# the package on first use (needs root) and prints the browser's path. MVC_CHROMIUM set by the caller is
# used as it is.
if [ -z "${MVC_CHROMIUM:-}" ]; then
  MVC_CHROMIUM=$(bash scripts/chromium.sh | tail -1)
  export MVC_CHROMIUM
fi
node --test --test-concurrency=2 dist/test/
