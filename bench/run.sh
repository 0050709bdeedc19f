#!/usr/bin/env bash
# `make bench`: Shale, franz-go's kfake and NATS JetStream side by side on
# this machine, plus the machine's own limits, in one bounded run (about
# 20 minutes, most of it the 20 GiB long history, which wants about 50 GiB of
# free disk). Prints a table of ratios against the targets and writes
# bench/RESULTS.md.
#
#   bench/run.sh                    # from the repository root or anywhere
#
# Environment (all optional):
#   BENCH_COUNT_100   records in the 100-byte profiles      (default 2000000)
#   BENCH_COUNT_1K    records in the 1 KiB profile          (default 300000)
#   BENCH_LAT_SECS    seconds of the half-rate latency run  (default 10)
#   BENCH_SETTLE_SECS idle seconds before the latency run  (default 10)
#   BENCH_E2E_SECS    seconds of each 20,000 records/s end-to-end run
#                     (acks=all and acks=1, issue 14's latency targets)
#                                                          (default 10)
#   BENCH_SEQ_COUNT   sequential acks=all writes, one in flight
#                                                          (default 1000)
#   BENCH_CPU_COUNT   1 KiB records of the broker CPU step, produced on a
#                     fresh broker after a warm-up and counted until all of
#                     them are uploaded; 0 skips the step (default 1000000)
#   BENCH_CPU_WARMUP  1 KiB records of that step's warm-up  (default 300000)
#   BENCH_CPU_UPLOAD_WAIT  seconds the step waits for the uploads to finish
#                     before it fails                      (default 120)
#   BENCH_DISK_MB     MiB written by each dd run            (default 1024)
#   BENCH_TMP         parent of the work dir (same disk as the data dir:
#                     Shale's data, the NATS store and the dd files all
#                     live in it)                           (default /tmp)
#   BENCH_KEEP=1      keep the work dir (raw JSON and logs) afterwards
#   BENCH_OUT         the markdown written          (default bench/RESULTS.md)
#
# Object tier (Shale on a real MinIO, $(go env GOPATH)/bin/minio or
# $SHALE_MINIO_BIN):
#   BENCH_OBJTIER=0   skip the object tier and long-history steps
#   BENCH_OT_COUNT    1 KiB records produced with acks=all  (default 2097152, 2 GiB)
#   BENCH_OT_REPEAT   cold replays and raw GET runs, median quoted (default 3)
#   BENCH_IDLE_SECS   idle seconds in which no class A request may happen (default 20)
#   BENCH_COMPACTION_INTERVAL  the broker's --compaction-interval (default 5s)
#   BENCH_OT_EXTRA_ARGS more flags for that broker, e.g. "--wal-segment-bytes 16MiB"
#   BENCH_HISTORY_GIB total history for the long-history step, GiB; 0 skips
#                     it; capped to what the disk holds (MinIO needs about
#                     twice the history until compaction garbage is
#                     collected)                            (default 20)
# Scale (one broker, the embedded file object store):
#   BENCH_SCALE=0     skip the 1,000 and 10,000 partition runs
#   BENCH_SCALE_PARTITIONS  partition counts        (default "1000 10000")
#   BENCH_SCALE_SECS  seconds of 100 B produce per count    (default 20)
#
# Everything listens on 127.0.0.1 only. Every process started here is
# stopped on exit, also on failure or Ctrl-C.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

N100=${BENCH_COUNT_100:-2000000}
N1K=${BENCH_COUNT_1K:-300000}
LAT_SECS=${BENCH_LAT_SECS:-10}
DISK_MB=${BENCH_DISK_MB:-1024}
OUT=${BENCH_OUT:-bench/RESULTS.md}

WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/shale-bench.XXXXXX")
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
		echo "bench: raw results kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf 'bench: %s\n' "$*" >&2; }

log "work dir $WORK"
mkdir -p "$WORK/bin"
go build -o "$WORK/bin/shale" ./cmd/shale
go build -o "$WORK/bin/kfake" ./bench/kfake
go build -o "$WORK/bin/loopback" ./bench/loopback
go build -o "$WORK/bin/report" ./bench/report
go build -o "$WORK/bin/objtier" ./bench/objtier
bench/nats.sh install
SHALE="$WORK/bin/shale"

# start NAME LOG CMD...: runs CMD in the background and waits until it
# prints "Kafka listener on ADDR"; sets STARTED_PID and STARTED_ADDR. The
# brokers listen on port 0, so runs never collide with other listeners.
start() {
	local name=$1 logf=$2
	shift 2
	"$@" >"$logf" 2>&1 &
	STARTED_PID=$!
	PIDS+=("$STARTED_PID")
	for _ in $(seq 1 300); do
		if grep -qs 'Kafka listener on ' "$logf"; then
			STARTED_ADDR=$(sed -n 's/.*Kafka listener on \([0-9.:]*\).*/\1/p' "$logf" | head -1)
			return 0
		fi
		if ! kill -0 "$STARTED_PID" 2>/dev/null; then
			log "$name exited early:"
			cat "$logf" >&2
			exit 1
		fi
		sleep 0.1
	done
	log "$name did not listen within 30s"
	exit 1
}

stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# free_port prints a loopback TCP port nothing listens on.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	log "no free port found"
	exit 1
}

# cpu_secs PID: the process's user+system CPU seconds so far, from
# /proc/PID/stat (utime and stime, fields 14 and 15, in clock ticks).
CLK_TCK=$(getconf CLK_TCK)
cpu_secs() {
	awk -v hz="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / hz }' "/proc/$1/stat"
}

# loadtest PREFIX NAME ARGS...: one profile, JSON to WORK/PREFIX-NAME.json,
# progress to WORK/PREFIX-NAME.log, the command to WORK/commands.txt.
# With CPU_PID set, the broker's CPU seconds during the profile go to
# WORK/PREFIX-NAME.cpu. With CLIENT_RUSAGE set to a file, the loadtest
# process runs under `objtier rusage`, which writes its own CPU seconds
# there when it exits.
loadtest() {
	local prefix=$1 name=$2 cpu0=""
	shift 2
	echo "shale loadtest $*" >>"$WORK/commands-$prefix.txt"
	log "$prefix $name: shale loadtest $*"
	if [[ -n "${CPU_PID:-}" ]]; then cpu0=$(cpu_secs "$CPU_PID"); fi
	local wrap=()
	if [[ -n "${CLIENT_RUSAGE:-}" ]]; then wrap=("$WORK/bin/objtier" rusage --out "$CLIENT_RUSAGE" --); fi
	${wrap[@]+"${wrap[@]}"} "$SHALE" loadtest "$@" --json >"$WORK/$prefix-$name.json" 2>"$WORK/$prefix-$name.log" || {
		log "$prefix $name failed:"
		tail -5 "$WORK/$prefix-$name.log" >&2
		exit 1
	}
	if [[ -n "$cpu0" ]]; then
		awk -v a="$cpu0" -v b="$(cpu_secs "$CPU_PID")" 'BEGIN { printf "%.3f\n", b - a }' >"$WORK/$prefix-$name.cpu"
	fi
}

# profiles PREFIX ADDR: the same four loads against one broker.
profiles() {
	local prefix=$1 addr=$2
	local common=(--brokers "$addr" --partitions 8 --create-topic --progress 1s)
	local producer=(--producers 4 --acks 1 --linger 5ms --batch-bytes 1MiB --compression none)
	loadtest "$prefix" produce100 produce "${common[@]}" --topic p100 "${producer[@]}" --record-size 100 --count "$N100"
	loadtest "$prefix" consume100 consume "${common[@]}" --topic p100 --consumers 4 --count "$N100"
	loadtest "$prefix" produce1k produce "${common[@]}" --topic p1k "${producer[@]}" --record-size 1KiB --count "$N1K"
	local max half
	max=$(sed -n 's/.*"records_per_sec": \([0-9.]*\).*/\1/p' "$WORK/$prefix-produce100.json" | head -1)
	half=$(awk -v m="$max" 'BEGIN { printf "%d", m / 2 }')
	# Latency at half the measured maximum, without linger: a 5ms
	# linger would be 5ms of every record's latency at this rate. The
	# pause lets the broker finish the work the previous profiles left
	# (Shale uploads and trims what they wrote), so the run measures
	# this load alone.
	sleep "${BENCH_SETTLE_SECS:-10}"
	loadtest "$prefix" latency produce "${common[@]}" --topic lat --producers 4 --acks 1 --linger 0s --batch-bytes 1MiB \
		--compression none --record-size 100 --rate "$half" --duration "${LAT_SECS}s"
}

# Shale: `shale dev` with its data in the work dir.
start shale "$WORK/shale.log" "$SHALE" dev --data-dir "$WORK/shale-data" --listen 127.0.0.1:0 --log-level warn
SHALE_PID=$STARTED_PID
CPU_PID=$SHALE_PID profiles shale "$STARTED_ADDR"
stop "$SHALE_PID"
rm -rf "$WORK/shale-data"

# Broker CPU per GB produced (issue 14's target): a fresh `shale dev` of
# its own, a warm-up load to another topic (the heap and the WAL's files
# grow to size), then BENCH_CPU_COUNT records of 1 KiB. The broker's CPU
# seconds are read when the produce starts, when it ends, and when the
# broker has uploaded all of it (its shale_upload_pending_segments gauge at
# 0 with no segment sealed since): the figure counts the upload of what was
# produced, not only its way into the WAL. Compaction is off on this
# broker.
CPU_COUNT=${BENCH_CPU_COUNT:-1000000}
CPU_WARMUP=${BENCH_CPU_WARMUP:-300000}
CPU_UPLOAD_WAIT=${BENCH_CPU_UPLOAD_WAIT:-120}
# upload_state ADDR: "PENDING SEALED" from the broker's /metrics ("" when
# it does not answer).
upload_state() {
	curl -sf --max-time 5 "http://$1/metrics" | awk '
		$1 == "shale_upload_pending_segments" { p = $2 + 0 }
		$1 == "shale_wal_segments_sealed_total" { s = $2 + 0 }
		END { if (p != "" && s != "") printf "%d %d\n", p, s }'
}
# wait_uploaded ADDR PID: waits until the broker at metrics ADDR has
# nothing pending upload and has sealed no segment in the 0.5 s after (a
# non-empty active segment is sealed within its 250 ms age, so a quiet
# half second means the last data is uploaded). Prints the broker's CPU
# seconds and the time (seconds since the epoch) read at the first of
# those two polls, so the quiet half second is not counted. Fails after
# CPU_UPLOAD_WAIT seconds.
wait_uploaded() {
	local addr=$1 pid=$2 t0=$SECONDS st cpu now next
	while ((SECONDS - t0 < CPU_UPLOAD_WAIT)); do
		cpu=$(cpu_secs "$pid")
		now=$(date +%s.%N)
		st=$(upload_state "$addr")
		if [[ "${st%% *}" == 0 ]]; then
			sleep 0.5
			next=$(upload_state "$addr")
			if [[ "$next" == "$st" ]]; then
				echo "$cpu $now"
				return 0
			fi
			continue
		fi
		sleep 0.1
	done
	log "cpu: the broker did not upload everything within ${CPU_UPLOAD_WAIT}s (pending segments, sealed: ${st:-no answer from http://$addr/metrics})"
	exit 1
}
cpu_step() {
	local cpu="$WORK/cpu" maddr
	mkdir -p "$cpu"
	maddr=127.0.0.1:$(free_port)
	# No compaction: its first pass (a minute after start by default)
	# would rewrite the warm-up's objects at a moment of its own choosing,
	# inside the window or not.
	start shale-cpu "$WORK/cpu-shale.log" "$SHALE" dev --data-dir "$WORK/cpu-data" --listen 127.0.0.1:0 \
		--metrics-listen "$maddr" --compaction-interval 0 --log-level warn
	local pid=$STARTED_PID addr=$STARTED_ADDR
	local producer=(--brokers "$addr" --partitions 8 --create-topic --progress 5s --producers 4 --acks 1
		--linger 5ms --batch-bytes 1MiB --compression none --record-size 1KiB)
	if ((CPU_WARMUP > 0)); then
		loadtest cpu warmup produce "${producer[@]}" --topic cpu-warmup --count "$CPU_WARMUP"
		wait_uploaded "$maddr" "$pid" >/dev/null
	fi
	local c0 c1 c2 t0 t1 t2 up
	t0=$(date +%s.%N)
	c0=$(cpu_secs "$pid")
	loadtest cpu produce produce "${producer[@]}" --topic cpu --count "$CPU_COUNT"
	c1=$(cpu_secs "$pid")
	t1=$(date +%s.%N)
	up=$(wait_uploaded "$maddr" "$pid")
	c2=${up% *} t2=${up#* }
	mv "$WORK/cpu-produce.json" "$cpu/produce.json"
	if [[ -f "$WORK/cpu-warmup.json" ]]; then mv "$WORK/cpu-warmup.json" "$cpu/warmup.json"; fi
	awk -v c0="$c0" -v c1="$c1" -v c2="$c2" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v n="$CPU_COUNT" -v w="$CPU_WARMUP" 'BEGIN {
		printf "{\"records\": %d, \"warmup_records\": %d, \"produce_cpu_seconds\": %.3f, \"uploaded_cpu_seconds\": %.3f, \"produce_seconds\": %.3f, \"uploaded_seconds\": %.3f}\n",
			n, w, c1 - c0, c2 - c0, t1 - t0, t2 - t0 }' >"$cpu/cpu.json"
	log "cpu: $(cat "$cpu/cpu.json")"
	stop "$pid"
	rm -rf "$WORK/cpu-data"
}
if ((CPU_COUNT > 0)); then
	cpu_step
fi

# Latency end to end (issue 14): 8 partitions, 100 B, 20,000 records/s, one
# producer and one consumer, acks=all at the default 250ms segment age and
# at 50ms, and acks=1; then BENCH_SEQ_COUNT acks=all writes one at a time.
# Each on a fresh `shale dev`; the PUTs are the WAL objects the embedded
# store holds afterwards (compaction and GC do not run that soon).
E2E_SECS=${BENCH_E2E_SECS:-10}
SEQ_COUNT=${BENCH_SEQ_COUNT:-1000}
e2e_broker() { # e2e_broker NAME SHALE-DEV-ARGS...: starts one, sets E2E_PID, E2E_ADDR, E2E_DATA
	local name=$1
	shift
	E2E_DATA="$WORK/$name-data"
	start "$name" "$WORK/$name.log" "$SHALE" dev --data-dir "$E2E_DATA" --listen 127.0.0.1:0 --log-level warn "$@"
	E2E_PID=$STARTED_PID E2E_ADDR=$STARTED_ADDR
}
wal_objects() { find "$1/objects/wal" -name '*.obj' 2>/dev/null | wc -l; }
e2e_run() { # e2e_run BROKER-NAME ACKS TOPIC [LOADTEST-ARGS...]
	local name=$1 acks=$2 topic=$3
	shift 3
	loadtest lat "$name-$acks" e2e --brokers "$E2E_ADDR" --topic "$topic" --partitions 8 --create-topic --progress 5s \
		--producers 1 --consumers 1 --acks "$acks" --record-size 100 --rate 20000 --duration "${E2E_SECS}s" --warmup "$E2E_WARMUP" "$@"
}
# acks=all from a producer that pipelines: idempotence off and 100
# requests in flight, so a segment age's worth of requests can wait for
# their segment at once (an idempotent producer keeps at most 5 in flight
# per broker, and waits in the client for the rest of the age). Longer:
# franz-go keeps one request per partition in flight until its first
# answer, which at a 250ms age is the run's first half second.
E2E_PIPE_SECS=${BENCH_E2E_PIPE_SECS:-20}
# Latencies of the records sent in a run's first seconds stay out of its
# figures: the client's start-up is not the steady state (see above).
E2E_WARMUP=${BENCH_E2E_WARMUP:-2s}
e2e_pipe() { # e2e_pipe BROKER-NAME TOPIC
	loadtest lat "$1-all-pipe" e2e --brokers "$E2E_ADDR" --topic "$2" --partitions 8 --create-topic --progress 5s \
		--producers 1 --consumers 1 --acks all --max-in-flight 100 --record-size 100 --rate 20000 --duration "${E2E_PIPE_SECS}s" --warmup "$E2E_WARMUP"
}
# The brokers of the age targets run with the upload burst spent
# (--wal-upload-burst 0): a 10-second run would otherwise spend saved
# tokens and show group commit's burst, not what the dial guarantees.
e2e_broker age250 --wal-upload-burst 0
e2e_run age250 all e2e-all
e2e_pipe age250 e2e-pipe
# acks=1 with no linger: a 5 ms linger alone would put the p50 near the
# 5 ms target.
e2e_run age250 1 e2e-1 --linger 0s
stop "$E2E_PID"
rm -rf "$E2E_DATA"
e2e_broker age50 --wal-segment-age 50ms --wal-upload-burst 0
e2e_run age50 all e2e-all
e2e_pipe age50 e2e-pipe
stop "$E2E_PID"
rm -rf "$E2E_DATA"
e2e_broker seq
loadtest lat seq produce --brokers "$E2E_ADDR" --topic seq --partitions 1 --create-topic --progress 5s \
	--producers 1 --acks all --linger 0s --buffered-records 1 --record-size 100 --count "$SEQ_COUNT"
wal_objects "$E2E_DATA" >"$WORK/lat-seq.puts"
stop "$E2E_PID"
rm -rf "$E2E_DATA"

# kfake: the protocol ceiling of this client on this machine.
start kfake "$WORK/kfake.log" "$WORK/bin/kfake" --port 0
KFAKE_PID=$STARTED_PID
profiles kfake "$STARTED_ADDR"
stop "$KFAKE_PID"

# NATS JetStream: same record size and count as the 100-byte profiles.
log "nats: bench/nats.sh run $WORK 100 $N100"
bench/nats.sh run "$WORK" 100 "$N100" >/dev/null
rm -rf "$WORK/nats-store"

source bench/objtier.sh

# Machine limits: sequential write to the same disk, direct and buffered
# with one fdatasync at the end; loopback TCP copy.
dd_rate() { # dd_rate FLAG: prints MB/s (10^6) of one dd run
	local f="$WORK/dd.out" line bytes secs
	line=$(LC_ALL=C dd if=/dev/zero of="$f" bs=1M count="$DISK_MB" "$1" 2>&1 | tail -1)
	rm -f "$f"
	bytes=$(awk '{ print $1 }' <<<"$line")
	secs=$(sed -n 's/.*copied, \([0-9.e+-]*\) s,.*/\1/p' <<<"$line")
	awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b / 1e6 / s }'
}
log "disk: dd bs=1M count=$DISK_MB oflag=direct, then conv=fdatasync"
DIRECT=$(dd_rate oflag=direct)
FDATASYNC=$(dd_rate conv=fdatasync)
log "loopback: TCP copy"
"$WORK/bin/loopback" --bytes 4GiB >"$WORK/loopback.json"
printf '{"direct_mb_per_sec": %s, "fdatasync_mb_per_sec": %s, "mib_written": %s}\n' "$DIRECT" "$FDATASYNC" "$DISK_MB" >"$WORK/disk.json"

# The machine.
{
	printf 'nproc=%s\n' "$(nproc)"
	printf 'cpu=%s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	printf 'memory=%s\n' "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	printf 'kernel=%s\n' "$(uname -sr)"
	printf 'go=%s\n' "$(go version | awk '{ print $3, $4 }')"
	printf 'filesystem=%s\n' "$(df -T "$WORK" | awk 'NR == 2 { print $2 " on " $1 }')"
	printf 'date=%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'nats_server=%s\n' "$("$(go env GOPATH)/bin/nats-server" --version)"
	printf 'nats_cli=%s\n' "$("$(go env GOPATH)/bin/nats" --version 2>&1)"
} >"$WORK/machine.txt"

"$WORK/bin/report" --dir "$WORK" --out "$OUT" \
	--command "bench/run.sh (BENCH_COUNT_100=$N100 BENCH_COUNT_1K=$N1K BENCH_CPU_COUNT=$CPU_COUNT BENCH_LAT_SECS=$LAT_SECS BENCH_DISK_MB=$DISK_MB)"
