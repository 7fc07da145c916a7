#!/usr/bin/env bash
# Benchmark for issue #2: the broker (`token-backend`) beside the token endpoint
# the APS tutorials teach (bench/express-tutorial) and an axum calibration server,
# all against one local upstream that answers after 50 ms. Prints a Markdown table.
#
#   cargo build --release -p token-backend --bins --examples
#   npm ci --prefix bench/express-tutorial
#   bench/run.sh
#
# Measures, in this order (about 4.5 minutes with the defaults):
#   1. cached-route throughput and latency, ROUNDS rounds alternating servers
#      (wrk -t2 -cCONNS -dDURATION --latency), medians reported;
#   2. upstream calls caused by a cold burst of BURST concurrent requests;
#   3. upstream calls and tail latency over EXPIRY_DURATION with 10 s tokens;
#   4. the broker's memory (VmRSS/VmHWM) idle and after the load.
#
# Settings (environment): ROUNDS=3 DURATION=10s CONNS=64 BURST=500
# EXPIRY_DURATION=45s EXPIRY_CONNS=8 PIN=1 (servers on CPU 0, load generator and
# upstream on CPU 1; PIN=0 lets the scheduler place them). Raw outputs go to
# bench/results/<timestamp>/ (or RESULTS_DIR). Traffic goes to 127.0.0.1 only;
# every process started here is stopped on exit.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bin=${CARGO_TARGET_DIR:-$root/target}/release
out=${RESULTS_DIR:-$root/bench/results/$(date +%Y%m%d-%H%M%S)}
rounds=${ROUNDS:-3}
duration=${DURATION:-10s}
conns=${CONNS:-64}
burst=${BURST:-500}
expiry_duration=${EXPIRY_DURATION:-45s}
expiry_conns=${EXPIRY_CONNS:-8}
pin=${PIN:-1}
# Upstream token lifetime and broker policy for the expiry run: refresh 3 s
# before expiry, never serve a token with under 2 s left.
expiry_ttl=10
expiry_broker_env=(TOKEN_MIN_TTL_SECS=2 TOKEN_REFRESH_WINDOW_MIN_SECS=3)

if [[ $pin == 1 ]]; then
    on_server=(taskset -c 0)
    on_client=(taskset -c 1)
else
    on_server=()
    on_client=()
fi

source "$(dirname "$0")/lib.sh"
[[ -d bench/express-tutorial/node_modules/express ]] || { echo "run: npm ci --prefix bench/express-tutorial" >&2; exit 1; }
release_copies token-backend examples/slow_upstream examples/calibration examples/cold_burst

# start_upstream NAME EXPIRES_IN: sets $port. It shares the load generator's CPU.
start_upstream() {
    "${on_client[@]}" "$bin/slow_upstream" 0 "$2" 50 >"$out/$1.log" 2>&1 &
    pids+=($!)
    port=$(port_from_log "$out/$1.log")
}

start_calibration() {
    "${on_server[@]}" "$bin/calibration" 0 >"$out/$1.log" 2>&1 &
    pid=$!
    pids+=($pid)
    port=$(port_from_log "$out/$1.log")
}

# start_broker NAME UPSTREAM_PORT [VAR=VALUE...]: sets $port and $pid.
start_broker() {
    local name=$1 upstream=$2
    shift 2
    port=$(free_port)
    env OAUTH_PROVIDER=generic OAUTH_TOKEN_URL="http://127.0.0.1:$upstream/token" \
        OAUTH_CLIENT_ID=bench-client OAUTH_CLIENT_SECRET=bench-secret \
        PUBLIC_DIR=www RUST_LOG=warn BIND_ADDR="127.0.0.1:$port" "$@" \
        "${on_server[@]}" "$bin/token-backend" >"$out/$name.log" 2>&1 &
    pid=$!
    pids+=($pid)
    wait_http "http://127.0.0.1:$port/healthz"
}

# start_express NAME UPSTREAM_PORT: sets $port and $pid.
start_express() {
    port=$(free_port)
    env PORT="$port" TOKEN_URL="http://127.0.0.1:$2/token" CLIENT_ID=bench-client CLIENT_SECRET=bench-secret \
        "${on_server[@]}" node bench/express-tutorial/server.mjs >"$out/$1.log" 2>&1 &
    pid=$!
    pids+=($pid)
    wait_http "http://127.0.0.1:$port/"
}

# One successful token response, or the run stops.
warm() {
    curl -sf --max-time 5 "$1" | grep -q '"access_token"' || { echo "no token from $1" >&2; exit 1; }
}

# mem_mb PID FIELD: VmRSS or VmHWM in MB.
mem_mb() { awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

upstream_count() { curl -sf "http://127.0.0.1:$1/count"; }
upstream_reset() { curl -sf -X POST "http://127.0.0.1:$1/reset"; }

# run_wrk FILE URL CONNS DURATION
run_wrk() {
    "${on_client[@]}" wrk -t2 -c"$3" -d"$4" --latency -s bench/report.lua "$2" >"$1" 2>&1
}

{
    echo "date: $(date -Iseconds)"
    echo "git: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- backend 2>/dev/null || echo ' (backend has uncommitted changes)')"
    echo "nproc: $(nproc)"
    echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "kernel: $(uname -r)"
    echo "wrk: $(wrk -v 2>&1 | head -1)"
    echo "node: $(node --version)"
    echo "settings: ROUNDS=$rounds DURATION=$duration CONNS=$conns BURST=$burst EXPIRY_DURATION=$expiry_duration EXPIRY_CONNS=$expiry_conns PIN=$pin"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
log "results in $out"

# --- 1. Throughput of the cached route, and memory ---------------------------
start_upstream upstream 3600
up=$port
start_broker broker "$up"
broker_pid=$pid
declare -A url
url[broker]="http://127.0.0.1:$port/api/token"
rss_start=$(mem_mb "$broker_pid" VmRSS)
start_calibration calibration
url[calibration]="http://127.0.0.1:$port/api/token"
start_express express "$up"
url[express]="http://127.0.0.1:$port/api/auth/token"
servers=(broker calibration express)
for s in "${servers[@]}"; do warm "${url[$s]}"; done
sleep 1
rss_idle=$(mem_mb "$broker_pid" VmRSS)

declare -A rps p50 p99
for r in $(seq "$rounds"); do
    for k in 0 1 2; do
        s=${servers[$(((k + r - 1) % 3))]}
        f="$out/throughput-$s-$r.txt"
        log "throughput round $r/$rounds: $s"
        run_wrk "$f" "${url[$s]}" "$conns" "$duration"
        rps[$s]+="$(field "$f" rps) "
        p50[$s]+="$(field "$f" p50_ms) "
        p99[$s]+="$(field "$f" p99_ms) "
        sleep 1
    done
done
rss_loaded=$(mem_mb "$broker_pid" VmRSS)
hwm_loaded=$(mem_mb "$broker_pid" VmHWM)

# --- 2. Cold burst ------------------------------------------------------------
start_upstream upstream-burst 3600
up=$port
start_broker broker-burst "$up"
url[broker-burst]="http://127.0.0.1:$port/api/token"
start_express express-burst "$up"
url[express-burst]="http://127.0.0.1:$port/api/auth/token"
declare -A burst_calls
for s in broker express; do
    upstream_reset "$up"
    log "cold burst of $burst: $s"
    "${on_client[@]}" "$bin/cold_burst" "${url[$s-burst]}" "$burst" >"$out/burst-$s.json"
    burst_calls[$s]=$(upstream_count "$up")
done

# --- 3. Several token lifetimes under load --------------------------------------
start_upstream upstream-expiry "$expiry_ttl"
up=$port
start_broker broker-expiry "$up" "${expiry_broker_env[@]}"
url[broker-expiry]="http://127.0.0.1:$port/api/token"
start_express express-expiry "$up"
url[express-expiry]="http://127.0.0.1:$port/api/auth/token"
url[calibration-expiry]=${url[calibration]}
declare -A expiry_calls
for s in broker calibration express; do
    [[ $s == calibration ]] || warm "${url[$s-expiry]}"
    upstream_reset "$up"
    log "$expiry_duration over ${expiry_ttl}s tokens: $s"
    run_wrk "$out/expiry-$s.txt" "${url[$s-expiry]}" "$expiry_conns" "$expiry_duration"
    expiry_calls[$s]=$(upstream_count "$up")
    sleep 1
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"

# --- Report -----------------------------------------------------------------------
{
    cat "$out/machine.txt" | sed 's/^/    /'
    echo
    echo "### Cached route, wrk -t2 -c$conns -d$duration --latency, median of $rounds rounds"
    echo
    echo "| server | req/s | p50 ms | p99 ms | req/s per round |"
    echo "|---|---:|---:|---:|---|"
    declare -A med_rps med_p99
    for s in "${servers[@]}"; do
        # shellcheck disable=SC2086 # the per-round lists are space-separated on purpose
        med_rps[$s]=$(median ${rps[$s]})
        # shellcheck disable=SC2086
        med_p99[$s]=$(median ${p99[$s]})
        # shellcheck disable=SC2086
        echo "| $s | ${med_rps[$s]} | $(median ${p50[$s]}) | ${med_p99[$s]} | ${rps[$s]% } |"
    done
    echo
    echo "| ratio | value | target |"
    echo "|---|---:|---|"
    echo "| broker / express req/s | $(ratio "${med_rps[broker]}" "${med_rps[express]}") | >= 10 |"
    echo "| broker / calibration req/s | $(ratio "${med_rps[broker]}" "${med_rps[calibration]}") | >= 0.85 |"
    echo "| broker p99 / calibration p99 | $(ratio "${med_p99[broker]}" "${med_p99[calibration]}") | <= 1.2 |"
    echo
    echo "### Cold burst: $burst concurrent requests, one connection each, empty cache"
    echo
    echo "| server | upstream calls | ok responses | distinct tokens | p50 ms | max ms |"
    echo "|---|---:|---:|---:|---:|---:|"
    for s in broker express; do
        j="$out/burst-$s.json"
        echo "| $s | ${burst_calls[$s]} | $(jq .ok "$j") | $(jq .distinct_tokens "$j") | $(jq .p50_ms "$j") | $(jq .max_ms "$j") |"
    done
    echo
    echo "### $expiry_duration at $expiry_conns connections, upstream expires_in=${expiry_ttl}s (broker: ${expiry_broker_env[*]})"
    echo
    echo "| server | upstream calls | req/s | p50 ms | p99 ms | p99.9 ms | max ms | errors |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for s in broker calibration express; do
        f="$out/expiry-$s.txt"
        calls=${expiry_calls[$s]}
        [[ $s == calibration ]] && calls="n/a"
        echo "| $s | $calls | $(field "$f" rps) | $(field "$f" p50_ms) | $(field "$f" p99_ms) | $(field "$f" p999_ms) | $(field "$f" max_ms) | $(($(field "$f" errors) + $(field "$f" non2xx))) |"
    done
    echo
    echo "### Broker memory (MB)"
    echo
    echo "| at start | idle, token cached | after the throughput runs (VmRSS) | peak (VmHWM) |"
    echo "|---:|---:|---:|---:|"
    echo "| $rss_start | $rss_idle | $rss_loaded | $hwm_loaded |"
} | tee "$out/summary.md"

# Any wrk run with errors is worth a look before trusting its numbers.
for f in "$out"/throughput-*.txt "$out"/expiry-*.txt; do
    if (($(field "$f" errors) + $(field "$f" non2xx) > 0)); then log "errors reported in $f"; fi
done
