#!/usr/bin/env bash
# Regenerates the harness figures quoted in BENCHMARKS.md: loopmq against Mosquitto and NATS, measured
# one after another in the same invocation, each broker pinned to CPU $BROKER_CPU and the load to
# $LOAD_CPU. Writes $OUT/results.jsonl, $OUT/figures.md (Markdown tables) and $OUT/report.html.
#
#   bench/figures.sh                    # everything (about 10 minutes)
#   DUR=3s CONNS=5000 bench/figures.sh  # shorter
#   ONLY=conn bench/figures.sh          # one part: conn, tput or lat
#   BASELINE=/tmp/old/loopmq bench/figures.sh  # also an older loopmq build (target loopmq-base), same run
#   PEERS=none bench/figures.sh         # loopmq (and the baseline) only, without Mosquitto and NATS
#
# Needs bin/loopmq and bin/mqbench (make build), and mosquitto / nats-server on PATH (/usr/sbin) for
# the peers; a missing peer is left out.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/sbin

OUT=${OUT:-${TMPDIR:-/tmp}/mqbench-figures}
DUR=${DUR:-5s}
CONNS=${CONNS:-19000}
BROKER_CPU=${BROKER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
ONLY=${ONLY:-}
BASE=${BASE:-21000} # ports BASE+1.. are used

. bench/lib.sh
targets=()
pidmap=()

taskset -c "$BROKER_CPU" bin/loopmq -tcp 127.0.0.1:$((BASE + 1)) -ws 127.0.0.1:$((BASE + 2)) \
	-http 127.0.0.1:$((BASE + 3)) -log-level error >"$tmp/loopmq.log" 2>&1 &
pids+=($!)
wait_port $((BASE + 1))
targets+=("loopmq=tcp://127.0.0.1:$((BASE + 1))")
pidmap+=("loopmq=${pids[-1]}")
LOOPMQ_METRICS=http://127.0.0.1:$((BASE + 3))/metrics
WS_TARGETS="loopmq-ws=ws://127.0.0.1:$((BASE + 2))/mqtt"

if [ -n "${BASELINE:-}" ]; then
	taskset -c "$BROKER_CPU" "$BASELINE" -tcp 127.0.0.1:$((BASE + 31)) -ws 127.0.0.1:$((BASE + 32)) \
		-http 127.0.0.1:$((BASE + 33)) -log-level error >"$tmp/loopmq-base.log" 2>&1 &
	pids+=($!)
	wait_port $((BASE + 31))
	targets+=("loopmq-base=tcp://127.0.0.1:$((BASE + 31))")
	pidmap+=("loopmq-base=${pids[-1]}")
	WS_TARGETS="$WS_TARGETS,loopmq-base-ws=ws://127.0.0.1:$((BASE + 32))/mqtt"
	METRICS_URLS="loopmq=$LOOPMQ_METRICS,loopmq-base=http://127.0.0.1:$((BASE + 33))/metrics"
fi

if [ "${PEERS:-}" != none ] && command -v mosquitto >/dev/null; then
	cat >"$tmp/mosquitto.conf" <<EOF
set_tcp_nodelay true
max_queued_messages 100000
listener $((BASE + 11)) 127.0.0.1
protocol mqtt
listener $((BASE + 12)) 127.0.0.1
protocol websockets
allow_anonymous true
EOF
	taskset -c "$BROKER_CPU" mosquitto -c "$tmp/mosquitto.conf" >"$tmp/mosquitto.log" 2>&1 &
	pids+=($!)
	wait_port $((BASE + 11))
	targets+=("mosquitto=tcp://127.0.0.1:$((BASE + 11))")
	pidmap+=("mosquitto=${pids[-1]}")
	WS_TARGETS="$WS_TARGETS,mosquitto-ws=ws://127.0.0.1:$((BASE + 12))/mqtt"
fi

if [ "${PEERS:-}" != none ] && command -v nats-server >/dev/null; then
	cat >"$tmp/nats.conf" <<EOF
listen: 127.0.0.1:$((BASE + 21))
server_name: bench
jetstream { store_dir: "$tmp/js" }
mqtt { listen: 127.0.0.1:$((BASE + 22)) }
EOF
	taskset -c "$BROKER_CPU" nats-server -c "$tmp/nats.conf" >"$tmp/nats.log" 2>&1 &
	pids+=($!)
	wait_port $((BASE + 22))
	targets+=("nats=tcp://127.0.0.1:$((BASE + 22))")
	pidmap+=("nats=${pids[-1]}")
fi

join() { local IFS=,; echo "$*"; }
T=$(join "${targets[@]}")
P=$(join "${pidmap[@]}")
res="$OUT/results.jsonl"
: >"$res"

compare() { # compare TARGETS [COMPARE FLAGS] SCENARIO FLAGS...
	local t=$1
	shift
	echo "== $*" >&2
	bin/mqbench compare -targets "$t" -pids "$P" -pause 2s "$@" -q -pin "$LOAD_CPU" -json >>"$res" || true
}

if [ -z "$ONLY" ] || [ "$ONLY" = conn ]; then
	# Idle connections: memory per connection (RSS slope), connect rate and latency.
	compare "$T" -metrics-urls "${METRICS_URLS:-loopmq=$LOOPMQ_METRICS}" conn -n "$CONNS" -duration 5s
fi

if [ -z "$ONLY" ] || [ "$ONLY" = tput ]; then
	# Throughput, unpaced: publishers send as fast as the broker takes it.
	for qos in 0 1; do
		for size in 64 1024; do
			compare "$T,$WS_TARGETS" p2p -pubs 10 -qos "$qos" -size "$size" -duration "$DUR"
			compare "$T" fanin -pubs 10 -qos "$qos" -size "$size" -duration "$DUR"
			compare "$T" fanout -subs 100 -qos "$qos" -size "$size" -duration "$DUR"
		done
	done
fi

if [ -z "$ONLY" ] || [ "$ONLY" = lat ]; then
	# Latency at a fixed load every broker sustains: 20,000 deliveries per second.
	for qos in 0 1; do
		compare "$T,$WS_TARGETS" p2p -pubs 10 -rate 2000 -qos "$qos" -duration "$DUR"
		compare "$T" fanin -pubs 10 -rate 2000 -qos "$qos" -duration "$DUR"
		compare "$T" fanout -subs 100 -rate 200 -qos "$qos" -duration "$DUR"
	done
fi

bin/mqbench report -md -html "$OUT/report.html" "$res" >"$OUT/figures.md"
echo "wrote $OUT/figures.md and $OUT/report.html" >&2
