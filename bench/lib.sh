# Shared by the benchmark scripts (sourced, not run).

# A free TCP port on loopback.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The median of the numbers on standard input, one a line.
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# "req/s p99-ms" from wrk --latency output on standard input.
wrk_summary() {
  awk '/^Requests\/sec:/ {r=$2} $1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; p=v} END {print r, p}'
}

# wrk's output for `wrk -t $THREADS -d ${SECONDS_PER_RUN}s --latency ARGS…` (ARGS: the
# connections, a script, the URL); fails, showing it, if any answer was not a 2xx.
bench_wrk() {
  local out
  out=$(wrk -t "$THREADS" -d "${SECONDS_PER_RUN}s" --latency "$@")
  if grep -q 'Non-2xx' <<<"$out"; then
    echo "wrk saw errors ($*):" >&2
    echo "$out" >&2
    return 1
  fi
  printf '%s\n' "$out"
}

# A work folder in $work, removed on exit with every process whose pid is in $pids and the nginx
# that start_nginx started.
bench_workdir() {
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  pids=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  if [[ -f "$work/nginx.pid" ]]; then kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

# Starts nginx from $work (one worker a core, access log buffered, long keep-alive) listening on
# 127.0.0.1:PORT, with EXTRA lines in its http block and the text on standard input in its server
# block. Stopped by bench_workdir's clean-up.
start_nginx() {
  local port=$1 extra=${2:-}
  mkdir -p "$work/nginx"
  cat >"$work/nginx.conf" <<NGINX
worker_processes $(nproc);
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log $work/nginx-access.log combined buffer=64k flush=1s;
  client_body_temp_path $work/nginx;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  server_tokens off;
$extra
  server {
    listen 127.0.0.1:$port reuseport;
$(cat)
  }
}
NGINX
  nginx -c "$work/nginx.conf" -p "$work"
}
