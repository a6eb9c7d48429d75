#!/usr/bin/env bash
# A throw-away Ceph RADOS Gateway (S3) on 127.0.0.1 for mvc's S3 tests (docs/s3.md, "Tests and the test server").
#
#   bash scripts/radosgw.sh start    # install Debian's ceph packages if missing, start mon + osd + rgw, create the test user
#   eval "$(bash scripts/radosgw.sh env)"   # AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, … and MVC_S3_TEST=1
#   bash scripts/radosgw.sh status   # exit 0 iff the gateway answers
#   bash scripts/radosgw.sh stop     # kill the daemons, remove the data folder
#
# One monitor, one OSD whose object store is memstore (RAM only, capped by MVC_RGW_MEMSTORE_BYTES), and
# one radosgw, all as root, all bound to 127.0.0.1, cephx on, no mgr (nothing here needs one). Everything
# lives in $MVC_RGW_DIR (default /tmp/mvc-radosgw): config, keyrings, mon store, logs, pid files.
# `start` is idempotent (a running, answering gateway is left alone; a half-started one is torn down and
# started again) and `stop` is safe to run twice.
#
# Environment: MVC_RGW_DIR, MVC_RGW_PORT (S3, default 7480), MVC_RGW_MON_PORT (default 3300),
# MVC_RGW_MEMSTORE_BYTES (default 2 GiB), MVC_RGW_START_TIMEOUT (seconds, default 120).
set -eEuo pipefail

DIR="${MVC_RGW_DIR:-/tmp/mvc-radosgw}"
PORT="${MVC_RGW_PORT:-7480}"
MON_PORT="${MVC_RGW_MON_PORT:-3300}"
MEMSTORE_BYTES="${MVC_RGW_MEMSTORE_BYTES:-2147483648}"
TIMEOUT="${MVC_RGW_START_TIMEOUT:-120}"
HOST=127.0.0.1
ENDPOINT="http://$HOST:$PORT"
# Fixed test credentials: this server holds nothing but test data and listens on loopback only.
ACCESS_KEY=MVCTESTACCESSKEY0001
SECRET_KEY=mvcTestSecretKey0000000000000000000000001
RO_ACCESS_KEY=MVCTESTREADONLYKEY01
RO_SECRET_KEY=mvcTestReadOnlySecret00000000000000000001
CONF="$DIR/ceph.conf"
RGW_NAME=client.rgw.mvc
PACKAGES=(ceph-mon ceph-osd radosgw)

log () { echo "radosgw.sh: $*" >&2; }
die () { log "error: $*"; [[ -d "$DIR/run" ]] && kill_daemons; exit 1; }
now () { date +%s.%N; }
since () { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

ceph_ () { timeout 30 ceph -c "$CONF" -n client.admin "$@"; }

answers () {
  # Any HTTP answer from the gateway (an anonymous GET / gets 200 with an empty bucket list).
  curl -s -o /dev/null -m 2 -w '%{http_code}' "$ENDPOINT/" 2>/dev/null | grep -q '^[1-5][0-9][0-9]$'
}

pid_alive () { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

running () {
  [[ -f "$DIR/ready" ]] && pid_alive "$DIR/run/mon.a.pid" && pid_alive "$DIR/run/osd.0.pid" && pid_alive "$DIR/run/rgw.pid" && answers
}

need_tools () {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] || missing+=("$p")
  done
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v uuidgen >/dev/null 2>&1 || missing+=(uuid-runtime)
  if ((${#missing[@]} > 0)); then
    log "installing ${missing[*]} (Debian packages; about a minute)"
    [[ $(id -u) -eq 0 ]] || die "need root to apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # apt-get update only when the package lists have never been fetched or the install fails.
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$DIR.apt.log" 2>&1; then
      apt-get update -q >>"$DIR.apt.log" 2>&1 || true
      apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$DIR.apt.log" 2>&1 || { tail -20 "$DIR.apt.log" >&2; die "apt-get install ${missing[*]} failed (log: $DIR.apt.log)"; }
    fi
  fi
}

port_free () { ! (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

kill_pidfile () {
  local f=$1 pid
  [[ -f "$f" ]] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

kill_daemons () {
  kill_pidfile "$DIR/run/rgw.pid"
  kill_pidfile "$DIR/run/osd.0.pid"
  kill_pidfile "$DIR/run/mon.a.pid"
}

do_stop () {
  if [[ -d "$DIR" ]]; then
    kill_daemons
    # Only a folder this script made (it holds our marker) is removed.
    if [[ -f "$DIR/.mvc-radosgw" ]]; then rm -rf "$DIR"; else log "$DIR was not made by this script; left in place"; fi
  fi
  rm -f "$DIR.apt.log"
}

wait_for () { # wait_for <what> <seconds> <command…>
  local what=$1 limit=$2; shift 2
  local t0; t0=$(now)
  until "$@" >/dev/null 2>&1; do
    if awk -v a="$t0" -v b="$(now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }'; then
      log "timed out after ${limit}s waiting for $what; last lines of the logs:"
      tail -n 15 "$DIR"/log/*.log >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.2
  done
}

osd_up () { ceph_ osd dump 2>/dev/null | grep -q '^osd.0 up'; }

do_start () {
  if running; then log "already running at $ENDPOINT ($DIR)"; return 0; fi
  [[ -e "$DIR" ]] && { log "removing a stale or half-started instance in $DIR"; do_stop; }
  local t0; t0=$(now)
  port_free "$PORT" || die "port $PORT on $HOST is in use (set MVC_RGW_PORT)"
  port_free "$MON_PORT" || die "port $MON_PORT on $HOST is in use (set MVC_RGW_MON_PORT)"
  mkdir -p "$DIR"
  touch "$DIR/.mvc-radosgw"
  # A start that fails part-way stops what it started and keeps the logs for a look.
  trap 'log "start failed; logs are in $DIR/log"; kill_daemons' ERR
  need_tools
  local t_ready; t_ready=$(now)
  mkdir -p "$DIR"/{run,log,mon/ceph-a,osd/ceph-0,rgw}
  local fsid; fsid=$(uuidgen)

  sed -e "s|@DIR@|$DIR|g" -e "s|@FSID@|$fsid|g" -e "s|@HOST@|$HOST|g" -e "s|@MON_PORT@|$MON_PORT|g" \
      -e "s|@PORT@|$PORT|g" -e "s|@MEMSTORE_BYTES@|$MEMSTORE_BYTES|g" -e "s|@RGW_NAME@|$RGW_NAME|g" \
      "$(dirname "$0")/radosgw.conf.in" >"$CONF"

  # Keys: mon., client.admin (both in the admin keyring that seeds the monitor).
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$DIR/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:$HOST:$MON_PORT]" "$DIR/monmap" >/dev/null

  ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap" --keyring "$DIR/keyring" >/dev/null
  ceph-mon -c "$CONF" -i a 2>>"$DIR/log/mon.a.stderr"
  wait_for "the monitor" 30 ceph_ mon stat || die "the monitor did not start"
  local t_mon; t_mon=$(since "$t_ready")

  # One OSD on memstore.
  local osd_uuid; osd_uuid=$(uuidgen)
  ceph-osd -c "$CONF" -i 0 --mkfs --mkkey --no-mon-config --osd-uuid "$osd_uuid" >"$DIR/log/osd-mkfs.out" 2>&1 || { cat "$DIR/log/osd-mkfs.out" >&2; die "ceph-osd --mkfs failed"; }
  ceph_ osd new "$osd_uuid" 0 >/dev/null
  ceph_ auth add osd.0 osd 'allow *' mon 'allow profile osd' -i "$DIR/osd/ceph-0/keyring" >/dev/null 2>&1
  # memstore keeps objects in malloc'd buffers; glibc would keep freed ones, so the OSD only ever grew.
  # Buffers of 64 KiB and more are mmap'd instead and go back to the system when objects are deleted.
  MALLOC_MMAP_THRESHOLD_=65536 MALLOC_TRIM_THRESHOLD_=1048576 ceph-osd -c "$CONF" -i 0 2>>"$DIR/log/osd.0.stderr"
  wait_for "the OSD" 60 osd_up || die "the OSD did not come up"
  local t_osd; t_osd=$(since "$t_ready")

  # The gateway (it creates its pools on first start).
  ceph_ auth get-or-create "$RGW_NAME" mon 'allow rw' osd 'allow rwx' -o "$DIR/rgw/keyring" >/dev/null
  radosgw -c "$CONF" -n "$RGW_NAME" 2>>"$DIR/log/rgw.stderr"
  wait_for "radosgw at $ENDPOINT" "$TIMEOUT" answers || die "radosgw did not answer at $ENDPOINT"
  local t_rgw; t_rgw=$(since "$t_ready")

  # S3 users with fixed keys: read-write, and one that tests grant read access to by bucket policy.
  radosgw-admin -c "$CONF" -n client.admin user create --uid=mvc-test --display-name="mvc tests" \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null
  radosgw-admin -c "$CONF" -n client.admin user create --uid=mvc-readonly --display-name="mvc tests (read-only)" \
    --access-key="$RO_ACCESS_KEY" --secret-key="$RO_SECRET_KEY" >/dev/null
  touch "$DIR/ready"
  log "radosgw answers at $ENDPOINT after $(since "$t0")s (mon up at ${t_mon}s, osd at ${t_osd}s, rgw at ${t_rgw}s, users at $(since "$t_ready")s after the package check); data in $DIR"
}

do_env () {
  cat <<EOF
export AWS_ENDPOINT_URL=$ENDPOINT
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=us-east-1
export MVC_S3_TEST=1
export MVC_S3_READONLY_ACCESS_KEY_ID=$RO_ACCESS_KEY
export MVC_S3_READONLY_SECRET_ACCESS_KEY=$RO_SECRET_KEY
export MVC_S3_READONLY_USER=mvc-readonly
EOF
}

do_status () {
  if running; then
    echo "running: $ENDPOINT (data in $DIR)"
    local rss
    rss=$(for f in mon.a osd.0 rgw; do ps -o rss= -p "$(cat "$DIR/run/$f.pid")"; done | awk '{ s += $1 } END { printf "%.0f", s / 1024 }')
    echo "memory (RSS of mon + osd + rgw): ${rss} MiB"
    return 0
  fi
  echo "not running ($ENDPOINT does not answer or a daemon is missing)"
  return 1
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  env) do_env ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
