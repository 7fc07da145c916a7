#!/usr/bin/env bash
# The cached token route against the calibration server (issue #12's target:
# broker req/s >= 0.90 of calibration's as the median of 5 rotated rounds, p99 no
# worse than calibration's x 1.2). Only these two servers, so rounds are short
# and close together on a noisy machine; bench/run.sh has the full comparison.
#
#   cargo build --release -p token-backend --bins --examples
#   bench/token-route.sh       # ROUNDS=5 DURATION=10s CONNS=64 PIN=1
#   BASELINE_BIN=/path/to/older/token-backend bench/token-route.sh
#
# BASELINE_BIN adds a fourth server: another build of the broker (an earlier
# commit, say), run in the same rounds so the change is measured side by side.
#
# Each round runs the broker, the broker with CORS configured and calibration
# back to back, the order rotating from round to round, under wrk -t2 -cCONNS -dDURATION --latency (servers on CPU 0, wrk on
# CPU 1 with PIN=1). Prints medians, per-round ratios and the load average
# before and after. Raw outputs go to bench/results/token-route-<timestamp>/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bin=${CARGO_TARGET_DIR:-$root/target}/release
out=${RESULTS_DIR:-$root/bench/results/token-route-$(date +%Y%m%d-%H%M%S)}
rounds=${ROUNDS:-5}
duration=${DURATION:-10s}
conns=${CONNS:-64}
if [[ ${PIN:-1} == 1 ]]; then on_server=(taskset -c 0) on_client=(taskset -c 1); else on_server=() on_client=(); fi

source "$(dirname "$0")/lib.sh"
release_copies token-backend examples/slow_upstream examples/calibration
[[ -n ${BASELINE_BIN:-} ]] && cp "$BASELINE_BIN" "$bin/token-backend-baseline"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"${on_client[@]}" "$bin/slow_upstream" 0 3600 50 >"$out/upstream.log" 2>&1 &
pids+=($!)
up=$(port_from_log "$out/upstream.log")

declare -A url
# start_broker NAME EXE [VAR=VALUE...]: the broker against the upstream, in url[NAME].
start_broker() {
    local name=$1 exe=$2 port
    shift 2
    port=$(free_port)
    env OAUTH_PROVIDER=generic OAUTH_TOKEN_URL="http://127.0.0.1:$up/token" \
        OAUTH_CLIENT_ID=bench-client OAUTH_CLIENT_SECRET=bench-secret \
        PUBLIC_DIR=www RUST_LOG=warn BIND_ADDR="127.0.0.1:$port" "$@" \
        "${on_server[@]}" "$exe" >"$out/$name.log" 2>&1 &
    pids+=($!)
    url[$name]="http://127.0.0.1:$port/api/token"
    wait_http "${url[$name]}"
}
start_broker broker "$bin/token-backend"
# The one layer the token route keeps when configured: CORS (wrk sends no Origin).
start_broker broker-cors "$bin/token-backend" ALLOWED_ORIGINS=https://viewer.example.com
[[ -n ${BASELINE_BIN:-} ]] && start_broker baseline "$bin/token-backend-baseline"

"${on_server[@]}" "$bin/calibration" 0 >"$out/calibration.log" 2>&1 &
pids+=($!)
url[calibration]="http://127.0.0.1:$(port_from_log "$out/calibration.log")/api/token"

servers=(broker broker-cors calibration)
[[ -n ${BASELINE_BIN:-} ]] && servers+=(baseline)
for s in "${servers[@]}"; do
    curl -sf --max-time 5 "${url[$s]}" | grep -q '"access_token"' || { echo "no token from $s" >&2; exit 1; }
done

declare -A rps p99 header=()
rotated_rounds "${servers[@]}"
mapfile -t ratios < <(per_round_ratios broker calibration)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

{
    echo "git: $(git rev-parse --short HEAD 2>/dev/null)  load before: $load_before  after: $load_after  nproc: $(nproc)"
    echo
    echo "| server | req/s (median) | p99 ms (median) | req/s per round |"
    echo "|---|---:|---:|---|"
    for s in "${servers[@]}"; do
        # shellcheck disable=SC2086 # the per-round lists are space-separated on purpose
        echo "| $s | $(median ${rps[$s]}) | $(median ${p99[$s]}) | ${rps[$s]% } |"
    done
    echo
    # shellcheck disable=SC2086
    echo "| broker / calibration req/s | $(ratio "$(median ${rps[broker]})" "$(median ${rps[calibration]})") (per round: ${ratios[*]}; their median: $(median "${ratios[@]}")) | >= 0.90 |"
    # shellcheck disable=SC2086
    echo "| broker with CORS / calibration req/s | $(ratio "$(median ${rps[broker-cors]})" "$(median ${rps[calibration]})") | |"
    if [[ -n ${BASELINE_BIN:-} ]]; then
        # shellcheck disable=SC2086
        echo "| baseline / calibration req/s | $(ratio "$(median ${rps[baseline]})" "$(median ${rps[calibration]})") | |"
    fi
    # shellcheck disable=SC2086
    echo "| broker p99 / calibration p99 | $(ratio "$(median ${p99[broker]})" "$(median ${p99[calibration]})") | <= 1.2 |"
} | tee "$out/summary.md"
