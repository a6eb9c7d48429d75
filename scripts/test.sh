#!/usr/bin/env bash
# `npm test`: run every suite with Node's test runner against real servers.
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
node --test --test-concurrency=2 dist/test/
