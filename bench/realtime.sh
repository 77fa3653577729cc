#!/usr/bin/env bash
# The realtime benchmark, load generator on this machine:
#  - connections held: COUNT WebSocket subscribers, then COUNT event-stream subscribers, each on
#    Strata alone, with the server's memory per connection (resident set before and after);
#  - fan-out: SUBSCRIBERS subscribers on one topic while RATE writes a second arrive, for Strata
#    over WebSocket and over server-sent events and for Socket.IO (bench/peers/socketio, WebSocket
#    transport) broadcasting the same payloads to the same number of clients, alternating rounds:
#    deliveries a second and write-to-delivery latency p50/p99 (every 16th delivery timed); the
#    same with LIGHT_SUBSCRIBERS (1,000) subscribers, where the machine has CPU to spare.
# Medians of the rounds are printed, with Strata's ratio to Socket.IO. The load client is
# bench/realtime_load.cpp (built with the server as strata_realtime_load).
#
#   bench/realtime.sh [ROUNDS=3] [SECONDS=10] [SUBSCRIBERS=10000] [RATE=100] [COUNT=19000]
#
# Every process here may have at most `ulimit -Hn` open files (20,000 on the machine these figures
# come from, and not raisable in its container): COUNT stays below it.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

ROUNDS=${1:-3}
SECONDS_PER_RUN=${2:-10}
SUBSCRIBERS=${3:-10000}
RATE=${4:-100}
COUNT=${5:-19000}
THREADS=$(nproc)
BIN=${STRATA_BIN:-build/strata}
LOAD=${STRATA_LOAD:-$(dirname "$BIN")/strata_realtime_load}
LIGHT=${LIGHT_SUBSCRIBERS:-1000}
SIZES=("$LIGHT" "$SUBSCRIBERS")
ulimit -n "$(ulimit -Hn)"

bench_workdir strata-realtime-bench
(cd bench/peers/socketio && npm ci --no-audit --no-fund --loglevel=error)

strata_port=$(free_port)
sio_port=$(free_port)
"$BIN" collections import bench/realtime_schema.json --dir "$work/strata" >/dev/null
"$BIN" settings set '{"rateLimits":{"enabled":false}}' --dir "$work/strata" >/dev/null
"$BIN" serve --http "127.0.0.1:$strata_port" --dir "$work/strata" --threads "$THREADS" --log-level warn \
  --max-connections 25000 --realtime-queue 5000 >/dev/null 2>"$work/strata.err" &
strata_pid=$!
pids+=($strata_pid)
PORT=$sio_port node bench/peers/socketio/server.js >"$work/sio.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$strata_port/api/health" >/dev/null && curl -sf "http://127.0.0.1:$sio_port/health" >/dev/null && break
  sleep 0.1
done

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
clients() { curl -s "http://127.0.0.1:$strata_port/metrics" | awk '/^strata_realtime_clients / {print $2}'; }

echo "connections held (Strata, $COUNT of each kind):"
for kind in ws sse; do
  before=$(rss_kib "$strata_pid")
  "$LOAD" hold "$kind" "http://127.0.0.1:$strata_port" "$COUNT" >"$work/hold.out" 2>&1 &
  hold_pid=$!
  for _ in $(seq 600); do grep -q '^held' "$work/hold.out" && break; sleep 0.2; done
  grep -q '^held' "$work/hold.out" || { echo "the $kind connections did not open:" >&2; cat "$work/hold.out" >&2; exit 1; }
  sleep 1
  held=$(clients)
  after=$(rss_kib "$strata_pid")
  echo "  $kind: $held held ($(cat "$work/hold.out")); server RSS $((before / 1024)) -> $((after / 1024)) MiB:" \
    "$(awk -v a="$after" -v b="$before" -v n="$held" 'BEGIN {printf "%.1f KiB", (a-b)/n}') per connection"
  kill "$hold_pid"
  wait "$hold_pid" 2>/dev/null || true
  for _ in $(seq 100); do [[ "$(clients)" == 0 ]] && break; sleep 0.1; done
done

# Every fan-out size, each kind once per round: the light one shows the latency of a machine with
# CPU to spare, the full one where two cores run out.
declare -A dps p50 p99
for round in $(seq "$ROUNDS"); do
  for subscribers in "${SIZES[@]}"; do
    for kind in ws sse sio; do
      port=$strata_port
      [[ $kind == sio ]] && port=$sio_port
      out=$("$LOAD" fanout "$kind" "http://127.0.0.1:$port" "$subscribers" "$SECONDS_PER_RUN" "$RATE")
      echo "round $round, $subscribers subscribers, $kind: $out"
      key="$subscribers/$kind"
      dps[$key]+="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["deliveries_per_s"])' "$out") "
      p50[$key]+="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["p50_ms"])' "$out") "
      p99[$key]+="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["p99_ms"])' "$out") "
      sleep 2  # the previous clients' connections close
    done
  done
done

med() { tr ' ' '\n' <<<"$1" | grep -v '^$' | median; }
for subscribers in "${SIZES[@]}"; do
  echo
  echo "fan-out: $subscribers subscribers on one topic, $RATE writes/s (offered: $((subscribers * RATE)) deliveries/s)"
  printf '%-22s %16s %10s %10s\n' "" "deliveries/s" "p50 ms" "p99 ms"
  for kind in ws sse sio; do
    name=$kind
    [[ $kind == ws ]] && name="Strata WebSocket"
    [[ $kind == sse ]] && name="Strata SSE"
    [[ $kind == sio ]] && name="Socket.IO"
    key="$subscribers/$kind"
    printf '%-22s %16s %10s %10s\n' "$name" "$(med "${dps[$key]}")" "$(med "${p50[$key]}")" "$(med "${p99[$key]}")"
  done
  awk -v w="$(med "${dps[$subscribers/ws]}")" -v s="$(med "${dps[$subscribers/sse]}")" -v i="$(med "${dps[$subscribers/sio]}")" \
    'BEGIN {printf "deliveries/s vs Socket.IO: WebSocket %.2fx, SSE %.2fx\n", w/i, s/i}'
done
