#!/usr/bin/env bash
# Before/after on the same machine in one run: builds ossd (release) at BEFORE and at AFTER (the
# working tree when not given), then runs the same ossd-bench cells against both binaries,
# alternating (A B A B ...) so that the machine's drift falls on both, and prints each cell's
# median over the rounds, the spread (min..max) and the ratio after/before.
#
#   bench/compare.sh BEFORE[..AFTER] [ROUNDS] [ossd-bench run options...]
#   e.g. bench/compare.sh bb61697 3 --workloads put,get,list --sizes 4k --list-keys 100000
#        bench/compare.sh 534b153^1..534b153      (what one merge cost)
#
# Defaults: 3 rounds; 4 KiB PUT and GET at c=1,16,64 and LIST, both durabilities, 2 s cells.
# Results: bench/results/compare/<revs>/{before,after}-N/ and summary.md (COMPARE_OUT moves them);
# BENCHMARKS.md "Before/after comparisons" quotes them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
revs=${1:?usage: bench/compare.sh BEFORE[..AFTER] [ROUNDS] [options...]}
rounds=${2:-3}
shift $(( $# >= 2 ? 2 : 1 ))
opts=("$@")
if ((${#opts[@]} == 0)); then
  opts=(--workloads put,get,list --sizes 4k --concurrency 1,16,64 --duration 2s --list-keys 100000)
fi
out=${COMPARE_OUT:-bench/results/compare/${revs//[^A-Za-z0-9]/_}}
cache=${COMPARE_DIR:-$HOME/.cache/ossd-compare}
mkdir -p "$out" "$cache"

# One throw-away worktree and one target directory for every revision built (dependencies are
# shared), each binary kept as bin/ossd-<commit>.
build_rev() {
  local sha bin
  sha=$(git rev-parse --verify "$1^{commit}")
  bin="$cache/bin/ossd-$sha"
  if [[ ! -x $bin ]]; then
    [[ -d $cache/tree ]] || git worktree add --detach "$cache/tree" "$sha" >/dev/null
    git -C "$cache/tree" checkout -q --detach "$sha"
    (cd "$cache/tree" && CARGO_TARGET_DIR="$cache/target" cargo build --release --locked -p ossd >&2)
    mkdir -p "$cache/bin"
    cp "$cache/target/release/ossd" "$bin"
  fi
  echo "$bin"
}
cargo build --release --locked -p ossd-bench -p ossd
rev=${revs%%..*}
before=$(build_rev "$rev")
if [[ $revs == *..* ]]; then
  rev="$rev..${revs#*..}"
  after=$(build_rev "${revs#*..}")
else
  after="target/release/ossd"
fi

for ((i = 1; i <= rounds; i++)); do
  for side in before after; do
    bin=$before
    [[ $side == after ]] && bin=$after
    echo "==> round $i/$rounds: $side ($bin)" >&2
    rm -rf "$out/$side-$i"
    target/release/ossd-bench run --ossd-bin "$bin" --targets ossd-fsync,ossd-relaxed \
      --out "$out/$side-$i" "${opts[@]}" >/dev/null
  done
done
python3 bench/compare.py "$out" "$rounds" "$rev" | tee "$out/summary.md"
