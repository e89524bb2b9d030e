#!/usr/bin/env bash
# The platform as local processes on fixed loopback ports, against scripts/infra.sh's PostgreSQL, Redis and RabbitMQ.
#   scripts/run-local.sh run    infra up, publish, start users/orders/stock, demo flash sale of examples/flashsale.yaml
#                               (buyers log in first, burst, drain, audit), then stop what it started; exit 1 if the audit fails
#   scripts/run-local.sh up     same platform and a sale open for 1 hour, left running for manual use; prints the URLs
#   scripts/run-local.sh down   stop what `up` started (services, and infrastructure only if `up` had to start it)
# Knobs (environment): BUYERS (2000), ATTEMPTS (30000), CONNECTIONS (256), RATE (open loop, req/s; unset = closed loop),
# SALE_FILE (examples/flashsale.yaml), USERS_PORT/ORDERS_PORT/STOCK_PORT (5101/5102/5103), CONFIG (Release),
# PREPARE (operator: `FlashSale.Operator local --file` applies the sale; loadtest: the load tool's `prepare` does the same),
# KEEP_SALE=1 (keep the sale's Redis keys and queues after the run), KEEP_INFRA=1 (never stop the infrastructure, even what this script started), HASH_ITERATIONS (PBKDF2 for new passwords; 100000, the users service's minimum: registering thousands of
# buyers on 2 cores, one PBKDF2 run each since a registration answers with a token, is the slow part of a first run, ~100 s
# here; later runs reuse the tokens cached in .run/loadtest for 12 hours, then log the buyers in again, one run each).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUN="$ROOT/.run"
LOCAL="$RUN/local"
APP="$RUN/app"
CONFIG="${CONFIG:-Release}"
USERS_PORT="${USERS_PORT:-5101}"; ORDERS_PORT="${ORDERS_PORT:-5102}"; STOCK_PORT="${STOCK_PORT:-5103}"
USERS_URL="http://127.0.0.1:$USERS_PORT"; ORDERS_URL="http://127.0.0.1:$ORDERS_PORT"; STOCK_URL="http://127.0.0.1:$STOCK_PORT"
BUYERS="${BUYERS:-2000}"; ATTEMPTS="${ATTEMPTS:-30000}"; CONNECTIONS="${CONNECTIONS:-256}"
SALE_FILE="${SALE_FILE:-examples/flashsale.yaml}"
NAMESPACE="${NAMESPACE:-default}"
ADMIN=lt-admin
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
  local s=services
  publish users $s/FlashSale.Users/FlashSale.Users.csproj $s/FlashSale.Users $s/FlashSale.ServiceDefaults $s/FlashSale.Sales $s/FlashSale.Messaging
  publish orders $s/FlashSale.Orders/FlashSale.Orders.csproj $s/FlashSale.Orders $s/FlashSale.ServiceDefaults $s/FlashSale.Sales $s/FlashSale.Messaging
  publish stock $s/FlashSale.Stock/FlashSale.Stock.csproj $s/FlashSale.Stock $s/FlashSale.ServiceDefaults $s/FlashSale.Sales $s/FlashSale.Messaging
  publish loadtest tools/FlashSale.LoadTest/FlashSale.LoadTest.csproj tools/FlashSale.LoadTest $s/FlashSale.Sales $s/FlashSale.Messaging
  if use_operator; then publish operator operator/FlashSale.Operator/FlashSale.Operator.csproj operator $s/FlashSale.Sales $s/FlashSale.Messaging; fi
}

use_operator() { [[ ${PREPARE:-operator} == operator && -f operator/FlashSale.Operator/FlashSale.Operator.csproj ]]; }

# prepare_sale <name> <starts-in> <ends-in>: the sale file with its window moved to now, applied by the operator's local
# mode (validate, preload Redis, declare the RabbitMQ topology), or by the load tool's equivalent with PREPARE=loadtest.
prepare_sale() {
  local sale=$1 starts=$2 ends=$3
  if use_operator; then
    loadtest prepare --file "$SALE_FILE" --sale "$sale" --namespace "$NAMESPACE" --starts-in "$starts" --ends-in "$ends" \
      --out "$LOCAL/sale.yaml" --write-only >/dev/null
    timeout 120 dotnet "$APP/operator/FlashSale.Operator.dll" local --file "$LOCAL/sale.yaml" \
      --redis "$FLASHSALE_REDIS" --rabbitmq "$FLASHSALE_RABBITMQ" || die "FlashSale.Operator local --file $LOCAL/sale.yaml failed"
  else
    timeout 120 dotnet "$APP/loadtest/FlashSale.LoadTest.dll" prepare --file "$SALE_FILE" --sale "$sale" --namespace "$NAMESPACE" \
      --starts-in "$starts" --ends-in "$ends" --redis "$FLASHSALE_REDIS" --rabbitmq "$FLASHSALE_RABBITMQ" || die "preparing the sale failed"
  fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start <name> <dll> <port> [KEY=VALUE...]: a service in the background, pid in .run/local/<name>.pid.
# It runs in its own folder, as in its container image: ASP.NET takes its content root (appsettings.json, and the folder it
# watches recursively for changes) from the working directory; from the repository root it watched every folder, .run/ with
# the databases' files included, and woke up for each of their writes.
start_service() {
  local name=$1 dll=$2 port=$3; shift 3
  port_free "$port" || die "port $port (for $name) is taken; set ${name^^}_PORT"
  (cd "$(dirname "$APP/$dll")" && exec env ASPNETCORE_URLS="http://127.0.0.1:$port" ASPNETCORE_ENVIRONMENT=Production \
    Logging__LogLevel__Default=Warning Logging__LogLevel__Microsoft.Hosting.Lifetime=Information \
    ConnectionStrings__Postgres="$FLASHSALE_POSTGRES" ConnectionStrings__Redis="$FLASHSALE_REDIS" ConnectionStrings__RabbitMq="$FLASHSALE_RABBITMQ" \
    "$@" setsid dotnet "$APP/$dll") >"$LOCAL/logs/$name.log" 2>&1 < /dev/null &
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

stop_services() { stop_service stock; stop_service orders; stop_service users; }

start_users() {
  start_service users users/FlashSale.Users.dll "$USERS_PORT" \
    Auth__SigningKeyFile="$RUN/keys/users-signing.pem" Auth__GenerateSigningKey=true Auth__TokenLifetime=12:00:00 \
    Users__AdminUsernames="$ADMIN" Users__LoginRateLimit__PerAddress=1000000 Users__LoginRateLimit__PerUsername=100 \
    Users__PasswordHashIterations="${HASH_ITERATIONS:-100000}"
  wait_ready users "$USERS_URL"
}

start_sale_services() {
  local sale=$1 jwks="$USERS_URL/.well-known/jwks.json"
  start_service orders orders/FlashSale.Orders.dll "$ORDERS_PORT" Orders__Namespace="$NAMESPACE" Orders__StockGate=redis \
    RabbitMq__Namespace="$NAMESPACE" Auth__JwksUrl="$jwks"
  start_service stock stock/FlashSale.Stock.dll "$STOCK_PORT" Stock__Namespace="$NAMESPACE" Stock__Sale="$sale" \
    RabbitMq__Namespace="$NAMESPACE" RabbitMq__Sale="$sale" Auth__JwksUrl="$jwks"
  wait_ready orders "$ORDERS_URL"
  wait_ready stock "$STOCK_URL"
}

loadtest() { dotnet "$APP/loadtest/FlashSale.LoadTest.dll" "$@"; }

# The sale's Redis keys and RabbitMQ queues go when the run ends (its orders stay in PostgreSQL); KEEP_SALE=1 keeps them.
cleanup_sale() {
  [[ -s $LOCAL/sale && ${KEEP_SALE:-0} != 1 ]] || return 0
  timeout 90 dotnet "$APP/loadtest/FlashSale.LoadTest.dll" cleanup --sale "$(cat "$LOCAL/sale")" --namespace "$NAMESPACE" \
    --redis "$FLASHSALE_REDIS" --rabbitmq "$FLASHSALE_RABBITMQ" >/dev/null 2>&1 && log "removed sale $(cat "$LOCAL/sale") from Redis and RabbitMQ" || true
  rm -f "$LOCAL/sale"
}

sale_name() { echo "$(sed -n 's/^  name: *//p' "$SALE_FILE" | head -1 | tr -d '"')-$(date -u +%m%d%H%M%S)"; }

platform_up() { [[ -f $LOCAL/users.pid ]] && kill -0 "$(cat "$LOCAL/users.pid")" 2>/dev/null; }

cmd_run() {
  local started=$SECONDS
  platform_up && die "the platform of 'make up' is running: stop it first (make down)"
  trap 'stop_services; cleanup_sale; infra_down' EXIT
  trap 'exit 130' INT TERM
  infra_up
  publish_all
  start_users
  log "buyers register (first run only; a registration signs in) or log in before the sale; tokens cached in .run/loadtest/tokens.json"
  loadtest buyers --users-url "$USERS_URL" --buyers "$BUYERS" --admin "$ADMIN"
  local sale; sale=$(sale_name)
  echo "$sale" > "$LOCAL/sale"
  prepare_sale "$sale" 15s 10m
  start_sale_services "$sale"
  local rc=0
  loadtest sale --sale "$sale" --users-url "$USERS_URL" --orders-url "$ORDERS_URL" --stock-url "$STOCK_URL" \
    --buyers "$BUYERS" --admin "$ADMIN" --attempts "$ATTEMPTS" --connections "$CONNECTIONS" ${RATE:+--rate "$RATE"} \
    --json "$LOCAL/last-sale.json" || rc=$?
  log "whole run took $((SECONDS - started))s"
  return $rc
}

cmd_up() {
  platform_up && die "already up (make down first)"
  trap 'echo; log "start failed; stopping"; stop_services; cleanup_sale; infra_down' ERR
  infra_up
  publish_all
  start_users
  loadtest buyers --users-url "$USERS_URL" --buyers 0 --admin "$ADMIN" >/dev/null
  local sale; sale=$(sale_name)
  echo "$sale" > "$LOCAL/sale"
  prepare_sale "$sale" 5s 60m
  start_sale_services "$sale"
  trap - ERR
  cat <<INFO

FlashSale is up (stop it with: make down)
  users    $USERS_URL    POST /api/users {username,email,password} -> token.accessToken; POST /api/users/login {username,password} -> accessToken
                                 admin: username '$ADMIN', password 'lt-$ADMIN-Secret!'
  orders   $ORDERS_URL    POST /api/sales/$sale/orders  (Authorization: Bearer, Idempotency-Key, body {"sku":"console-x","quantity":1})
  stock    $STOCK_URL    GET /api/sales/$sale/products, /api/sales/$sale/stock/stream (SSE), /api/sales/$sale/audit (admin)
  metrics  $USERS_URL/metrics $ORDERS_URL/metrics $STOCK_URL/metrics
  sale     $sale (namespace $NAMESPACE), open for 60 minutes; logs in $LOCAL/logs
  burst    dotnet $APP/loadtest/FlashSale.LoadTest.dll sale --sale $sale --buyers 200 --attempts 5000
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
