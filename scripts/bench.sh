#!/usr/bin/env bash
# `make bench`: infrastructure up (idempotent), publish the orders, stock and notifications services and the load tool (Release), then one
# run of `FlashSale.LoadTest bench` (extra arguments are passed on, e.g. --duration 20s --connections 128).
# Stops only the infrastructure it had to start. Results: stdout and .run/bench/last.json.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
APP="$ROOT/.run/app"
mkdir -p .run/bench
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
log() { printf '[bench] %s\n' "$*" >&2; }

down=()
while read -r name state _; do [[ $state == up ]] || down+=("$name"); done < <(scripts/infra.sh status)
if ((${#down[@]})); then
  scripts/infra.sh up "${down[@]}"
  trap 'scripts/infra.sh down "${down[@]}"' EXIT
fi
eval "$(scripts/infra.sh env)"

# Publish unless nothing under services/ or tools/ changed since the last publish of that project (here or by make run).
for p in orders:services/FlashSale.Orders/FlashSale.Orders.csproj stock:services/FlashSale.Stock/FlashSale.Stock.csproj \
         notifications:services/FlashSale.Notifications/FlashSale.Notifications.csproj \
         loadtest:tools/FlashSale.LoadTest/FlashSale.LoadTest.csproj; do
  name=${p%%:*} project=${p#*:} stamp="$APP/${p%%:*}/.published"
  if [[ -f $stamp && -z $(find services tools Directory.Build.props Directory.Packages.props global.json -newer "$stamp" -not -path '*/bin/*' \
        -not -path '*/obj/*' -type f \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.json' -o -name '*.sql' -o -name '*.lua' \) \
        -print -quit 2>/dev/null) ]]; then
    log "$name is up to date"; continue
  fi
  log "publishing $project"
  mkdir -p "$APP/$name"; touch "$stamp.new"
  dotnet publish "$project" -c Release -o "$APP/$name" --nologo -v quiet -p:UseAppHost=false >".run/bench/publish-$name.log" 2>&1 \
    || { tail -30 ".run/bench/publish-$name.log" >&2; exit 1; }
  mv "$stamp.new" "$stamp"
done

dotnet "$APP/loadtest/FlashSale.LoadTest.dll" bench --orders-dll "$APP/orders/FlashSale.Orders.dll" --stock-dll "$APP/stock/FlashSale.Stock.dll" \
  --notifications-dll "$APP/notifications/FlashSale.Notifications.dll" \
  --postgres "$FLASHSALE_POSTGRES" --redis "$FLASHSALE_REDIS" --rabbitmq "$FLASHSALE_RABBITMQ" --logs .run/bench --json .run/bench/last.json "$@"
