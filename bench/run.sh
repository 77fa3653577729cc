#!/usr/bin/env bash
# make bench: every benchmark, side by side with its reference, on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bench/health_vs_nginx.sh
bench/records_vs_express.sh
bench/auth_and_rules.sh
bench/cache.sh
bench/files.sh
bench/realtime.sh
