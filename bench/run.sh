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
# The ossd-pg targets (one and two nodes on PostgreSQL + SeaweedFS) run inside a throw-away
# PostgreSQL (fsync on) and SeaweedFS, started by the test suites' helper when both are here.
wrap=()
py="$PEERS_DIR/venv/bin/python"
if [ -x "$py" ] && "$py" -c 'import sys; sys.path.insert(0, "tests/sdk/python"); import pg_server, seaweed_server; sys.exit(1 if (pg_server.available() or seaweed_server.available()) else 0)' 2>/dev/null; then
  wrap=(env OSSD_PG_FSYNC=on "$py" tests/sdk/python/with_cluster_services.py --)
else
  echo "run: PostgreSQL or SeaweedFS missing; the ossd-pg targets are skipped" >&2
fi
"${wrap[@]}" target/release/ossd-bench run --ossd-bin target/release/ossd "${out_args[@]}" "${peer_args[@]}" "$@"
