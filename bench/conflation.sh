#!/usr/bin/env bash
# The conflation benchmark on a namespace lab: build, bring up a lab of its
# own, start the dataplane with one `replace` and one `none` context, run
# herald-bench-conflation in the client namespace, write the results (with
# the exact command, the machine and what else was running) to a file, tear
# everything down.
#
#   sudo bench/conflation.sh [--port af_xdp|af_packet] [--history N] [--out FILE]
#                            [--json FILE] [-- herald-bench-conflation options]
#
# Default output: bench/results/conflation-<date>.txt; each run is appended
# to the file, so repeated runs of a day sit side by side. HERALD_BUILD picks the
# build directory (default build/), HERALD_LAB_PREFIX the lab (default
# hconfl, so it does not collide with scripts/demo or the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
export HERALD_LAB_PREFIX=${HERALD_LAB_PREFIX:-hconfl}
export HERALD_DP_PREFIX=${HERALD_DP_PREFIX:-$HERALD_LAB_PREFIX}
. scripts/lib.sh

REPLACE_CTX=1001
NONE_CTX=1002
port=af_xdp history=1024 json=
out=bench/results/conflation-$(date +%F).txt
cmdline="$0 $*"
while [ $# -gt 0 ]; do
	case "$1" in
	--port) port=${2:?--port needs af_xdp or af_packet}; shift 2 ;;
	--history) history=${2:?--history needs a number}; shift 2 ;;
	--out) out=$(realpath -m "${2:?--out needs a file name}"); shift 2 ;;
	--json) json=$(realpath -m "${2:?--json needs a file name}"); shift 2 ;;
	--) shift; break ;;
	-h|--help) sed -n '2,14p' "$0"; exit 0 ;;
	*) echo "conflation.sh: unknown argument '$1' (bench options go after --)" >&2; exit 2 ;;
	esac
done
case "$port" in af_xdp|af_packet) ;; *) echo "conflation.sh: --port expects af_xdp or af_packet" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "conflation.sh: must run as root (namespaces, hugepages, XDP)" >&2; exit 1; }

echo "== build ($HERALD_BUILD)"
# Only the two programs this needs, so a broken target elsewhere cannot stop it.
[ -f "$HERALD_BUILD/build.ninja" ] || meson setup "$HERALD_BUILD" "$HERALD_ROOT" >/dev/null
meson compile -C "$HERALD_BUILD" dataplane/herald-dataplane bench/herald-bench-conflation >/dev/null

work=$(mktemp -d /tmp/herald-conflation.XXXXXX)
sampler=
cleanup() {
	[ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
	dataplane_stop
	scripts/lab down
	rm -rf "$work"
}
trap cleanup EXIT

echo "== lab $HERALD_LAB_PREFIX"
eval "$(scripts/lab up)"
# The dataplane spins on CPU 1; publisher and clients share CPU 0.
dataplane_start "$work/dp.log" "$port:$DATAPLANE_IF" \
	--context "$REPLACE_CTX=replace" --context "$NONE_CTX=none" --history "$history"
grep -E '^port|serving|policy' "$work/dp.log"

bench=("$HERALD_BUILD/bench/herald-bench-conflation" --node "$DATAPLANE_IP"
	--replace-context "$REPLACE_CTX" --none-context "$NONE_CTX" ${json:+--json "$json"} "$@")
echo "== ${bench[*]}"
# Load when the run starts: other labs and builds share this 2-core machine.
load() { echo "-- $(uptime)"; top -bn1 -w 160 | sed -n '8,13p'; }
load >"$work/load.txt"
(while sleep 15; do load; done) >>"$work/load.txt" &
sampler=$!
status=0
ip netns exec "$CLIENT_NS" taskset -c 0 "${bench[@]}" | tee "$work/bench.txt" || status=$?
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
load >>"$work/load.txt"
dataplane_stop

mkdir -p "$(dirname "$out")"
{
	echo "# herald conflation benchmark, $(date -u '+%F %T UTC')"
	echo "command:   sudo HERALD_BUILD=$HERALD_BUILD $cmdline"
	echo "bench:     ip netns exec $CLIENT_NS taskset -c 0 ${bench[*]}"
	echo "dataplane: herald-dataplane -l ${HERALD_DP_LCORE:-1} --no-pci -- --port $port:$DATAPLANE_IF" \
		"--ip $DATAPLANE_IP --context $REPLACE_CTX=replace --context $NONE_CTX=none --history $history"
	echo "commit:    $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (working tree has uncommitted changes)')"
	echo "machine:   $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), kernel $(uname -r)"
	echo
	cat "$work/bench.txt"
	echo
	echo "== dataplane counters"
	sed -n '/== herald-dataplane counters/,$p' "$work/dp.log"
	echo
	echo "== what else ran (top, at the start, every 15 s and at the end)"
	cat "$work/load.txt"
	echo
} >>"$out"
echo "conflation.sh: results appended to $out"
exit "$status"
