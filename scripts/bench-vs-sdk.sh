#!/usr/bin/env bash
# Whole-process comparison: trigger-tui --output ndjson vs the official SDK harness, each on its
# own embedded server playing the same batch (same seed) at --speed max, so the client sets the
# pace. Prints wall time, runs brought to their final state per second, peak RSS, and ratios.
#
# Usage: scripts/bench-vs-sdk.sh [RUNS] [SEED]     (from the project root; builds release first)
# Needs Node.js and GNU time (/usr/bin/time). The SDK harness is installed into a scratch copy
# of ../shared/conformance unless CONFORMANCE_DIR points at one with node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-1000}
SEED=${2:-7}
BIN=target/release/trigger-tui
cargo build --release -q

CONF=${CONFORMANCE_DIR:-}
if [ -z "$CONF" ]; then
  CONF=$(mktemp -d)
  cp -r ../shared/conformance/. "$CONF/"
  chmod -R u+w "$CONF"
  (cd "$CONF" && npm ci --no-audit --no-fund >/dev/null)
fi
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_server() { # prints the batch id; the server runs in the background
  local port=$1
  "$BIN" serve --port "$port" --runs "$RUNS" --seed "$SEED" --speed max >"$WORK/serve-$port.txt" 2>/dev/null &
  echo $! >"$WORK/serve-$port.pid"
  for _ in $(seq 50); do
    grep -q 'batch:' "$WORK/serve-$port.txt" 2>/dev/null && break
    sleep 0.1
  done
  awk '/batch:/ {print $2}' "$WORK/serve-$port.txt"
}

measure() { # name, then the command; GNU time writes its report to $WORK/name.time
  local name=$1; shift
  /usr/bin/time -v -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
}

field() { awk -F': ' -v k="$2" '$1 ~ k {print $2}' "$WORK/$1.time" | tail -1; }
seconds() { # "m:ss.cc" or "h:mm:ss" -> seconds
  echo "$1" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }'
}

server_cpu() { # CPU seconds the newest background server has used so far
  awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$(cat "$WORK/serve-$PORT.pid")/stat"
}

PORT=$(free_port); B=$(start_server "$PORT")
measure rust env TRIGGER_API_URL="http://127.0.0.1:$PORT" TRIGGER_SECRET_KEY=tr_dev_demo_trigger_tui_local \
  "$BIN" --batch "$B" --output ndjson --exit-when-done
rust_server_cpu=$(server_cpu)
kill %1 2>/dev/null || true; wait 2>/dev/null || true

PORT=$(free_port); B=$(start_server "$PORT")
IDLE_MS=200
measure sdk env TRIGGER_API_URL="http://127.0.0.1:$PORT" TRIGGER_SECRET_KEY=tr_dev_demo_trigger_tui_local \
  node "$CONF/sdk-subscribe.mjs" --batch "$B" --final --require-final --expect-runs "$RUNS" \
  --idle-ms "$IDLE_MS" --max-ms 1800000
sdk_server_cpu=$(server_cpu)
kill %1 2>/dev/null || true; wait 2>/dev/null || true

rust_s=$(seconds "$(field rust 'Elapsed .wall clock')")
sdk_s=$(seconds "$(field sdk 'Elapsed .wall clock')")
# The harness waits IDLE_MS after the last update before it stops: not ingest time.
sdk_s=$(awk -v s="$sdk_s" -v i="$IDLE_MS" 'BEGIN { printf "%.3f", s - i/1000 }')
rust_kb=$(field rust 'Maximum resident set size')
sdk_kb=$(field sdk 'Maximum resident set size')
rust_final=$(python3 -c "import json,sys; d={}; [d.__setitem__(json.loads(l)['id'], json.loads(l)['status']) for l in open('$WORK/rust.out')]; print(len(d))")
sdk_final=$(wc -l <"$WORK/sdk.out")

printf 'runs %s, seed %s, server --speed max\n' "$RUNS" "$SEED"
printf '%-12s %10s %14s %12s %10s\n' client wall_s runs_per_s peak_rss_MB runs_seen
printf '%-12s %10.3f %14.0f %12.1f %10s\n' trigger-tui "$rust_s" "$(awk -v r="$RUNS" -v s="$rust_s" 'BEGIN{print r/s}')" "$(awk -v k="$rust_kb" 'BEGIN{print k/1024}')" "$rust_final"
printf '%-12s %10.3f %14.0f %12.1f %10s\n' sdk-harness "$sdk_s" "$(awk -v r="$RUNS" -v s="$sdk_s" 'BEGIN{print r/s}')" "$(awk -v k="$sdk_kb" 'BEGIN{print k/1024}')" "$sdk_final"
printf 'rate ratio (trigger-tui / SDK): %.1fx   peak RSS ratio (trigger-tui / SDK): %.2f\n' \
  "$(awk -v a="$sdk_s" -v b="$rust_s" 'BEGIN{print a/b}')" "$(awk -v a="$rust_kb" -v b="$sdk_kb" 'BEGIN{print a/b}')"
# The server is not the bottleneck when its CPU time is well below the wall time (it is idle
# between the client's requests).
printf 'server CPU while serving trigger-tui: %ss of %.3fs wall; while serving the SDK: %ss of %.3fs wall\n' \
  "$rust_server_cpu" "$rust_s" "$sdk_server_cpu" "$sdk_s"
printf 'states yielded: trigger-tui %s ndjson lines\n' "$(wc -l <"$WORK/rust.out")"
