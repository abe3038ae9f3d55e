#!/usr/bin/env bash
# docs/distributed.md's scaling figures: one sweep of 256 learning rates x 16 seeds (4096 tutorial networks,
# 3000 epochs) as 1 process x 1 thread, 1 process x 2 threads, and torchrun 2 processes x 1 thread
# (gloo). Prints each run's training rate (the slowest rank's training time) and the command's wall
# time (process start, rendezvous, gather, table). Run after make setup.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
args=(sweep --lrs 256 --seeds 16 --epochs 3000 --table /dev/null --plot "")
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
wall() { local t0 t1; t0=$(date +%s.%N); "$@" >"$out/log" 2>&1; t1=$(date +%s.%N);
  echo "$(grep -o '[0-9,]* model-steps per second' "$out/log"); wall $(echo "$t1 - $t0" | bc) s"; }
for rep in 1 2 3; do
  echo "run $rep"
  echo "  1 process x 1 thread:    $(wall "$BIN/sinernn" "${args[@]}" --threads 1)"
  echo "  1 process x 2 threads:   $(wall "$BIN/sinernn" "${args[@]}" --threads 2)"
  echo "  2 processes x 1 thread:  $(wall "$BIN/torchrun" --standalone --nproc-per-node 2 -m sinernn "${args[@]}" --threads 1 --out-dir "$out/shards$rep")"
done
