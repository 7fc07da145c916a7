#!/usr/bin/env bash
# Instructions per proxied 1 KiB request, counted by valgrind's callgrind in
# the proxy's process: the broker, the stack's floor and its two steps
# (backend/examples/hyper_floor.rs: `pool`, `axum`, `app`), and optionally an
# older broker. Unlike req/s on this shared two-core machine, the count does
# not move with load (two runs agree within 0.2 %), so a change of 1-2 % in
# the proxy's own path shows, which `bench/proxy.sh`'s rounds cannot resolve.
# What it does not show: system time, wake-ups, cache misses (see proxy.sh).
#
#   scripts/setup bench                                   # wrk, nginx, valgrind
#   cargo build --release -p token-backend --bins --examples
#   bench/proxy-instructions.sh                           # SECS=5 CASES="pool axum app broker"
#   BASELINE=/path/to/an/older/token-backend bench/proxy-instructions.sh   # adds case baseline
#
# Each case: the server under callgrind, warmed by 2 s of `wrk -c8`, its
# counters zeroed, then SECS seconds of `wrk -c8`; the instructions counted
# from the zeroing to the dump, over the requests wrk completed. Counted: the
# proxy's process only (not the API, a separate process, nor wrk).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bin=${CARGO_TARGET_DIR:-$root/target}/release
out=${RESULTS_DIR:-$root/bench/results/proxy-instructions-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
source bench/lib.sh
command -v valgrind >/dev/null || { echo "valgrind is missing: scripts/setup bench" >&2; exit 1; }
release_copies token-backend examples/slow_upstream examples/resource_api examples/hyper_floor
cases=${CASES:-pool axum app broker}
[[ -n ${BASELINE:-} ]] && cases+=" baseline"

"$bin/slow_upstream" 0 3600 50 >"$out/upstream.log" 2>&1 &
pids+=($!)
up=$(port_from_log "$out/upstream.log")
"$bin/resource_api" 0 >"$out/api.log" 2>&1 &
pids+=($!)
api=127.0.0.1:$(port_from_log "$out/api.log")

printf '%-10s %10s %14s\n' case requests instructions/request
for case in $cases; do
    port=$(free_port)
    path=/api/proxy/api/small
    case $case in
    pool | axum | app)
        command=("$bin/hyper_floor" "$case" "$api")
        [[ $case == pool ]] && path=/small
        ;;
    broker | baseline)
        broker=$bin/token-backend
        [[ $case == baseline ]] && broker=$BASELINE
        command=("$broker")
        ;;
    *) echo "unknown case $case" >&2; exit 1 ;;
    esac
    # The settings before valgrind: it must start the server itself, not `env`.
    env OAUTH_PROVIDER=generic OAUTH_TOKEN_URL="http://127.0.0.1:$up/token" OAUTH_CLIENT_ID=bench-client \
        OAUTH_CLIENT_SECRET=bench-secret PROXY_API="api=http://$api/" BIND_ADDR="127.0.0.1:$port" RUST_LOG=warn \
        valgrind --tool=callgrind --callgrind-out-file="$out/$case.callgrind" "${command[@]}" \
        >"$out/$case.log" 2>&1 &
    vg=$!
    pids+=($vg)
    # valgrind starts slowly: a minute, not the helpers' usual 10 s.
    [[ $case == pool || $case == axum || $case == app ]] && port=$(port_from_log "$out/$case.log" 60)
    url=http://127.0.0.1:$port$path
    wait_http "$url" 60
    wrk -t1 -c8 -d2s "$url" >/dev/null
    callgrind_control --zero "$vg" >/dev/null 2>&1
    requests=$(wrk -t1 -c8 -d"${SECS:-5}"s "$url" | awk '/requests in/ {print $1}')
    callgrind_control --dump "$vg" >/dev/null 2>&1
    kill "$vg"
    wait "$vg" 2>/dev/null || true
    total=$(callgrind_annotate "$out/$case.callgrind.1" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
    printf '%-10s %10d %14d\n' "$case" "$requests" $((total / requests))
done | tee "$out/summary.txt"
