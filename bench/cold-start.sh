#!/usr/bin/env bash
# Cold start of the demo (issue 13): how long `./scripts/dev` takes until the demo
# page is served, and how long the static binary takes from exec to /healthz.
#
#   bench/cold-start.sh            # second run of ./scripts/dev in this tree, and the static binary
#   FRESH=1 bench/cold-start.sh    # also a fresh clone with its own target dir (about 20 minutes)
#
# Each figure is the wall-clock time until GET / answers 200 on a free loopback
# port. The processes started here are stopped on exit.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
pids=()
scratch=$(mktemp -d)
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$scratch"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts "$@" in the background and prints the seconds until GET / answers 200.
time_until_served() {
  local port=$1; shift
  local start=$(date +%s.%N)
  BIND_ADDR=127.0.0.1:$port "$@" >"$scratch/log-$port" 2>&1 &
  pids+=($!)
  until curl -fs -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; do
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$scratch/log-$port" >&2; exit 1; }
    sleep 0.05
  done
  printf '%.2f' "$(echo "$(date +%s.%N) - $start" | bc)"
  kill "${pids[-1]}"
  wait "${pids[-1]}" 2>/dev/null || true
}

if [ "${FRESH:-0}" = 1 ]; then
  git clone --quiet "$root" "$scratch/clone"
  echo "fresh clone, ./scripts/dev until the demo page is served: $(
    CARGO_TARGET_DIR="$scratch/target" time_until_served "$(free_port)" "$scratch/clone/scripts/dev") s"
  echo "fresh clone, files changed by it: $(git -C "$scratch/clone" status --porcelain | wc -l)"
fi

echo "./scripts/dev, second run (built already): $(time_until_served "$(free_port)" scripts/dev) s"
static=target/x86_64-unknown-linux-musl/release/token-backend
if [ -x "$static" ]; then
  mkdir -p "$scratch/empty"
  echo "static binary --dev, exec until served: $(cd "$scratch/empty" && time_until_served "$(free_port)" "$root/$static" --dev) s"
fi
