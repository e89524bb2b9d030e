#!/usr/bin/env bash
# The platform as local processes on loopback, started from the operator's rendering of the sale (FlashSale.Operator local
# --out: each service's environment exactly as its Deployment would get it, Secrets read from .run/secrets, in-cluster
# addresses mapped to the loopback ports of one table), against scripts/infra.sh's PostgreSQL, Redis, RabbitMQ and SMTP sink.
#   scripts/run-local.sh run    infra up, publish, the four services, the demo sale of examples/flashsale.yaml (buyers log in,
#                               burst, payments, expiries, resale, mails, audit), then stop what it started; exit 1 if the audit fails
#   scripts/run-local.sh up     same platform and a sale open for 1 hour, left running for manual use; prints the URLs
#   scripts/run-local.sh down   stop what `up` started (services, and infrastructure only if `up` had to start it)
# Knobs (environment): BUYERS (2000), ATTEMPTS (30000), CONNECTIONS (256), RATE (open loop, req/s; unset = closed loop),
# PAY_SHARE (0.6 of the winners pay), PAYMENT_TIMEOUT (45s in `run`), SALE_FILE (examples/flashsale.yaml), CONFIG (Release),
# KEEP_SALE=1 (keep the sale's Redis keys and queues after the run), KEEP_INFRA=1 (never stop the infrastructure),
# HASH_ITERATIONS (PBKDF2 for new passwords; 100000, the users service's minimum: registering thousands of buyers on 2 cores,
# one PBKDF2 run each, is the slow part of a first run; later runs reuse the tokens cached in .run/loadtest).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUN="$ROOT/.run"
LOCAL="$RUN/local"
APP="$RUN/app"
SECRETS="$RUN/secrets"
PLATFORM="$LOCAL/platform"
CONFIG="${CONFIG:-Release}"
BUYERS="${BUYERS:-2000}"; ATTEMPTS="${ATTEMPTS:-30000}"; CONNECTIONS="${CONNECTIONS:-256}"
SALE_FILE="${SALE_FILE:-examples/flashsale.yaml}"
SERVICES=(users orders stock notifications)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '[run] %s\n' "$*" >&2; }
die() { printf '[run] error: %s\n' "$*" >&2; exit 1; }
mkdir -p "$LOCAL/logs"

# Infrastructure: note which servers were down, so that only those are stopped afterwards.
infra_up() {
  local down=()
  while read -r name state _; do [[ $state == up ]] || down+=("$name"); done < <(scripts/infra.sh status)
  if ((${#down[@]})); then
    log "starting infrastructure: ${down[*]}"
    scripts/infra.sh up "${down[@]}"
  else
    log "infrastructure already running (left running afterwards)"
  fi
  # Empty when everything was already up (printf of an empty list would still write a newline).
  : > "$LOCAL/infra-started"
  ((${#down[@]})) && printf '%s\n' "${down[@]}" > "$LOCAL/infra-started"
  eval "$(scripts/infra.sh env)"
}

infra_down() {
  [[ ${KEEP_INFRA:-0} == 1 ]] && { rm -f "$LOCAL/infra-started"; return 0; }
  [[ -s $LOCAL/infra-started ]] || { rm -f "$LOCAL/infra-started"; return 0; }
  local started; started=$(tr -s '\n' ' ' < "$LOCAL/infra-started" | xargs)
  # Never call `infra.sh down` without names: that would stop every server, including ones this script did not start.
  [[ -n $started ]] || { rm -f "$LOCAL/infra-started"; return 0; }
  log "stopping the infrastructure this script started: $started"
  # shellcheck disable=SC2046
  scripts/infra.sh down $started || true
  rm -f "$LOCAL/infra-started"
}

# publish <name> <project> <source dirs...>: skipped when no source file in those directories (the project's own and those
# of its project references) changed since the last successful publish of <name>.
publish() {
  local name=$1 project=$2 stamp="$APP/$1/.published"; shift 2
  if [[ -f $stamp && -z $(find "$@" Directory.Build.props Directory.Packages.props global.json -newer "$stamp" \
        -not -path '*/bin/*' -not -path '*/obj/*' -type f \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.json' \
        -o -name '*.sql' -o -name '*.lua' \) -print -quit 2>/dev/null) ]]; then
    log "$name is up to date ($APP/$name)"; return 0
  fi
  log "publishing $project ($CONFIG)"
  mkdir -p "$APP/$name"; touch "$stamp.new"
  dotnet publish "$project" -c "$CONFIG" -o "$APP/$name" --nologo -v quiet -p:UseAppHost=false >"$LOCAL/logs/publish-$name.log" 2>&1 \
    || { tail -30 "$LOCAL/logs/publish-$name.log" >&2; die "publishing $project failed (see $LOCAL/logs/publish-$name.log)"; }
  mv "$stamp.new" "$stamp"
}

publish_all() {
  local s=services l=libraries
  for svc in "${SERVICES[@]}"; do
    publish "$svc" "$s/FlashSale.${svc^}/FlashSale.${svc^}.csproj" "$s/FlashSale.${svc^}" $l
  done
  publish loadtest tools/FlashSale.LoadTest/FlashSale.LoadTest.csproj tools/FlashSale.LoadTest $l
  publish operator operator/FlashSale.Operator/FlashSale.Operator.csproj operator $l
}

# The Secrets the sale file names, as files (.run/secrets/<secret>/<key>), as `kubectl create secret` would hold them in a
# cluster: the local servers' addresses, a signing key and an admin credential generated once, the SMTP sink.
ensure_secrets() {
  ( umask 077
    mkdir -p "$SECRETS"/{flashsale-postgres,flashsale-redis,flashsale-rabbitmq,flashsale-signing-key,flashsale-admin,flashsale-smtp}
    printf '%s' "$FLASHSALE_POSTGRES" > "$SECRETS/flashsale-postgres/connectionString"
    printf '%s' "$FLASHSALE_REDIS" > "$SECRETS/flashsale-redis/connectionString"
    printf '%s' "$FLASHSALE_RABBITMQ" > "$SECRETS/flashsale-rabbitmq/uri"
    [[ -s $SECRETS/flashsale-signing-key/key.pem ]] \
      || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$SECRETS/flashsale-signing-key/key.pem" 2>/dev/null \
      || die "openssl could not generate the signing key"
    [[ -s $SECRETS/flashsale-admin/username ]] || printf 'admin' > "$SECRETS/flashsale-admin/username"
    [[ -s $SECRETS/flashsale-admin/password ]] || printf '%s' "$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')" > "$SECRETS/flashsale-admin/password"
    printf '%s' "$FLASHSALE_SMTP_HOST" > "$SECRETS/flashsale-smtp/host"
    printf '%s' "$FLASHSALE_SMTP_PORT" > "$SECRETS/flashsale-smtp/port"
    printf 'none' > "$SECRETS/flashsale-smtp/security"
    printf 'FlashSale <noreply@flashsale.local>' > "$SECRETS/flashsale-smtp/from" )
}

# render_sale <name> <starts-in> <ends-in> <payment-timeout>: the operator's local reconcile of the sale file with its window
# moved to now (validate, preload Redis, declare the RabbitMQ topology) and its Deployments rendered as local processes
# into $PLATFORM. The --env lines are the demo's own settings, added to the resource as spec.services.users.env (so a
# Deployment of the same resource would get them too): every buyer logs in from 127.0.0.1.
render_sale() {
  local sale=$1 starts=$2 ends=$3 timeout=$4
  timeout 120 dotnet "$APP/operator/FlashSale.Operator.dll" local --file "$SALE_FILE" --name "$sale" \
    --starts-in "$starts" --ends-in "$ends" --payment-timeout "$timeout" \
    --env users:Users__LoginRateLimit__PerAddress=1000000 --env users:Users__LoginRateLimit__PerUsername=100 \
    --env "users:Users__PasswordHashIterations=${HASH_ITERATIONS:-100000}" --env users:Auth__TokenLifetime=12:00:00 \
    --env users:Users__RegistrationRateLimit__PerAddress=1000000 --env users:Users__RegistrationRateLimit__Global=1000000 \
    --out "$PLATFORM" --secrets "$SECRETS" --redis "$FLASHSALE_REDIS" --rabbitmq "$FLASHSALE_RABBITMQ" >"$LOCAL/logs/render.log" 2>&1 \
    || { cat "$LOCAL/logs/render.log" >&2; die "FlashSale.Operator local --file $SALE_FILE failed"; }
}

url_of() { cat "$PLATFORM/env/$1.url"; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_service <name>: the service with exactly the environment the operator rendered for its container (nothing of this
# shell's), in the background, pid in .run/local/<name>.pid. It runs in its own folder, as in its container image: ASP.NET
# takes its content root (appsettings.json, and the folder it watches for changes) from the working directory.
start_service() {
  local name=$1 url port vars=()
  url=$(url_of "$name"); port=${url##*:}
  port_free "$port" || die "port $port (for $name) is taken"
  mapfile -d '' vars < "$PLATFORM/env/$name.env"
  (cd "$APP/$name" && exec env -i PATH="$PATH" HOME="${HOME:-/root}" ${DOTNET_ROOT:+DOTNET_ROOT="$DOTNET_ROOT"} \
    DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 "${vars[@]}" setsid dotnet "$APP/$name/FlashSale.${name^}.dll") \
    >"$LOCAL/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$LOCAL/$name.pid"
}

wait_ready() {
  local name=$1 url=$2
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$url/healthz/ready" 2>/dev/null && { log "$name ready at $url"; return 0; }
    kill -0 "$(cat "$LOCAL/$name.pid")" 2>/dev/null || { tail -30 "$LOCAL/logs/$name.log" >&2; die "$name exited (see $LOCAL/logs/$name.log)"; }
    sleep 0.2
  done
  tail -30 "$LOCAL/logs/$name.log" >&2; die "$name not ready after 60s"
}

stop_service() {
  local name=$1 pid
  [[ -f $LOCAL/$name.pid ]] || return 0
  pid=$(cat "$LOCAL/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    log "stopped $name"
  fi
  rm -f "$LOCAL/$name.pid"
}

stop_services() { for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do stop_service "${SERVICES[i]}"; done; }

start_users() {
  start_service users
  wait_ready users "$(url_of users)"
}

start_sale_services() {
  local svc
  for svc in orders stock notifications; do start_service "$svc"; done
  for svc in orders stock notifications; do wait_ready "$svc" "$(url_of "$svc")"; done
}

loadtest() { dotnet "$APP/loadtest/FlashSale.LoadTest.dll" "$@"; }

# The sale's Redis keys and RabbitMQ queues go when the run ends (its orders stay in PostgreSQL); KEEP_SALE=1 keeps them.
cleanup_sale() {
  [[ -s $LOCAL/sale && ${KEEP_SALE:-0} != 1 ]] || return 0
  timeout 90 dotnet "$APP/loadtest/FlashSale.LoadTest.dll" cleanup --sale "$(cat "$LOCAL/sale")" --namespace "$(sale_namespace)" \
    --redis "$FLASHSALE_REDIS" --rabbitmq "$FLASHSALE_RABBITMQ" >/dev/null 2>&1 && log "removed sale $(cat "$LOCAL/sale") from Redis and RabbitMQ" || true
  rm -f "$LOCAL/sale"
}

sale_namespace() { local ns; ns=$(sed -n 's/^  namespace: *//p' "$SALE_FILE" | head -1 | tr -d '"'); echo "${ns:-default}"; }

sale_name() { echo "$(sed -n 's/^  name: *//p' "$SALE_FILE" | head -1 | tr -d '"')-$(date -u +%m%d%H%M%S)"; }

platform_up() { [[ -f $LOCAL/users.pid ]] && kill -0 "$(cat "$LOCAL/users.pid")" 2>/dev/null; }

admin_args() { echo --admin-username "$(cat "$SECRETS/flashsale-admin/username")" --admin-password-file "$SECRETS/flashsale-admin/password"; }

cmd_run() {
  local started=$SECONDS
  platform_up && die "the platform of 'make up' is running: stop it first (make down)"
  trap 'stop_services; cleanup_sale; infra_down' EXIT
  trap 'exit 130' INT TERM
  infra_up
  publish_all
  ensure_secrets
  local sale; sale=$(sale_name) timeout=${PAYMENT_TIMEOUT:-45s}
  echo "$sale" > "$LOCAL/sale"
  "$ROOT/scripts/infra.sh" prometheus-sale "$sale" "$(sale_namespace)"
  # Rendered (and preloaded) once to start users, whose Deployment needs the sale's name; the window is moved to "opens in
  # 15 s" once the buyers are signed in, as a shop would re-apply the resource with a new schedule.
  render_sale "$sale" 1h 2h "$timeout"
  start_users
  log "buyers register (first run only; a registration signs in) or log in before the sale; tokens cached in .run/loadtest/tokens.json"
  loadtest buyers --users-url "$(url_of users)" --buyers "$BUYERS"
  render_sale "$sale" 15s 10m "$timeout"
  start_sale_services
  local rc=0
  # shellcheck disable=SC2046
  loadtest sale --sale "$sale" --users-url "$(url_of users)" --orders-url "$(url_of orders)" --stock-url "$(url_of stock)" \
    --notifications-url "$(url_of notifications)" $(admin_args) --maildir "$FLASHSALE_MAILDIR" \
    --buyers "$BUYERS" --attempts "$ATTEMPTS" --connections "$CONNECTIONS" ${RATE:+--rate "$RATE"} \
    --pay-share "${PAY_SHARE:-0.6}" --payment-timeout "$timeout" --json "$LOCAL/last-sale.json" || rc=$?
  log "whole run took $((SECONDS - started))s"
  return $rc
}

cmd_up() {
  platform_up && die "already up (make down first)"
  trap 'echo; log "start failed; stopping"; stop_services; cleanup_sale; infra_down' ERR
  infra_up
  publish_all
  ensure_secrets
  local sale; sale=$(sale_name)
  echo "$sale" > "$LOCAL/sale"
  "$ROOT/scripts/infra.sh" prometheus-sale "$sale" "$(sale_namespace)"
  render_sale "$sale" 5s 60m "${PAYMENT_TIMEOUT:-15m}"
  start_users
  start_sale_services
  trap - ERR
  local users orders stock notifications
  users=$(url_of users); orders=$(url_of orders); stock=$(url_of stock); notifications=$(url_of notifications)
  cat <<INFO

FlashSale is up (stop it with: make down)
  users          $users   POST /api/users {username,email,password} -> token.accessToken; POST /api/users/login -> accessToken
  orders         $orders   POST /api/sales/$sale/orders (Bearer, Idempotency-Key, {"sku":"console-x","quantity":1});
                                  POST /api/orders/{id}/payment; GET /api/orders
  stock          $stock   GET /api/sales/$sale/products, .../stock/stream (SSE), .../audit (admin)
  notifications  $notifications   GET /api/notifications (the buyer's mails and their delivery)
  admin          username '$(cat "$SECRETS/flashsale-admin/username")', password '$(cat "$SECRETS/flashsale-admin/password")' (from $SECRETS/flashsale-admin)
  mail           every mail sent is a file in $FLASHSALE_MAILDIR/new (SMTP sink on 127.0.0.1:$FLASHSALE_SMTP_PORT)
  metrics        $users/metrics $orders/metrics $stock/metrics $notifications/metrics
  prometheus     $FLASHSALE_PROMETHEUS_URL scrapes them every 5s, with the chart's alert rules (/alerts)
  sale           $sale (namespace $(sale_namespace)), open for 60 minutes; as applied: $PLATFORM/flashsale.json
  rendering      each service's environment: $PLATFORM/env/<service>.env; logs in $LOCAL/logs
INFO
}

cmd_down() {
  eval "$(scripts/infra.sh env)"
  stop_services
  cleanup_sale
  infra_down
}

case "${1:-run}" in
  run) cmd_run ;;
  up) cmd_up ;;
  down) cmd_down ;;
  *) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
