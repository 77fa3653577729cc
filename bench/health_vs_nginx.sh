#!/usr/bin/env bash
# GET /api/health on Strata against nginx returning a static response of the same size (same body,
# same security headers, a request id), both on this machine with wrk as the load generator, in
# the same run. Rounds alternate between the two; the medians are compared.
#
#   bench/health_vs_nginx.sh [ROUNDS] [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

ROUNDS=${1:-5}
SECONDS_PER_RUN=${2:-10}
CONNECTIONS=${3:-64}
THREADS=$(nproc)
BIN=${STRATA_BIN:-build/strata}

bench_workdir strata-bench

strata_port=$(free_port)
nginx_port=$(free_port)

# Strata: one I/O thread per core, access log on (to a file), as in production.
"$BIN" serve --http "127.0.0.1:$strata_port" --dir "$work/data" --threads "$THREADS" >"$work/strata-access.log" 2>"$work/strata.err" &
pids+=($!)

body='{"message":"API is healthy.","code":200,"data":{}}'
start_nginx "$nginx_port" <<NGINX
    location = /api/health {
      default_type application/json;
      add_header X-Request-Id \$request_id;
      add_header X-Content-Type-Options nosniff;
      add_header X-Frame-Options SAMEORIGIN;
      add_header Referrer-Policy strict-origin-when-cross-origin;
      add_header Content-Security-Policy "default-src 'none'; frame-ancestors 'none'";
      return 200 '$body';
    }
NGINX

for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$strata_port/api/health" >/dev/null && curl -sf "http://127.0.0.1:$nginx_port/api/health" >/dev/null && break
  sleep 0.1
done
s_body=$(curl -s "http://127.0.0.1:$strata_port/api/health")
n_body=$(curl -s "http://127.0.0.1:$nginx_port/api/health")
[[ "$s_body" == "$body" && "$n_body" == "$body" ]] || { echo "unexpected bodies: $s_body / $n_body" >&2; exit 1; }
echo "response sizes (headers+body): strata $(curl -si "http://127.0.0.1:$strata_port/api/health" | wc -c) B, nginx $(curl -si "http://127.0.0.1:$nginx_port/api/health" | wc -c) B"

# wrk → "requests_per_second p99_ms"
run_wrk() { bench_wrk -c "$CONNECTIONS" "$1" | wrk_summary; }

# Warm both up.
wrk -t "$THREADS" -c "$CONNECTIONS" -d 2s "http://127.0.0.1:$strata_port/api/health" >/dev/null
wrk -t "$THREADS" -c "$CONNECTIONS" -d 2s "http://127.0.0.1:$nginx_port/api/health" >/dev/null

echo "wrk -t$THREADS -c$CONNECTIONS -d${SECONDS_PER_RUN}s, $ROUNDS alternating rounds, $(nproc) cores shared by server and load generator"
printf '%-6s %-8s %14s %10s\n' round server "requests/s" "p99 ms"
: >"$work/strata.txt"
: >"$work/nginx.txt"
for round in $(seq "$ROUNDS"); do
  read -r rps p99 < <(run_wrk "http://127.0.0.1:$strata_port/api/health")
  echo "$rps $p99" >>"$work/strata.txt"
  printf '%-6s %-8s %14s %10s\n' "$round" strata "$rps" "$p99"
  read -r rps p99 < <(run_wrk "http://127.0.0.1:$nginx_port/api/health")
  echo "$rps $p99" >>"$work/nginx.txt"
  printf '%-6s %-8s %14s %10s\n' "$round" nginx "$rps" "$p99"
done

s_rps=$(awk '{print $1}' "$work/strata.txt" | median)
n_rps=$(awk '{print $1}' "$work/nginx.txt" | median)
s_p99=$(awk '{print $2}' "$work/strata.txt" | median)
n_p99=$(awk '{print $2}' "$work/nginx.txt" | median)
echo
echo "median  strata: $s_rps req/s, p99 $s_p99 ms"
echo "median  nginx:  $n_rps req/s, p99 $n_p99 ms"
awk -v s="$s_rps" -v n="$n_rps" -v sp="$s_p99" -v np="$n_p99" 'BEGIN {
  printf "ratio   strata/nginx throughput: %.2fx (goal >= 0.80x), p99 latency: %.2fx\n", s/n, sp/np }'
