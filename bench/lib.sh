# Shared by bench/figures.sh and bench/storm.sh (sourced, not run): a scratch directory and the broker processes
# a script starts, both cleaned up when it exits, and a wait for a port to accept connections.

mkdir -p "$OUT"
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

wait_port() {
	for _ in $(seq 100); do
		(echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "port $1 never opened" >&2
	return 1
}

ulimit -n 20000 || true
