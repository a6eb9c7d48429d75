#!/usr/bin/env bash
# Debian's Chromium for mvc's browser tests (test/ui.test.ts, driven by playwright-core).
#
#   bash scripts/chromium.sh          # install Debian's chromium package if missing; print the browser's path
#
# Installing needs root (apt-get), like scripts/radosgw.sh's ceph packages. When a browser is already
# there (MVC_CHROMIUM, or /usr/bin/chromium) nothing is installed. The last line of the output is the
# path; messages go to stderr.
set -euo pipefail

log () { echo "chromium.sh: $*" >&2; }
die () { log "error: $*"; exit 1; }

works () { [[ -x "$1" ]] && "$1" --headless --no-sandbox --version >/dev/null 2>&1; }

if [[ -n "${MVC_CHROMIUM:-}" ]]; then
  works "$MVC_CHROMIUM" || die "MVC_CHROMIUM=$MVC_CHROMIUM does not run"
  echo "$MVC_CHROMIUM"
  exit 0
fi

BIN=/usr/bin/chromium
if ! works "$BIN"; then
  log "installing Debian's chromium package (a few minutes the first time)"
  [[ $(id -u) -eq 0 ]] || die "need root to apt-get install chromium (or set MVC_CHROMIUM to a Chromium binary)"
  export DEBIAN_FRONTEND=noninteractive
  LOGFILE=$(mktemp /tmp/mvc-chromium-apt.XXXXXX.log)
  # apt-get update only when the package lists are stale or missing and the first try fails.
  if ! apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >"$LOGFILE" 2>&1; then
    apt-get update -q >>"$LOGFILE" 2>&1 || true
    apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >>"$LOGFILE" 2>&1 || { tail -20 "$LOGFILE" >&2; die "apt-get install chromium failed (log: $LOGFILE)"; }
  fi
  works "$BIN" || die "$BIN was installed but does not run (log: $LOGFILE)"
  rm -f "$LOGFILE"
fi
echo "$BIN"
