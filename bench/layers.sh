#!/usr/bin/env bash
# Cost of each layer around the cached /api/token route as app() builds it today:
# runs backend/examples/layer_cost at each level (0 = bare axum; 1-4 the token
# route, its merge with the other routes, CORS without and with an Origin; 5 the
# broker's own app() with a filled cache; 6 the pre-issue-12 stack for reference)
# under the same wrk load as bench/run.sh, pinned the same way, ROUNDS rounds with
# the order of levels reversed every other round, and prints the medians.
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
names=("static body (calibration)" "token handler as routes/token.rs (JSON, no-store + nosniff headers, one Arc state)" "+ merged with the other routes and their stack (ServeDir fallback; timeout, error middleware, nosniff, TraceLayer around those only)" "+ CorsLayer (ALLOWED_ORIGINS set), request without Origin" "same server, request with an allowed Origin" "the broker's own app(), filled cache, same-origin (check)" "reference: token handler inside the other routes' stack (before issue 12)")
# Level 4 is level 3's server; only the request differs.
origin=(-H "Origin: https://app.example.com")

[[ -x $exe ]] || { echo "missing $exe: run cargo build --release -p token-backend --examples" >&2; exit 1; }
mkdir -p "$out"
cp "$exe" "$out/layer_cost"
source "$(dirname "$0")/lib.sh"
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM


load=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A rps p99 round_rps
for r in $(seq "$rounds"); do
    for level in 0 1 2 3 4 5 6; do
        ((r % 2 == 0)) && level=$((6 - level))
        # A fresh log, so the wait below cannot read the previous round's address.
        rm -f "$out/server-$level.log"
        "${on_server[@]}" "$out/layer_cost" "$level" >"$out/server-$level.log" 2>&1 &
        pid=$!
        for _ in $(seq 100); do grep -qs '^listening on' "$out/server-$level.log" && break; sleep 0.1; done
        url="http://127.0.0.1:$(sed -n 's/^listening on 127\.0\.0\.1://p' "$out/server-$level.log")/api/token"
        # The first request fills level 5's cache, outside the measurement.
        curl -sf "$url" >/dev/null
        f="$out/level-$level-$r.txt"
        headers=()
        ((level == 4)) && headers=("${origin[@]}")
        "${on_client[@]}" wrk -t2 -c"$conns" -d"$duration" --latency "${headers[@]}" -s bench/report.lua "$url" >"$f" 2>&1
        rps[$level]+="$(field "$f" rps) "
        round_rps[$level-$r]=$(field "$f" rps)
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
    echo "| level | stack | req/s | ÷ level 0, median of the per-round ratios | µs of its one core per request | p99 ms |"
    echo "|---:|---|---:|---:|---:|---:|"
    for level in 0 1 2 3 4 5 6; do
        # shellcheck disable=SC2086 # space-separated lists on purpose
        m=$(median ${rps[$level]})
        # Each level against level 0 of the same round: the load drifts less
        # within a round than across the run.
        ratios=()
        for r in $(seq "$rounds"); do
            ratios+=("$(awk -v a="${round_rps[$level-$r]}" -v b="${round_rps[0-$r]}" 'BEGIN { printf "%.3f", a / b }')")
        done
        # shellcheck disable=SC2086
        echo "| $level | ${names[$level]} | $m | $(median "${ratios[@]}") | $(awk -v r="$m" 'BEGIN { printf "%.1f", 1e6 / r }') | $(median ${p99[$level]}) |"
    done
} | tee "$out/summary.md"
