#!/usr/bin/env bash
# The floor of Herald's round trip: dpdk-testpmd --forward-mode=5tswap, a
# bare DPDK reflector (swaps MAC, IP and UDP source and destination, nothing
# else), on the very veth the Herald dataplane serves, with the same PMD
# (af_xdp or af_packet, same queue), on the same CPU, measured in the same
# run as Herald and the kernel UDP echo.
#
#   sudo bench/floor.sh [--rounds N] [--sizes LIST] [--count N] [--rate N]
#                       [--port af_xdp|af_packet] [--out FILE] [--json FILE]
#                       [--png FILE] [--busy-poll] [-- herald-pingpong options]
#
# The veth's dataplane end can be owned by one process at a time, so a run is
# --rounds (default 3) rounds of two phases, alternating which goes first:
# Herald (herald-dataplane on CPU 1, herald-pingpong --node) and testpmd
# (forwarding lcore on CPU 1, herald-pingpong sending UDP to the same
# address, port 7400). In both phases the kernel UDP echo (herald-echo, on
# the lab's second veth pair) is measured in the same herald-pingpong run,
# interleaved per size, so each phase also has its own floor of the moment.
# The client runs in the lab's client namespace on CPU 0 with a permanent
# neighbour entry for the dataplane address (testpmd does not answer ARP).
# Sizes are Herald value bytes and reflector UDP payload bytes; the default
# 125,512,1024 are single frames on every path (above 1472 B the reflectors'
# datagrams are IP fragments, and 5tswap also swaps 4 payload bytes of the
# second fragment; the checksum still holds and herald-pingpong only reads the
# first 8 bytes). --rate N measures open loop at N round trips/s instead of
# closed loop; --busy-poll makes the client poll its sockets instead of
# sleeping (herald-pingpong --busy-poll). Results (table, exact commands, commit, top samples) are
# appended to bench/results/floor-<date>.txt (or --out); --json writes the
# summary, --png the percentile plot of the last round at the first size
# (bench/pingpong_plot.py).
set -euo pipefail
cd "$(dirname "$0")/.."
export HERALD_LAB_PREFIX=${HERALD_LAB_PREFIX:-hfloor}
export HERALD_DP_PREFIX=${HERALD_DP_PREFIX:-$HERALD_LAB_PREFIX}
. scripts/lib.sh

rounds=3 sizes=125,512,1024 count=10000 rate= port=af_xdp json= png= busy= extra=()
out=bench/results/floor-$(date +%F).txt
cmdline="$0 $*"
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
	--sizes) sizes=${2:?--sizes needs a list}; shift 2 ;;
	--count) count=${2:?--count needs a number}; shift 2 ;;
	--rate) rate=${2:?--rate needs N round trips per second}; shift 2 ;;
	--port) port=${2:?--port needs af_xdp or af_packet}; shift 2 ;;
	--out) out=$(realpath -m "${2:?--out needs a file name}"); shift 2 ;;
	--json) json=$(realpath -m "${2:?--json needs a file name}"); shift 2 ;;
	--busy-poll) busy=--busy-poll; shift ;;
	--png) png=$(realpath -m "${2:?--png needs a file name}"); shift 2 ;;
	--) shift; extra=("$@"); break ;;
	-h|--help) sed -n '2,30p' "$0"; exit 0 ;;
	*) echo "floor.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
case "$port" in af_xdp|af_packet) ;; *) echo "floor.sh: --port expects af_xdp or af_packet" >&2; exit 2 ;; esac
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "floor.sh: --rounds expects a positive number" >&2; exit 2; }
[[ $sizes =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "floor.sh: --sizes expects a comma-separated list" >&2; exit 2; }
[ -z "$rate" ] || [[ $rate =~ ^[1-9][0-9]*$ ]] || { echo "floor.sh: --rate expects a positive number" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "floor.sh: must run as root (namespaces, hugepages, XDP)" >&2; exit 1; }
for b in dpdk-testpmd python3; do
	command -v "$b" >/dev/null || { echo "floor.sh: $b not installed (run scripts/deps)" >&2; exit 1; }
done

echo "== build ($HERALD_BUILD)"
herald_build

work=$(mktemp -d /tmp/herald-floor.XXXXXX)
echo_pid= tp_pid= sampler=
tp_prefix=${HERALD_LAB_PREFIX}tp
testpmd_stop() {
	[ -n "$tp_pid" ] || return 0
	local pid=$tp_pid
	tp_pid=
	kill -INT "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
cleanup() {
	[ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
	testpmd_stop
	dataplane_stop || true
	[ -z "$echo_pid" ] || { kill "$echo_pid" 2>/dev/null || true; wait "$echo_pid" 2>/dev/null || true; }
	scripts/lab down
	rm -rf /dev/hugepages/"${HERALD_DP_PREFIX}"map_* /dev/hugepages/"${tp_prefix}"map_* 2>/dev/null || true
	rm -rf "/sys/fs/bpf/$HERALD_DP_PREFIX" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "== lab $HERALD_LAB_PREFIX"
eval "$(scripts/lab up)"
ip -n "$CLIENT_NS" neigh replace "$DATAPLANE_IP" lladdr "$DATAPLANE_MAC" dev "$CLIENT_IF" nud permanent
ip netns exec "$ECHO_NS" taskset -c 0 "$HERALD_BUILD/bench/herald-echo" --bind "$ECHO_IP:7400" --quiet &
echo_pid=$!

case "$port" in
af_xdp) vdev="net_af_xdp0,iface=$DATAPLANE_IF,queue_count=1,start_queue=0" ;;
af_packet) vdev="net_af_packet0,iface=$DATAPLANE_IF,qpairs=1,framesz=2048,blocksz=4096,framecnt=2048,qdisc_bypass=1" ;;
esac
# Main lcore 0 (sleeps between statistics), forwarding lcore 1: the CPU the
# Herald dataplane spins on.
testpmd=(dpdk-testpmd -l 0,1 --main-lcore 0 --no-pci --file-prefix "$tp_prefix"
	--log-level=lib.eal:warning --vdev "$vdev" -- --forward-mode=5tswap --nb-cores=1
	--stats-period 60 --no-lsc-interrupt)
testpmd_start() {
	"${testpmd[@]}" >"$1" 2>&1 </dev/null &
	tp_pid=$!
	for _ in $(seq 1 100); do
		if grep -q "Start automatic packet forwarding\|5tswap packet forwarding" "$1"; then
			sleep 0.5
			return 0
		fi
		if ! kill -0 "$tp_pid" 2>/dev/null; then
			echo "floor.sh: dpdk-testpmd exited during start-up:" >&2
			cat "$1" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "floor.sh: dpdk-testpmd did not start forwarding in 10 s:" >&2
	cat "$1" >&2
	return 1
}

load() { echo "-- $(uptime)"; top -bn1 -w 160 | sed -n '8,13p'; }
load >"$work/load.txt"
(while sleep 15; do load; done) >>"$work/load.txt" &
sampler=$!

pp=("$HERALD_BUILD/bench/herald-pingpong" --cpu 0 --sizes "$sizes" --count "$count" ${rate:+--rate "$rate"} $busy
	--echo "echo=$ECHO_IP:7400" ${extra[@]+"${extra[@]}"})
in_client() { ip netns exec "$CLIENT_NS" "$@"; }
status=0
phase_herald() {
	echo "== round $1: herald"
	dataplane_start "$work/dp-$1.log" "$port:$DATAPLANE_IF" || return 1
	in_client "${pp[@]}" --node "$DATAPLANE_IP" --json "$work/herald-$1.json" \
		>>"$work/raw.txt" 2>&1 || status=1
	dataplane_stop || status=1
}
phase_testpmd() {
	echo "== round $1: testpmd 5tswap"
	testpmd_start "$work/testpmd-$1.log" || return 1
	in_client "${pp[@]}" --echo "testpmd=$DATAPLANE_IP:7400" --json "$work/testpmd-$1.json" \
		>>"$work/raw.txt" 2>&1 || status=1
	testpmd_stop
	{ echo "testpmd, accumulated over the phase:"; grep -E "RX-packets|TX-packets" "$work/testpmd-$1.log" | tail -2; } >>"$work/raw.txt" || true
}
for r in $(seq 1 "$rounds"); do
	if [ $((r % 2)) = 1 ]; then
		phase_herald "$r" || exit 1
		phase_testpmd "$r" || exit 1
	else
		phase_testpmd "$r" || exit 1
		phase_herald "$r" || exit 1
	fi
done
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=
load >>"$work/load.txt"

python3 bench/floor_table.py "$work" "$rounds" ${json:+"$json"} | tee "$work/table.txt" || status=1
if [ -n "$png" ]; then
	python3 bench/pingpong_plot.py "$png" "$work/herald-$rounds.json" "$work/testpmd-$rounds.json" --sizes "${sizes%%,*}" \
		--title "round trip by percentile, round $rounds of bench/floor.sh ($port, ${rate:+open loop $rate/s}${rate:-closed loop})" ||
		status=1
fi

mkdir -p "$(dirname "$out")"
{
	echo "# herald vs dpdk-testpmd 5tswap vs kernel echo, $(date -u '+%F %T UTC')"
	echo "command:   $cmdline"
	echo "herald:    ip netns exec $CLIENT_NS ${pp[*]} --node $DATAPLANE_IP"
	echo "testpmd:   ip netns exec $CLIENT_NS ${pp[*]} --echo testpmd=$DATAPLANE_IP:7400"
	echo "reflector: ${testpmd[*]}"
	echo "dataplane: herald-dataplane -l ${HERALD_DP_LCORE:-1} --no-pci -- --port $port:$DATAPLANE_IF --ip $DATAPLANE_IP"
	echo "echo:      ip netns exec $ECHO_NS taskset -c 0 herald-echo --bind $ECHO_IP:7400"
	echo "commit:    $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (working tree has uncommitted changes)')"
	echo "machine:   $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), kernel $(uname -r), $(dpdk-testpmd --version 2>/dev/null | head -1 || true)"
	echo
	cat "$work/table.txt"
	echo
	echo "== raw output"
	grep -v '^size [0-9]* ' "$work/raw.txt"
	echo
	echo "== what else ran (top, at the start, every 15 s and at the end)"
	cat "$work/load.txt"
	echo
} >>"$out"
echo "floor.sh: results appended to $out"
exit "$status"
