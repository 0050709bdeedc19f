#!/usr/bin/env bash
# Cold replay of one topic from a local MinIO through `shale dev`, with the
# broker's s3 driver alternating between the AWS SDK and minio-go
# (driver=aws|minio in the bucket URL), the order swapped every round. Every
# round restarts the broker with its WAL wiped, so every byte read comes
# from MinIO through the driver under test and the block cache starts
# empty. Prints one line per round and the medians: replay MB/s (objtier
# replay, 4 workers), and the broker's and MinIO's CPU seconds per GB
# replayed (from /proc, for the replay only).
#
#   bench/drivers.sh                 512 MiB of 1 KiB records, 5 rounds
#   DRIVERS_COUNT=1048576 DRIVERS_ROUNDS=7 bench/drivers.sh
#
# Needs MinIO ($(go env GOPATH)/bin/minio, or SHALE_MINIO_BIN). Listens on
# 127.0.0.1 only; every process it starts is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
COUNT=${DRIVERS_COUNT:-524288}
ROUNDS=${DRIVERS_ROUNDS:-5}
MINIO=${SHALE_MINIO_BIN:-$(go env GOPATH)/bin/minio}
[[ -x "$MINIO" ]] || { echo "drivers: no MinIO at $MINIO (run scripts/test-deps.sh)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/shale-drivers.XXXXXX")
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	[[ "${DRIVERS_KEEP:-0}" == 1 ]] && echo "drivers: kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { printf 'drivers: %s\n' "$*" >&2; }

mkdir -p "$WORK/bin"
go build -o "$WORK/bin/shale" ./cmd/shale
go build -o "$WORK/bin/objtier" ./bench/objtier

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# cpu_secs PID: user + system CPU seconds the process has used.
cpu_secs() { awk -v t="$(getconf CLK_TCK)" '{ print ($14 + $15) / t }' "/proc/$1/stat"; }

port=$(free_port)
console=$(free_port)
endpoint="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=shale-bench-access AWS_SECRET_ACCESS_KEY=shale-bench-secret-key
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_SESSION_TOKEN=
mkdir -p "$WORK/minio-data" "$WORK/minio-home"
HOME="$WORK/minio-home" MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY \
	MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CALLHOME_ENABLE=off MINIO_CI_CD=on MINIO_REGION=us-east-1 \
	"$MINIO" server "$WORK/minio-data" --address "127.0.0.1:$port" --console-address "127.0.0.1:$console" \
	--quiet >"$WORK/minio.log" 2>&1 &
MINIO_PID=$!
PIDS+=("$MINIO_PID")
for _ in $(seq 1 600); do
	curl -sf -o /dev/null "$endpoint/minio/health/ready" && break
	sleep 0.1
done
for _ in $(seq 1 100); do
	"$WORK/bin/objtier" mkbucket --endpoint "$endpoint" --bucket shale-drivers >/dev/null 2>&1 && break
	sleep 0.3
done

base="s3://shale-drivers?endpoint=http%3A%2F%2F127.0.0.1%3A$port&region=us-east-1"
data="$WORK/data"
# start DRIVER LOG: the broker on the bucket through DRIVER; sets PID, ADDR.
start() {
	"$WORK/bin/shale" dev --data-dir "$data" --listen 127.0.0.1:0 --object-store "$base&driver=$1" \
		--compaction-interval 0 --log-level warn >"$2" 2>&1 &
	PID=$!
	PIDS+=("$PID")
	for _ in $(seq 1 300); do
		if grep -q 'Kafka listener on ' "$2"; then
			ADDR=$(sed -n 's/.*Kafka listener on \([0-9.:]*\).*/\1/p' "$2" | head -1)
			return 0
		fi
		kill -0 "$PID" 2>/dev/null || { cat "$2" >&2; exit 1; }
		sleep 0.1
	done
	log "broker did not listen within 30s"
	exit 1
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# The history: COUNT records of 1 KiB with acks=all, so all of it is in
# MinIO when the producer returns.
start aws "$WORK/load.log"
log "producing $COUNT records of 1 KiB (acks=all)"
"$WORK/bin/shale" loadtest produce --brokers "$ADDR" --topic replay --partitions 8 --create-topic \
	--producers 4 --acks all --linger 5ms --batch-bytes 1MiB --compression none --record-size 1KiB \
	--count "$COUNT" --json >"$WORK/produce.json" 2>"$WORK/produce.log"
stop "$PID"

printf '%-6s %-6s %10s %14s %14s\n' round driver "MB/s" "broker cpu-s/GB" "minio cpu-s/GB"
for r in $(seq 1 "$ROUNDS"); do
	order=(aws minio)
	((r % 2 == 0)) && order=(minio aws)
	for d in "${order[@]}"; do
		rm -rf "$data/wal"
		start "$d" "$WORK/replay-$r-$d.log"
		b0=$(cpu_secs "$PID")
		m0=$(cpu_secs "$MINIO_PID")
		"$WORK/bin/objtier" replay --brokers "$ADDR" --topic replay --workers 4 >"$WORK/replay-$r-$d.json"
		b1=$(cpu_secs "$PID")
		m1=$(cpu_secs "$MINIO_PID")
		stop "$PID"
		python3 - "$WORK/replay-$r-$d.json" "$r" "$d" "$b0" "$b1" "$m0" "$m1" <<'PY' | tee -a "$WORK/rounds.txt"
import json, sys
res = json.load(open(sys.argv[1]))
gb = res["bytes"] / 1e9
b = (float(sys.argv[5]) - float(sys.argv[4])) / gb
m = (float(sys.argv[7]) - float(sys.argv[6])) / gb
print(f"{sys.argv[2]:<6} {sys.argv[3]:<6} {res['mb_per_sec']:10.1f} {b:14.2f} {m:14.2f}")
PY
	done
done
python3 - "$WORK/rounds.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for d in ("aws", "minio"):
    v = [r for r in rows if r[1] == d]
    print(f"median {d:<6} {statistics.median(float(r[2]) for r in v):10.1f} "
          f"{statistics.median(float(r[3]) for r in v):14.2f} {statistics.median(float(r[4]) for r in v):14.2f}  ({len(v)} rounds)")
PY
