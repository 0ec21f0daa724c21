# Shell helpers shared by scripts/demo, scripts/test and the integration
# tests: build, start and stop the dataplane on a lab. Source it; needs bash.

HERALD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERALD_BUILD=${HERALD_BUILD:-$HERALD_ROOT/build}

herald_build() { # configure once, then compile
	if [ ! -f "$HERALD_BUILD/build.ninja" ]; then
		meson setup "$HERALD_BUILD" "$HERALD_ROOT" >/dev/null
	fi
	meson compile -C "$HERALD_BUILD" >/dev/null
}

# dataplane_start LOG PORTSPEC [extra dataplane options...]
# Starts herald-dataplane on lcore ${HERALD_DP_LCORE:-1} for $DATAPLANE_IP with
# EAL file prefix ${HERALD_DP_PREFIX:-herald} and the EAL options in
# $HERALD_DP_EAL (an af_xdp port pins its XDP maps in
# /sys/fs/bpf/$HERALD_DP_PREFIX); sets DP_PID and waits until it serves (or
# fails, printing its log).
dataplane_start() {
	local log=$1 port=$2
	shift 2
	# shellcheck disable=SC2086 # HERALD_DP_EAL: more EAL options, split on blanks
	"$HERALD_BUILD/dataplane/herald-dataplane" -l "${HERALD_DP_LCORE:-1}" --no-pci \
		--file-prefix "${HERALD_DP_PREFIX:-herald}" --log-level=lib.eal:warning ${HERALD_DP_EAL:-} \
		-- --port "$port" --ip "$DATAPLANE_IP" --xdp-pin-dir "/sys/fs/bpf/${HERALD_DP_PREFIX:-herald}" \
		"$@" >"$log" 2>&1 &
	DP_PID=$! DP_LOG=$log
	for _ in $(seq 1 100); do
		if grep -q "herald-dataplane: serving" "$log"; then
			return 0
		fi
		if ! kill -0 "$DP_PID" 2>/dev/null; then
			echo "dataplane exited during start-up:" >&2
			cat "$log" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "dataplane did not come up in 10 s:" >&2
	cat "$log" >&2
	return 1
}

# dataplane_stop: SIGTERM, wait for the final counter dump. Fails (status 1)
# when the dataplane does not exit cleanly: a crash, a sanitizer report
# (the ASan build aborts on one) or SIGTERM ignored for 5 s.
dataplane_stop() {
	[ -n "${DP_PID:-}" ] || return 0
	local pid=$DP_PID rc=0
	DP_PID=
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "dataplane $pid ignored SIGTERM for 5 s: killed" >&2
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		return 1
	fi
	wait "$pid" 2>/dev/null || rc=$?
	if [ "$rc" != 0 ]; then
		echo "dataplane exited with status $rc (crash or sanitizer report); its log:" >&2
		cat "$DP_LOG" >&2
		return 1
	fi
}

# counter LOG NAME: a value from the dataplane's final dump (0 if absent).
counter() {
	awk -v n="$2" '$1 == n { v = $2 } END { print v + 0 }' "$1"
}
