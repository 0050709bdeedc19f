# Sourced by bench/run.sh after the broker profiles: the object tier on a
# real MinIO (cold replay against raw ranged GETs, class A requests per GiB
# ingested and while idle, Fetch at offset 0 against the tail as history
# grows) and one broker at 1,000 and 10,000 partitions. Uses run.sh's
# start, stop, log, free_port, cpu_secs, loadtest, WORK, SHALE and PIDS.
# Results go to WORK/objtier and WORK/scale for bench/report.

OT_COUNT=${BENCH_OT_COUNT:-2097152}
OT_REPEAT=${BENCH_OT_REPEAT:-3}
IDLE_SECS=${BENCH_IDLE_SECS:-20}
HISTORY_GIB=${BENCH_HISTORY_GIB:-20}
SCALE_PARTITIONS=${BENCH_SCALE_PARTITIONS:-1000 10000}
SCALE_SECS=${BENCH_SCALE_SECS:-20}
COMPACTION_INTERVAL=${BENCH_COMPACTION_INTERVAL:-5s}
# Extra flags for the object tier's broker, e.g. "--wal-segment-bytes 16MiB".
read -r -a OT_EXTRA_ARGS <<<"${BENCH_OT_EXTRA_ARGS:-}"
OBJTIER="$WORK/bin/objtier"

# stats_line LOG: the newest "tiering stats" line of a Shale log.
stats_line() { grep 'msg="tiering stats"' "$1" | tail -1; }
# stats_count LOG: how many "tiering stats" lines the log has.
stats_count() { grep -c 'msg="tiering stats"' "$1" || true; }
# stat_of LINE KEY: one key=value figure of a stats line.
stat_of() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

# wait_settled LOG: waits until nothing is pending upload and the class A
# count has not moved for 12 stats lines (the stats line is written by the
# loop that also runs compaction, so 12 unchanged lines span at least two
# compaction passes that found nothing to do). Gives up after 10 minutes.
wait_settled() {
	local logf=$1 line pending classa last_a=-1 last_n=0 n
	for _ in $(seq 1 600); do
		sleep 1
		line=$(stats_line "$logf")
		n=$(stats_count "$logf")
		pending=$(stat_of "$line" upload_pending_segments)
		classa=$(stat_of "$line" s3_class_a)
		if [[ -z "$classa" ]]; then
			continue
		fi
		if [[ "$classa" != "$last_a" || "$pending" != 0 ]]; then
			last_a=$classa
			last_n=$n
			continue
		fi
		if ((n - last_n >= 12)); then
			return 0
		fi
	done
	log "object tier did not settle within 10 minutes (last: $line)"
	exit 1
}

objtier_step() {
	local minio_bin=${SHALE_MINIO_BIN:-$(go env GOPATH)/bin/minio}
	if [[ ! -x "$minio_bin" ]]; then
		log "object tier: no MinIO binary at $minio_bin (set SHALE_MINIO_BIN or BENCH_OBJTIER=0)"
		exit 1
	fi
	local ot="$WORK/objtier"
	mkdir -p "$ot" "$WORK/minio-data" "$WORK/minio-home"
	local port console
	port=$(free_port)
	console=$(free_port)
	local endpoint="http://127.0.0.1:$port"
	export AWS_ACCESS_KEY_ID=shale-bench-access AWS_SECRET_ACCESS_KEY=shale-bench-secret-key
	export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_SESSION_TOKEN=
	log "object tier: MinIO on $endpoint"
	HOME="$WORK/minio-home" MINIO_ROOT_USER=$AWS_ACCESS_KEY_ID MINIO_ROOT_PASSWORD=$AWS_SECRET_ACCESS_KEY \
		MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CALLHOME_ENABLE=off MINIO_CI_CD=on MINIO_REGION=us-east-1 \
		"$minio_bin" server "$WORK/minio-data" --address "127.0.0.1:$port" --console-address "127.0.0.1:$console" \
		--quiet >"$WORK/minio.log" 2>&1 &
	local minio_pid=$!
	PIDS+=("$minio_pid")
	local ready=0
	for _ in $(seq 1 300); do
		if curl -sf -o /dev/null "$endpoint/minio/health/ready"; then
			ready=1
			break
		fi
		sleep 0.1
	done
	if ((ready == 0)); then
		log "MinIO did not become ready:"
		tail -20 "$WORK/minio.log" >&2
		exit 1
	fi
	"$OBJTIER" mkbucket --endpoint "$endpoint" --bucket shale-bench >/dev/null
	local url="s3://shale-bench?endpoint=http%3A%2F%2F127.0.0.1%3A$port&region=us-east-1"
	local data="$WORK/ot-data"
	local shale_args=(dev --data-dir "$data" --listen 127.0.0.1:0 --object-store "$url"
		--stats-interval 1s --compaction-interval "$COMPACTION_INTERVAL" --log-level info "${OT_EXTRA_ARGS[@]}")
	echo "shale ${shale_args[*]}" >"$ot/broker-command.txt"

	# Load: ~2 GiB of 1 KiB records with acks=all, compaction every 5s.
	start shale-s3 "$WORK/ot-shale.log" "$SHALE" "${shale_args[@]}"
	local pid=$STARTED_PID addr=$STARTED_ADDR
	loadtest ot produce produce --brokers "$addr" --topic ot --partitions 8 --create-topic --progress 5s \
		--producers 4 --acks all --linger 5ms --batch-bytes 1MiB --compression none --record-size 1KiB --count "$OT_COUNT"
	log "object tier: waiting for uploads and compaction to settle"
	wait_settled "$WORK/ot-shale.log"
	stats_line "$WORK/ot-shale.log" >"$ot/stats-after-load.txt"
	log "object tier: ${IDLE_SECS}s idle"
	sleep "$IDLE_SECS"
	stats_line "$WORK/ot-shale.log" >"$ot/stats-after-idle.txt"
	grep -c 'msg="compacted extents"' "$WORK/ot-shale.log" >"$ot/compactions.txt" || true
	stop "$pid"

	# Cold: restart with the WAL wiped, so every read goes to MinIO and
	# the block cache starts empty.
	cold_start() {
		stop "$pid" 2>/dev/null || true
		rm -rf "$data/wal"
		start shale-s3 "$WORK/ot-shale-$1.log" "$SHALE" "${shale_args[@]}"
		pid=$STARTED_PID addr=$STARTED_ADDR
	}
	# fetch_runs TAG: OT_REPEAT cold restarts, each followed by one Fetch
	# per partition at offset 0, then at the tail; then one more cold
	# restart and the Fetch at offset 0 again: the broker knows nothing,
	# but MinIO now has those objects in the page cache, so the figure is
	# the broker's lookup and GETs without the disk.
	fetch_runs() {
		local r
		for r in $(seq 1 "$OT_REPEAT"); do
			cold_start "fetch-$1-$r"
			log "object tier: objtier fetch --at start, then --at tail ($1 history, run $r)"
			"$OBJTIER" fetch --brokers "$addr" --topic ot --at start >"$ot/fetch-start-$1-$r.json"
			"$OBJTIER" fetch --brokers "$addr" --topic ot --at tail >"$ot/fetch-tail-$1-$r.json"
			cold_start "fetch-$1-$r-warm"
			log "object tier: objtier fetch --at start, store warm ($1 history, run $r)"
			"$OBJTIER" fetch --brokers "$addr" --topic ot --at start >"$ot/fetch-warm-$1-$r.json"
		done
	}
	fetch_runs base
	# cpu_run NAME BROKER-PID CMD...: runs CMD (a command, or run.sh's
	# loadtest function) and writes to objtier/cpu-NAME.json the user +
	# system CPU seconds it took of MinIO, of the broker (BROKER-PID; "" when
	# none runs) and of the client: MinIO's and the broker's from their
	# /proc/PID/stat before and after, the client's from the kernel's
	# rusage of the reaped process (`objtier rusage`), which counts it to
	# its very end.
	cpu_run() {
		local name=$1 bpid=$2
		shift 2
		local client="$ot/cpu-$name.client.json" m0 m1 b0=0 b1=0
		rm -f "$client"
		m0=$(cpu_secs "$minio_pid")
		if [[ -n "$bpid" ]]; then b0=$(cpu_secs "$bpid"); fi
		if [[ "$1" == loadtest ]]; then
			CLIENT_RUSAGE=$client "$@"
		else
			"$OBJTIER" rusage --out "$client" -- "$@"
		fi
		m1=$(cpu_secs "$minio_pid")
		if [[ -n "$bpid" ]]; then b1=$(cpu_secs "$bpid"); fi
		local c
		c=$(sed -n 's/.*"cpu_seconds":\([0-9.e+-]*\).*/\1/p' "$client")
		awk -v m0="$m0" -v m1="$m1" -v b0="$b0" -v b1="$b1" -v c="${c:-0}" 'BEGIN {
			printf "{\"minio_cpu_seconds\": %.3f, \"broker_cpu_seconds\": %.3f, \"client_cpu_seconds\": %.3f}\n", m1 - m0, b1 - b0, c }' >"$ot/cpu-$name.json"
	}
	# The consumers ask 4 MiB per partition, as the raw Fetch client
	# does (the cold reader's block size): with the loadtest's default
	# 16 MiB a response of two partitions is 32 MiB, and the client's
	# heap, fresh pages at a fault each, costs it about a third more CPU
	# per GB on a machine the three processes share.
	local r consume
	for r in $(seq 1 "$OT_REPEAT"); do
		cold_start consume-$r
		consume=(consume --brokers "$addr" --topic ot --consumers 4 --fetch-partition-bytes 4MiB --progress 5s)
		CPU_PID=$pid cpu_run "consume-$r" "$pid" loadtest ot "consume-$r" "${consume[@]}"
		mv "$WORK/ot-consume-$r.json" "$ot/consume-$r.json"
		# Again on the same broker: its heap has grown to size (a fresh
		# process pays a page fault per page of it), while the data is
		# still cold: the whole topic is eight times the block cache, and
		# the first pass left only its end there, long evicted when the
		# second pass gets to it.
		CPU_PID=$pid cpu_run "consume-warm-$r" "$pid" loadtest ot "consume-warm-$r" "${consume[@]}"
		mv "$WORK/ot-consume-warm-$r.json" "$ot/consume-warm-$r.json"
		cold_start replay-$r
		log "object tier: objtier replay --topic ot --workers 4"
		cpu_run "replay-$r" "$pid" "$OBJTIER" replay --brokers "$addr" --topic ot --workers 4 >"$ot/replay-$r.json"
	done
	stop "$pid"
	# The compacted objects, or every object when compaction wrote none
	# (a small BENCH_OT_COUNT).
	local prefix=part/
	if ! "$OBJTIER" rawget --url "$url" --prefix part/ --block 4MiB --concurrency 5 >/dev/null 2>&1; then
		prefix=
	fi
	for r in $(seq 1 "$OT_REPEAT"); do
		log "object tier: objtier rawget --prefix '$prefix' --block 4MiB --concurrency 5 (run $r)"
		cpu_run "rawget5-$r" "" "$OBJTIER" rawget --url "$url" --prefix "$prefix" --block 4MiB --concurrency 5 >"$ot/rawget5-$r.json"
	done
	"$OBJTIER" rawget --url "$url" --prefix "$prefix" --block 4MiB --concurrency 16 >"$ot/rawget16.json"
	mv "$WORK/ot-produce.json" "$ot/produce.json"
	printf '%s\n' "$OT_COUNT" >"$ot/count.txt"

	# Long history: grow the same topic to HISTORY_GIB and measure the
	# Fetch at offset 0 again.
	if ((HISTORY_GIB > 0)); then
		# MinIO holds about twice the history until the garbage
		# collector removes what compaction replaced: cap the history
		# to what the disk can take, with 8 GiB to spare.
		local avail_gib fit_gib
		avail_gib=$(df -Pk "$WORK" | awk 'NR == 2 { printf "%d", $4 / 1048576 }')
		fit_gib=$(((avail_gib - 8) / 2 + OT_COUNT * 1024 / (1 << 30)))
		if ((fit_gib < HISTORY_GIB)); then
			log "long history: only $avail_gib GiB free, growing to $fit_gib GiB instead of $HISTORY_GIB"
			HISTORY_GIB=$fit_gib
		fi
	fi
	if ((HISTORY_GIB > 0)); then
		local have_bytes=$((OT_COUNT * 1024)) want_bytes=$((HISTORY_GIB << 30))
		if ((want_bytes > have_bytes)); then
			start shale-s3 "$WORK/ot-shale-grow.log" "$SHALE" "${shale_args[@]}"
			pid=$STARTED_PID addr=$STARTED_ADDR
			local more=$(((want_bytes - have_bytes) / 1024))
			local t0=$SECONDS
			loadtest ot grow produce --brokers "$addr" --topic ot --progress 10s \
				--producers 4 --acks all --linger 5ms --batch-bytes 1MiB --compression none --record-size 1KiB --count "$more"
			wait_settled "$WORK/ot-shale-grow.log"
			mv "$WORK/ot-grow.json" "$ot/grow.json"
			printf '{"history_bytes": %d, "seconds": %d}\n' "$want_bytes" $((SECONDS - t0)) >"$ot/history.json"
			fetch_runs long
			stop "$pid"
		fi
	fi
	du -sb "$WORK/minio-data" | awk '{ print $1 }' >"$ot/minio-bytes.txt"
	stop "$minio_pid"
	rm -rf "$WORK/minio-data" "$data"

	# The catalog lookup alone, at 1,000 to 100,000 extents.
	log "object tier: go test -run '^\$' -bench CatalogFindExtent -benchtime 1000000x ./e2e"
	go test -run '^$' -bench CatalogFindExtent -benchtime 1000000x ./e2e >"$ot/findextent.txt"
}

# rss_sampler PID OUT: samples VmRSS (KiB) of PID every 0.5s into OUT until
# the process or the sampler is stopped.
rss_sampler() {
	local pid=$1 out=$2 kb
	while kill -0 "$pid" 2>/dev/null; do
		kb=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || true
		[[ -n "$kb" ]] && echo "$kb" >>"$out"
		sleep 0.5
	done
}

scale_step() {
	local sc="$WORK/scale" parts
	mkdir -p "$sc"
	for parts in $SCALE_PARTITIONS; do
		local data="$WORK/scale-data-$parts"
		start "shale-$parts" "$WORK/scale-shale-$parts.log" "$SHALE" dev --data-dir "$data" --listen 127.0.0.1:0 --log-level warn
		local pid=$STARTED_PID addr=$STARTED_ADDR
		rss_sampler "$pid" "$sc/rss-$parts.txt" &
		local sampler=$!
		PIDS+=("$sampler")
		loadtest scale "p$parts" produce --brokers "$addr" --topic sc --partitions "$parts" --create-topic --progress 5s \
			--producers 4 --acks 1 --linger 5ms --batch-bytes 1MiB --compression none --record-size 100 --duration "${SCALE_SECS}s"
		mv "$WORK/scale-p$parts.json" "$sc/produce-$parts.json"
		kill "$sampler" 2>/dev/null || true
		wait "$sampler" 2>/dev/null || true
		stop "$pid"
		log "scale: start-up of $parts partitions on the existing data dir"
		"$OBJTIER" startup --topic sc --partitions "$parts" --log "$WORK/scale-startup-$parts.log" -- \
			"$SHALE" dev --data-dir "$data" --listen 127.0.0.1:0 --log-level warn >"$sc/startup-$parts.json"
		du -sb "$data/wal" | awk '{ print $1 }' >"$sc/wal-bytes-$parts.txt"
		rm -rf "$data"
	done
}

if [[ "${BENCH_OBJTIER:-1}" != 0 ]]; then
	objtier_step
fi
if [[ "${BENCH_SCALE:-1}" != 0 ]]; then
	scale_step
fi
