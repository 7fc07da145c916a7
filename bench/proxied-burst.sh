#!/usr/bin/env bash
# 1,000 concurrent proxied requests to a slow API (issue 18, item 6), at
# `ulimit -n 1024` and at the default limit: how each request ended, counted
# (200, 503 with Retry-After, reset, empty). Each request has its own
# connection and the API takes 1.5 s, so all are open at once.
#
#   cargo build --release -p token-backend --bins --examples
#   bench/proxied-burst.sh         # N=1000 ROUNDS=3
#
# The broker raises its soft descriptor limit to the hard one at start-up, so
# "default" is this shell's hard limit (`ulimit -Hn`) and "1024" sets both
# limits to 1024. The client runs with the hard limit. Rounds alternate the
# two limits. Raw outputs go to bench/results/proxied-burst-<timestamp>/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bin=${CARGO_TARGET_DIR:-$root/target}/release
out=${RESULTS_DIR:-$root/bench/results/proxied-burst-$(date +%Y%m%d-%H%M%S)}
n=${N:-1000}
rounds=${ROUNDS:-3}

source "$(dirname "$0")/lib.sh"
release_copies token-backend examples/slow_upstream examples/resource_api examples/proxied_burst

"$bin/slow_upstream" 0 3600 50 >"$out/upstream.log" 2>&1 &
pids+=($!)
up=$(port_from_log "$out/upstream.log")
"$bin/resource_api" 0 >"$out/api.log" 2>&1 &
pids+=($!)
api="http://127.0.0.1:$(port_from_log "$out/api.log")"

# burst LIMIT ROUND: a fresh broker with `ulimit -n LIMIT` (or the default), one burst.
burst() {
    local limit=$1 r=$2 port pid
    port=$(free_port)
    (
        [[ $limit == default ]] || ulimit -n "$limit"
        exec env OAUTH_PROVIDER=generic OAUTH_TOKEN_URL="http://127.0.0.1:$up/token" \
            OAUTH_CLIENT_ID=bench-client OAUTH_CLIENT_SECRET=bench-secret \
            PROXY_API="api=$api/" RUST_LOG=warn BIND_ADDR="127.0.0.1:$port" "$bin/token-backend"
    ) >"$out/broker-$limit-$r.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    wait_http "http://127.0.0.1:$port/healthz"
    log "round $r: ulimit -n $limit"
    (ulimit -n "$(ulimit -Hn)"; "$bin/proxied_burst" "http://127.0.0.1:$port/api/proxy/api/slow" "$n") |
        tee "$out/burst-$limit-$r.json"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    grep -c "Too many open files" "$out/broker-$limit-$r.log" >"$out/emfile-$limit-$r.txt" || true
}

for r in $(seq "$rounds"); do
    burst 1024 "$r"
    burst default "$r"
done

{
    echo "git: $(git rev-parse --short HEAD 2>/dev/null)  load: $(cut -d' ' -f1-3 /proc/loadavg)  nproc: $(nproc)  hard limit: $(ulimit -Hn)"
    echo
    echo "| ulimit -n | round | outcomes of $n requests | p50 ms | max ms | \"Too many open files\" in the log |"
    echo "|---|---:|---|---:|---:|---:|"
    for r in $(seq "$rounds"); do
        for limit in 1024 default; do
            f="$out/burst-$limit-$r.json"
            echo "| $limit | $r | $(sed 's/.*"outcomes":{\([^}]*\)}.*/\1/' "$f") | $(sed 's/.*"p50_ms":\([0-9]*\).*/\1/' "$f") | $(sed 's/.*"max_ms":\([0-9]*\).*/\1/' "$f") | $(cat "$out/emfile-$limit-$r.txt") |"
        done
    done
} | tee "$out/summary.md"
