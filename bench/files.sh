#!/usr/bin/env bash
# The files benchmark, on this machine with wrk as the load generator:
#  - uploads/s of a 200 KiB JPEG (multipart, type check, pixel limit, BlurHash, durable write);
#  - uploads each followed by a GET of the new file's 100x100 thumbnail (made on that first GET);
#  - downloads of the same JPEG from Strata against nginx serving it from disk, side by side in the
#    same run, alternating rounds;
#  - requests/s of a thumbnail once it is kept.
# Medians of the rounds are printed, with the ratio to nginx for downloads.
#
#   bench/files.sh [ROUNDS=3] [SECONDS=10] [CONNECTIONS=64]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

ROUNDS=${1:-3}
SECONDS_PER_RUN=${2:-10}
CONNECTIONS=${3:-64}
UPLOAD_CONNECTIONS=8
THREADS=$(nproc)
BIN=${STRATA_BIN:-build/strata}

bench_workdir strata-files-bench

strata_port=$(free_port)
nginx_port=$(free_port)

node bench/make_jpeg.mjs "$work/photo.jpg" 204800 >/dev/null
export JPEG="$work/photo.jpg"
"$BIN" collections import bench/files_schema.json --dir "$work/strata" >/dev/null
"$BIN" settings set '{"rateLimits":{"enabled":false}}' --dir "$work/strata" >/dev/null
"$BIN" serve --http "127.0.0.1:$strata_port" --dir "$work/strata" --threads "$THREADS" --log-level warn \
  >/dev/null 2>"$work/strata.err" &
pids+=($!)

mkdir -p "$work/www"
cp "$work/photo.jpg" "$work/www/photo.jpg"
chmod 755 "$work" "$work/www" && chmod 644 "$work/www/photo.jpg"  # nginx's workers read it as nobody
start_nginx "$nginx_port" "  sendfile on;
  tcp_nopush on;
  types { image/jpeg jpg; }" <<NGINX
    root $work/www;
    location / {
      add_header Cache-Control "public, max-age=31536000, immutable";
      add_header X-Content-Type-Options nosniff;
    }
NGINX

for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$strata_port/api/health" >/dev/null &&
    curl -sf "http://127.0.0.1:$nginx_port/photo.jpg" >/dev/null && break
  sleep 0.1
done

# One record to download from; both servers must send the same bytes.
record=$(curl -sf -F "image=@$work/photo.jpg;type=image/jpeg" "http://127.0.0.1:$strata_port/api/collections/photos/records")
id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$record")
name=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["image"])' <<<"$record")
file_path="/api/files/photos/$id/$name"
cmp <(curl -sf "http://127.0.0.1:$strata_port$file_path") "$work/photo.jpg"
cmp <(curl -sf "http://127.0.0.1:$nginx_port/photo.jpg") "$work/photo.jpg"
curl -sf "http://127.0.0.1:$strata_port$file_path?thumb=100x100" -o "$work/thumb.jpg"
echo "JPEG: $(stat -c %s "$work/photo.jpg") bytes; its 100x100 thumbnail: $(stat -c %s "$work/thumb.jpg") bytes"

# wrk → "requests/s MB/s p99-ms"
run_wrk() {
  local connections=$1
  shift
  local out
  out=$(bench_wrk -c "$connections" "$@")
  local mbs
  mbs=$(awk '/^Transfer\/sec:/ {v=$2; if (v ~ /GB$/) {sub(/GB$/,"",v); v=v*1024} else if (v ~ /MB$/) {sub(/MB$/,"",v)} else if (v ~ /KB$/) {sub(/KB$/,"",v); v=v/1024}; print v}' <<<"$out")
  read -r rps p99 < <(wrk_summary <<<"$out")
  echo "$rps $mbs $p99"
}

declare -A rps mbs p99
for round in $(seq "$ROUNDS"); do
  for name in upload upload_thumb download_strata download_nginx thumb_cached; do
    case $name in
      upload) read -r r m p < <(run_wrk "$UPLOAD_CONNECTIONS" -s bench/wrk/upload.lua "http://127.0.0.1:$strata_port") ;;
      upload_thumb) read -r r m p < <(run_wrk "$UPLOAD_CONNECTIONS" -s bench/wrk/upload_thumb.lua "http://127.0.0.1:$strata_port") ;;
      download_strata) read -r r m p < <(run_wrk "$CONNECTIONS" "http://127.0.0.1:$strata_port$file_path") ;;
      download_nginx) read -r r m p < <(run_wrk "$CONNECTIONS" "http://127.0.0.1:$nginx_port/photo.jpg") ;;
      thumb_cached) read -r r m p < <(run_wrk "$CONNECTIONS" "http://127.0.0.1:$strata_port$file_path?thumb=100x100") ;;
    esac
    rps[$name]+="$r "
    mbs[$name]+="$m "
    p99[$name]+="$p "
    echo "round $round $name: $r req/s, $m MB/s, p99 $p ms"
  done
done

med() { tr ' ' '\n' <<<"$1" | grep -v '^$' | median; }
echo
jpeg_bytes=$(stat -c %s "$work/photo.jpg")
printf '%-18s %12s %10s %10s\n' "" "req/s" "MB/s" "p99 ms"
for name in upload upload_thumb download_strata download_nginx thumb_cached; do
  r=$(med "${rps[$name]}")
  case $name in
    upload) m=$(awk -v r="$r" -v b="$jpeg_bytes" 'BEGIN {printf "%.1f", r*b/1048576}') ;;  # uploaded
    upload_thumb) m=$(awk -v r="$r" -v b="$jpeg_bytes" 'BEGIN {printf "%.1f", r/2*b/1048576}') ;;
    *) m=$(med "${mbs[$name]}") ;;  # sent
  esac
  printf '%-18s %12s %10s %10s\n' "$name" "$r" "$m" "$(med "${p99[$name]}")"
done
echo "(MB/s: uploaded for the upload rows, sent for the others)"
echo "upload_thumb counts an upload and a thumbnail GET as two requests: $(awk -v r="$(med "${rps[upload_thumb]}")" 'BEGIN {printf "%.1f", r/2}') uploads with their thumbnail a second"
awk -v s="$(med "${mbs[download_strata]}")" -v n="$(med "${mbs[download_nginx]}")" \
  'BEGIN {printf "downloads: Strata %.0f MB/s, nginx %.0f MB/s: %.2fx\n", s, n, s/n}'
