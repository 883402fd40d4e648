#!/usr/bin/env bash
# Runs every Fuzz* target of the given packages for FUZZTIME (make fuzz-smoke).
#
# Go's fuzzing coordinator can fail a target at the end of a -fuzztime window with a bare "context deadline
# exceeded" when a worker is still inside an input as the deadline fires (a race in internal/fuzz, worst on a
# loaded machine and for slow, stateful targets such as FuzzSessions). That failure writes no failing input. So a
# target that fails is run again, up to twice, only when its output is that bare deadline and no new input
# appeared under testdata/fuzz/<target>; any other failure, or a written input, fails at once.
set -uo pipefail
FUZZTIME=${FUZZTIME:-10s}
GO=${GO:-go}

run_target() { # pkg dir target
	local pkg=$1 dir=$2 f=$3 out before after
	for try in 1 2 3; do
		before=$(ls "$dir/testdata/fuzz/$f" 2>/dev/null | sort)
		out=$($GO test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1)
		local rc=$?
		echo "$out"
		[ $rc -eq 0 ] && return 0
		after=$(ls "$dir/testdata/fuzz/$f" 2>/dev/null | sort)
		if [ "$before" != "$after" ] || ! grep -q '^    context deadline exceeded$' <<<"$out" ||
			grep -q -e 'Failing input written' -e 'panic:' <<<"$out"; then
			echo "fuzz-smoke: $f failed" >&2
			return 1
		fi
		echo "fuzz-smoke: $f hit the coordinator's deadline race with no failing input (try $try of 3)" >&2
	done
	echo "fuzz-smoke: $f failed three times at the deadline" >&2
	return 1
}

for pkg in $($GO list "$@"); do
	dir=$($GO list -f '{{.Dir}}' "$pkg")
	for f in $($GO test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz'); do
		echo "fuzz $pkg $f ($FUZZTIME)"
		run_target "$pkg" "$dir" "$f" || exit 1
	done
done
