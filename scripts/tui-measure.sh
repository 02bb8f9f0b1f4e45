#!/usr/bin/env bash
# What a person at the keyboard feels, measured on the real binary in a real terminal (tmux):
#
# 1. latency: the demo with RUNS runs streams updates while 100 `j` presses arrive 50 ms apart
#    (from 12 s after the feed went live, so they land in the steady state); the session goes on
#    streaming for 20 s after that. `--latency-report` prints key-to-frame and
#    server-change-to-frame percentiles on exit, the latter split into the first 10 s after
#    the feed went live (the backlog of the first snapshot) and the steady state after it.
# 2. idle CPU: a small demo batch played at full speed finishes, then the dashboard sits on a
#    live but quiet connection for IDLE seconds; its CPU ticks over that time are counted.
#
# Usage: scripts/tui-measure.sh [RUNS] [SPEED] [IDLE]   (from the project root; needs tmux)
# Defaults: 100,000 runs at speed 20, 30 s idle.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-100000}
SPEED=${2:-20}
IDLE=${3:-30}
BIN=${BIN:-$PWD/target/release/trigger-tui}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q
WORK=$(mktemp -d)
S="measure-$$"
trap 'tmux kill-session -t "$S" 2>/dev/null || true; rm -rf "$WORK"' EXIT

wait_for() { # text on screen, seconds
  for _ in $(seq $(( $2 * 10 ))); do
    tmux capture-pane -p -t "$S" 2>/dev/null | grep -q "$1" && return 0
    sleep 0.1
  done
  echo "timed out waiting for '$1'"; tmux capture-pane -p -t "$S"; exit 1
}

echo "== latency: $RUNS runs at speed $SPEED, 200x50, 100 key presses"
tmux new-session -d -s "$S" -x 200 -y 50 \
  "$BIN --demo --runs $RUNS --speed $SPEED --latency-report 2>$WORK/report.txt; sleep 30"
wait_for '● live' 60
sleep 12
for _ in $(seq 100); do tmux send-keys -t "$S" j; sleep 0.05; done
sleep 20
tmux send-keys -t "$S" q
for _ in $(seq 100); do grep -q 'frames' "$WORK/report.txt" 2>/dev/null && break; sleep 0.1; done
cat "$WORK/report.txt"
tmux kill-session -t "$S"

echo "== idle CPU: 100 runs at speed max, then ${IDLE} s on a quiet live connection"
tmux new-session -d -s "$S" -x 200 -y 50 "$BIN --demo --runs 100 --speed max"
wait_for '● live' 30
sleep 3
PID=$(pgrep -f -n -- "--demo --runs 100 --speed max")
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
before=$(ticks)
sleep "$IDLE"
after=$(ticks)
hz=$(getconf CLK_TCK)
awk -v t=$((after - before)) -v s="$IDLE" -v hz="$hz" 'BEGIN {
  printf "idle: %d CPU ticks (1/%d s) in %d s = %.3f%% of one core\n", t, hz, s, t * 100 / hz / s }'
