#!/usr/bin/env bash
# NATS JetStream side of `make bench`: the same record size and count as
# the Shale profiles, through `nats bench` against a local nats-server with
# file storage and one replica.
#
#   bench/nats.sh install                     build nats-server and nats once
#   bench/nats.sh run OUT_DIR SIZE COUNT      run the three benchmarks
#
# `run` starts `nats-server -js` on 127.0.0.1 (a free port it picks and
# logs) with a store in
# OUT_DIR/nats-store, runs
#   nats bench js pub async   (asynchronous publish, 500 in flight)
#   nats bench js pub fast    (fast batch publish)
#   nats bench js ordered     (ordered ephemeral consumer of what was published)
# keeps each raw output in OUT_DIR/nats-*.txt and writes OUT_DIR/nats.json:
#   {"size": 100, "count": N, "pub_async": {"msgs_per_sec": ..,
#    "mb_per_sec": .., "p50_us": .., "p99_us": ..}, "pub_fast": {..},
#    "ordered": {..}}   (MB = 10^6 bytes; ordered has no latencies)
# and stops the server on exit, whatever happens.
set -euo pipefail

NATS_SERVER_VERSION=v2.15.2
NATS_CLI_VERSION=v0.5.1
GOBIN_DIR="$(go env GOPATH)/bin"
NATS_SERVER="$GOBIN_DIR/nats-server"
NATS_CLI="$GOBIN_DIR/nats"

install() {
	# Built from the Go module proxy into GOPATH/bin; kept when the
	# version already matches.
	if ! "$NATS_SERVER" --version 2>/dev/null | grep -q "${NATS_SERVER_VERSION#v}"; then
		echo "nats.sh: go install nats-server $NATS_SERVER_VERSION" >&2
		GOFLAGS= go install "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION"
	fi
	if ! "$NATS_CLI" --version 2>/dev/null | grep -q "${NATS_CLI_VERSION#v}"; then
		echo "nats.sh: go install nats $NATS_CLI_VERSION" >&2
		GOFLAGS= go install "github.com/nats-io/natscli/nats@$NATS_CLI_VERSION"
	fi
}

# stats_json FILE SIZE: the "stats:" line of one nats bench output as JSON.
stats_json() {
	local line
	line=$(grep -m1 ' stats: ' "$1" || true)
	if [[ -z "$line" ]]; then
		echo "nats.sh: no stats line in $1:" >&2
		tail -5 "$1" >&2
		return 1
	fi
	awk -v size="$2" -v line="$line" 'BEGIN {
		n = split(line, f, " ~ ")
		rate = f[1]; sub(/.*stats: /, "", rate); sub(/ msgs\/sec.*/, "", rate); gsub(/,/, "", rate)
		p50 = ""; p99 = ""
		for (i = 2; i <= n; i++) {
			v = f[i]
			if (v ~ /^P50: /) { sub(/^P50: /, "", v); sub(/us.*/, "", v); gsub(/,/, "", v); p50 = v }
			if (v ~ /^P99: /) { sub(/^P99: /, "", v); sub(/us.*/, "", v); gsub(/,/, "", v); p99 = v }
		}
		printf "{\"msgs_per_sec\": %s, \"mb_per_sec\": %.3f", rate, rate * size / 1e6
		if (p50 != "") printf ", \"p50_us\": %s, \"p99_us\": %s", p50, p99
		printf "}"
	}'
}

run() {
	local out=$1 size=$2 count=$3
	install
	mkdir -p "$out/nats-store"
	"$NATS_SERVER" -js -a 127.0.0.1 -p -1 --store_dir "$out/nats-store" >"$out/nats-server.log" 2>&1 &
	NATS_PID=$!
	trap 'kill "$NATS_PID" 2>/dev/null || true; wait "$NATS_PID" 2>/dev/null || true' EXIT
	local addr=""
	for _ in $(seq 1 100); do
		addr=$(sed -n 's/.*Listening for client connections on \([0-9.:]*\).*/\1/p' "$out/nats-server.log" | head -1)
		if [[ -n "$addr" ]] && grep -q 'Server is ready' "$out/nats-server.log"; then
			break
		fi
		if ! kill -0 "$NATS_PID" 2>/dev/null; then
			echo "nats.sh: nats-server exited:" >&2
			cat "$out/nats-server.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	if [[ -z "$addr" ]]; then
		echo "nats.sh: nats-server did not report its listener" >&2
		exit 1
	fi
	local url="nats://$addr"
	local common=(-s "$url" bench js)
	local pubflags=(--create --storage file --replicas 1 --purge --msgs "$count" --size "$size" --no-progress)
	"$NATS_CLI" "${common[@]}" pub async bench.shale "${pubflags[@]}" >"$out/nats-pub-async.txt" 2>&1
	"$NATS_CLI" "${common[@]}" pub fast bench.shale "${pubflags[@]}" >"$out/nats-pub-fast.txt" 2>&1
	# The stream now holds the fast-batch run (--purge emptied it first):
	# exactly COUNT messages for the ordered consumer.
	"$NATS_CLI" "${common[@]}" ordered --msgs "$count" --size "$size" --no-progress >"$out/nats-ordered.txt" 2>&1
	{
		printf '{"size": %s, "count": %s, "pub_async": ' "$size" "$count"
		stats_json "$out/nats-pub-async.txt" "$size"
		printf ', "pub_fast": '
		stats_json "$out/nats-pub-fast.txt" "$size"
		printf ', "ordered": '
		stats_json "$out/nats-ordered.txt" "$size"
		printf '}\n'
	} >"$out/nats.json"
	cat "$out/nats.json"
}

case "${1:-}" in
install) install ;;
run)
	if [[ $# -ne 4 ]]; then
		echo "usage: bench/nats.sh run OUT_DIR SIZE COUNT" >&2
		exit 2
	fi
	run "$2" "$3" "$4"
	;;
*)
	echo "usage: bench/nats.sh install | run OUT_DIR SIZE COUNT" >&2
	exit 2
	;;
esac
