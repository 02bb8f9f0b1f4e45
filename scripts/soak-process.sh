#!/usr/bin/env bash
# Whole-process soak: the dashboard, in a real terminal (tmux), watches a batch that updates
# without pause for MINUTES minutes, while the server drops some connections on purpose. Every
# INTERVAL seconds it samples the client's resident memory, open file descriptors, TCP sockets
# and CPU time from /proc, then prints the series and a verdict on whether memory and sockets
# stayed flat. Figures go into BENCHMARKS.md.
#
# Usage: scripts/soak-process.sh [MINUTES] [RUNS] [FAULT_RATE]   (from the project root)
# Defaults: 10 minutes, 20,000 runs, 2% of feed responses dropped. Needs tmux and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-10}
RUNS=${2:-20000}
RATE=${3:-0.02}
INTERVAL=${INTERVAL:-15}
BIN=${BIN:-target/release/trigger-tui}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q

WORK=$(mktemp -d)
SESSION="soak-$$"
cleanup() {
  tmux kill-session -t "$SESSION" 2>/dev/null || true
  kill "${SERVER:-}" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The simulated batch must outlast the soak: at speed 1 a 20,000-run batch takes ~53 minutes
# of sim time, so pick the speed that makes it last about MINUTES + 1.
SPEED=$(python3 -c "print(max(0.1, round(3200 * $RUNS / 20000 / (($MINUTES + 1) * 60), 2)))")
"$BIN" serve --port "$PORT" --runs "$RUNS" --seed 7 --speed "$SPEED" \
  --faults drop --fault-rate "$RATE" >"$WORK/serve.txt" 2>"$WORK/serve.err" &
SERVER=$!
for _ in $(seq 100); do grep -q 'batch:' "$WORK/serve.txt" 2>/dev/null && break; sleep 0.1; done
BATCH=$(awk '/batch:/ {print $2}' "$WORK/serve.txt")

tmux new-session -d -s "$SESSION" -x 200 -y 50 \
  "TRIGGER_API_URL=http://127.0.0.1:$PORT TRIGGER_SECRET_KEY=tr_dev_demo_trigger_tui_local \
   $BIN --batch $BATCH; sleep 600"
sleep 2
CLIENT=$(pgrep -f -n -- "--batch $BATCH" || true)
[ -n "$CLIENT" ] || { echo "the dashboard did not start"; tmux capture-pane -p -t "$SESSION"; exit 1; }

echo "soak: $RUNS runs, speed $SPEED, drop faults at $RATE, ${MINUTES} min, client pid $CLIENT"
printf '%8s %10s %6s %8s %6s %9s %10s\n' elapsed_s rss_kib fds sockets tcp cpu_s server_kib
TICKS=$(getconf CLK_TCK)
END=$(( $(date +%s) + MINUTES * 60 ))
START=$(date +%s)
while [ "$(date +%s)" -lt "$END" ]; do
  [ -d "/proc/$CLIENT" ] || { echo "the dashboard exited early"; tmux capture-pane -p -t "$SESSION"; exit 1; }
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$CLIENT/status")
  fds=$(ls "/proc/$CLIENT/fd" | wc -l)
  # Every socket (tokio's own wakers and signal pipes are Unix sockets), then the TCP ones.
  socks=$(ls -l "/proc/$CLIENT/fd" 2>/dev/null | grep -c 'socket:' || true)
  tcp=$(ss -tanp 2>/dev/null | grep -c "pid=$CLIENT," || true)
  cpu=$(awk -v t="$TICKS" '{printf "%.1f", ($14 + $15) / t}' "/proc/$CLIENT/stat")
  srss=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status")
  printf '%8d %10d %6d %8d %6d %9s %10d\n' $(( $(date +%s) - START )) "$rss" "$fds" "$socks" "$tcp" "$cpu" "$srss" \
    | tee -a "$WORK/samples.txt"
  sleep "$INTERVAL"
done

echo "== the screen at the end"
tmux capture-pane -p -t "$SESSION" | head -8
# Flat means: over the second half, RSS moved less than 10%, the sockets never outnumbered the
# most seen in the first half, and at most 2 TCP connections were open (the feed, and a packet
# fetch or the batch record beside it).
awk -v n="$(wc -l <"$WORK/samples.txt")" '
  NR <= n / 2 { if ($4 > first) first = $4 }
  NR > n / 2 {
    if (lo == "" || $2 < lo) lo = $2; if ($2 > hi) hi = $2
    if ($4 > sk) sk = $4; if ($5 > tcp) tcp = $5
  }
  END {
    printf "second half: rss %d..%d KiB (%.1f%%), at most %d sockets (first half %d), at most %d TCP\n",
      lo, hi, (hi - lo) * 100 / lo, sk, first, tcp
    if ((hi - lo) * 10 > lo || sk > first || tcp > 2) { print "NOT FLAT"; exit 1 } else print "flat"
  }' "$WORK/samples.txt"
