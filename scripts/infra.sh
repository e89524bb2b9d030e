#!/usr/bin/env bash
# Local PostgreSQL 15, Redis 7, RabbitMQ 3.10, an SMTP sink and Prometheus on loopback, fixed non-default ports, data under .run/.
#   scripts/infra.sh up [postgres|redis|rabbitmq|smtp|prometheus]...   start (idempotent); installs Debian packages if missing
#   scripts/infra.sh down [service]...                 stop only what `up` started (pid/marker files under .run/infra)
#   scripts/infra.sh start|stop <service>              same as up/down for one service (used by fault tests)
#   scripts/infra.sh env                               connection settings as shell exports
#   scripts/infra.sh status                            what is running
#   scripts/infra.sh prometheus-sale <sale> [ns]       label the local Prometheus's targets with the sale's name
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="${FLASHSALE_RUN_DIR:-$ROOT/.run}"
STATE="$RUN/infra"
PG_PORT="${FLASHSALE_PG_PORT:-54329}"
REDIS_PORT="${FLASHSALE_REDIS_PORT:-63790}"
AMQP_PORT="${FLASHSALE_AMQP_PORT:-56720}"
AMQP_DIST_PORT="${FLASHSALE_AMQP_DIST_PORT:-$((AMQP_PORT + 1))}"
EPMD_PORT="${FLASHSALE_EPMD_PORT:-43690}"
SMTP_PORT="${FLASHSALE_SMTP_PORT:-25250}"
MAILDIR="$RUN/mail"
PROMETHEUS_PORT="${FLASHSALE_PROMETHEUS_PORT:-9091}"
PROMETHEUS_DIR="$RUN/prometheus"
RABBIT_NODE="${FLASHSALE_RABBIT_NODE:-flashsale}@localhost"
PG_USER=flashsale
PG_PASSWORD="${FLASHSALE_PG_PASSWORD:-flashsale-dev}"
PG_DB=flashsale

# Data of servers that run as their own users (postgres, rabbitmq) must be reachable by those users: when the
# checkout lives under a directory they cannot traverse (e.g. /root), keep that data under /var/tmp instead.
server_dir() { # service
  local dir="$RUN/$1" user=$1
  [[ $1 == rabbitmq ]] && user=rabbitmq
  if [[ $(id -u) -eq 0 ]] && id "$user" >/dev/null 2>&1; then
    mkdir -p "$RUN"
    if ! runuser -u "$user" -- test -x "$RUN" 2>/dev/null; then
      dir="/var/tmp/flashsale-$(printf '%s' "$RUN" | cksum | cut -d' ' -f1)/$1"
    fi
  fi
  echo "$dir"
}

log() { printf '[infra] %s\n' "$*" >&2; }
die() { printf '[infra] error: %s\n' "$*" >&2; exit 1; }

pg_bin() {
  local d
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [[ -x "$d/postgres" ]] && { echo "$d"; return; }
  done
  return 1
}

need_packages() {
  local missing=()
  pg_bin >/dev/null || missing+=(postgresql-15)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v openssl >/dev/null || missing+=(openssl)
  # A real SMTP server for the notification tests (Debian's python3, not whatever python3 is first on PATH).
  [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || missing+=(python3-aiosmtpd)
  ((${#missing[@]} == 0)) && return 0
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      die "missing Debian packages: ${missing[*]}. Install them with: sudo apt-get install -y ${missing[*]}"
    fi
  fi
  log "installing Debian packages: ${missing[*]}"
  # Keep the packages' own init scripts from starting system-wide daemons on default ports.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee $policy >/dev/null; $sudo chmod +x $policy; made_policy=1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  ((made_policy)) && $sudo rm -f $policy
  return 0
}

as_postgres() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_ready() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null; }

up_postgres() {
  local bin pgdir; pgdir="$(server_dir postgres)"
  local data="$pgdir/data" sock="$pgdir/sock"
  bin="$(pg_bin)" || die "PostgreSQL binaries not found"
  if pg_ready; then log "postgres already running on 127.0.0.1:$PG_PORT"; return; fi
  mkdir -p "$pgdir" "$sock"
  [[ $(id -u) -eq 0 ]] && chown -R postgres:postgres "$pgdir"
  if [[ ! -s "$data/PG_VERSION" ]]; then
    log "initdb $data"
    local pw="$pgdir/pwfile"; echo "$PG_PASSWORD" > "$pw"; [[ $(id -u) -eq 0 ]] && chown postgres "$pw"
    as_postgres "$bin/initdb" -D "$data" -U "$PG_USER" --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null
    rm -f "$pw"
    cat >> "$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$sock'
max_connections = 400
shared_buffers = 256MB
fsync = on
synchronous_commit = on
logging_collector = off
CONF
  fi
  as_postgres "$bin/pg_ctl" -D "$data" -l "$pgdir/postgres.log" -w -t 60 start >/dev/null
  touch "$STATE/postgres.started"
  if ! as_postgres "$bin/psql" -h "$sock" -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc "select 1 from pg_database where datname='$PG_DB'" | grep -q 1; then
    as_postgres "$bin/psql" -h "$sock" -p "$PG_PORT" -U "$PG_USER" -d postgres -qc "create database $PG_DB" >/dev/null
  fi
  log "postgres ready on 127.0.0.1:$PG_PORT"
}

down_postgres() {
  local bin; bin="$(pg_bin)" || return 0
  local pgdir; pgdir="$(server_dir postgres)"
  if [[ -f "$STATE/postgres.started" ]] && [[ -s "$pgdir/data/postmaster.pid" ]]; then
    as_postgres "$bin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null || true
    log "postgres stopped"
  fi
  rm -f "$STATE/postgres.started"
}

redis_ready() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

# Redis decides every order alone, on one thread: on a machine it shares with the services, the load generator and
# PostgreSQL, each time it loses its core every order in flight waits. Its latency monitor showed commands of 5-26 ms wall
# time (reserve.lua calls, the relay's reads) in most seconds of a `make bench` run, and O(1) commands of up to 20 ms:
# Redis waiting for a core, not working. So the Redis this script starts gets the CPU first where the user may say so
# (root, or CAP_SYS_NICE):
# - FLASHSALE_REDIS_PRIORITY=realtime (the default): SCHED_FIFO 1 for its threads, reset on fork, so the child that
#   rewrites the AOF runs at normal priority. Redis sleeps in epoll when idle, and the kernel keeps 5 % of each second for
#   normal tasks (sched_rt_runtime_us), so the other processes still run.
# - nice: nice -10 (also the fallback when real-time scheduling is refused).
# - none: the default priority.
# Elsewhere it stays at the default, and this says so. In Kubernetes the counterpart is a CPU of its own for Redis
# (Guaranteed QoS, the static CPU manager), not a shared one: docs/operations.md, "Production Redis".
REDIS_NICE=-10
REDIS_PRIORITY=${FLASHSALE_REDIS_PRIORITY:-realtime}
check_redis_priority() {
  case $REDIS_PRIORITY in
    realtime|nice|none) ;;
    *) die "FLASHSALE_REDIS_PRIORITY must be realtime, nice or none (got '$REDIS_PRIORITY')";;
  esac
}
# Normal scheduling at nice $2 for every thread of process $1; fails when the nice value may not be set.
redis_at_nice() { chrt -o -a -p 0 "$1" >/dev/null 2>&1; renice -n "$2" -p "$1" >/dev/null 2>&1; }
prioritize_redis() {
  local pid
  pid=$(cat "$RUN/redis/redis.pid" 2>/dev/null) || return 0
  [[ -n $pid && -d /proc/$pid ]] || return 0
  if [[ $REDIS_PRIORITY == none ]]; then
    redis_at_nice "$pid" 0
    log "redis runs at the default CPU priority (FLASHSALE_REDIS_PRIORITY=none)"
    return 0
  fi
  if [[ $REDIS_PRIORITY == realtime ]] && command -v chrt >/dev/null && chrt -f -R -a -p 1 "$pid" >/dev/null 2>&1; then
    log "redis runs with real-time priority (SCHED_FIFO 1; its AOF rewrites at normal priority): it gets a core first"
  elif redis_at_nice "$pid" "$REDIS_NICE"; then
    log "redis runs at CPU priority nice $REDIS_NICE (ahead of the services and the load generator on shared cores)"
  else
    log "redis runs at the default CPU priority: raising it needs root or CAP_SYS_NICE (latency under load will show Redis losing its core)"
  fi
}

up_redis() {
  check_redis_priority # before starting anything
  if redis_ready; then
    log "redis already running on 127.0.0.1:$REDIS_PORT"
    if [[ -f "$STATE/redis.started" ]]; then prioritize_redis; fi # started by this script: raise it (again) if allowed
    return 0
  fi
  mkdir -p "$RUN/redis"
  # AOF with fsync every second. It is compacted from 1 GB on instead of Redis's 64 MB: every `make bench` run appends a few
  # hundred MB, and each compaction forks a child that takes one of this machine's two cores in the middle of a measurement.
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN/redis" --appendonly yes --appendfsync everysec \
    --auto-aof-rewrite-min-size 1gb \
    --daemonize yes --pidfile "$RUN/redis/redis.pid" --logfile "$RUN/redis/redis.log" --maxclients 10000 \
    --save "" >/dev/null
  for _ in $(seq 1 100); do redis_ready && break; sleep 0.1; done
  redis_ready || die "redis did not start; see $RUN/redis/redis.log"
  touch "$STATE/redis.started"
  prioritize_redis
  log "redis ready on 127.0.0.1:$REDIS_PORT"
}

down_redis() {
  if [[ -f "$STATE/redis.started" ]] && redis_ready; then
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
    for _ in $(seq 1 50); do redis_ready || break; sleep 0.1; done
    log "redis stopped"
  fi
  rm -f "$STATE/redis.started"
}

rabbit_env() {
  RDIR="$(server_dir rabbitmq)"
  export RABBITMQ_NODENAME="$RABBIT_NODE" RABBITMQ_NODE_PORT="$AMQP_PORT" RABBITMQ_DIST_PORT="$AMQP_DIST_PORT"
  export ERL_EPMD_PORT="$EPMD_PORT"
  export RABBITMQ_MNESIA_BASE="$RDIR/mnesia" RABBITMQ_LOG_BASE="$RDIR/log"
  export RABBITMQ_CONFIG_FILE="$RDIR/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$RDIR/enabled_plugins"
  export RABBITMQ_PID_FILE="$RDIR/rabbitmq.pid" RABBITMQ_ADVANCED_CONFIG_FILE="$RDIR/advanced.config"
}

rabbit_ready() { rabbit_env; timeout 20 rabbitmqctl -q -n "$RABBIT_NODE" await_startup >/dev/null 2>&1; }
rabbit_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$AMQP_PORT") 2>/dev/null; }

up_rabbitmq() {
  rabbit_env
  if rabbit_port_open && rabbit_ready; then log "rabbitmq already running on 127.0.0.1:$AMQP_PORT"; return; fi
  mkdir -p "$RDIR/mnesia" "$RDIR/log"
  cat > "$RDIR/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$AMQP_PORT
loopback_users.guest = true
log.console = false
log.file.level = info
vm_memory_high_watermark.relative = 0.6
disk_free_limit.absolute = 200MB
CONF
  echo '[].' > "$RDIR/enabled_plugins"
  echo '[].' > "$RDIR/advanced.config"
  if [[ $(id -u) -eq 0 ]]; then chown -R rabbitmq:rabbitmq "$RDIR"; fi
  log "starting rabbitmq ($RABBIT_NODE)"
  # The broker reserves a file handle per connection and per queue segment: with the 1024 that `su` (used by the
  # Debian wrapper) resets the limit to, it stops accepting connections after a few hundred queues. Start it as its
  # user without PAM (setpriv keeps our raised limit).
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
    setsid nohup setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups env HOME=/var/lib/rabbitmq \
      /usr/lib/rabbitmq/bin/rabbitmq-server >"$RDIR/stdout.log" 2>&1 < /dev/null &
  else
    setsid nohup rabbitmq-server >"$RDIR/stdout.log" 2>&1 < /dev/null &
  fi
  for _ in $(seq 1 60); do rabbit_port_open && break; sleep 0.5; done
  rabbit_ready || die "rabbitmq did not start; see $RDIR/log and $RDIR/stdout.log"
  touch "$STATE/rabbitmq.started"
  log "rabbitmq ready on 127.0.0.1:$AMQP_PORT"
}

down_rabbitmq() {
  rabbit_env
  if [[ -f "$STATE/rabbitmq.started" ]] && rabbit_port_open; then
    timeout 60 rabbitmqctl -q -n "$RABBIT_NODE" stop >/dev/null 2>&1 || true
    log "rabbitmq stopped"
  fi
  rm -f "$STATE/rabbitmq.started"
}

# The SMTP sink: aiosmtpd (Debian's python3-aiosmtpd) delivering every mail into the Maildir .run/mail (one file a mail,
# in new/), where a user reads what the platform sent.
smtp_ready() { (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null; }

# start_daemon <name> <ready-check> <tries of 0.1 s> <command...>: a server of ours in the background, its pid and a
# started marker under .run/infra (stop_daemon stops only what this started).
start_daemon() {
  local name=$1 ready=$2 tries=$3; shift 3
  setsid nohup "$@" >"$STATE/$name.log" 2>&1 < /dev/null &
  echo $! > "$STATE/$name.pid"
  for _ in $(seq 1 "$tries"); do "$ready" && break; sleep 0.1; done
  "$ready" || die "$name did not start; see $STATE/$name.log"
  touch "$STATE/$name.started"
}

stop_daemon() { # name ready-check
  if [[ -f "$STATE/$1.started" && -f "$STATE/$1.pid" ]]; then
    kill "$(cat "$STATE/$1.pid")" 2>/dev/null || true
    for _ in $(seq 1 100); do "$2" || break; sleep 0.1; done
    log "$1 stopped"
  fi
  rm -f "$STATE/$1.started" "$STATE/$1.pid"
}

up_smtp() {
  if smtp_ready; then log "smtp sink already running on 127.0.0.1:$SMTP_PORT"; return; fi
  mkdir -p "$MAILDIR"/{new,cur,tmp}
  start_daemon smtp smtp_ready 100 /usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$MAILDIR"
  log "smtp sink ready on 127.0.0.1:$SMTP_PORT (mails in $MAILDIR/new)"
}

down_smtp() { stop_daemon smtp smtp_ready; }

# Prometheus (Debian's package) scraping the local services at the ports of the operator's local table (users 5101, orders
# 5102, stock 5103, notifications 5104) with the chart's alert rules loaded. Not 9090: a system Prometheus may own it.
# Targets get the labels Kubernetes would give them (namespace, service <sale>-<component>), with the sale name
# FLASHSALE_PROMETHEUS_SALE (default "local") until `make run`/`make up` names the sale (prometheus-sale below).
prometheus_ready() { curl -fs -o /dev/null "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" 2>/dev/null; }

prometheus_config() {
  local sale="${FLASHSALE_PROMETHEUS_SALE:-local}" ns="${FLASHSALE_PROMETHEUS_NAMESPACE:-default}" port=5101 component
  cat <<YAML
# Generated by scripts/infra.sh up prometheus; rewritten at every start.
global:
  scrape_interval: 5s
  evaluation_interval: 15s
rule_files:
  - $ROOT/charts/flashsale-operator/files/prometheus/flashsale-rules.yaml
scrape_configs:
  - job_name: flashsale
    static_configs:
YAML
  for component in users orders stock notifications; do
    cat <<YAML
      - targets: ['127.0.0.1:$port']
        labels: {namespace: '$ns', service: '$sale-$component', flashsale_dev_sale: '$sale', app_kubernetes_io_component: '$component'}
YAML
    port=$((port + 1))
  done
}

up_prometheus() {
  if prometheus_ready; then log "prometheus already running on 127.0.0.1:$PROMETHEUS_PORT"; return; fi
  mkdir -p "$PROMETHEUS_DIR/data"
  prometheus_config > "$PROMETHEUS_DIR/prometheus.yml"
  start_daemon prometheus prometheus_ready 300 /usr/bin/prometheus --config.file="$PROMETHEUS_DIR/prometheus.yml" \
    --storage.tsdb.path="$PROMETHEUS_DIR/data" --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --storage.tsdb.retention.time=2d
  log "prometheus ready on http://127.0.0.1:$PROMETHEUS_PORT (config $PROMETHEUS_DIR/prometheus.yml)"
}

down_prometheus() { stop_daemon prometheus prometheus_ready; }

# prometheus-sale <sale> [namespace]: names the sale on the targets once `make run`/`make up` has named it (the dashboard's
# sale variable lists these labels); the running Prometheus rereads its configuration on SIGHUP.
label_prometheus() {
  [[ -n "${1:-}" ]] || die "usage: scripts/infra.sh prometheus-sale <sale> [namespace]"
  mkdir -p "$PROMETHEUS_DIR"
  FLASHSALE_PROMETHEUS_SALE=$1 FLASHSALE_PROMETHEUS_NAMESPACE=${2:-default} prometheus_config > "$PROMETHEUS_DIR/prometheus.yml"
  if prometheus_ready && [[ -f "$STATE/prometheus.pid" ]]; then kill -HUP "$(cat "$STATE/prometheus.pid")"; fi
}

print_env() {
  cat <<ENV
export FLASHSALE_POSTGRES='Host=127.0.0.1;Port=$PG_PORT;Database=$PG_DB;Username=$PG_USER;Password=$PG_PASSWORD'
export FLASHSALE_REDIS='127.0.0.1:$REDIS_PORT'
export FLASHSALE_RABBITMQ='amqp://guest:guest@127.0.0.1:$AMQP_PORT/'
export FLASHSALE_SMTP_HOST='127.0.0.1' FLASHSALE_SMTP_PORT='$SMTP_PORT' FLASHSALE_MAILDIR='$MAILDIR'
export FLASHSALE_PROMETHEUS_URL='http://127.0.0.1:$PROMETHEUS_PORT'
ENV
}

status() {
  pg_ready && echo "postgres  up    127.0.0.1:$PG_PORT" || echo "postgres  down  127.0.0.1:$PG_PORT"
  redis_ready && echo "redis     up    127.0.0.1:$REDIS_PORT" || echo "redis     down  127.0.0.1:$REDIS_PORT"
  rabbit_port_open && echo "rabbitmq  up    127.0.0.1:$AMQP_PORT" || echo "rabbitmq  down  127.0.0.1:$AMQP_PORT"
  smtp_ready && echo "smtp      up    127.0.0.1:$SMTP_PORT" || echo "smtp      down  127.0.0.1:$SMTP_PORT"
  prometheus_ready && echo "prometheus up   127.0.0.1:$PROMETHEUS_PORT" || echo "prometheus down 127.0.0.1:$PROMETHEUS_PORT"
}

services() { if (($# == 0)); then echo postgres redis rabbitmq smtp prometheus; else echo "$@"; fi; }

cmd="${1:-}"; shift || true
mkdir -p "$STATE"
case "$cmd" in
  up|start)
    need_packages
    for s in $(services "$@"); do
      case $s in postgres|redis|rabbitmq|smtp|prometheus) "up_$s";; *) die "unknown service: $s";; esac
    done ;;
  down|stop)
    for s in $(services "$@"); do
      case $s in postgres|redis|rabbitmq|smtp|prometheus) "down_$s";; *) die "unknown service: $s";; esac
    done ;;
  env) print_env ;;
  status) status ;;
  prometheus-sale) label_prometheus "$@" ;;
  *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
