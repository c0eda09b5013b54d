#!/usr/bin/env bash
# The whole benchmark in one command: install and start the peers (each optional), build ossd
# and ossd-bench in release, run, stop the peers. Extra arguments go to `ossd-bench run`
# (e.g. --quick, --duration 2s, --targets ossd-relaxed,floor-relaxed).
#
#   bench/run.sh [--quick] [ossd-bench run options...]
#
# Results: bench/results/latest/{report.md,report.json,plot.svg} (override with --out).
# Set NO_PEERS=1 to skip the peers, PEERS_DIR to move their installation.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PEERS_DIR=${PEERS_DIR:-$HOME/.cache/ossd-bench-peers}

peer_args=()
if [ -z "${NO_PEERS:-}" ]; then
  bench/peers.sh install || echo "run: peer installation failed; going on without the missing ones" >&2
  bench/peers.sh start || true
  trap 'bench/peers.sh stop' EXIT
  peer_args=(--peers-file "$PEERS_DIR/peers.tsv")
fi

out_args=(--out bench/results/latest)
for a in "$@"; do
  case "$a" in --out | --out=*) out_args=() ;; esac
done

cargo build --release -p ossd -p ossd-bench
target/release/ossd-bench run --ossd-bin target/release/ossd "${out_args[@]}" "${peer_args[@]}" "$@"
