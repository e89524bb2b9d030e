#!/usr/bin/env bash
# What one order costs Redis in reserve.lua, without the rest of the platform: a private redis-server (port 63795 unless
# FLASHSALE_COST_REDIS_PORT says otherwise, data under .run/reserve-cost, deleted afterwards), the real script, calls of
# --batch orders each (default 20, the average batch of `make bench`), every order accepted. Runs once with the AOF as
# scripts/infra.sh configures it (appendonly, fsync every second) and once without, and prints per order: Redis's CPU
# (user + system, from /proc), the time inside EVALSHA, inside the commands the script calls (INFO commandstats), and the
# bytes appended to the AOF. The difference between the two runs is what propagating the script's writes costs.
#   scripts/reserve-cost.sh [--batch 20] [--calls 2000] [--rounds 3] [--script FILE]   (FILE: another version of reserve.lua to compare, e.g.
#   git show HEAD~1:libraries/FlashSale.Sales/Scripts/reserve.lua > /tmp/old.lua)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BATCH=20 CALLS=2000 ROUNDS=3 SCRIPT="$ROOT/libraries/FlashSale.Sales/Scripts/reserve.lua"
while (($#)); do
  case $1 in
    --batch) BATCH=$2; shift 2 ;;
    --calls) CALLS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --script) SCRIPT=$2; shift 2 ;;
    *) echo "usage: $0 [--batch N] [--calls N] [--rounds N] [--script FILE]" >&2; exit 2 ;;
  esac
done
command -v redis-server >/dev/null || { echo "redis-server is missing: run scripts/infra.sh up redis first (it installs it)" >&2; exit 1; }
PORT="${FLASHSALE_COST_REDIS_PORT:-63795}"
DIR="$ROOT/.run/reserve-cost"
cli() { redis-cli -p "$PORT" "$@"; }
pid=""
mkdir -p "$ROOT/.run"
stop() { if [[ -n $pid ]]; then cli shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
trap 'stop; rm -rf "$DIR"' EXIT

# One EVALSHA per line of RESP: KEYS = the sale's 7 keys + one idempotency key per order, ARGV = ttl + 6 per order.
requests() { # sha
  awk -v sha="$1" -v batch="$BATCH" -v calls="$CALLS" 'function b(s) { printf "$%d\r\n%s\r\n", length(s), s }
    BEGIN {
      p = "fs:{cost/sale}:"; split("meta remaining limit bought orders reserved price", k, " ")
      for (c = 0; c < calls; c++) {
        printf "*%d\r\n", 3 + 7 + batch + 1 + 6 * batch
        b("EVALSHA"); b(sha); b(7 + batch)
        for (i = 1; i <= 7; i++) b(p k[i])
        for (i = 0; i < batch; i++) { o = c * batch + i; b(p "idem:" sprintf("%032x", o % 10000) ":k" o) }
        b("86400")
        for (i = 0; i < batch; i++) {
          o = c * batch + i
          b(sprintf("%032x", o % 10000)); b("item"); b("1"); b(sprintf("01934b2c-0000-7000-8000-%012x", o)); b("k" o)
          b("buyer" (o % 10000) "@example.com")
        }
      }
    }'
}

run() { # label, extra redis-server arguments...
  local label=$1; shift
  rm -rf "$DIR"; mkdir -p "$DIR"
  redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --save "" "$@" >"$DIR/redis.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do cli ping >/dev/null 2>&1 && break; sleep 0.1; done
  local stock=$((BATCH * CALLS))
  cli hset 'fs:{cost/sale}:meta' starts_at_ms 0 ends_at_ms 99999999999999 >/dev/null
  cli hset 'fs:{cost/sale}:remaining' item "$stock" >/dev/null
  cli hset 'fs:{cost/sale}:limit' item "$stock" >/dev/null
  cli hset 'fs:{cost/sale}:price' item 25 >/dev/null
  local sha; sha=$(cli script load "$(cat "$SCRIPT")")
  requests "$sha" >"$DIR/requests.resp"
  cli config resetstat >/dev/null
  local aof0 cpu0 cpu1 aof1
  aof0=$(cli info persistence | awk -F: '/^aof_current_size/ {print $2+0}')
  cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  cli --pipe <"$DIR/requests.resp" >"$DIR/pipe.log"
  cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  aof1=$(cli info persistence | awk -F: '/^aof_current_size/ {print $2+0}')
  local left; left=$(cli hget 'fs:{cost/sale}:remaining' item)
  [[ $left == 0 ]] || { echo "$label: $left units left, expected every order accepted ($(tail -2 "$DIR/pipe.log"))" >&2; exit 1; }
  local orders=$((BATCH * CALLS)) tick; tick=$(getconf CLK_TCK)
  cli info commandstats | awk -F'[:=,]' -v n="$orders" -v label="$label" -v cpu=$((cpu1 - cpu0)) -v tick="$tick" -v aof=$((aof1 - aof0)) '
    /^cmdstat_evalsha/ { eval = $5 } /^cmdstat_/ && !/evalsha|config|script|hset|ping|info/ { inner += $5 }
    END { printf "  %-36s %10.1f %12.1f %12.1f %12.1f %12.0f\n", label, cpu * 1e6 / tick / n, eval / n, inner / n, (eval - inner) / n, aof / n }'
  stop
}

echo "${SCRIPT#"$ROOT"/}, $CALLS calls of $BATCH orders (all accepted), private redis-server $(redis-server --version | grep -o 'v=[0-9.]*'), $ROUNDS rounds"
printf "  %-36s %10s %12s %12s %12s %12s\n" "" "CPU us" "EVALSHA us" "commands us" "script us" "AOF bytes"
for round in $(seq 1 "$ROUNDS"); do
  run "AOF on (fsync every second)" --appendonly yes --appendfsync everysec
  run "AOF off" --appendonly no
done | tee "$DIR.rows"
# This VM's speed moves by a third from one second to the next: the least CPU of the rounds is the steadiest figure.
awk '{ label = $1; for (i = 2; i <= NF - 5; i++) label = label " " $i; cpu = $(NF - 4)
        if (!(label in min) || cpu < min[label]) { min[label] = cpu; row[label] = sprintf("%10s %12s %12s %12s %12s", $(NF-4), $(NF-3), $(NF-2), $(NF-1), $NF) } }
  END { for (l in row) printf "  %-36s %s\n", "least: " l, row[l] }' "$DIR.rows" | sort
rm -f "$DIR.rows"
echo "  (per order; CPU = redis-server user + system time from /proc in ticks of 1/$(getconf CLK_TCK) s; EVALSHA = time inside the"
echo "   script calls, commands = inside the Redis commands they made, script = the difference: Lua and the call layer)"
