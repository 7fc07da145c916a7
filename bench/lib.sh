# Helpers shared by the benchmark drivers (sourced, not run): process cleanup,
# logging, free ports and readiness waits. Every server they start is recorded
# in `pids` and stopped on exit.

pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# A port nothing listens on (the servers that take port 0 report theirs instead).
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
    done
}

# Waits up to 10 s for URL to answer HTTP at all.
wait_http() {
    local i
    for i in $(seq 100); do
        curl -s -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.1
    done
    echo "no answer from $1" >&2
    return 1
}

# Waits up to 10 s for an example's "listening on 127.0.0.1:PORT" line; prints PORT.
port_from_log() {
    local i p
    for i in $(seq 100); do
        p=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$1" | head -1)
        [[ -n $p ]] && { echo "$p"; return 0; }
        sleep 0.1
    done
    echo "no listening line in $1" >&2
    return 1
}
