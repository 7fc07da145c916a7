#!/usr/bin/env bash
# Benchmark for issue #6: several broker replicas sharing one Redis.
#
#   cargo build --release -p token-backend --bin token-backend --example slow_upstream
#   bench/replicas.sh
#
# Measures, in this order (about 3 minutes with the defaults):
#   1. upstream calls made by 3 replicas under load (one wrk per replica, in
#      parallel) over CLUSTER_DURATION with short-lived tokens: once sharing one
#      Redis, once standalone (no REDIS_URL) for comparison;
#   2. cached-route throughput and latency of ONE replica with Redis on vs off,
#      ROUNDS alternating rounds of `wrk -t2 -cCONNS -dDURATION --latency`,
#      medians reported. The cached path does not touch Redis, so the two should
#      be within noise.
#
# Settings (environment): ROUNDS=5 DURATION=10s CONNS=64 CLUSTER_DURATION=30s
# CLUSTER_CONNS=8 PIN=1 (replicas and Redis on CPU 0, wrk and the upstream on
# CPU 1). Raw outputs go to bench/results/replicas-<timestamp>/ (or RESULTS_DIR).
# Traffic goes to 127.0.0.1 only; every process started here is stopped on exit.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bin=${CARGO_TARGET_DIR:-$root/target}/release
out=${RESULTS_DIR:-$root/bench/results/replicas-$(date +%Y%m%d-%H%M%S)}
rounds=${ROUNDS:-5}
duration=${DURATION:-10s}
conns=${CONNS:-64}
cluster_duration=${CLUSTER_DURATION:-30s}
cluster_conns=${CLUSTER_CONNS:-8}
pin=${PIN:-1}
# Part 1: 10 s tokens, refreshed 3 s before expiry, never served with under 2 s
# left: one refresh every 7 s (+ the upstream's 50 ms) for the cluster.
cluster_ttl=10
cluster_policy=(TOKEN_MIN_TTL_SECS=2 TOKEN_REFRESH_WINDOW_MIN_SECS=3)
refresh_period=7

if [[ $pin == 1 ]]; then
    on_server=(taskset -c 0)
    on_client=(taskset -c 1)
else
    on_server=()
    on_client=()
fi

source "$(dirname "$0")/lib.sh"
for tool in wrk curl redis-server ss; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
release_copies token-backend examples/slow_upstream

# start_upstream EXPIRES_IN: sets $up.
start_upstream() {
    "${on_client[@]}" "$bin/slow_upstream" 0 "$1" 50 >"$out/upstream-$1.log" 2>&1 &
    pids+=($!)
    up=$(port_from_log "$out/upstream-$1.log") || exit 1
}

# start_redis: sets $redis_port. No persistence: nothing is written to disk.
start_redis() {
    local i
    redis_port=$(free_port)
    "${on_server[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        >"$out/redis.log" 2>&1 &
    pids+=($!)
    for i in $(seq 100); do
        [[ $(redis-cli -p "$redis_port" ping 2>/dev/null) == PONG ]] && return 0
        sleep 0.1
    done
    echo "redis did not start" >&2
    exit 1
}

# start_replica NAME UPSTREAM_PORT [VAR=VALUE...]: sets $port.
start_replica() {
    local name=$1 upstream=$2
    shift 2
    port=$(free_port)
    env OAUTH_PROVIDER=generic OAUTH_TOKEN_URL="http://127.0.0.1:$upstream/token" \
        OAUTH_CLIENT_ID=bench-client OAUTH_CLIENT_SECRET=bench-secret \
        PUBLIC_DIR=www RUST_LOG=warn BIND_ADDR="127.0.0.1:$port" "$@" \
        "${on_server[@]}" "$bin/token-backend" >"$out/$name.log" 2>&1 &
    pids+=($!)
    wait_http "http://127.0.0.1:$port/healthz"
}

warm() {
    curl -sf --max-time 5 "$1" | grep -q '"access_token"' || { echo "no token from $1" >&2; exit 1; }
}

upstream_count() { curl -sf "http://127.0.0.1:$1/count"; }
upstream_reset() { curl -sf -X POST "http://127.0.0.1:$1/reset" >/dev/null; }

# run_wrk FILE URL THREADS CONNS DURATION
run_wrk() {
    "${on_client[@]}" wrk -t"$3" -c"$4" -d"$5" --latency -s bench/report.lua "$2" >"$1" 2>&1
}

{
    echo "date: $(date -Iseconds)"
    echo "git: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- backend 2>/dev/null || echo ' (backend has uncommitted changes)')"
    echo "nproc: $(nproc)"
    echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "redis: $(redis-server --version)"
    echo "wrk: $(wrk -v 2>&1 | head -1)"
    echo "settings: ROUNDS=$rounds DURATION=$duration CONNS=$conns CLUSTER_DURATION=$cluster_duration CLUSTER_CONNS=$cluster_conns PIN=$pin"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
log "results in $out"
start_redis

# --- 1. Upstream calls of a 3-replica cluster, shared vs standalone ----------
start_upstream "$cluster_ttl"
cluster_up=$up
declare -A calls errors
for mode in shared standalone; do
    extra=("${cluster_policy[@]}")
    [[ $mode == shared ]] && extra+=(REDIS_URL="redis://127.0.0.1:$redis_port/0" REDIS_KEY_PREFIX="bench-$mode:")
    urls=()
    for r in 1 2 3; do
        start_replica "cluster-$mode-$r" "$cluster_up" "${extra[@]}"
        urls+=("http://127.0.0.1:$port/api/token")
    done
    upstream_reset "$cluster_up"
    log "cluster ($mode): 3 replicas x wrk -t1 -c$cluster_conns -d$cluster_duration"
    wrk_pids=()
    for r in 1 2 3; do
        run_wrk "$out/cluster-$mode-$r.txt" "${urls[$((r - 1))]}" 1 "$cluster_conns" "$cluster_duration" &
        wrk_pids+=($!)
    done
    wait "${wrk_pids[@]}"
    calls[$mode]=$(upstream_count "$cluster_up")
    e=0
    for r in 1 2 3; do e=$((e + $(field "$out/cluster-$mode-$r.txt" errors) + $(field "$out/cluster-$mode-$r.txt" non2xx))); done
    errors[$mode]=$e
    # Stop this mode's replicas before the next one starts.
    for r in 1 2 3; do kill "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'; done
done
seconds=${cluster_duration%s}
# One cold call, then one per refresh period.
expected=$((1 + seconds / refresh_period))

# --- 2. One replica, Redis on vs off -----------------------------------------
start_upstream 3600
declare -A url
start_replica redis-on "$up" REDIS_URL="redis://127.0.0.1:$redis_port/0" REDIS_KEY_PREFIX="bench-single:"
url[on]="http://127.0.0.1:$port/api/token"
start_replica redis-off "$up"
url[off]="http://127.0.0.1:$port/api/token"
for s in on off; do warm "${url[$s]}"; done

# Redis commands served during part 2 (minus the INFO calls that read the count):
# the cached route should cause none.
redis_commands() { redis-cli -p "$redis_port" info stats | sed -n 's/^total_commands_processed:\([0-9]*\).*/\1/p'; }
commands_before=$(redis_commands)
declare -A rps p50 p99
modes=(on off)
for r in $(seq "$rounds"); do
    for k in 0 1; do
        s=${modes[$(((k + r - 1) % 2))]}
        f="$out/single-$s-$r.txt"
        log "single replica round $r/$rounds: redis $s"
        run_wrk "$f" "${url[$s]}" 2 "$conns" "$duration"
        rps[$s]+="$(field "$f" rps) "
        p50[$s]+="$(field "$f" p50_ms) "
        p99[$s]+="$(field "$f" p99_ms) "
    done
done
redis_during=$(($(redis_commands) - commands_before - 1))
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"

{
    echo "## 1. Upstream calls, 3 replicas under load for $cluster_duration (token ${cluster_ttl} s, refresh every ${refresh_period} s)"
    echo
    echo "| mode | upstream calls | expected for one cluster (1 + ${seconds}/${refresh_period}) | failed requests |"
    echo "|---|---:|---:|---:|"
    for mode in shared standalone; do
        echo "| $mode | ${calls[$mode]} | $expected | ${errors[$mode]} |"
    done
    echo
    echo "## 2. One replica, cached route, Redis on vs off (wrk -t2 -c$conns -d$duration, median of $rounds)"
    echo
    echo "| redis | req/s | p50 ms | p99 ms | rounds (req/s) |"
    echo "|---|---:|---:|---:|---|"
    for s in on off; do
        # shellcheck disable=SC2086
        echo "| $s | $(median ${rps[$s]}) | $(median ${p50[$s]}) | $(median ${p99[$s]}) | ${rps[$s]}|"
    done
    echo
    echo "Redis commands served during part 2 (the 'on' replica's cached route): $redis_during"
    echo
    cat "$out/machine.txt"
} | tee "$out/summary.md"
