#!/usr/bin/env bash
# Cluster figures for docs/BENCHMARKS.md: produce and consume throughput of
# one node and of a three-node cluster (`shale dev --cluster 3`) on this
# machine, and the metadata log's growth under that load. Loopback only;
# stops what it started.
#   bench/cluster.sh [seconds]      (default 20 s of produce per run)
set -euo pipefail
secs=${1:-20}
cd "$(dirname "$0")/.."
go build -o bin/shale ./cmd/shale
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

wait_port() { for _ in $(seq 200); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

run_load() { # name brokers
  local name=$1 brokers=$2
  bin/shale loadtest produce --brokers "$brokers" --topic "bench-$name" --create-topic --partitions 12 \
    --producers 4 --acks all --record-size 1KiB --duration "${secs}s" --progress 0 --json > "$work/$name-produce.json"
  bin/shale loadtest consume --brokers "$brokers" --topic "bench-$name" --consumers 4 --duration "${secs}s" \
    --progress 0 --json > "$work/$name-consume.json" || true
  echo "== $name produce"; cat "$work/$name-produce.json"
  echo "== $name consume"; cat "$work/$name-consume.json"
}

# One node.
bin/shale dev --data-dir "$work/one" --listen 127.0.0.1:19092 --log-level warn > "$work/one.log" 2>&1 &
pids+=($!)
wait_port 19092
run_load one 127.0.0.1:19092
kill "${pids[0]}"; wait "${pids[0]}" || true

# Three nodes.
bin/shale dev --cluster 3 --data-dir "$work/three" --listen 127.0.0.1:29092 --log-level warn > "$work/three.log" 2>&1 &
pids+=($!)
wait_port 29094
wait_port 29194
before=$(bin/shale cluster status --controller 127.0.0.1:29192 --output json | sed -E 's/.*"applied_index":([0-9]+).*/\1/' | head -1)
dbb=$(stat -c %s "$work/three/node-1/meta/raft.db")
start=$(date +%s.%N)
run_load three 127.0.0.1:29092,127.0.0.1:29093,127.0.0.1:29094
end=$(date +%s.%N)
after=$(bin/shale cluster status --controller 127.0.0.1:29192 --output json | sed -E 's/.*"applied_index":([0-9]+).*/\1/' | head -1)
dba=$(stat -c %s "$work/three/node-1/meta/raft.db")
echo "== metadata log: $((after - before)) raft entries over $(echo "$end - $start" | bc) s of load; raft.db grew $((dba - dbb)) bytes"
