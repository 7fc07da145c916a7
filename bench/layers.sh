#!/usr/bin/env bash
# Cost of each layer of the broker's middleware stack on the cached route: runs
# backend/examples/layer_cost at each level (0 = bare axum, 6 = the broker's
# stack around a fixed token) under the same wrk load as bench/run.sh, pinned the
# same way, ROUNDS rounds alternating levels, and prints the medians.
#
#   cargo build --release -p token-backend --examples
#   bench/layers.sh            # ROUNDS=3 DURATION=4s CONNS=64 PIN=1
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
exe=${CARGO_TARGET_DIR:-$root/target}/release/examples/layer_cost
out=${RESULTS_DIR:-$root/bench/results/layers-$(date +%Y%m%d-%H%M%S)}
rounds=${ROUNDS:-3}
duration=${DURATION:-4s}
conns=${CONNS:-64}
if [[ ${PIN:-1} == 1 ]]; then on_server=(taskset -c 0) on_client=(taskset -c 1); else on_server=() on_client=(); fi
names=("static body" "+ JSON body, no-store headers" "+ ServeDir fallback" "+ from_fn_with_state middleware" "+ nosniff header layer" "+ TraceLayer" "+ TimeoutLayer (= broker stack)")

[[ -x $exe ]] || { echo "missing $exe: run cargo build --release -p token-backend --examples" >&2; exit 1; }
mkdir -p "$out"
cp "$exe" "$out/layer_cost"
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM

field() { sed -n "s/^BENCH.* $2=\([0-9.]*\).*/\1/p" "$1"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

load=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A rps p99
for r in $(seq "$rounds"); do
    for level in 0 1 2 3 4 5 6; do
        ((r % 2 == 0)) && level=$((6 - level))
        "${on_server[@]}" "$out/layer_cost" "$level" >"$out/server-$level.log" 2>&1 &
        pid=$!
        for _ in $(seq 100); do grep -qs '^listening on' "$out/server-$level.log" && break; sleep 0.1; done
        url="http://127.0.0.1:$(sed -n 's/^listening on 127\.0\.0\.1://p' "$out/server-$level.log")/api/token"
        curl -sf "$url" >/dev/null
        f="$out/level-$level-$r.txt"
        "${on_client[@]}" wrk -t2 -c"$conns" -d"$duration" --latency -s bench/report.lua "$url" >"$f" 2>&1
        rps[$level]+="$(field "$f" rps) "
        p99[$level]+="$(field "$f" p99_ms) "
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        pid=
        sleep 0.5
    done
done

{
    echo "### Layer cost, wrk -t2 -c$conns -d$duration, median of $rounds rounds, load average before: $load"
    echo
    echo "| level | stack | req/s | µs of its one core per request | p99 ms |"
    echo "|---:|---|---:|---:|---:|"
    for level in 0 1 2 3 4 5 6; do
        # shellcheck disable=SC2086 # space-separated lists on purpose
        m=$(median ${rps[$level]})
        # shellcheck disable=SC2086
        echo "| $level | ${names[$level]} | $m | $(awk -v r="$m" 'BEGIN { printf "%.1f", 1e6 / r }') | $(median ${p99[$level]}) |"
    done
} | tee "$out/summary.md"
