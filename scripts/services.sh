#!/usr/bin/env bash
# Makes sure Redis, a three-master Redis Cluster, Postgres and a Docker engine are reachable for the test suite, then prints the environment
# to use them (eval "$(bash scripts/services.sh)").
#
#   - REDIS_URL / DATABASE_URL / DOCKER_HOST already set and reachable: used as they are.
#   - Debian/Ubuntu as root: installs what is missing with apt and starts it under .services/ (loopback only).
#   - Anywhere else: stops with a message naming what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="$PWD/.services"
REDIS_PORT="${RECLAIM_TEST_REDIS_PORT:-6390}"
PG_PORT="${RECLAIM_TEST_PG_PORT:-5439}"
CLUSTER_PORTS="${RECLAIM_TEST_REDIS_CLUSTER_PORTS:-7001 7002 7003}"
log() { echo "services: $*" >&2; }
die() { echo "services: $*" >&2; exit 1; }
can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
APT_UPDATED=""
apt_install() {
  can_apt || return 1
  if [ -z "$APT_UPDATED" ]; then apt-get update -qq >&2 || true; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

redis_ok() { node -e 'const s=require("net").connect(+process.argv[2],process.argv[1]);s.on("connect",()=>{s.write("PING\r\n")});s.on("data",d=>process.exit(d.toString().startsWith("+PONG")?0:1));s.on("error",()=>process.exit(1));setTimeout(()=>process.exit(1),2000)' "$1" "$2"; }

ensure_redis() {
  if [ -n "${REDIS_URL:-}" ]; then echo "export REDIS_URL='$REDIS_URL'"; return; fi
  if ! redis_ok 127.0.0.1 "$REDIS_PORT"; then
    command -v redis-server >/dev/null || apt_install redis-server || die "Redis is missing: set REDIS_URL or install redis-server"
    mkdir -p "$STATE/redis"
    redis-server --daemonize yes --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
      --dir "$STATE/redis" --logfile "$STATE/redis/redis.log" >&2
    for _ in $(seq 50); do redis_ok 127.0.0.1 "$REDIS_PORT" && break; sleep 0.1; done
    redis_ok 127.0.0.1 "$REDIS_PORT" || die "Redis did not start (see $STATE/redis/redis.log)"
    log "redis started on 127.0.0.1:$REDIS_PORT"
  fi
  echo "export REDIS_URL='redis://127.0.0.1:$REDIS_PORT'"
}

cluster_ok() { [ "$(redis-cli -h 127.0.0.1 -p "$1" cluster info 2>/dev/null | tr -d '\r' | grep '^cluster_state:')" = "cluster_state:ok" ]; }

# A three-master Redis Cluster on loopback (no replicas), for tests of hooks that must work on Redis Cluster.
ensure_redis_cluster() {
  local nodes="" port first="" ok=""
  for port in $CLUSTER_PORTS; do nodes="${nodes:+$nodes,}127.0.0.1:$port"; first="${first:-$port}"; done
  if [ -n "${REDIS_CLUSTER_NODES:-}" ]; then echo "export REDIS_CLUSTER_NODES='$REDIS_CLUSTER_NODES'"; return; fi
  if ! cluster_ok "$first"; then
    command -v redis-server >/dev/null || apt_install redis-server || die "Redis is missing: set REDIS_CLUSTER_NODES or install redis-server"
    local fresh=""
    for port in $CLUSTER_PORTS; do
      local dir="$STATE/redis-cluster/$port"
      if ! redis_ok 127.0.0.1 "$port"; then
        # Without persistence a restarted node knows no data; start it with a clean slate so `cluster create` works.
        rm -rf "$dir"; mkdir -p "$dir"
        redis-server --daemonize yes --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
          --cluster-config-file "$dir/nodes.conf" --dir "$dir" --save '' --appendonly no --logfile "$dir/redis.log" >&2
        fresh=1
      fi
    done
    for port in $CLUSTER_PORTS; do
      for _ in $(seq 50); do redis_ok 127.0.0.1 "$port" && break; sleep 0.1; done
      redis_ok 127.0.0.1 "$port" || die "Redis cluster node $port did not start (see $STATE/redis-cluster/$port/redis.log)"
    done
    if ! cluster_ok "$first"; then
      [ -n "$fresh" ] || die "Redis cluster on ports $CLUSTER_PORTS is running but not ok: run 'bash scripts/services.sh stop' and retry"
      # shellcheck disable=SC2086
      echo yes | redis-cli --cluster create $(for port in $CLUSTER_PORTS; do printf '127.0.0.1:%s ' "$port"; done) \
        --cluster-replicas 0 >"$STATE/redis-cluster/create.log" 2>&1 || die "redis-cli --cluster create failed (see $STATE/redis-cluster/create.log)"
    fi
    for _ in $(seq 100); do
      ok=1; for port in $CLUSTER_PORTS; do cluster_ok "$port" || ok=""; done
      [ -n "$ok" ] && break; sleep 0.1
    done
    [ -n "$ok" ] || die "Redis cluster did not reach cluster_state:ok (see $STATE/redis-cluster/)"
    log "redis cluster started on $nodes"
  fi
  echo "export REDIS_CLUSTER_NODES='$nodes'"
}

pg_bin() {
  local dir; dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$dir" ] && echo "$dir"
}

# Runs a shell command line as the postgres user when root (Postgres refuses to run as root), else as is.
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi; }

# Starts a Postgres cluster in DATA (initdb first when it holds none) on 127.0.0.1:PORT with its socket in DATA; the
# rest of the arguments go to the server (e.g. -c fsync=off). DATA, its log and socket belong to the postgres user.
pg_cluster_start() {
  local data port="$2"; data=$(realpath -m "$1"); shift 2
  local bin; bin=$(pg_bin) || die "no Postgres under /usr/lib/postgresql"
  mkdir -p "$data"; [ "$(id -u)" = 0 ] && chown postgres:postgres "$data"; chmod 700 "$data"
  if [ ! -f "$data/PG_VERSION" ]; then
    as_postgres "'$bin/initdb' -D '$data' -U postgres --auth=trust -E UTF8 >/dev/null" >&2
  fi
  as_postgres "'$bin/pg_ctl' -D '$data' -l '$data/server.log' -w -o \"-p $port -k '$data' -c listen_addresses=127.0.0.1 $*\" start >/dev/null" >&2 \
    || die "Postgres did not start (see $data/server.log)"
}

# Stops the cluster in DATA (fast shutdown), if it runs.
pg_cluster_stop() {
  [ -f "$1/postmaster.pid" ] || return 0
  as_postgres "'$(pg_bin)/pg_ctl' -D '$1' stop -m fast >/dev/null" >&2
}

ensure_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then echo "export DATABASE_URL='$DATABASE_URL'"; return; fi
  local url="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  if ! pg_isready -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; then
    [ -n "$(pg_bin)" ] || apt_install postgresql || die "Postgres is missing: set DATABASE_URL or install postgresql"
    [ "$(id -u)" = 0 ] || die "Postgres is not running on 127.0.0.1:$PG_PORT: set DATABASE_URL"
    # fsync and full-page writes off: a test-suite speed choice, no production server runs like this (benchmarks
    # that write to Postgres start a cluster of their own with the defaults: scripts/bench/postgres.mjs)
    pg_cluster_start "$STATE/postgres" "$PG_PORT" -c fsync=off -c full_page_writes=off
    log "postgres started on 127.0.0.1:$PG_PORT"
  fi
  echo "export DATABASE_URL='$url'"
}

ensure_docker() {
  if [ -n "${DOCKER_HOST:-}" ]; then echo "export DOCKER_HOST='$DOCKER_HOST'"; return; fi
  if ! docker info >/dev/null 2>&1; then
    command -v dockerd >/dev/null || apt_install docker.io || die "No Docker engine: set DOCKER_HOST or install docker.io"
    [ "$(id -u)" = 0 ] || die "The Docker engine is not running and only root can start it: set DOCKER_HOST"
    mkdir -p "$STATE"
    (setsid dockerd >"$STATE/dockerd.log" 2>&1 &)
    for _ in $(seq 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || die "dockerd did not start (see $STATE/dockerd.log)"
    log "docker engine started"
  fi
  echo "export DOCKER_HOST='unix:///var/run/docker.sock'"
}

ensure_tools() {
  # promtool (metrics lint, alert-rule tests) and busybox (tiny local test images) when apt can get them.
  command -v promtool >/dev/null || apt_install prometheus || log "promtool not available: metric lint tests will be skipped"
  [ -x /bin/busybox ] || apt_install busybox-static || log "busybox not available"
  command -v sqlite3 >/dev/null || apt_install sqlite3 || true
  # headless Chromium for the console test (packages/cli/console_test.ts, driven by playwright-core)
  [ -x /usr/bin/chromium ] || apt_install chromium || log "chromium not available: the console test will be skipped"
}

what="${1:-all}"
case "$what" in
  all) ensure_tools; ensure_redis; ensure_redis_cluster; ensure_postgres; ensure_docker ;;
  redis) ensure_redis ;;
  redis-cluster) ensure_redis_cluster ;;
  postgres) ensure_postgres ;;
  docker) ensure_docker ;;
  stop)
    redis-cli -p "$REDIS_PORT" shutdown nosave 2>/dev/null || true
    for port in $CLUSTER_PORTS; do redis-cli -p "$port" shutdown nosave 2>/dev/null || true; done
    pg_cluster_stop "$STATE/postgres" || true ;;
  # a Postgres cluster of a benchmark's own (scripts/bench/postgres.mjs): pg-start DATA PORT [server args], pg-stop DATA
  pg-start) [ $# -ge 3 ] || die "usage: services.sh pg-start DATA PORT [-c name=value ...]"; shift; pg_cluster_start "$@" ;;
  pg-stop) [ $# -eq 2 ] || die "usage: services.sh pg-stop DATA"; pg_cluster_stop "$2" ;;
  *) die "usage: services.sh [all|redis|redis-cluster|postgres|docker|stop|pg-start DATA PORT [args]|pg-stop DATA]" ;;
esac
