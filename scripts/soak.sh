#!/usr/bin/env bash
# Long soak of the reliability tests, outside `cargo test`'s budget: the convergence property
# test with many more fault mixes, and every fuzz target with ten times (or SCALE times) as
# many cases. Release build, one test binary at a time; failing seeds land in
# proptest-regressions/ (commit them).
#
# Usage: scripts/soak.sh [CONVERGENCE_CASES] [FUZZ_SCALE]     (from the project root)
# Defaults: 200 convergence cases (about 10-20 minutes), fuzz scale 10.
set -euo pipefail
cd "$(dirname "$0")/.."
CASES=${1:-200}
SCALE=${2:-10}

echo "== fuzz targets, ${SCALE}x the CI case counts"
FUZZ_SCALE=$SCALE cargo test --release --test parsers_prop -- --nocapture --test-threads=1 2>&1 \
  | grep -E '^fuzz |test result|FAILED|panicked|minimal'

echo "== convergence under faults, $CASES random fault mixes"
CONVERGENCE_CASES=$CASES cargo test --release --test convergence \
  random_fault_mixes_converge_to_the_server -- --nocapture 2>&1 \
  | grep -E '^converged|random fault mixes|test result|FAILED|panicked'
