#!/usr/bin/env bash
# The records benchmark: 100,000 posts, load generator on the same machine, Strata side by side
# with the Express + better-sqlite3 peer (bench/peers/express) in the same run, alternating rounds.
#
#   bench/records_vs_express.sh [ROUNDS=3] [SECONDS=10] [CONNECTIONS=64] [POSTS=100000]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

ROUNDS=${1:-3}
SECONDS_PER_RUN=${2:-10}
CONNECTIONS=${3:-64}
POSTS=${4:-100000}
THREADS=$(nproc)
BIN=${STRATA_BIN:-build/strata}

(cd bench/peers/express && npm ci --no-audit --no-fund --loglevel=error)

bench_workdir strata-records-bench

strata_port=$(free_port)
peer_port=$(free_port)

"$BIN" collections import bench/schema.json --dir "$work/strata" >/dev/null
node bench/seed.mjs "$work/strata/data.db" "$work/peer.db" "$POSTS" "$work"

# The data path, like for like: the peer keeps no answers, so Strata's response cache is off
# here (STRATA_CACHE_MIB to change it); bench/cache.sh measures the cache.
"$BIN" serve --http "127.0.0.1:$strata_port" --dir "$work/strata" --threads "$THREADS" --log-level warn \
  --cache-size "${STRATA_CACHE_MIB:-0}" >/dev/null 2>"$work/strata.err" &
pids+=($!)
PORT=$peer_port DB="$work/peer.db" WORKERS=$THREADS node bench/peers/express/server.js >"$work/peer.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$strata_port/api/health" >/dev/null &&
    curl -sf -o /dev/null "http://127.0.0.1:$peer_port/api/collections/posts/records?cursor=&perPage=1" && break
  sleep 0.1
done

cursor=$(cat "$work/cursor.txt")
export IDS_FILE="$work/ids.txt"
list_q="filter=status%3D%27active%27&sort=-created&perPage=50"
declare -A paths=(
  [view]="/api/collections/posts/records/X"
  [list_skiptotal]="/api/collections/posts/records?$list_q&skipTotal=1"
  [list_total]="/api/collections/posts/records?$list_q"
  [cursor_deep]="/api/collections/posts/records?sort=-created&perPage=50&cursor=$cursor"
  [create]="/api/collections/posts/records"
)
order=(view list_skiptotal list_total cursor_deep create)

# Both servers must answer the same request the same way before anything is measured.
for name in list_skiptotal cursor_deep; do
  a=$(curl -s "http://127.0.0.1:$strata_port${paths[$name]}" | python3 -c 'import json,sys; d=json.load(sys.stdin); print([i["id"] for i in d["items"]])')
  b=$(curl -s "http://127.0.0.1:$peer_port${paths[$name]}" | python3 -c 'import json,sys; d=json.load(sys.stdin); print([i["id"] for i in d["items"]])')
  [[ "$a" == "$b" ]] || { echo "strata and the peer disagree on $name" >&2; exit 1; }
done

run() {  # run PORT NAME → "req/s p99ms"
  local port=$1 name=$2 script=()
  case $name in
    view) script=(-s bench/wrk/view.lua) ;;
    create) script=(-s bench/wrk/create.lua) ;;
  esac
  bench_wrk -c "$CONNECTIONS" "${script[@]}" "http://127.0.0.1:$port${paths[$name]}" | wrk_summary
}

echo "$POSTS posts; wrk -t$THREADS -c$CONNECTIONS -d${SECONDS_PER_RUN}s; $ROUNDS alternating rounds; $(nproc) cores shared by both servers' load"
for name in "${order[@]}"; do
  for round in $(seq "$ROUNDS"); do
    run "$strata_port" "$name" >>"$work/$name.strata"
    run "$peer_port" "$name" >>"$work/$name.peer"
  done
done
printf '\n%-16s %14s %10s %14s %10s %8s\n' endpoint "strata req/s" "p99 ms" "express req/s" "p99 ms" ratio
for name in "${order[@]}"; do
  s=$(awk '{print $1}' "$work/$name.strata" | median); sp=$(awk '{print $2}' "$work/$name.strata" | median)
  e=$(awk '{print $1}' "$work/$name.peer" | median); ep=$(awk '{print $2}' "$work/$name.peer" | median)
  awk -v n="$name" -v s="$s" -v sp="$sp" -v e="$e" -v ep="$ep" 'BEGIN { printf "%-16s %14.0f %10.2f %14.0f %10.2f %7.1fx\n", n, s, sp, e, ep, s/e }'
done
