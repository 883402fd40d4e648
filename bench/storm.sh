#!/usr/bin/env bash
# Regenerates the storm and stuck-consumer figures quoted in BENCHMARKS.md (section storm): loopmq against
# Mosquitto in the same invocation, each broker pinned to CPU $BROKER_CPU and the load to $LOAD_CPU.
# Writes $OUT/results.jsonl, $OUT/figures.md and $OUT/report.html.
#
#   bench/storm.sh                          # everything (about 10 minutes)
#   ONLY=storm CONNS=5000 bench/storm.sh    # one part: storm or stuck
#
# Needs bin/loopmq and bin/mqbench (make build) and mosquitto on PATH (/usr/sbin); Mosquitto has no kick
# endpoint, so its storm is the first wave only.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/sbin

OUT=${OUT:-${TMPDIR:-/tmp}/mqbench-storm}
CONNS=${CONNS:-19000}
SUBS=${SUBS:-10000}
DUR=${DUR:-30s}
BROKER_CPU=${BROKER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
ONLY=${ONLY:-}
BASE=${BASE:-22000} # ports BASE+1.. are used
LOOPMQ_FLAGS=${LOOPMQ_FLAGS:-}
LOOPMQ_BIN=${LOOPMQ_BIN:-bin/loopmq}
PEER=${PEER:-1}        # 0: loopmq alone (for trying loopmq settings)
VERSIONS=${VERSIONS:-4 5}

. bench/lib.sh
targets=()
pidmap=()

# shellcheck disable=SC2086
taskset -c "$BROKER_CPU" "$LOOPMQ_BIN" -tcp 127.0.0.1:$((BASE + 1)) -ws "" -http 127.0.0.1:$((BASE + 3)) \
	-log-level error $LOOPMQ_FLAGS >"$tmp/loopmq.log" 2>&1 &
pids+=($!)
wait_port $((BASE + 1))
targets+=("loopmq=tcp://127.0.0.1:$((BASE + 1))")
pidmap+=("loopmq=${pids[-1]}")
KICK="loopmq=http://127.0.0.1:$((BASE + 3))/admin/disconnect?all=1"

if [ "$PEER" = 1 ] && command -v mosquitto >/dev/null; then
	cat >"$tmp/mosquitto.conf" <<EOF
set_tcp_nodelay true
max_connections -1
listener $((BASE + 11)) 127.0.0.1
protocol mqtt
allow_anonymous true
EOF
	taskset -c "$BROKER_CPU" mosquitto -c "$tmp/mosquitto.conf" >"$tmp/mosquitto.log" 2>&1 &
	pids+=($!)
	wait_port $((BASE + 11))
	targets+=("mosquitto=tcp://127.0.0.1:$((BASE + 11))")
	pidmap+=("mosquitto=${pids[-1]}")
fi

join() { local IFS=,; echo "$*"; }
T=$(join "${targets[@]}")
P=$(join "${pidmap[@]}")
res="$OUT/results.jsonl"
: >"$res"

compare() { # compare [COMPARE FLAGS] SCENARIO FLAGS...
	echo "== $*" >&2
	nstat -n 2>/dev/null || true
	bin/mqbench compare -targets "$T" -pids "$P" -pause 5s "$@" -q -pin "$LOAD_CPU" -json >>"$res" || true
	# The kernel's view of the accept queues during the run (machine-wide: other processes count too).
	nstat 2>/dev/null | grep -E 'ListenOverflows|ListenDrops|TCPReqQFullDrop|SyncookiesSent|TCPTimeouts' >&2 || true
}

if [ -z "$ONLY" ] || [ "$ONLY" = storm ]; then
	# Both waves: $CONNS clients over 2 worker processes, 1000 handshakes in flight each. Every run (target and
	# protocol version) connects from its own pair of source addresses (127.0.N.2 and .3): a run reusing the
	# previous run's addresses within a minute meets tens of thousands of TIME_WAIT ports and measures that.
	n=0
	for v in $VERSIONS; do
		for t in "${targets[@]}"; do
			name=${t%%=*}
			n=$((n + 1))
			pid=$(printf '%s\n' "${pidmap[@]}" | sed -n "s/^$name=//p")
			kick=()
			[ "$name" = loopmq ] && kick=(-kick-url "${KICK#loopmq=}")
			echo "== storm $name -v $v" >&2
			nstat -n 2>/dev/null || true
			bin/mqbench storm -name "$name" -url "${t#*=}" -pid "$pid" -n "$CONNS" -workers 2 -v "$v" -duration 3s \
				-source-ip "127.0.$n.2" "${kick[@]}" -q -pin "$LOAD_CPU" -json >>"$res" || true
			nstat 2>/dev/null | grep -E 'ListenOverflows|ListenDrops|TCPReqQFullDrop|SyncookiesSent|TCPSynRetrans' >&2 || true
			sleep 5
		done
	done
fi

if [ -z "$ONLY" ] || [ "$ONLY" = stuck ]; then
	# 10 unpaced publishers → $SUBS subscribers, one topic each, 10% never read after subscribing. Two worker
	# processes, so the connections come from their own source addresses, not from 127.0.0.1's ephemeral ports.
	for qos in 0 1; do
		compare stuck -subs "$SUBS" -pubs 10 -qos "$qos" -duration "$DUR" -v 5 -workers 2 -source-ip 127.0.100.2
	done
	# Pressure: per-subscriber rates high enough that a stuck one is owed thousands of messages within the run
	# (1,000 subscribers, 100 per topic, 512-byte payloads).
	for qos in 0 1; do
		compare stuck -subs 1000 -topics 10 -size 512 -pubs 10 -qos "$qos" -duration "$DUR" -v 5 -workers 2 -source-ip 127.0.110.2
	done
fi

bin/mqbench report -md -html "$OUT/report.html" "$res" >"$OUT/figures.md"
echo "wrote $OUT/figures.md and $OUT/report.html" >&2
