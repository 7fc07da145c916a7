# Helpers shared by the benchmark drivers (sourced, not run): process cleanup,
# logging, free ports, readiness waits, wrk's figures and the rotated rounds. Every server they start is recorded
# in `pids` and stopped on exit.

pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# release_copies FILE...: checks that each FILE under $bin (the release target
# directory) is built, copies them to $out/bin, so a concurrent `cargo build`
# cannot swap a binary mid-run, and points $bin at the copies.
release_copies() {
    local f
    for f in "$@"; do
        [[ -x $bin/$f ]] || { echo "missing $bin/$f: run cargo build --release -p token-backend --bins --examples" >&2; exit 1; }
    done
    mkdir -p "$out/bin"
    for f in "$@"; do cp "$bin/$f" "$out/bin/"; done
    bin=$out/bin
}

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# A port nothing listens on (the servers that take port 0 report theirs instead).
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
    done
}

# wait_http URL [SECONDS]: waits up to SECONDS (10 by default) for URL to answer HTTP at all.
wait_http() {
    local i
    for i in $(seq $((${2:-10} * 10))); do
        curl -s -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.1
    done
    echo "no answer from $1" >&2
    return 1
}

# port_from_log LOG [SECONDS]: waits up to SECONDS (10 by default) for an
# example's "listening on 127.0.0.1:PORT" line in LOG; prints PORT.
port_from_log() {
    local i p
    for i in $(seq $((${2:-10} * 10))); do
        p=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$1" | head -1)
        [[ -n $p ]] && { echo "$p"; return 0; }
        sleep 0.1
    done
    echo "no listening line in $1" >&2
    return 1
}

# A figure wrk reported through bench/report.lua: field FILE rps|p99_ms|errors|non2xx.
field() { sed -n "s/^BENCH.* $2=\([0-9.]*\).*/\1/p" "$1"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# rotated_rounds NAME...: $rounds rounds of wrk -t2 -c$conns -d$duration against
# url[NAME] (with the header header[NAME] and the wrk script script[NAME],
# default bench/report.lua, if the caller set them), the order
# rotating from round to round so no case always runs first or last. Each
# round's figures are appended to rps[NAME] and p99[NAME] (space-separated);
# the raw output is $out/NAME-ROUND.txt.
declare -A script=()
rotated_rounds() {
    local names=("$@") r k c f
    for r in $(seq "$rounds"); do
        for k in "${!names[@]}"; do
            c=${names[$(((k + r - 1) % ${#names[@]}))]}
            f="$out/$c-$r.txt"
            log "round $r/$rounds: $c"
            local extra=()
            [[ -n ${header[$c]:-} ]] && extra=(-H "${header[$c]}")
            "${on_client[@]}" wrk -t2 -c"$conns" -d"$duration" --latency "${extra[@]}" -s "${script[$c]:-bench/report.lua}" "${url[$c]}" >"$f" 2>&1
            rps[$c]+="$(field "$f" rps) "
            p99[$c]+="$(field "$f" p99_ms) "
            if (($(field "$f" errors) + $(field "$f" non2xx) > 0)); then log "errors reported in $f"; fi
            sleep 1
        done
    done
}

# per_round_ratios A B: the req/s of A over B, round by round.
per_round_ratios() {
    local r
    for r in $(seq "$rounds"); do ratio "$(field "$out/$1-$r.txt" rps)" "$(field "$out/$2-$r.txt" rps)"; echo; done
}
