#!/usr/bin/env bash
# The response cache benchmark: 100,000 posts; the same server binary with its response cache on
# (the default) and off (--cache-size 0), side by side with /api/health in the same run,
# alternating rounds, load generator on the same machine. Views read a hot set of 1,000 posts
# (every seed app has one: the offers on screen, the feed's first page). The last row asks for
# gzip, as browsers and the SDK do.
#
# This machine's speed drifts by tens of percent within minutes, so /api/health is measured right
# before each cached run, and "vs health" is the median of those adjacent pairs' ratios.
#
#   bench/cache.sh [ROUNDS=3] [SECONDS=10] [CONNECTIONS=64] [POSTS=100000]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

ROUNDS=${1:-3}
SECONDS_PER_RUN=${2:-10}
CONNECTIONS=${3:-64}
POSTS=${4:-100000}
THREADS=$(nproc)
BIN=${STRATA_BIN:-build/strata}

bench_workdir strata-cache-bench

cached_port=$(free_port)
plain_port=$(free_port)

"$BIN" collections import bench/schema.json --dir "$work/strata" >/dev/null
node bench/seed.mjs "$work/strata/data.db" "$work/peer.db" "$POSTS" "$work" >/dev/null
head -n 1000 "$work/ids.txt" >"$work/hot.txt"

# Two processes on one database: one keeps answers, the other builds every one.
"$BIN" serve --http "127.0.0.1:$cached_port" --dir "$work/strata" --threads "$THREADS" --log-level warn \
  >/dev/null 2>"$work/cached.err" &
pids+=($!)
"$BIN" serve --http "127.0.0.1:$plain_port" --dir "$work/strata" --threads "$THREADS" --log-level warn \
  --cache-size 0 >/dev/null 2>"$work/plain.err" &
pids+=($!)
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$cached_port/api/health" >/dev/null &&
    curl -sf "http://127.0.0.1:$plain_port/api/health" >/dev/null && break
  sleep 0.1
done

export IDS_FILE="$work/hot.txt"
list_q="filter=status%3D%27active%27&sort=-created&perPage=50"
declare -A paths=(
  [health]="/api/health"
  [view]="/api/collections/posts/records/X"
  [list_skiptotal]="/api/collections/posts/records?$list_q&skipTotal=1"
  [list_total]="/api/collections/posts/records?$list_q"
  [list_total_gzip]="/api/collections/posts/records?$list_q"
)
order=(view list_skiptotal list_total list_total_gzip)

# Both answer the same.
for name in view list_total; do
  id=$(head -n 1 "$work/hot.txt")
  path=${paths[$name]/X/$id}
  a=$(curl -s "http://127.0.0.1:$cached_port$path")
  b=$(curl -s "http://127.0.0.1:$plain_port$path")
  [[ "$a" == "$b" ]] || { echo "the cached and uncached servers disagree on $name" >&2; exit 1; }
done

run() {  # run PORT NAME → "req/s p99ms"
  local port=$1 name=$2 script=()
  [[ $name == view ]] && script=(-s bench/wrk/view.lua)
  # What browsers and the SDK send: the cached server keeps the compressed form, the other
  # compresses every answer.
  [[ $name == *_gzip ]] && script=(-H "Accept-Encoding: gzip, deflate, br")
  bench_wrk -c "$CONNECTIONS" "${script[@]}" "http://127.0.0.1:$port${paths[$name]}" | wrk_summary
}

echo "$POSTS posts, views over a hot set of 1,000; wrk -t$THREADS -c$CONNECTIONS -d${SECONDS_PER_RUN}s; $ROUNDS alternating rounds"
for round in $(seq "$ROUNDS"); do
  for name in "${order[@]}"; do
    run "$cached_port" health >>"$work/$name.health"
    run "$cached_port" "$name" >>"$work/$name.cached"
    run "$plain_port" "$name" >>"$work/$name.plain"
  done
done
h=$(cat "$work"/*.health | awk '{print $1}' | median)
printf '\n/api/health: %.0f req/s (median of all its runs)\n' "$h"
printf '\n%-16s %14s %9s %16s %9s %9s %13s %11s\n' endpoint "cached req/s" "p99 ms" "uncached req/s" "p99 ms" speedup \
  "health req/s" "vs health"
for name in "${order[@]}"; do
  c=$(awk '{print $1}' "$work/$name.cached" | median); cp=$(awk '{print $2}' "$work/$name.cached" | median)
  u=$(awk '{print $1}' "$work/$name.plain" | median); up=$(awk '{print $2}' "$work/$name.plain" | median)
  nh=$(awk '{print $1}' "$work/$name.health" | median)
  ratio=$(paste "$work/$name.cached" "$work/$name.health" | awk '{print $1/$3}' | median)
  awk -v n="$name" -v c="$c" -v cp="$cp" -v u="$u" -v up="$up" -v nh="$nh" -v r="$ratio" \
    'BEGIN { printf "%-16s %14.0f %9.2f %16.0f %9.2f %8.1fx %13.0f %10.2fx\n", n, c, cp, u, up, c/u, nh, r }'
done
