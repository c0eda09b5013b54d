#!/usr/bin/env bash
# Instruction counts (callgrind, user space) of one ossd build per request kind, as used in
# BENCHMARKS.md (perf has no hardware counters on the development VM).
#
#   bench/profile/callgrind.sh OSSD_BIN put N        # N plain 4 KiB PUTs
#   bench/profile/callgrind.sh OSSD_BIN callback N   # N plain PUTs + N PUTs with a callback
#   bench/profile/callgrind.sh OSSD_BIN list N DATA  # N 1,000-key pages over DATA (a data dir
#                                                    # filled by list_client.py PORT fill 20000)
#
# Prints callgrind's total. Take differences of two runs (e.g. callback 50 - put 50, list 21 -
# list 1) so that start-up cancels. PYTHON (default python3) must have oss2.
set -u
bin=$1 kind=$2 n=$3 data=${4:-}
py=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
d=$(mktemp -d)
port=39555
if [ -n "$data" ]; then cp -a "$data" "$d/data"; fi
key=$d/key.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key" 2>/dev/null
OSSD_ACCESS_KEY_ID=benchak OSSD_ACCESS_KEY_SECRET=benchsecretkey valgrind --tool=callgrind \
  --callgrind-out-file="$d/cg.out" "$bin" serve --listen 127.0.0.1:$port --data "$d/data" \
  --durability relaxed --log warn --callback-private-key "$key" >"$d/stdout" 2>"$d/stderr" &
pid=$!
for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
case "$kind" in
  put) "$py" "$here/callback_client.py" $port "$n" 0 ;;
  callback) "$py" "$here/callback_client.py" $port "$n" 1 ;;
  list) "$py" "$here/list_client.py" $port list "$n" ;;
  *) echo "kind must be put, callback or list" >&2 ;;
esac
kill -TERM $pid
wait $pid
grep -h "Collected" "$d/stderr"
echo "profile: $d/cg.out (callgrind_annotate $d/cg.out)"
