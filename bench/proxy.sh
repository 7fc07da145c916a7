#!/usr/bin/env bash
# The API proxy against nginx (issue 20; before it, issue 14's overhead): req/s
# and p99 of a protected local API called through the broker's /api/proxy/…,
# through nginx (Debian's, one worker, `proxy_pass` to the same API with
# upstream keepalive 32, a fixed `Authorization` header and `proxy_buffering
# off`, so it streams like the broker), and directly (with a Bearer header, as
# a token-holding page would), for a 1 KiB and a 1 MiB response, side by side
# in rotated rounds.
#
#   scripts/setup bench        # wrk and nginx (Debian packages)
#   cargo build --release -p token-backend --bins --examples
#   bench/proxy.sh             # ROUNDS=5 DURATION=10s CONNS=32 PIN=both
#
# Each round runs the six cases (direct/proxied/nginx × small/large), and the
# broker and nginx at a fixed offered load for 1 KiB (bench/paced.lua, PACE_MS
# between a connection's requests, default 4), back to back, the order rotating from round to round, under wrk -t2 -cCONNS
# -dDURATION --latency. PIN=1: the broker, nginx and the API on CPU 0, wrk on
# CPU 1; PIN=0: unpinned; PIN=both (the default) runs the pinned variant, then
# the unpinned one, with fresh servers, and prints both (about 15 minutes with
# the defaults). Prints medians, the broker/nginx and proxied/direct ratios (of
# the medians, per round, and the median of the per-round ratios), the p99s and
# the load average before and after: a table ready for BENCHMARKS.md. Raw
# outputs go to bench/results/proxy-<timestamp>/ (pinned/ and unpinned/ with
# PIN=both).
#
# nginx is started as a process of this script's own, on a free 127.0.0.1
# port with a config written to the results directory, and stopped by its PID;
# the system service (if any) is neither used nor touched.
#
# FLOOR=1 adds the floor of the broker's own HTTP stack (backend/examples/
# hyper_floor.rs: tokio, hyper's server and hyper-util's pooled client, one
# fixed header, nothing else) as cases floor-small, floor-large and
# paced-floor-small, and the floor/nginx and broker/floor ratios: what the stack
# costs, apart from what the broker's own request path adds; then two steps
# between them, for 1 KiB: the floor's forward as an axum handler on the
# proxy's route (`hyper_floor axum`, case axum-small) and the broker's router on
# the bare stack (`hyper_floor app`, case app-small), so the broker's extra
# cost splits into axum's routing, the app and proxy steps, and the broker's
# connection handling.
#
# BASELINE=/path/to/an/older/token-backend adds that build as a second broker
# (cases baseline-small and baseline-large) in the same rounds, and the
# proxied/baseline ratios: what a change to the proxy costs (issue 18: the
# response sandbox headers), measured side by side. To build one:
#   git archive COMMIT | tar -x -C /tmp/old && cargo build --release -p token-backend \
#     --manifest-path /tmp/old/Cargo.toml --target-dir /tmp/old-target
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bin=${CARGO_TARGET_DIR:-$root/target}/release
out=${RESULTS_DIR:-$root/bench/results/proxy-$(date +%Y%m%d-%H%M%S)}
rounds=${ROUNDS:-5}
duration=${DURATION:-10s}
conns=${CONNS:-32}
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $nginx ]] || { echo "no nginx: run scripts/setup bench" >&2; exit 1; }
if [[ ${PIN:-both} == both ]]; then
    # Each variant with servers of its own, then both summaries together.
    PIN=1 RESULTS_DIR=$out/pinned "$root/bench/proxy.sh"
    PIN=0 RESULTS_DIR=$out/unpinned "$root/bench/proxy.sh"
    echo
    echo "## pinned (servers on CPU 0, wrk on CPU 1)"
    cat "$out/pinned/summary.md"
    echo
    echo "## unpinned"
    cat "$out/unpinned/summary.md"
    exit 0
fi
if [[ $PIN == 1 ]]; then on_server=(taskset -c 0) on_client=(taskset -c 1); else on_server=() on_client=(); fi

source "$(dirname "$0")/lib.sh"
release_copies token-backend examples/slow_upstream examples/resource_api ${FLOOR:+examples/hyper_floor}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"${on_client[@]}" "$bin/slow_upstream" 0 3600 50 >"$out/upstream.log" 2>&1 &
pids+=($!)
up=$(port_from_log "$out/upstream.log")
"${on_server[@]}" "$bin/resource_api" 0 >"$out/api.log" 2>&1 &
pids+=($!)
api="http://127.0.0.1:$(port_from_log "$out/api.log")"

port=$(free_port)
env OAUTH_PROVIDER=generic OAUTH_TOKEN_URL="http://127.0.0.1:$up/token" \
    OAUTH_CLIENT_ID=bench-client OAUTH_CLIENT_SECRET=bench-secret \
    PROXY_API="api=$api/" RUST_LOG=warn BIND_ADDR="127.0.0.1:$port" \
    "${on_server[@]}" "$bin/token-backend" >"$out/broker.log" 2>&1 &
pids+=($!)
broker="http://127.0.0.1:$port"
wait_http "$broker/healthz"
# nginx: one worker, the API as an upstream with 32 idle connections kept,
# its own Authorization header (the broker adds its token), streaming.
nginx_port=$(free_port)
mkdir -p "$out/nginx"
chmod 755 "$out" "$out/nginx"
cat >"$out/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $out/nginx/nginx.pid;
error_log $out/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $out/nginx/client_body;
    proxy_temp_path $out/nginx/proxy;
    fastcgi_temp_path $out/nginx/fastcgi;
    uwsgi_temp_path $out/nginx/uwsgi;
    scgi_temp_path $out/nginx/scgi;
    upstream api {
        server ${api#http://};
        keepalive 32;
    }
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            proxy_pass http://api;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "Bearer bench";
            proxy_buffering off;
        }
    }
}
CONF
"${on_server[@]}" "$nginx" -p "$out/nginx" -c "$out/nginx/nginx.conf" -e "$out/nginx/error.log" >"$out/nginx.log" 2>&1 &
pids+=($!)
peer="http://127.0.0.1:$nginx_port"
wait_http "$peer/small"
if [[ -n ${BASELINE:-} ]]; then
    cp "$BASELINE" "$out/bin/token-backend-baseline"
    old_port=$(free_port)
    env OAUTH_PROVIDER=generic OAUTH_TOKEN_URL="http://127.0.0.1:$up/token" \
        OAUTH_CLIENT_ID=bench-client OAUTH_CLIENT_SECRET=bench-secret \
        PROXY_API="api=$api/" RUST_LOG=warn BIND_ADDR="127.0.0.1:$old_port" \
        "${on_server[@]}" "$out/bin/token-backend-baseline" >"$out/baseline.log" 2>&1 &
    pids+=($!)
    baseline="http://127.0.0.1:$old_port"
    wait_http "$baseline/healthz"
fi

if [[ -n ${FLOOR:-} ]]; then
    "${on_server[@]}" "$bin/hyper_floor" pool "${api#http://}" >"$out/floor.log" 2>&1 &
    pids+=($!)
    floor="http://127.0.0.1:$(port_from_log "$out/floor.log")"
    RUST_LOG=warn "${on_server[@]}" "$bin/hyper_floor" app "${api#http://}" >"$out/app-floor.log" 2>&1 &
    pids+=($!)
    app_floor="http://127.0.0.1:$(port_from_log "$out/app-floor.log")"
    "${on_server[@]}" "$bin/hyper_floor" axum "${api#http://}" >"$out/axum-floor.log" 2>&1 &
    pids+=($!)
    axum_floor="http://127.0.0.1:$(port_from_log "$out/axum-floor.log")"
    wait_http "$floor/small"
    wait_http "$app_floor/healthz"
fi

declare -A url header script
cases=(direct-small proxied-small nginx-small direct-large proxied-large nginx-large paced-proxied-small paced-nginx-small)
url[direct-small]="$api/small" url[direct-large]="$api/large"
url[proxied-small]="$broker/api/proxy/api/small" url[proxied-large]="$broker/api/proxy/api/large"
url[nginx-small]="$peer/small" url[nginx-large]="$peer/large"
header[direct-small]="Authorization: Bearer bench" header[direct-large]="Authorization: Bearer bench"
header[proxied-small]="X-Bench: proxied" header[proxied-large]="X-Bench: proxied"
header[nginx-small]="X-Bench: nginx" header[nginx-large]="X-Bench: nginx"
# The same 1 KiB requests at a fixed offered load (bench/paced.lua): p99 at
# the same load, not at each server's own saturation.
export PACE_MS=${PACE_MS:-4}
for c in proxied nginx; do
    url[paced-$c-small]=${url[$c-small]} header[paced-$c-small]=${header[$c-small]} script[paced-$c-small]=bench/paced.lua
done
if [[ -n ${FLOOR:-} ]]; then
    cases+=(floor-small floor-large paced-floor-small axum-small app-small)
    url[floor-small]="$floor/small" url[floor-large]="$floor/large" url[paced-floor-small]="$floor/small"
    url[axum-small]="$axum_floor/api/proxy/api/small" url[app-small]="$app_floor/api/proxy/api/small"
    header[floor-small]="X-Bench: floor" header[floor-large]="X-Bench: floor" header[paced-floor-small]="X-Bench: floor"
    header[axum-small]="X-Bench: axum" header[app-small]="X-Bench: app"
    script[paced-floor-small]=bench/paced.lua
fi
if [[ -n ${BASELINE:-} ]]; then
    cases+=(baseline-small baseline-large)
    url[baseline-small]="$baseline/api/proxy/api/small" url[baseline-large]="$baseline/api/proxy/api/large"
    header[baseline-small]="X-Bench: baseline" header[baseline-large]="X-Bench: baseline"
fi
for c in "${cases[@]}"; do
    size=$(curl -sf --max-time 5 -H "${header[$c]}" -o /dev/null -w '%{size_download}' "${url[$c]}") ||
        { echo "no answer from $c (${url[$c]})" >&2; exit 1; }
    log "$c answers $size bytes"
done

declare -A rps p99
rotated_rounds "${cases[@]}"
mapfile -t small_ratios < <(per_round_ratios proxied-small direct-small)
mapfile -t large_ratios < <(per_round_ratios proxied-large direct-large)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ratio_row LABEL A B: a table row of A's req/s over B's (the median of the
# per-round ratios, and each round's) and both p99s.
ratio_row() {
    local ratios
    mapfile -t ratios < <(per_round_ratios "$2" "$3")
    # shellcheck disable=SC2086 # the per-case lists are space-separated on purpose
    echo "| $1 | **$(median "${ratios[@]}")** (${ratios[*]}) | $(median ${p99[$2]}) | $(median ${p99[$3]}) |"
}

# p99_row LABEL A B: a table row of A's p99 over B's, and both.
p99_row() {
    # shellcheck disable=SC2086
    echo "| $1 | p99 ratio **$(ratio "$(median ${p99[$2]})" "$(median ${p99[$3]})")** | $(median ${p99[$2]}) | $(median ${p99[$3]}) |"
}

{
    echo "git: $(git rev-parse --short HEAD 2>/dev/null)  PIN=$PIN  $rounds rounds × $duration, $conns connections  load before: $load_before  after: $load_after  nproc: $(nproc)  $("$nginx" -v 2>&1)"
    echo
    echo "| broker ÷ nginx | req/s: median of the per-round ratios (per round) | broker p99 ms | nginx p99 ms |"
    echo "|---|---|---:|---:|"
    ratio_row "1 KiB" proxied-small nginx-small
    ratio_row "1 MiB" proxied-large nginx-large
    # shellcheck disable=SC2086
    p99_row "1 KiB at the same offered load ($conns connections, ${PACE_MS} ms between requests: $(median ${rps[paced-proxied-small]}) and $(median ${rps[paced-nginx-small]}) req/s)" paced-proxied-small paced-nginx-small
    echo
    echo "| case | req/s (median) | p99 ms (median) | req/s per round |"
    echo "|---|---:|---:|---|"
    for c in "${cases[@]}"; do
        # shellcheck disable=SC2086 # the per-round lists are space-separated on purpose
        echo "| $c | $(median ${rps[$c]}) | $(median ${p99[$c]}) | ${rps[$c]% } |"
    done
    echo
    echo "| proxied / direct | req/s (of the medians; per round; median of those) | p99 |"
    echo "|---|---|---:|"
    # shellcheck disable=SC2086
    echo "| 1 KiB | $(ratio "$(median ${rps[proxied-small]})" "$(median ${rps[direct-small]})"); ${small_ratios[*]}; $(median "${small_ratios[@]}") | $(ratio "$(median ${p99[proxied-small]})" "$(median ${p99[direct-small]})") |"
    # shellcheck disable=SC2086
    echo "| 1 MiB | $(ratio "$(median ${rps[proxied-large]})" "$(median ${rps[direct-large]})"); ${large_ratios[*]}; $(median "${large_ratios[@]}") | $(ratio "$(median ${p99[proxied-large]})" "$(median ${p99[direct-large]})") |"
    if [[ -n ${FLOOR:-} ]]; then
        echo
        echo "| the stack's floor (hyper_floor) | req/s: median of the per-round ratios (per round) | first p99 ms | second p99 ms |"
        echo "|---|---|---:|---:|"
        ratio_row "floor ÷ nginx, 1 KiB" floor-small nginx-small
        ratio_row "floor ÷ nginx, 1 MiB" floor-large nginx-large
        p99_row "floor ÷ nginx, 1 KiB at the same offered load" paced-floor-small paced-nginx-small
        ratio_row "broker ÷ floor, 1 KiB" proxied-small floor-small
        ratio_row "the floor's forward as an axum route ÷ floor, 1 KiB (axum's routing and bodies)" axum-small floor-small
        ratio_row "the broker's router on the bare stack ÷ that axum route, 1 KiB (the app and proxy steps)" app-small axum-small
        ratio_row "broker ÷ its router on the bare stack, 1 KiB (the connection handling)" proxied-small app-small
    fi
    if [[ -n ${BASELINE:-} ]]; then
        mapfile -t small_vs_old < <(per_round_ratios proxied-small baseline-small)
        mapfile -t large_vs_old < <(per_round_ratios proxied-large baseline-large)
        echo
        echo "| proxied / baseline build | req/s (of the medians; per round; median of those) | p99 |"
        echo "|---|---|---:|"
        # shellcheck disable=SC2086
        echo "| 1 KiB | $(ratio "$(median ${rps[proxied-small]})" "$(median ${rps[baseline-small]})"); ${small_vs_old[*]}; $(median "${small_vs_old[@]}") | $(ratio "$(median ${p99[proxied-small]})" "$(median ${p99[baseline-small]})") |"
        # shellcheck disable=SC2086
        echo "| 1 MiB | $(ratio "$(median ${rps[proxied-large]})" "$(median ${rps[baseline-large]})"); ${large_vs_old[*]}; $(median "${large_vs_old[@]}") | $(ratio "$(median ${p99[proxied-large]})" "$(median ${p99[baseline-large]})") |"
    fi
} | tee "$out/summary.md"
