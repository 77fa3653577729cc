#!/usr/bin/env bash
# Auth and API-rule costs on the records benchmark's data (100,000 posts by 1,000 users):
#   auth_refresh      POST /api/collections/users/auth-refresh with a user's token
#   list_filter       a user's first page of posts, `filter=author='<id>'`, list rule ""      (no rule)
#   list_rule         the same page with the list rule `author = @request.auth.id` and no filter
#   auth_password     POST /api/collections/users/auth-with-password (argon2id verification)
# The two lists alternate round by round with the rule switched in between, so that they compare
# in the same conditions; both send the same token.
#
#   bench/auth_and_rules.sh [ROUNDS=3] [SECONDS=10] [CONNECTIONS=64] [POSTS=100000]
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
bench_workdir strata-auth-bench

port=$(free_port)
url="http://127.0.0.1:$port"
"$BIN" collections import bench/schema.json --dir "$work/strata" >/dev/null
node bench/seed.mjs "$work/strata/data.db" "$work/peer.db" "$POSTS" "$work" >/dev/null
"$BIN" superuser upsert root@bench.test root-password-1 --dir "$work/strata" >/dev/null
# Logins are measured, not limited.
"$BIN" settings set '{"rateLimits":{"enabled":false}}' --dir "$work/strata" >/dev/null
# Rules are measured where they run, in the query: the response cache is off.
"$BIN" serve --http "127.0.0.1:$port" --dir "$work/strata" --threads "$THREADS" --log-level warn \
  --cache-size 0 >/dev/null 2>"$work/strata.err" &
pid=$!
pids+=("$pid")
for _ in $(seq 100); do curl -sf "$url/api/health" >/dev/null && break; sleep 0.1; done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
admin=$(curl -sf -XPOST -H 'content-type: application/json' -d '{"identity":"root@bench.test","password":"root-password-1"}' \
  "$url/api/collections/_superusers/auth-with-password" | json "['token']")
# A user with posts, and a token for it; and a user with a known password for the logins.
author=$(curl -sf -H "Authorization: $admin" "$url/api/collections/posts/records?perPage=1&sort=-created" | json "['items'][0]['author']")
curl -sf -XPATCH -H "Authorization: $admin" -H 'content-type: application/json' \
  -d '{"password":"author-password-1","passwordConfirm":"author-password-1"}' "$url/api/collections/users/records/$author" >/dev/null
email=$(curl -sf -H "Authorization: $admin" "$url/api/collections/users/records/$author" | json "['email']")
token=$(curl -sf -XPOST -H 'content-type: application/json' -d "{\"identity\":\"$email\",\"password\":\"author-password-1\"}" \
  "$url/api/collections/users/auth-with-password" | json "['token']")
curl -sf -XPOST -H "Authorization: $admin" -H 'content-type: application/json' \
  -d '{"email":"bench-login@bench.test","password":"bench-password-1","passwordConfirm":"bench-password-1"}' \
  "$url/api/collections/users/records" >/dev/null
# A user's posts are found through an index on the author, as an app with such a rule would have.
curl -sf -XPATCH -H "Authorization: $admin" -H 'content-type: application/json' \
  -d '{"indexes":["CREATE INDEX idx_posts_status_created ON posts (status, created)","CREATE INDEX idx_posts_created ON posts (created, id)","CREATE INDEX idx_posts_author_created ON posts (author, created)"]}' \
  "$url/api/collections/posts" >/dev/null
set_rule() {
  curl -sf -XPATCH -H "Authorization: $admin" -H 'content-type: application/json' -d "{\"listRule\":$1}" \
    "$url/api/collections/posts" >/dev/null
}

cat >"$work/refresh.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "$token"
LUA
cat >"$work/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"identity":"bench-login@bench.test","password":"bench-password-1"}'
LUA
cat >"$work/list.lua" <<LUA
wrk.headers["Authorization"] = "$token"
LUA
filter=$(python3 -c "import urllib.parse; print(urllib.parse.quote(\"author='$author'\"))")

run() {  # run SCRIPT PATH → "req/s p99ms"
  bench_wrk -c "$CONNECTIONS" -s "$1" "$url$2" | wrk_summary
}

# Both lists must return the same page.
set_rule '""'
a=$(curl -sf -H "Authorization: $token" "$url/api/collections/posts/records?filter=$filter&sort=-created&perPage=50" | json "['totalItems']")
set_rule '"author = @request.auth.id"'
b=$(curl -sf -H "Authorization: $token" "$url/api/collections/posts/records?sort=-created&perPage=50" | json "['totalItems']")
[[ "$a" == "$b" && "$a" -gt 0 ]] || { echo "the rule and the filter disagree: $a vs $b" >&2; exit 1; }

echo "$POSTS posts; wrk -t$THREADS -c$CONNECTIONS -d${SECONDS_PER_RUN}s; $ROUNDS rounds; the author has $a posts"
for round in $(seq "$ROUNDS"); do
  run "$work/refresh.lua" /api/collections/users/auth-refresh >>"$work/auth_refresh"
  set_rule '""'
  run "$work/list.lua" "/api/collections/posts/records?filter=$filter&sort=-created&perPage=50" >>"$work/list_filter"
  set_rule '"author = @request.auth.id"'
  run "$work/list.lua" "/api/collections/posts/records?sort=-created&perPage=50" >>"$work/list_rule"
  run "$work/login.lua" /api/collections/users/auth-with-password >>"$work/auth_password"
done
printf '\n%-14s %12s %10s   %s\n' endpoint "req/s" "p99 ms" "rounds (req/s)"
for name in auth_refresh list_filter list_rule auth_password; do
  r=$(awk '{print $1}' "$work/$name" | median); p=$(awk '{print $2}' "$work/$name" | median)
  printf '%-14s %12.0f %10.2f   %s\n' "$name" "$r" "$p" "$(awk '{printf "%.0f ", $1}' "$work/$name")"
done
f=$(awk '{print $1}' "$work/list_filter" | median); r=$(awk '{print $1}' "$work/list_rule" | median)
awk -v f="$f" -v r="$r" 'BEGIN { printf "\nthe rule costs %.1f%% against the same filter without a rule\n", (f-r)/f*100 }'
