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

stop_server() { # the newest background server
  kill "$(cat "$WORK/serve-$PORT.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
}

PORT=$(free_port); B=$(start_server "$PORT")
measure rust env TRIGGER_API_URL="http://127.0.0.1:$PORT" TRIGGER_SECRET_KEY=tr_dev_demo_trigger_tui_local \
  "$BIN" --batch "$B" --output ndjson --exit-when-done
rust_server_cpu=$(server_cpu)
stop_server

IDLE_MS=200
# The harness two ways: printing every state it is yielded (what `--output ndjson` does), and
# printing only each run's final state once the batch is done (`--final`). Either way the SDK
# decodes every update.
sdk() { # name, then harness flags
  local name=$1; shift
  PORT=$(free_port); B=$(start_server "$PORT")
  measure "$name" env TRIGGER_API_URL="http://127.0.0.1:$PORT" TRIGGER_SECRET_KEY=tr_dev_demo_trigger_tui_local \
    node "$CONF/sdk-subscribe.mjs" --batch "$B" --require-final --expect-runs "$RUNS" \
    --idle-ms "$IDLE_MS" --max-ms 1800000 "$@"
  eval "${name//-/_}_server_cpu=$(server_cpu)"
  stop_server
}
sdk sdk-every
sdk sdk-final --final

wall() { # seconds of wall time; the harness waits IDLE_MS after the last update before it stops
  local s; s=$(seconds "$(field "$1" 'Elapsed .wall clock')")
  if [ "$1" != rust ]; then s=$(awk -v s="$s" -v i="$IDLE_MS" 'BEGIN { printf "%.3f", s - i/1000 }'); fi
  echo "$s"
}
rss_mb() { awk -v k="$(field "$1" 'Maximum resident set size')" 'BEGIN{printf "%.1f", k/1024}'; }
seen() { # runs whose last printed state is final
  python3 -c "
import json, sys
last = {}
for line in open('$WORK/$1.out'):
    run = json.loads(line)
    last[run['id']] = run['status']
final = {'COMPLETED', 'CANCELED', 'FAILED', 'CRASHED', 'SYSTEM_FAILURE', 'EXPIRED', 'TIMED_OUT'}
print(sum(1 for s in last.values() if s in final))"
}

rust_s=$(wall rust)
printf 'runs %s, seed %s, server --speed max\n' "$RUNS" "$SEED"
printf '%-22s %8s %11s %12s %11s %8s %9s %10s\n' client wall_s runs_per_s peak_rss_MB runs_final lines rate_x rss_ratio
for name in rust sdk-every sdk-final; do
  s=$(wall "$name")
  label=$name
  case $name in
    rust) label="trigger-tui ndjson" ;;
    sdk-every) label="sdk, every state" ;;
    sdk-final) label="sdk, --final" ;;
  esac
  printf '%-22s %8.3f %11.0f %12s %11s %8s %8.1fx %10.2f\n' "$label" "$s" \
    "$(awk -v r="$RUNS" -v s="$s" 'BEGIN{print r/s}')" "$(rss_mb "$name")" "$(seen "$name")" \
    "$(wc -l <"$WORK/$name.out")" "$(awk -v a="$s" -v b="$rust_s" 'BEGIN{print a/b}')" \
    "$(awk -v a="$(rss_mb rust)" -v b="$(rss_mb "$name")" 'BEGIN{print a/b}')"
done
echo "rate_x: the client's wall time over trigger-tui's (how many times faster trigger-tui is);"
echo "rss_ratio: trigger-tui's peak RSS over the client's."
# The server is not the bottleneck when its CPU time is well below the wall time (it is idle
# between the client's requests).
printf 'server CPU while serving trigger-tui: %ss of %.3fs wall; the SDK (every state): %ss of %.3fs wall\n' \
  "$rust_server_cpu" "$rust_s" "$sdk_every_server_cpu" "$(wall sdk-every)"
printf 'trigger-tui CPU: %ss user, %ss system\n' "$(field rust 'User time')" "$(field rust 'System time')"
